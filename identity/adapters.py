"""django-allauth adapter: where the portal's account rules meet allauth's flows."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.stages import AuthenticateStage
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse

# allauth answers most of its limits (failed logins, wrong second-factor or e-mail codes) with
# a form error or a message, that is with a 200 or a redirect. Its adapter names them; the
# request is marked here, in the WSGI environ as middleware do, and
# dmp_portal.middleware.RateLimitedMiddleware turns the answer into a 429 with Retry-After.
RATE_LIMITED_ENVIRON_KEY = "dmp.rate_limited"
_RATE_LIMIT_ERRORS = ("too_many_login_attempts", "rate_limited")


def was_rate_limited(request: HttpRequest) -> bool:
    """Whether allauth refused this request because of one of its rate limits."""
    return bool(request.META.get(RATE_LIMITED_ENVIRON_KEY))


# The identity providers whose login is already strong authentication: Pro Santé Connect's is
# the CPS card (or the e-CPS app), a second factor in itself.
SECOND_FACTOR_PROVIDERS = frozenset({"psc"})


class SecondFactorStage(AuthenticateStage):  # type: ignore[misc]
    """allauth's second-factor step, skipped after a Pro Santé Connect login."""

    def _should_handle(self, request: HttpRequest) -> bool:
        records = get_authentication_records(request, self.login.user)
        if records and (records[-1].get("method"), records[-1].get("provider")) in {
            ("socialaccount", provider) for provider in SECOND_FACTOR_PROVIDERS
        }:
            return False
        return bool(super()._should_handle(request))


# allauth ships no type hints (no py.typed): its base class is Any to mypy.
class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Professionals register themselves (verified later by an administrator); patients get
        # their account through the activation code printed on the DMP opening letter.
        return True

    def get_login_stages(self) -> list[str]:
        stages: list[str] = super().get_login_stages()
        return [
            "identity.adapters.SecondFactorStage"
            if stage == "allauth.mfa.stages.AuthenticateStage"
            else stage
            for stage in stages
        ]

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("home")

    def is_login_by_code_required(self, login: Any) -> bool:
        """A patient who chose the e-mail code as second factor (and has no authenticator app)
        gets a one-time code by e-mail after the password, at each login. Passwordless login by
        code stays off for everyone (ACCOUNT_LOGIN_BY_CODE_ENABLED is False)."""
        user = login.user
        if (
            getattr(user, "is_patient", False)
            and user.email_code_login
            and not Authenticator.objects.filter(
                user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
            ).exists()
        ):
            records = get_authentication_records(self.request, user)
            return not (records and records[-1]["method"] == "code")
        return bool(super().is_login_by_code_required(login))

    def validation_error(self, code: str, *args: Any) -> ValidationError:
        if code in _RATE_LIMIT_ERRORS:
            self._mark_rate_limited(self.request)
        return super().validation_error(code, *args)  # type: ignore[no-any-return]

    def add_message(
        self,
        request: HttpRequest,
        level: int,
        message_template: str | None = None,
        message_context: dict[str, Any] | None = None,
        extra_tags: str = "",
        message: str | None = None,
    ) -> None:
        if message is not None and str(message) in {
            str(self.error_messages[code]) for code in _RATE_LIMIT_ERRORS
        }:
            self._mark_rate_limited(request)
        super().add_message(
            request,
            level,
            message_template=message_template,
            message_context=message_context,
            extra_tags=extra_tags,
            message=message,
        )

    @staticmethod
    def _mark_rate_limited(request: HttpRequest | None) -> None:
        if request is not None:
            request.META[RATE_LIMITED_ENVIRON_KEY] = True
