"""The patient's notifications: the list (read and unread), each one opened at the document or
the accesses it tells of, all marked read. The text of each is written now, in the reader's
language, from its stored facts (``records.notices``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from identity.auth import AuthenticatedHttpRequest, patient_required
from records import access, notices
from records.models import Notification
from records.services import care

NOTIFICATIONS_PAGE = 50
_RELATED = ("patient", "professional__user", "entry", "emergency")


@dataclass(frozen=True)
class Shown:
    """One notification as its reader sees it."""

    notification: Notification
    text: str
    link: str | None

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None


def shown(notifications: list[Notification]) -> list[Shown]:
    return [Shown(n, notices.text(n), notices.link(n)) for n in notifications]


def latest_for(user: object, count: int, dmp: access.DmpAccess | None = None) -> list[Shown]:
    """The ``count`` newest notifications ``user`` reads (those of ``dmp``'s patient when
    acting for them), ready to show (one query)."""
    mine = access.notifications_for(user, dmp)  # type: ignore[arg-type]
    return shown(list(mine.select_related(*_RELATED)[:count]))


def _acting(request: AuthenticatedHttpRequest) -> access.DmpAccess | None:
    """The DMP the user acts for in this session (Http404 if their mandate ended), if any."""
    if getattr(request.user, "acting_for", None):
        return access.own_dmp(request.user)
    return None


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
def my_notifications(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every notification, newest first (unread ones marked); a POST marks them all read.
    Acting for someone: their notifications, as the funnel narrows them, left unread for them
    (no button: only the addressee marks theirs read)."""
    acting = _acting(request)
    mine = access.notifications_for(request.user, acting)
    if request.method == "POST":
        if acting is not None:
            raise PermissionDenied("only the addressee marks their notifications read")
        care.notifications_mark_read(actor=request.user)
        return redirect("records:my_notifications")
    rows = list(mine.select_related(*_RELATED)[: NOTIFICATIONS_PAGE + 1])
    return render(
        request,
        "records/my_notifications.html",
        {
            "notifications": shown(rows[:NOTIFICATIONS_PAGE]),
            "more": len(rows) > NOTIFICATIONS_PAGE,
            "unread": sum(1 for row in rows if row.read_at is None),
            "may_mark_read": acting is None,
        },
    )


@login_required
@require_GET
def notification_open(request: AuthenticatedHttpRequest, notification_id: str) -> HttpResponse:
    """Open one notification where it leads (marking it read); 404 if it is not theirs.
    Whoever is notified (the patient, a médecin traitant told of an emergency) opens theirs."""
    acting = _acting(request) if request.user.is_patient else None
    notification = (
        access.notifications_for(request.user, acting)
        .select_related(*_RELATED)
        .filter(public_id=notification_id)
        .first()
    )
    if notification is None:
        raise Http404("No such notification")
    if notification.read_at is None and acting is None:
        care.notifications_mark_read(actor=request.user, notification=notification)
    return redirect(notices.link(notification) or "records:my_notifications")
