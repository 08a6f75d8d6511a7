"""A professional's "Mes patients": the DMPs they may read now, why, when they last opened each
one and what is new since then — a page of rows in a constant number of queries, whatever the
number of DMPs they hold.

Not traced per row: the list names DMPs the professional already holds (their own care
relations, as the patient's access page lists the patient's professionals) and reads no
document; opening one of them is traced as any other read.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Lower, NullIf

from identity.models import Patient, User
from records import access
from records.models import AccessMode, EntryKind, LastLook
from records.search import words_in

PAGE_SIZE = 25
_NAME = Lower(Coalesce(NullIf("used_name", Value("")), "birth_name"))  # as display_name
SORTS = {
    "nom": (_NAME.asc(), Lower("first_names").asc()),
    "-nom": (_NAME.desc(), Lower("first_names").desc()),
    "-acces": (F("last_access").desc(nulls_last=True),),
    "acces": (F("last_access").asc(nulls_first=True),),
}
DEFAULT_SORT = "nom"


@dataclass(frozen=True)
class PatientRow:
    """One line of "Mes patients"."""

    patient: Patient
    held_as: str  # traitant, opened, patient, consultation, emergency, samu
    last_access: datetime.datetime | None
    new_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def new_total(self) -> int:
        return sum(self.new_by_kind.values())

    @property
    def new_labels(self) -> list[tuple[str, int]]:
        """(kind label, count) in the order of ``EntryKind``, only the kinds with news."""
        return [
            (str(kind.label), self.new_by_kind[kind.value])
            for kind in EntryKind
            if self.new_by_kind.get(kind.value)
        ]


@dataclass(frozen=True)
class PatientPage:
    rows: list[PatientRow]
    number: int
    has_next: bool
    sort: str
    query: str


def _held_as(user: User, patient: Patient) -> str:
    dmp = access.how_listed(user, patient)
    if dmp.mode != AccessMode.NORMAL:
        return dmp.mode
    professional = user.professional
    if patient.medecin_traitant_id == professional.pk:
        return "traitant"
    return str(patient.__dict__.get("relation_reason") or "patient")


def my_patients_page(user: User, *, query: str = "", sort: str = "", page: int = 1) -> PatientPage:
    """One page of the professional's DMPs (two queries: the page, the news on it)."""
    sort = sort if sort in SORTS else DEFAULT_SORT
    offset = (page - 1) * PAGE_SIZE
    # One row more than a page tells whether a next page exists, without a COUNT over them all.
    fetched = list(_page_rows(user, query, sort, offset, PAGE_SIZE + 1))
    shown = fetched[:PAGE_SIZE]
    news = new_since_last_access(user, shown)
    rows = [
        PatientRow(
            patient=patient,
            held_as=_held_as(user, patient),
            last_access=patient.__dict__["last_access"],
            new_by_kind=news.get(patient.pk, {}),
        )
        for patient in shown
    ]
    return PatientPage(
        rows=rows, number=page, has_next=len(fetched) > PAGE_SIZE, sort=sort, query=query
    )


def _page_rows(user: User, query: str, sort: str, offset: int, limit: int) -> QuerySet[Patient]:
    """``limit`` rows of the list from ``offset``, in one query, the annotations computed for
    these rows only.

    By name: the page's keys chosen first, in a subquery that reads only the names of the DMPs
    held. By last access, on PostgreSQL: the DMPs looked at, walked newest first from the index
    of ``LastLook`` (the page's rows only, however many DMPs are held), then those never looked
    at, each part limited, glued by UNION ALL (the second part is read only when the first runs
    out). Elsewhere (SQLite) the same order in one sorted query."""
    named = words_in(("birth_name", "used_name", "first_names"), query)
    order: tuple[Any, ...] = (*SORTS[sort], "pk")
    end = offset + limit
    if sort in ("nom", "-nom"):
        keys = access.my_patients_keys(user).filter(named).order_by(*order).values("pk")
        return access.my_patients(user, among=keys[offset:end]).order_by(*order)
    if connection.features.supports_slicing_ordering_in_compound:
        walk = ("-at" if sort == "-acces" else "at", "patient_id")
        patient_named = words_in(
            ("patient__birth_name", "patient__used_name", "patient__first_names"), query
        )
        looks = access.my_looks(user).filter(patient_named).order_by(*walk)
        looked = access.my_patients(user, among=looks.values("patient_id")[:end])
        never = access.my_patients(user, looked=False).filter(named).order_by("pk")[:end]
        looked = looked.order_by(*order)[:end]
        first, then = (looked, never) if sort == "-acces" else (never, looked)
        return first.union(then, all=True)[offset:end]
    return access.my_patients(user).filter(named).order_by(*order)[offset:end]


def new_since_last_access(user: User, patients: list[Patient]) -> dict[int, dict[str, int]]:
    """What is new for ``user`` in each of ``patients`` since their last access (when they
    last looked at that DMP, ``LOOKED_AT_THE_DMP``, as the synthèse counts it; everything when
    they never looked): the number of entries they may read deposited since, per kind, by
    patient id. One query whatever the number of patients (the rows of a page); only entries
    in the funnel's scope count."""
    if not patients:
        return {}
    last_access = Subquery(
        LastLook.objects.filter(patient=OuterRef("patient_id"), user=user).values("at")[:1]
    )
    counts = (
        access.entries_for(user)
        .filter(patient__in=[patient.pk for patient in patients])
        .annotate(_since=last_access)
        .filter(Q(_since__isnull=True) | Q(deposited_at__gt=F("_since")))
        .exclude(author__user=user)  # their own deposits are not news to them
        .values("patient_id", "kind")
        .annotate(count=Count("pk"))
        .order_by()
    )
    news: dict[int, dict[str, int]] = defaultdict(dict)
    for row in counts:
        news[row["patient_id"]][row["kind"]] = row["count"]
    return dict(news)


__all__ = ["PAGE_SIZE", "PatientPage", "PatientRow", "my_patients_page", "new_since_last_access"]
