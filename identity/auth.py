"""Who may reach which kind of page: role decorators and re-authentication before sensitive acts.

These decide *kinds* of pages (professional pages, patient pages). Which patient data a user may
see is decided by the access layer, never here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from allauth.account.decorators import reauthentication_required
from allauth.mfa.models import Authenticator
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from identity.models import User

View = Callable[..., HttpResponseBase]


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view behind ``login_required`` (or the decorators below): its user is
    logged in, hence a ``User``, never ``AnonymousUser``. For type checkers only: the object
    is Django's own request."""

    user: User


SECOND_FACTOR_SESSION_KEY = "dmp_second_factor"


def has_second_factor(user: Any, session: Any = None) -> bool:
    """True when the user has an active TOTP (or WebAuthn) authenticator.

    A "yes" is remembered in the session (no query on every page); removing an authenticator
    forgets it (identity.apps connects allauth's ``authenticator_removed`` signal).
    """
    if not getattr(user, "is_authenticated", False):
        return False
    if session is not None and session.get(SECOND_FACTOR_SESSION_KEY) == user.pk:
        return True
    cached = getattr(user, "_dmp_has_second_factor", None)
    if cached is None:
        cached = Authenticator.objects.filter(
            user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
        ).exists()
        user._dmp_has_second_factor = cached
    if cached and session is not None:
        session[SECOND_FACTOR_SESSION_KEY] = user.pk
    return bool(cached)


def second_factor_required_for(user: Any) -> bool:
    """Everyone signed in must have a second factor: professionals, administrators, and
    patients (as Mon espace santé asks a code at each login)."""
    return bool(user.is_authenticated)


def second_factor_enrolled(user: Any, session: Any = None) -> bool:
    """An authenticator (TOTP, passkey) — or, for a patient, the e-mailed code at each login."""
    if getattr(user, "is_patient", False) and user.email_code_login:
        return True
    return has_second_factor(user, session)


def professional_required(view: View) -> View:
    """Page for verified professionals only (logged in, second factor enrolled).

    An unverified professional gets 403 with an explanation; other roles too.
    """

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_verified_professional:
            raise PermissionDenied("verified professional required")
        return view(request, *args, **kwargs)

    return wrapper


def patient_required(view: View) -> View:
    """Page for a logged-in patient (their own file only; scope is the access layer's)."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_patient:
            raise PermissionDenied("patient required")
        return view(request, *args, **kwargs)

    return wrapper


def sensitive_action(view: View) -> View:
    """Fresh re-authentication (password or second factor) before a sensitive act.

    Use on views that change who has access, declare an emergency, close a DMP or change MFA.
    GET shows the page; the POST that acts needs a re-authentication within
    ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds.
    """
    # allauth ships no type hints: its decorator returns Any.
    return cast(View, reauthentication_required(view, allow_get=True))
