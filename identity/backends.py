"""The signed-in user of every request, loaded with their professional profile in one query.

allauth's backend (password and e-mail logins, its rate limits and MFA stages all keep
working: allauth prefers any subclass of its backend) with one change: ``get_user``, which
Django's ``AuthenticationMiddleware`` calls on every authenticated request, joins the
professional profile. Every professional page asks ``user.professional`` (the role
decorators, the access funnel, the trail's RPPS): a second query on each request before,
~0.5 ms. The statement is kept compiled (``identity.prepared``): building it again on every
request cost twice its SQL. Django's checks after ``get_user`` (the session's password hash,
``is_active``) are unchanged.
"""

from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from identity import prepared
from identity.models import User


class AuthenticationBackend(AllauthBackend):  # type: ignore[misc]  # allauth has no hints
    def get_user(self, user_id: Any) -> User | None:
        # The reverse one-to-one is cached whether the row exists or not: a patient's
        # ``getattr(user, "professional", None)`` stays None without a query.
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        if not isinstance(pk, int):
            return None
        found = prepared.fetch(("user",), _user, {"pk": pk})
        if not found:
            return None
        return found[0] if self.user_can_authenticate(found[0]) else None


def _user(values: prepared.Values) -> QuerySet[User]:
    return User._default_manager.select_related("professional").filter(pk=values["pk"])
