"""Session timeouts, the mandatory second factor for professionals, 503 when the database is
lost, 429 for every rate-limited answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.utils.translation import gettext as _

from identity.adapters import was_rate_limited
from identity.auth import second_factor_enrolled, second_factor_required_for

logger = logging.getLogger(__name__)

_LAST_SEEN = "dmp_last_seen"
_STARTED = "dmp_session_started"
# Write the "last seen" time at most once a minute: no session UPDATE on every page.
_TOUCH_EVERY = 60


class SessionTimeoutMiddleware:
    """Idle timeout (15 min professionals, 30 min patients) and an absolute session lifetime."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated and self._lost_session(request):
            # The session ended on the server (its absolute lifetime, a restart of the
            # session store) while the browser kept its cookie: say so once on the way in.
            messages.info(request, _EXPIRED())
        if user is not None and user.is_authenticated:
            now = int(time.time())
            session = request.session
            started = session.get(_STARTED)
            last_seen = session.get(_LAST_SEEN)
            idle_limit = (
                settings.DMP_IDLE_TIMEOUT_PATIENT
                if user.is_patient
                else settings.DMP_IDLE_TIMEOUT_PROFESSIONAL
            )
            if started is None or last_seen is None:
                session[_STARTED] = now
                session[_LAST_SEEN] = now
            elif now - last_seen > idle_limit or now - started > settings.DMP_ABSOLUTE_TIMEOUT:
                logout(request)
                messages.info(request, _EXPIRED())
                return HttpResponseRedirect(f"{reverse('account_login')}?next={request.path}")
            elif now - last_seen >= _TOUCH_EVERY:
                session[_LAST_SEEN] = now
        return self.get_response(request)

    @staticmethod
    def _lost_session(request: HttpRequest) -> bool:
        """A session cookie came whose session the store no longer has (resolving the
        anonymous user loaded it and found nothing: no query of its own)."""
        return (
            bool(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
            and request.session.session_key is None
        )


def _EXPIRED() -> str:
    return _("Votre session a expiré par inactivité. Reconnectez-vous pour continuer.")


class ProfessionalSecondFactorMiddleware:
    """Anyone signed in without a second factor can only enrol one.

    Every other page (and so every page with patient data) redirects to the enrolment: the TOTP
    one for professionals and administrators, the patient's choice (authenticator app, passkey
    or e-mailed code) for patients.
    """

    _ALLOWED_PREFIXES = ("/accounts/", "/i18n/", "/static/", "/favicon")
    # Where a patient chooses a second factor (records:my_settings, identity:email_code_login).
    _PATIENT_CHOICE = ("/mon-dmp/parametres/", "/mon-dmp/code-email/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and second_factor_required_for(user)
            and not request.path.startswith(self._ALLOWED_PREFIXES)
            and not second_factor_enrolled(user, request.session)
        ):
            if user.is_patient:
                if request.path in self._PATIENT_CHOICE:
                    return self.get_response(request)
                messages.warning(
                    request,
                    _(
                        "Un second facteur est obligatoire pour accéder à votre DMP : "
                        "application d'authentification, clé d'accès ou code par e-mail à "
                        "chaque connexion. Choisissez-en un pour continuer."
                    ),
                )
                return HttpResponseRedirect(reverse("records:my_settings"))
            messages.warning(
                request,
                _(
                    "Un second facteur d'authentification est obligatoire pour les "
                    "professionnels de santé. Activez-le pour continuer."
                ),
            )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Database down → a clear 503 page (no traceback, no 500); recovery needs no restart."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError):
            return self._unavailable()

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)):
            return self._unavailable()
        return None

    @staticmethod
    def _unavailable() -> HttpResponse:
        logger.error("database unavailable")
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = "30"
        return response


class RateLimitedMiddleware:
    """Every rate-limited answer is a 429 with Retry-After, so that monitoring counts them.

    allauth answers some limits with its 429 page already (no Retry-After), others with the
    form and its error (a 200: the status becomes 429, the page stays) or with a message and a
    redirect (the flow is over: the 429 page shows the message and links to where the
    redirect led).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if was_rate_limited(request):
            if isinstance(response, HttpResponseRedirect):
                response = render(
                    request, "429.html", {"continue_url": response["Location"]}, status=429
                )
            else:
                response.status_code = 429
        if response.status_code == 429 and not response.has_header("Retry-After"):
            response["Retry-After"] = str(settings.DMP_RATE_LIMIT_RETRY_AFTER)
        return response
