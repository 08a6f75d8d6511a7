"""django-allauth adapter: where the portal's account rules meet allauth's flows."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from django.http import HttpRequest
from django.urls import reverse


# allauth ships no type hints (no py.typed): its base class is Any to mypy.
class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Professionals register themselves (verified later by an administrator); patients get
        # their account through the activation code printed on the DMP opening letter.
        return True

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
