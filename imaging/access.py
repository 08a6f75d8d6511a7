"""Which imaging rows a user may reach: always derived from the DMP's one access funnel.

A study, series or instance is visible exactly when its study's ``Entry`` is in
``records.access.entries_for(user)``; each lookup is one query, and anything out of scope
raises ``Http404`` exactly like a missing id. No decision is made here that the funnel does
not make.
"""

from __future__ import annotations

import uuid

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.http import Http404

from identity.models import Patient, User
from imaging.models import ImagingStudy, Instance, PreviewStatus, Series
from records import access
from records.models import Entry, EntryKind, EntryStatus

REPORT_DOCUMENT_TYPE = "18748-4"  # CR d'imagerie médicale (records/reference.py)


def studies_for(user: User, patient: Patient | None = None) -> QuerySet[ImagingStudy]:
    """The studies ``user`` may see (of ``patient`` when given), with what a list shows.

    Query plan of a list: this one query (study, entry, author, report) plus one prefetch of
    the series with their instance counts: constant whatever the number of studies.
    """
    series = Series.objects.annotate(
        instance_count=Count("instances"),
        pending_count=Count("instances", filter=Q(instances__preview_status="pending")),
    ).order_by("number", "pk")
    return (
        ImagingStudy.objects.filter(entry__in=access.entries_for(user, patient))
        .select_related("entry__author__user", "report")
        .prefetch_related(Prefetch("series", queryset=series))
        .order_by("-entry__act_date", "-pk")
    )


def study_for(user: User, entry_id: uuid.UUID | str) -> ImagingStudy:
    """One study by its entry's public id, in ``user``'s scope; Http404 when missing or not."""
    try:
        return (
            ImagingStudy.objects.filter(entry__in=access.entries_for(user))
            .select_related("entry__patient", "entry__author__user", "report")
            .get(entry__public_id=entry_id)
        )
    except (ImagingStudy.DoesNotExist, ValueError, TypeError):
        raise Http404("No such study") from None


def series_for(user: User, series_id: uuid.UUID | str) -> Series:
    """One series in ``user``'s scope (with its study, entry and patient); Http404 otherwise."""
    try:
        return (
            Series.objects.filter(study__entry__in=access.entries_for(user))
            .select_related("study__entry__patient", "study__report")
            .get(public_id=series_id)
        )
    except (Series.DoesNotExist, ValueError, TypeError):
        raise Http404("No such series") from None


def instance_for(user: User, instance_id: uuid.UUID | str) -> Instance:
    """One instance in ``user``'s scope (with series, study, entry, patient); Http404 otherwise."""
    try:
        return (
            Instance.objects.filter(series__study__entry__in=access.entries_for(user))
            .select_related("series__study__entry__patient")
            .get(public_id=instance_id)
        )
    except (Instance.DoesNotExist, ValueError, TypeError):
        raise Http404("No such image") from None


def dmp_of(user: User, patient: Patient) -> access.DmpAccess:
    """How ``user`` holds the DMP of a study already in scope (mode, may deposit), for the
    access event and the page's actions: the funnel's answer. Http404 if out of scope."""
    held = access.dmp_access(user, patient)
    if held is None:
        raise Http404("No such DMP")
    return held


def report_choices(user: User, patient: Patient) -> QuerySet[Entry]:
    """The imaging reports (CR d'imagerie) of ``patient`` that ``user`` may read and attach."""
    return (
        access.entries_for(user, patient)
        .filter(
            kind=EntryKind.REPORT,
            document_type=REPORT_DOCUMENT_TYPE,
            status=EntryStatus.CURRENT,
        )
        .order_by("-act_date", "-pk")
    )


def report_for(user: User, patient: Patient, public_id: str) -> Entry | None:
    """A report chosen earlier (staged upload), if ``user`` may still read and attach it."""
    try:
        return report_choices(user, patient).get(public_id=public_id)
    except (Entry.DoesNotExist, ValueError, TypeError):
        return None


def report_visible(user: User, study: ImagingStudy) -> bool:
    """Whether ``user`` may read the study's report (it may be masked from them)."""
    if study.report_id is None:
        return False
    return access.entries_for(user).filter(pk=study.report_id).exists()


def may_edit_study(user: User, study: ImagingStudy) -> bool:
    """Whoever may deposit an imaging report in the study's DMP (the funnel's rule)."""
    held = access.dmp_access(user, study.entry.patient)
    return held is not None and held.may_deposit_type(REPORT_DOCUMENT_TYPE)


def series_with_counts(study: ImagingStudy) -> QuerySet[Series]:
    """The series of a study already in scope, with their instance and frame counts."""
    return study.series.annotate(
        instance_count=Count("instances"), frame_count=Sum("instances__frames")
    ).order_by("number", "pk")


def series_preview_state(series: Series) -> str:
    """What a list shows for a series: its thumbnail, a placeholder, or "aperçu indisponible"."""
    if series.thumbnail:
        return PreviewStatus.READY
    return str(series.thumbnail_status)


# ------------------------------------------------------------------ DICOMweb (by DICOM UID)
#
# A DICOM UID is unique per patient only (two DMPs may hold copies of one study): a lookup by
# UID may match several rows in scope, and every one of them is answered.


def dicomweb_studies(user: User) -> QuerySet[ImagingStudy]:
    """The studies ``user`` may read, with their patient, for a QIDO-RS search."""
    return (
        ImagingStudy.objects.filter(entry__in=access.entries_for(user))
        .select_related("entry__patient")
        .annotate(
            series_count=Count("series", distinct=True),
            instance_count=Count("series__instances", distinct=True),
        )
        .order_by("-study_date", "-pk")
    )


def dicomweb_series(user: User, study_uid: str, series_uid: str | None = None) -> QuerySet[Series]:
    """The series of a study UID (one series UID when given) in ``user``'s scope."""
    found = Series.objects.filter(
        study__entry__in=access.entries_for(user), study__study_instance_uid=study_uid
    )
    if series_uid is not None:
        found = found.filter(series_instance_uid=series_uid)
    return found.select_related("study__entry__patient").order_by("number", "pk")


def dicomweb_instances(
    user: User, study_uid: str, series_uid: str | None = None, sop_uid: str | None = None
) -> QuerySet[Instance]:
    """The instances under a study UID (a series, an instance) in ``user``'s scope: one query
    with their series and study, whatever their number."""
    found = Instance.objects.filter(
        series__study__entry__in=access.entries_for(user),
        series__study__study_instance_uid=study_uid,
    )
    if series_uid is not None:
        found = found.filter(series__series_instance_uid=series_uid)
    if sop_uid is not None:
        found = found.filter(sop_instance_uid=sop_uid)
    return found.select_related("series__study__entry__patient").order_by(
        "series__number", "series__pk", "instance_number", "pk"
    )


def export_studies(entries: QuerySet[Entry]) -> QuerySet[ImagingStudy]:
    """The studies of ``entries`` (a queryset the funnel gave), with their series' instance
    counts: two queries whatever their number ("Télécharger mon DMP")."""
    series = Series.objects.annotate(instance_count=Count("instances")).order_by("number", "pk")
    return (
        ImagingStudy.objects.filter(entry__in=entries)
        .select_related("entry__patient")
        .prefetch_related(Prefetch("series", queryset=series))
        .order_by("entry__act_date", "pk")
    )


def export_instances(entries: QuerySet[Entry]) -> QuerySet[Instance]:
    """Every instance of the studies of ``entries``, study by study, series by series (one
    query a chunk: read with ``.iterator()``)."""
    return (
        Instance.objects.filter(series__study__entry__in=entries)
        .select_related("series")
        .order_by(
            "series__study__entry__act_date",
            "series__study_id",
            "series__number",
            "series_id",
            "instance_number",
            "pk",
        )
    )
