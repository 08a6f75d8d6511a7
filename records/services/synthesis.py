"""The synthèse: who this patient is, clinically, in ten seconds — and what is new since the
professional's last access.

Reads only (the caller traces the read first, ``read_traced``). Every list comes from the
funnel's ``entries_for`` (masked, matrix and invisible-to-patient rules applied in the query),
in a fixed number of queries whatever the size of the DMP, each list bounded.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from identity.models import Patient, User
from records import access, profile_reference
from records.content import Allergy, AllergyVerification, ClinicalStatus, Criticality, Severity
from records.models import LOOKED_AT_THE_DMP, AccessEvent, Entry, EntryKind, EntryStatus
from records.profile import (
    HistoryKind,
    Measure,
    Problem,
    ProblemStatus,
    Treatment,
    Vaccination,
    Wishes,
)

LIST_LIMIT = 20
DOCUMENT_LIMIT = 5
DOCUMENT_KINDS = (EntryKind.REPORT, EntryKind.LAB_REPORT, EntryKind.IMAGING_STUDY)


# --- New since the last access ------------------------------------------------------------------


def last_access_at(user: User, patient: Patient) -> datetime.datetime | None:
    """When ``user`` last looked at this DMP (its page or its documents), from the trail
    (None: never). Call it before tracing the current read, or that read would be the
    answer."""
    event = (
        AccessEvent.objects.filter(patient=patient, actor=user, action__in=LOOKED_AT_THE_DMP)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    return event


@dataclass(frozen=True)
class NewSince:
    """Entries the viewer may read that were deposited (by others) since ``since``."""

    since: datetime.datetime
    counts: list[tuple[str, int]]  # (kind label, count), most first
    entries: list[Entry]
    total: int


def entries_new_since_last_access(
    user: User, patient: Patient, since: datetime.datetime | None
) -> NewSince | None:
    """What is new in this DMP for ``user`` since ``since`` (``last_access_at``): counts per
    kind and the latest entries (two queries; None when they never accessed it). The
    viewer's own deposits are not news to them."""
    if since is None:
        return None
    new = (
        access.entries_for(user, patient)
        .filter(status=EntryStatus.CURRENT, deposited_at__gt=since)
        .exclude(author__user=user)
    )
    labels = dict(EntryKind.choices)
    counts = [
        (str(labels.get(row["kind"], row["kind"])), row["n"])
        for row in new.values("kind").annotate(n=Count("pk")).order_by("-n", "kind")
    ]
    entries = list(new.order_by("-deposited_at", "-pk")[:LIST_LIMIT])
    return NewSince(since, counts, entries, sum(n for _label, n in counts))


# --- The synthèse ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Synthesis:
    allergies: list[Allergy]
    problems: list[Problem]
    history: list[Problem]
    treatments: list[Treatment]
    measures: list[Measure]
    bmi: Decimal | None
    calendar: list[profile_reference.CalendarItem]
    wishes: Wishes | None
    documents: list[Entry]
    abnormal: list[Entry]
    new_since: NewSince | None = None
    due_vaccinations: list[profile_reference.CalendarItem] = field(default_factory=list)


def _current(user: User, patient: Patient) -> QuerySet[Entry]:
    return access.entries_for(user, patient).filter(status=EntryStatus.CURRENT)


def _allergies(scope: QuerySet[Entry]) -> list[Allergy]:
    """Active, not refuted; high criticality and severe reactions first, whatever their date."""
    rank = Case(
        When(criticality=Criticality.HIGH, then=Value(0)),
        When(severity=Severity.SEVERE, then=Value(1)),
        When(criticality=Criticality.UNABLE, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return list(
        Allergy.objects.filter(entry__in=scope, clinical_status=ClinicalStatus.ACTIVE)
        .exclude(verification_status=AllergyVerification.REFUTED)
        .select_related("entry")
        .annotate(rank=rank)
        .order_by("rank", "substance_label")[:LIST_LIMIT]
    )


def _problems(scope: QuerySet[Entry]) -> list[Problem]:
    """Active problems first, then the antécédents (resolved, surgical, family), newest first."""
    active_first = Case(When(status=ProblemStatus.ACTIVE, then=Value(0)), default=Value(1))
    return list(
        Problem.objects.filter(entry__in=scope)
        .select_related("entry")
        .order_by(active_first, F("onset_date").desc(nulls_last=True), "-pk")[: 2 * LIST_LIMIT]
    )


def _is_active_problem(problem: Problem) -> bool:
    """An active problem of the patient's own; the rest (resolved, family) are antécédents."""
    return problem.status == ProblemStatus.ACTIVE and problem.history != HistoryKind.FAMILY


def _treatments(scope: QuerySet[Entry], today: datetime.date) -> list[Treatment]:
    return list(
        Treatment.objects.filter(entry__in=scope)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
        .select_related("entry")
        .order_by("medicine")[:LIST_LIMIT]
    )


def _latest_measures(scope: QuerySet[Entry]) -> list[Measure]:
    """The latest measure of each kind, in one query (a window function)."""
    latest = (
        Measure.objects.filter(entry__in=scope)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("kind")],
                order_by=[F("measured_on").desc(), F("pk").desc()],
            )
        )
        .filter(rank=1)
        .select_related("entry")
    )
    order = {m.key: i for i, m in enumerate(profile_reference.MEASURES)}
    return sorted(latest, key=lambda m: order.get(m.kind, 99))


def _bmi(measures: list[Measure]) -> Decimal | None:
    by_kind = {m.kind: m.value for m in measures}
    if "weight" in by_kind and "height" in by_kind:
        return profile_reference.bmi(by_kind["weight"], by_kind["height"])
    return None


def vaccination_calendar_for(
    scope: QuerySet[Entry], patient: Patient, today: datetime.date
) -> list[profile_reference.CalendarItem]:
    """The patient's calendar from the vaccinations the viewer may read (one query)."""
    if patient.birth_date is None:
        return []
    doses = [
        profile_reference.Dose(given_on, tuple(diseases.split("|")))
        for given_on, diseases in Vaccination.objects.filter(entry__in=scope).values_list(
            "given_on", "diseases"
        )
    ]
    return profile_reference.vaccination_calendar(patient.birth_date, today, doses)


def _wishes(scope: QuerySet[Entry]) -> Wishes | None:
    return (
        Wishes.objects.filter(entry__in=scope)
        .select_related("entry")
        .order_by("-entry__pk")
        .first()
    )


def synthesis_for(user: User, patient: Patient, *, since: Any = None) -> Synthesis:
    """The synthèse of ``patient`` as ``user`` may read it (ten queries at most, whatever the
    size of the DMP): severe allergies first, problems, treatments in progress, the latest
    measures, the vaccinations due, the patient's wishes, the latest documents and abnormal
    results, and, given ``since`` (``last_access_at``), what is new since then."""
    today = timezone.localdate()
    scope = _current(user, patient)
    problems = _problems(scope)
    measures = _latest_measures(scope)
    calendar = vaccination_calendar_for(scope, patient, today)
    documents = list(
        scope.filter(kind__in=DOCUMENT_KINDS)
        .select_related("author__user")
        .order_by("-act_date", "-pk")[:DOCUMENT_LIMIT]
    )
    abnormal = list(
        scope.filter(kind=EntryKind.LAB_REPORT, abnormal=True).order_by("-act_date", "-pk")[
            :DOCUMENT_LIMIT
        ]
    )
    return Synthesis(
        allergies=_allergies(scope),
        problems=[p for p in problems if _is_active_problem(p)][:LIST_LIMIT],
        history=[p for p in problems if not _is_active_problem(p)][:LIST_LIMIT],
        treatments=_treatments(scope, today),
        measures=measures,
        bmi=_bmi(measures),
        calendar=calendar,
        wishes=_wishes(scope),
        documents=documents,
        abnormal=abnormal,
        new_since=entries_new_since_last_access(user, patient, since),
        due_vaccinations=[
            item
            for item in calendar
            if item.status in (profile_reference.DUE, profile_reference.OVERDUE)
        ],
    )
