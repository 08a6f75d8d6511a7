"""Acting for someone one speaks for (``records.mandates``): the session's choice.

A representative or a proxy chooses, on the family page, the DMP they look at; the choice is
kept in the session (the DMP's public id and the name shown in the banner "Vous consultez le
DMP de …") and put on ``request.user.acting_for`` for every request by ``ActingForMiddleware``.
The funnel's ``own_dmp`` then answers that DMP to the patient pages, narrowed by the rules of
``records.access``: the same pages, no second access path. The choice is checked again by the
funnel on every request: a mandate that ended answers 404.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

SESSION_KEY = "acting_for"
MAJORITY_AGE = 18


def acting_for(request: HttpRequest) -> dict[str, str] | None:
    """The DMP chosen in this session (``{"id": public id, "name": shown name}``), if any."""
    chosen = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    return chosen if isinstance(chosen, dict) and chosen.get("id") else None


def choose(request: HttpRequest, *, public_id: str | None, name: str = "") -> None:
    """Act for the DMP ``public_id`` from now on (None: back to one's own DMP)."""
    if public_id is None:
        request.session.pop(SESSION_KEY, None)
    else:
        request.session[SESSION_KEY] = {"id": public_id, "name": name}


class ActingForMiddleware:
    """Puts the session's choice on ``request.user.acting_for`` (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = acting_for(request)
        if chosen is not None:
            user: Any = request.user
            if user.is_authenticated:
                user.acting_for = chosen["id"]
        return self.get_response(request)


def majority_date(birth_date: datetime.date) -> datetime.date:
    """The 18th birthday (29 February: 1 March in a common year)."""
    try:
        return birth_date.replace(year=birth_date.year + MAJORITY_AGE)
    except ValueError:
        return datetime.date(birth_date.year + MAJORITY_AGE, 3, 1)


def is_minor(birth_date: datetime.date | None, today: datetime.date | None = None) -> bool:
    if birth_date is None:
        return False
    return majority_date(birth_date) > (today or timezone.localdate())
