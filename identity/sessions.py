"""The session store: Django's database sessions, read through a kept statement.

Every signed-in request reads its session first. ``SESSION_ENGINE`` names this module: the
same table, the same data and cookies as ``django.contrib.sessions.backends.db`` (whose store
this is), with the one read on every request kept compiled (``identity.prepared``): building
the query again on each request cost twice its SQL. Writing, creating, flushing and clearing
sessions are Django's own.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db
from django.db.models import QuerySet

from identity import prepared


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Any:
        key = self.session_key  # None when the cookie's key was malformed (Django checks it)
        found = prepared.fetch(("session",), _unexpired, {"key": key}) if key else []
        if not found:
            self._session_key = None
            return None
        return found[0]


def _unexpired(values: prepared.Values) -> QuerySet[Any]:
    model = SessionStore.get_model_class()
    return model.objects.filter(session_key=values["key"], expire_date__gt=prepared.now())[:1]
