"""The two kinds of refusal every service raises, shared by all apps (identity is the leaf).

- ``AccessDenied``: the actor may not do this (a professional who is not verified, an
  emergency reader depositing, someone acting on another's DMP). It is Django's
  ``PermissionDenied``, so a view that lets it through answers 403 with the error page.
- ``UserError``: the request is understood but cannot be done as asked (a wrong activation
  code, a patient's opposition, a duplicate submission); ``message`` is written for the user,
  in their language, and the view shows it on the page.

Objects outside the actor's scope are neither: the funnel answers ``Http404``, exactly like a
missing object.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class AccessDenied(PermissionDenied):
    """The actor may not do this act (403). The text is for the logs, not for the user;
    ``reason`` (one of ``REFUSAL_REASONS``) lets the error page tell the user what is actually
    the case."""

    def __init__(self, *args: object, reason: str = "") -> None:
        super().__init__(*args)
        self.reason = reason


EMERGENCY_READ_ONLY = "emergency_read_only"
TYPE_NOT_ALLOWED = "type_not_allowed"
REFUSAL_REASONS = (EMERGENCY_READ_ONLY, TYPE_NOT_ALLOWED)


class UserError(Exception):
    """A refusal explained to the user: ``message`` is shown on the page as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
