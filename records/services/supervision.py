"""What administrators see of the trail: they supervise it, they do not browse it.

Counts (per day, action and mode), the trail's integrity (``records.trail.verify_log``) and
pseudonymous rows: no patient's name, INS-C or free text, an opaque number per patient instead
(``patient_pseudonym``), the professional by RPPS and profession. One patient's trail is read
only with a stated reason, and that read is itself an access event on the patient, which they
read in their history (``patient_trail_consult``). Being staff, or holding every model-wide
``view_*`` permission, shows nothing more.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from identity.account_recovery import reason_clean
from identity.errors import AccessDenied, UserError
from identity.models import DmpStatus, Patient, Profession, User
from records import trail
from records.models import (
    AccessAction,
    AccessEvent,
    AccessMode,
    CareRelation,
    CareRelationStatus,
    EmergencyAccess,
    Notification,
    NotificationKind,
)

# The prefix tells the patient who looked; with the reason it fits the event's 300 characters.
AUDIT_PREFIX = "Contrôle par l'administration : "
AUDIT_REASON_MAX_LENGTH = 300 - len(AUDIT_PREFIX)
PATIENT_TRAIL_LIMIT = 500


def patient_pseudonym(patient_id: int | None) -> str:
    """An opaque, stable number for a patient in the admin's lists: a keyed hash of the row's
    id, so it tells which rows concern the same patient and nothing else (no INS-C, no URL
    id; it cannot be recomputed without the server's secret key)."""
    if patient_id is None:
        return "—"
    digest = salted_hmac(
        "records.supervision.patient", str(patient_id), algorithm="sha256"
    ).hexdigest()
    return f"P-{digest[:4]}-{digest[4:8]}-{digest[8:12]}".upper()


def actor_description(event: AccessEvent) -> str:
    """Who acted, as the admin sees it: a professional by profession and RPPS, otherwise the
    kind of account (the label may be the patient's own name)."""
    if event.actor_rpps:
        profession = Profession(event.actor_profession).label if event.actor_profession else ""
        return f"{profession} · RPPS {event.actor_rpps}".strip(" ·")
    if event.mode == AccessMode.PATIENT:
        return _("le patient")
    if event.actor_id is None:
        return _("le système")
    return _("un autre compte (administration)")


@dataclass(frozen=True)
class TrailCounts:
    """The trail in numbers over the last ``days`` days (no row names a patient)."""

    since: datetime.date
    total_events: int
    by_day: list[dict[str, Any]]  # {"day", "total", "<mode>": count…}, newest first
    by_action: list[tuple[str, int]]
    by_mode: list[tuple[str, int]]
    emergencies_by_mode: list[tuple[str, int]]
    care_relations_by_status: list[tuple[str, int]]
    notifications_by_kind: list[tuple[str, int, int]]  # (kind, total, e-mailed)


def _labelled(rows: Any, field: str, choices: Any) -> list[tuple[str, int]]:
    labels = dict(choices)
    return [(str(labels.get(row[field], row[field])), row["n"]) for row in rows]


def trail_counts(*, days: int = 30) -> TrailCounts:
    """Counts per day × mode, per action and per mode since ``days`` days, and the totals of
    emergency accesses, care relations and notifications. A fixed number of queries."""
    since = timezone.localdate() - datetime.timedelta(days=days - 1)
    start = datetime.datetime.combine(
        since, datetime.time.min, tzinfo=timezone.get_current_timezone()
    )
    recent = AccessEvent.objects.filter(at__gte=start)  # a range on the indexed column
    by_day: dict[datetime.date, dict[str, Any]] = {}
    per_day = recent.annotate(day=TruncDate("at")).values("day", "mode").annotate(n=Count("id"))
    for row in per_day.order_by():
        cell = by_day.setdefault(row["day"], {"day": row["day"], "total": 0})
        cell[row["mode"]] = row["n"]
        cell["total"] += row["n"]
    by_action = recent.values("action").annotate(n=Count("id")).order_by("-n", "action")
    by_mode = recent.values("mode").annotate(n=Count("id")).order_by("-n", "mode")
    emergencies = (
        EmergencyAccess.objects.filter(started_at__gte=start)
        .values("mode")
        .annotate(n=Count("id"))
        .order_by("mode")
    )
    relations = CareRelation.objects.values("status").annotate(n=Count("id")).order_by("status")
    notifications = (
        Notification.objects.values("kind")
        .annotate(n=Count("id"), mailed=Count("id", filter=Q(emailed=True)))
        .order_by("kind")
    )
    head = trail.latest_head()
    pending = AccessEvent.objects.filter(leaf_index__isnull=True).count()  # a partial index
    kinds = dict(NotificationKind.choices)
    return TrailCounts(
        since=since,
        total_events=(head.size if head else 0) + pending,
        by_day=sorted(by_day.values(), key=lambda cell: cell["day"], reverse=True),
        by_action=_labelled(by_action, "action", AccessAction.choices),
        by_mode=_labelled(by_mode, "mode", AccessMode.choices),
        emergencies_by_mode=_labelled(emergencies, "mode", AccessMode.choices),
        care_relations_by_status=_labelled(relations, "status", CareRelationStatus.choices),
        notifications_by_kind=[
            (str(kinds.get(row["kind"], row["kind"])), row["n"], row["mailed"])
            for row in notifications
        ],
    )


@dataclass(frozen=True)
class ChainStatus:
    checked: int
    broken: bool
    broken_seq: int | None  # the leaf; None when the break is not at one event (a head)

    @property
    def intact(self) -> bool:
        return not self.broken


def chain_check() -> ChainStatus:
    """Recompute the whole tree (``verify_log``): how many leaves hold, and the first break."""
    report = trail.verify_log()
    broken = report.broken
    leaf = broken.event.leaf_index if broken is not None and broken.event is not None else None
    return ChainStatus(checked=report.checked, broken=broken is not None, broken_seq=leaf)


def patient_trail_consult(
    *, actor: User, event: AccessEvent, reason: str, request: HttpRequest | None = None
) -> list[AccessEvent]:
    """The trail of the patient ``event`` concerns, for an administrator who states why.

    Who may: an active staff account (the admin page also needs the permission to view the
    trail). The read is traced first, as an access event on that patient whose detail is the
    reason: the patient reads it in their history. Returns at most 500 of the patient's events,
    newest first, for a pseudonymous display (no names, INS-C or free texts are shown).
    Raises AccessDenied (not staff), UserError (no readable reason, no DMP, an erased DMP).
    """
    if not (actor.is_active and actor.is_staff):
        raise AccessDenied("Only an administrator supervises the trail.")
    text = reason_clean(reason, max_length=AUDIT_REASON_MAX_LENGTH)
    if event.patient_id is None:
        raise UserError(_("Cet événement ne concerne aucun DMP."))
    patient = Patient.objects.get(pk=event.patient_id)
    if patient.dmp_status == DmpStatus.PURGED:
        raise UserError(_("Ce DMP est supprimé : sa trace ne se consulte plus."))
    with transaction.atomic():
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.HISTORY_VIEW,
            detail=AUDIT_PREFIX + text,
            request=request,
        )
    return list(
        AccessEvent.objects.filter(patient=patient)
        .select_related("actor")
        .order_by("-id")[:PATIENT_TRAIL_LIMIT]
    )
