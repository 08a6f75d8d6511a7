"""The signed-in user of every request, loaded with their professional profile in one query.

allauth's backend (password and e-mail logins, its rate limits and MFA stages all keep
working: allauth prefers any subclass of its backend) with one change: ``get_user``, which
Django's ``AuthenticationMiddleware`` calls on every authenticated request, joins the
professional profile. Every professional page asks ``user.professional`` (the role
decorators, the access funnel, the trail's RPPS): a second query on each request before,
~0.5 ms. Django's checks after ``get_user`` (the session's password hash, ``is_active``) are
unchanged.
"""

from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend

from identity.models import User


class AuthenticationBackend(AllauthBackend):  # type: ignore[misc]  # allauth has no hints
    def get_user(self, user_id: Any) -> User | None:
        # The reverse one-to-one is cached whether the row exists or not: a patient's
        # ``getattr(user, "professional", None)`` stays None without a query.
        try:
            user = User._default_manager.select_related("professional").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
