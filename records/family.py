"""Acting for someone one speaks for (``records.mandates``): the session's choice.

A representative or a proxy chooses, on the family page, the DMP they look at; the choice is
kept in the session (the DMP's public id and the name shown in the banner "Vous consultez le
DMP de …") and put on ``request.user.acting_for`` for every request by ``ActingForMiddleware``.
The funnel's ``own_dmp`` then answers that DMP to the patient pages, narrowed by the rules of
``records.access``: the same pages, no second access path. The choice is checked again by the
funnel on every request: a mandate that ended answers 404.

At 18, the young adult's first login leads to the review of what their former representatives
could see (``on_user_logged_in`` notes it in the session, the middleware leads every page
there, but the entries it lists and the way out), until they say it is done: every login until
then is a first one.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from records.mandates import Mandate

SESSION_KEY = "acting_for"
REVIEW_SESSION_KEY = "majority_review"
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


def on_user_logged_in(sender: object, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """At login (Django's signal: password, passkey, FranceConnect alike): a young adult whose
    representatives' access ended at their majority, and who has not reviewed it yet, is led to
    the review for this session (one query at login, none per request)."""
    if (
        getattr(user, "is_patient", False)
        and hasattr(request, "session")
        and Mandate.objects.review_pending().filter(patient__user=user).exists()
    ):
        request.session[REVIEW_SESSION_KEY] = True


def review_done(request: HttpRequest) -> None:
    """The review is done: this session's pages are no longer led to it."""
    request.session.pop(REVIEW_SESSION_KEY, None)


class ActingForMiddleware:
    """Puts the session's choice on ``request.user.acting_for`` (after authentication); while
    the review at 18 is pending, leads every page to it."""

    # The review itself, the entries it links to (to read and mask them), logging out, the
    # language, static files.
    _REVIEW_ALLOWED = ("/document/", "/accounts/", "/i18n/", "/static/")
    # Machines' endpoints (FHIR, DICOMweb, OAuth, JSON): a redirect to an HTML page would
    # break the software or script that called them; they answer as always (their own
    # authentication and the funnel decide), the review leads only the pages people read.
    _API = ("/fhir/", "/dicomweb/", "/o/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.session.get(REVIEW_SESSION_KEY) and not self._is_api(request):
            review = reverse("records:majority_review")
            if request.path != review and not request.path.startswith(self._REVIEW_ALLOWED):
                return HttpResponseRedirect(review)
        chosen = acting_for(request)
        if chosen is not None:
            user: Any = request.user
            if user.is_authenticated:
                user.acting_for = chosen["id"]
        return self.get_response(request)

    @classmethod
    def _is_api(cls, request: HttpRequest) -> bool:
        return (
            "HTTP_AUTHORIZATION" in request.META
            or request.path.startswith(cls._API)
            or request.path.endswith(".json")
        )


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
