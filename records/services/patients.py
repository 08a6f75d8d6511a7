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
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery

from identity.models import Patient, User
from records import access
from records.looks import fold
from records.models import AccessMode, EntryKind, LastLook, Listed

PAGE_SIZE = 25
_NAME = F("listed_name")  # records.looks.name_key, annotated on the page's rows
SORTS = {
    "nom": (_NAME.asc(),),
    "-nom": (_NAME.desc(),),
    "-acces": (F("last_access").desc(nulls_last=True), _NAME.asc()),
    "acces": (F("last_access").asc(nulls_first=True), _NAME.asc()),
}
_WALK_BY_NAME = {"nom": ("name_key", "patient_id"), "-nom": ("-name_key", "-patient_id")}
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
    if query:
        fetched = list(_page_rows(user, query, sort, offset, PAGE_SIZE + 1))
    else:  # the list as it opens: its statement is kept (identity.prepared), values put back
        limit = PAGE_SIZE + 1
        fetched = access.kept(
            user,
            ("mes patients", sort, offset, limit),
            lambda values: _page_rows(user, "", sort, offset, limit),
            {},
        )
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

    By name: the page's keys are the first rows of the user's ``Listed`` rows walked in the
    order of their index (user, name_key), each checked by the funnel as the walk reaches it:
    a page's worth of rows read, however many DMPs are held. A name typed starts a name (a
    range of the same index). By last access, on PostgreSQL: the keys of the DMPs looked at,
    walked newest first from the index of ``LastLook``, then those never looked at, walked by
    name from ``Listed``, each walk limited, glued by UNION ALL and limited again (the second
    walk is read only when the first runs out); the page is these candidates sorted. On
    SQLite, the same two walks chose the candidates of a page, sorted among themselves.
    Either way the funnel's query of the rows is built once (built once per walk, and a
    UNION of the two, it cost a page by last access 1.4× the Python of a page by name)."""
    end = offset + limit
    listed = access.my_listed(user).filter(_named(query))

    def rows(keys: QuerySet[Any, Any]) -> QuerySet[Patient]:
        patients = access.my_patients(user, among=keys)
        return _named_rows(user, patients).order_by(*SORTS[sort], "pk")

    if sort in _WALK_BY_NAME:
        keys = listed.order_by(*_WALK_BY_NAME[sort]).values("patient_id")[offset:end]
        return rows(keys)
    walk = ("-at" if sort == "-acces" else "at", "patient_id")
    looks = access.my_looks(user).order_by(*walk)
    if query:
        looks = looks.filter(patient__in=listed.values("patient_id"))
    unseen = access.my_listed_unseen(user).filter(_named(query))
    looked_keys = looks.values("patient_id")[:end]
    never_keys = unseen.order_by("name_key", "patient_id").values("patient_id")[:end]
    if connection.features.supports_slicing_ordering_in_compound:
        first, then = (looked_keys, never_keys) if sort == "-acces" else (never_keys, looked_keys)
        # The page's rows are among the first ``end`` keys of the two walks in this order: the
        # rows sort looked at (last access set) and never looked at (none) apart.
        candidates: QuerySet[Any, Any] = first.union(then, all=True)[:end]
    else:
        # SQLite: no LIMIT inside a UNION; the two walks as two bounded sets of keys (an index
        # lookup each), the page sorted among their 2 × ``end`` rows at most.
        either = Q(pk__in=looked_keys) | Q(pk__in=never_keys)
        candidates = Patient.objects.filter(either).values("pk")
    return rows(candidates)[offset:end]


def _named_rows(user: User, patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Each row with the name it is listed under (for the order of a page by name)."""
    return patients.annotate(
        listed_name=Subquery(
            Listed.objects.filter(user=user, patient=OuterRef("pk")).values("name_key")[:1]
        )
    )


def _named(query: str) -> Q:
    """A typed name, as a doctor in a hurry types it: every word starts a word of the name,
    the first one starts the name shown ("dup", "dupont al") or the first names ("zoé",
    "alice dupont"): two ranges of the user's rows in the indexes, the other words checked
    on the rows found."""
    if not query.strip():
        return Q()
    first, *others = fold(query).split() or [""]
    if not first:  # punctuation only ("%", "-"): no name is made of that
        return Q(pk__in=[])
    condition = Q(name_key__gte=first, name_key__lt=first + _LAST) | Q(
        first_names_key__gte=first, first_names_key__lt=first + _LAST
    )
    for word in others:
        condition &= Q(name_key__startswith=word) | Q(name_key__contains=f" {word}")
    return condition


_LAST = "\uffff"  # after every character a folded name holds: [typed, typed + _LAST) is a prefix


def new_since_last_access(user: User, patients: list[Patient]) -> dict[int, dict[str, int]]:
    """What is new for ``user`` in each of ``patients`` since their last access (when they
    last looked at that DMP, ``LOOKED_AT_THE_DMP``, as the synthèse counts it; everything when
    they never looked): the number of entries they may read deposited since, per kind, by
    patient id. One query whatever the number of patients (the rows of a page); only entries
    in the funnel's scope count."""
    if not patients:
        return {}
    ids = {f"dmp{rank}": patient.pk for rank, patient in enumerate(patients)}

    def counts(ids: dict[str, Any]) -> Any:
        last_access = Subquery(
            LastLook.objects.filter(patient=OuterRef("patient_id"), user=user).values("at")[:1]
        )
        return (
            access.entries_for(user, among=list(ids.values()))
            .annotate(_since=last_access)
            .filter(Q(_since__isnull=True) | Q(deposited_at__gt=F("_since")))
            .exclude(author__user=user)  # their own deposits are not news to them
            .values("patient_id", "kind")
            .annotate(count=Count("pk"))
            .order_by()
        )

    news: dict[int, dict[str, int]] = defaultdict(dict)
    for row in access.kept(user, ("nouveautés", len(ids)), counts, ids):
        news[row["patient_id"]][row["kind"]] = row["count"]
    return dict(news)


__all__ = ["PAGE_SIZE", "PatientPage", "PatientRow", "my_patients_page", "new_since_last_access"]
