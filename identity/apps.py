from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "identity"
    verbose_name = _("Identités et comptes")

    def ready(self) -> None:
        from allauth.mfa.signals import authenticator_removed

        authenticator_removed.connect(_forget_second_factor, dispatch_uid="dmp_forget_2fa")


def _forget_second_factor(sender: object, request: object, **kwargs: object) -> None:
    """The session's remembered "has a second factor" is dropped when one is removed."""
    from identity.auth import SECOND_FACTOR_SESSION_KEY

    session = getattr(request, "session", None)
    if session is not None:
        session.pop(SECOND_FACTOR_SESSION_KEY, None)
