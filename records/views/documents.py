"""Records pages: the timeline (document list), entry details, the allergy card, lab trends,
the PDF download, masking and announcing (the deposit forms are in ``deposits``).

The first line of every view decides access through ``records.access`` (out of scope ≡
missing: 404); every read writes its access event (``read_traced``) before anything is
rendered; writes are ``records.services.content`` / ``records.services`` calls.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from identity.auth import (
    AuthenticatedHttpRequest,
    patient_required,
    professional_required,
    sensitive_action,
)
from identity.models import Patient, Professional, User
from records import access, labs, reference
from records.content import (
    CRITICALITY_ORDER,
    SEVERITY_ORDER,
    AllergyVerification,
    ClinicalStatus,
    Criticality,
    Observation,
)
from records.forms.content import (
    MaskForm,
    TimelineFilterForm,
)
from records.models import AccessAction, Entry, EntryKind, EntryStatus, within_window
from records.search import words_in
from records.services import care as care_services
from records.services import entries as entry_services
from records.trend_svg import render_trend_svg
from records.views.nav import dmp_nav

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
# Entry kinds of the profil médical: the kind's row is named after the kind.
PROFILE_KINDS = (
    EntryKind.PROBLEM,
    EntryKind.TREATMENT,
    EntryKind.VACCINATION,
    EntryKind.MEASURE,
    EntryKind.WISHES,
    EntryKind.PATIENT_DOCUMENT,
)
# What a professional may replace by a new version (the old one kept, marked replaced).
VERSIONED_BY_PROFESSIONALS = (
    EntryKind.REPORT,
    EntryKind.ALLERGY,
    EntryKind.PROBLEM,
    EntryKind.TREATMENT,
    EntryKind.VACCINATION,
    EntryKind.MEASURE,
)
PRO_DEFAULT_WINDOW = datetime.timedelta(days=730)
_KIND_ROWS = (
    "patient_document",
    "lab_report",
    "report",
    "allergy",
    "problem",
    "treatment",
    "vaccination",
    "measure",
    "wishes",
)


# --- Access helpers ----------------------------------------------------------------------------


def scoped_entry(user: User, entry_id: uuid.UUID | str) -> tuple[Entry, access.DmpAccess]:
    """One entry in ``user``'s scope with its kind row, and how they hold its DMP (one query);
    404 when missing *or* forbidden."""
    return access.entry_for(user, entry_id, related=_KIND_ROWS)


def kind_row(entry: Entry, name: str) -> Any:
    try:
        return getattr(entry, name)
    except ObjectDoesNotExist:
        return None


def _trend_url(user: User, patient: Patient, code: str) -> str:
    if getattr(user, "is_patient", False):
        return reverse("records:trend_patient", kwargs={"analyte_code": code})
    return reverse(
        "records:trend_pro", kwargs={"public_id": patient.public_id, "analyte_code": code}
    )


# --- Timeline ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    entry: Entry | TimelineEntry
    hidden_from_patient: bool
    author_name: str  # Professional.display_name, "" without an author


class TimelineEntry(SimpleNamespace):
    """An entry as a timeline row shows it: the columns of ``TIMELINE_COLUMNS`` (read as values,
    a third cheaper than model instances), and Entry's own rules for what derives from them."""

    display_title = Entry.display_title
    document_type_label = Entry.document_type_label

    def hidden_from_patient_now(self) -> bool:
        return Entry.hidden_from_patient_now(self)  # type: ignore[arg-type]  # its columns


TIMELINE_COLUMNS = (
    *("public_id", "kind", "document_type", "title", "summary", "act_date", "status"),
    *("masked", "abnormal", "declared_by_patient", "author_id"),
    *("invisible_to_patient", "announced_at", "deposited_at"),  # hidden_from_patient_now
)


def _filtered(entries: QuerySet[Entry], data: dict[str, Any]) -> QuerySet[Entry]:
    if data.get("type"):
        entries = entries.filter(document_type=data["type"])
    if data.get("auteur"):
        name = data["auteur"]
        entries = entries.filter(
            Q(author__user__last_name__icontains=name) | Q(author__user__first_name__icontains=name)
        )
    if data.get("du"):
        entries = entries.filter(act_date__gte=data["du"])
    if data.get("au"):
        entries = entries.filter(act_date__lte=data["au"])
    if data.get("q"):
        entries = entries.filter(words_in(("title", "summary"), data["q"]))
    return entries


# The filters' HTML by (language, day, query): the same for every reader and every DMP, and about
# a third of the timeline's template time (each widget is a template). Only queries without
# free text are kept (a name or words typed are not kept in memory), at most _FILTERS_KEPT.
_FILTERS_KEPT = 64
_filters_seen: dict[tuple[Any, ...], str] = {}


def filters_html(request: HttpRequest, filters: TimelineFilterForm, *, show_all: bool) -> str:
    """The timeline's filter form, rendered (errors included); kept for the same query."""
    query = tuple(sorted((name, tuple(values)) for name, values in request.GET.lists()))
    key = (translation.get_language(), timezone.localdate(), query)
    html = _filters_seen.get(key)
    if html is None:
        html = render_to_string(
            "records/_timeline_filters.html", {"filters": filters, "show_all": show_all}
        )
        if not (request.GET.get("auteur") or request.GET.get("q")):
            if len(_filters_seen) >= _FILTERS_KEPT:
                _filters_seen.clear()
            _filters_seen[key] = html
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, escaped there


def _timeline(
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, *, professional: bool
) -> HttpResponse:
    filters = TimelineFilterForm(request.GET or None)
    if filters.is_bound:
        filters.is_valid()  # a wrong filter is shown with its error; the others still apply
    data: dict[str, Any] = getattr(filters, "cleaned_data", {})
    window_start = None
    if professional and not data.get("tout") and not data.get("du"):
        window_start = timezone.localdate() - PRO_DEFAULT_WINDOW
    care_services.read_traced(
        actor=request.user, dmp=dmp, action=AccessAction.TIMELINE_VIEW, request=request
    )
    page = data.get("page") or 1
    offset = (page - 1) * PAGE_SIZE
    order = ("act_date", "id") if data.get("tri") == "date" else ("-act_date", "-id")
    dates = {name: data[name] for name in ("du", "au") if data.get(name)}
    if window_start is not None:
        dates["depuis"] = window_start

    def one_page(entries: QuerySet[Entry], dates: dict[str, Any]) -> QuerySet[Entry]:
        entries = _filtered(entries, {**data, **dates})
        if "depuis" in dates:
            entries = entries.filter(within_window(dates["depuis"]))
        # The row's columns as values, its author's name with them (Professional.name_columns):
        # a third of the fetch of model instances with their authors and users. One row more
        # than a page tells whether a next page exists, without a COUNT.
        names = Professional.name_columns("author")
        entries = entries.annotate(**names).values(*TIMELINE_COLUMNS, *names)
        return entries.order_by(*order)[offset : offset + PAGE_SIZE + 1]

    fetched: list[Any]  # TIMELINE_COLUMNS' values
    if data.get("auteur") or data.get("q"):  # words typed: not a statement to keep
        fetched = list(one_page(access.entries_for(request.user, dmp), dates))
    else:
        shape = ("timeline", data.get("type") or "", tuple(sorted(dates)), order, offset, PAGE_SIZE)
        fetched = access.entries_kept(request.user, dmp, shape, one_page, dates)
    rows = []
    for values in fetched[:PAGE_SIZE]:
        entry = TimelineEntry(**cast(dict[str, Any], values))
        hidden = professional and entry.hidden_from_patient_now()
        rows.append(TimelineRow(entry, hidden, Professional.name_of(entry, "author")))
    return render(
        request,
        "records/entry_list.html",
        {
            **dmp_nav(dmp),
            "filters_html": filters_html(request, filters, show_all=bool(data.get("tout"))),
            "filters": filters,  # its errors, also when its HTML was kept from a former request
            "rows": rows,
            "page": page,
            "has_next": len(fetched) > PAGE_SIZE,
            "window_start": window_start,
            "show_all": bool(data.get("tout")),
            "oldest_first": data.get("tri") == "date",
            "can_deposit": dmp.may_deposit,
        },
    )


# Letters that Unicode does not decompose into a base letter: spelled out for the ASCII name.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def attachment_name(title: str, suffix: str = "pdf") -> str:
    """The download's name from the document's title, letters kept (RFC 6266): the UTF-8
    name (cœlioscopie, opératoire) and an ASCII one for old clients (coelioscopie)."""
    ascii_name = f"{slugify(title.translate(_LIGATURES))[:80] or 'document'}.{suffix}"
    name = f"{slugify(title, allow_unicode=True)[:80] or 'document'}.{suffix}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=utf-8''{quote(name)}"


@never_cache
@professional_required
@require_GET
def timeline_pro(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A professional's view of the DMP's documents (default window: the last two years)."""
    return _timeline(request, access.dmp_for(request.user, public_id), professional=True)


@never_cache
@patient_required
@require_GET
def timeline_patient(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's own documents (those invisible to them until announced are not listed)."""
    dmp = access.own_dmp(request.user)
    if not dmp.patient.is_open:
        return redirect("records:my_dmp")
    return _timeline(request, dmp, professional=False)


# --- Entry detail --------------------------------------------------------------------------------


def _versions(user: User, dmp: access.DmpAccess, entry: Entry) -> dict[str, Entry | None]:
    """The previous and next versions the viewer may read (no query when there are none)."""
    if entry.replaces_id is None and entry.status != EntryStatus.REPLACED:
        return {"previous": None, "next": None}  # no version: no query
    neighbours = access.entries_for(user, dmp).filter(Q(pk=entry.replaces_id) | Q(replaces=entry))
    found: dict[str, Entry | None] = {"previous": None, "next": None}
    for other in neighbours.only("public_id", "replaces_id", "title", "act_date", "status"):
        found["previous" if other.pk == entry.replaces_id else "next"] = other
    return found


def _kind_context(user: User, patient: Patient, entry: Entry) -> dict[str, Any]:
    if entry.kind == EntryKind.LAB_REPORT:
        lab = kind_row(entry, "lab_report")
        observations = list(lab.observations.all()) if lab else []
        return {
            "lab_report": lab,
            "observations": [
                (obs, _trend_url(user, patient, obs.analyte_code)) for obs in observations
            ],
        }
    if entry.kind == EntryKind.REPORT:
        return {"report": kind_row(entry, "report")}
    if entry.kind == EntryKind.ALLERGY:
        return {"allergy": kind_row(entry, "allergy")}
    if entry.kind in PROFILE_KINDS:
        return {"item": kind_row(entry, entry.kind)}
    return {}


@never_cache
@login_required
@require_GET
def entry_detail(request: AuthenticatedHttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """One entry, for the patient and for professionals alike (each sees what is theirs)."""
    entry, dmp = scoped_entry(request.user, entry_id)
    patient = dmp.patient
    care_services.read_traced(
        actor=request.user, dmp=dmp, action=AccessAction.ENTRY_VIEW, entry=entry, request=request
    )
    is_patient = dmp.is_patient
    normal = dmp.may_deposit
    hidden = not is_patient and entry.hidden_from_patient_now()
    context = {
        **dmp_nav(dmp),
        "entry": entry,
        "is_patient": is_patient,
        "hidden_from_patient": hidden,
        "can_announce": hidden and normal,
        "can_replace": dmp.may_deposit_type(entry.document_type)
        and entry.status == EntryStatus.CURRENT
        and entry.kind in VERSIONED_BY_PROFESSIONALS,
        "can_verify": normal and entry.declared_by_patient and entry.verified_at is None,
        "viewers": access.who_can_see(entry) if is_patient else None,
        # The patient, a representative, an acting proxy: never a read-only proxy.
        "can_mask": dmp.may_act,
        "can_delete": dmp.may_act and entry.kind == EntryKind.PATIENT_DOCUMENT,
        **_versions(request.user, dmp, entry),
        **_kind_context(request.user, patient, entry),
    }
    return render(request, "records/entry_detail.html", context)


@login_required
@require_GET
def report_pdf(request: AuthenticatedHttpRequest, entry_id: uuid.UUID) -> FileResponse:
    """The report's PDF, as a sandboxed attachment that no cache keeps."""
    entry, dmp = scoped_entry(request.user, entry_id)
    report = kind_row(entry, "report")
    if report is None or not report.pdf:
        raise Http404("No PDF")
    care_services.read_traced(
        actor=request.user, dmp=dmp, action=AccessAction.DOWNLOAD, entry=entry, request=request
    )
    try:
        handle = default_storage.open(report.pdf.name, "rb")
    except OSError:
        logger.error("stored PDF missing", extra={"entry": str(entry.public_id)})
        raise Http404("No PDF") from None
    return sandboxed_attachment(handle, entry, "pdf", "application/pdf")


def sandboxed_attachment(handle: Any, entry: Entry, suffix: str, content_type: str) -> FileResponse:
    """A stored file of ``entry`` as an attachment named after its title, sandboxed, never
    sniffed, kept by no cache."""
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = attachment_name(entry.title, suffix)
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@patient_required
@sensitive_action
@require_POST
def entry_mask(request: AuthenticatedHttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """The patient masks (or unmasks) one of their entries from professionals."""
    entry, _dmp = scoped_entry(request.user, entry_id)
    form = MaskForm(request.POST)
    masked = form.is_valid() and form.cleaned_data["masquer"]
    entry_services.entry_mask(actor=request.user, entry=entry, masked=masked)
    if masked:
        messages.success(
            request,
            _(
                "Le document est masqué : seuls son auteur et votre médecin traitant peuvent "
                "encore le voir."
            ),
        )
    else:
        messages.success(request, _("Le document n'est plus masqué."))
    return redirect("records:entry_detail", entry_id=entry.public_id)


@professional_required
@require_POST
def entry_announce(request: AuthenticatedHttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """After the consultation d'annonce: the patient sees the entry now, and is told."""
    entry, _dmp = scoped_entry(request.user, entry_id)
    entry_services.entry_announce(actor=request.user, entry=entry)
    messages.success(request, _("Le document est maintenant visible par le patient."))
    return redirect("records:entry_detail", entry_id=entry.public_id)


# --- Allergy card --------------------------------------------------------------------------------


def _allergy_card(
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, *, professional: bool
) -> HttpResponse:
    care_services.read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail="carte des allergies",
    )
    allergies = list(
        access.allergies_for(request.user, dmp)
        .filter(
            entry__status=EntryStatus.CURRENT,
            clinical_status=ClinicalStatus.ACTIVE,
        )
        .exclude(verification_status=AllergyVerification.REFUTED)
        .select_related("entry__author__user")
    )
    allergies.sort(
        key=lambda a: (
            CRITICALITY_ORDER.get(Criticality(a.criticality), 9),
            SEVERITY_ORDER.get(a.severity, 9),
            a.substance_label.casefold(),
        )
    )
    updated = max((a.entry.deposited_at for a in allergies), default=None)
    context = {
        **dmp_nav(dmp),
        "allergies": allergies,
        "updated": updated,
        "today": timezone.localdate(),
    }
    return render(request, "records/allergy_card.html", context)


@never_cache
@professional_required
@require_GET
def allergy_card_pro(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The patient's allergy card, printable, as a professional sees it."""
    return _allergy_card(request, access.dmp_for(request.user, public_id), professional=True)


@never_cache
@patient_required
@require_GET
def allergy_card_patient(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's own allergy card, printable."""
    dmp = access.own_dmp(request.user)
    if not dmp.patient.is_open:
        return redirect("records:my_dmp")
    return _allergy_card(request, dmp, professional=False)


# --- Trends --------------------------------------------------------------------------------------


def _exact(observation: Observation) -> Any:
    """The value with the precision typed ("5,40"), from the stored text when it is a number."""
    try:
        return labs.parse_numeric(observation.value_text)
    except ValueError:
        return observation.value_numeric.normalize() if observation.value_numeric else None


def _series_rows(series: labs.Series, lang: str) -> list[tuple[labs.TrendPoint, str]]:
    """Each point with its value in the series unit, converted values shown with the
    precision the laboratory used for the series' own values (7,0 %, not 6,998 %), written
    the way ``lang`` writes numbers (the same as the chart: 6,1 in French, 6.1 in English)."""
    typed = [p.original_value for p in series.points if not p.converted]
    exponents = [v.as_tuple().exponent for v in typed]
    decimals = max([-e for e in exponents if isinstance(e, int)] + [0]) if typed else 2
    return [
        (
            point,
            labs.format_number(point.value, decimals, lang=lang)
            if point.converted
            else labs.format_number(point.original_value, lang=lang),
        )
        for point in series.points
    ]


def _trend(
    request: AuthenticatedHttpRequest,
    dmp: access.DmpAccess,
    analyte_code: str,
    *,
    professional: bool,
) -> HttpResponse:
    item = reference.find_analyte(analyte_code)
    if item is None:
        raise Http404("Unknown analyte")
    care_services.read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail=f"courbe {item.short_label}",
    )
    observations = list(
        access.observations_for(request.user, dmp)
        .filter(
            lab_report__entry__status=EntryStatus.CURRENT,
            analyte_code__in=item.codes,
        )
        .select_related("lab_report__entry")
        .order_by("lab_report__specimen_collected_at", "lab_report_id", "position")
    )
    points = [
        labs.ObservationPoint(
            when=timezone.localtime(obs.lab_report.specimen_collected_at),
            value=_exact(obs),
            unit=obs.unit,
            low=obs.typed_bound(obs.ref_low),
            high=obs.typed_bound(obs.ref_high),
            href=reverse("records:entry_detail", args=[obs.lab_report.entry.public_id]),
            report_id=str(obs.lab_report.entry.public_id),
            flag=labs.Flag(obs.interpretation) if obs.interpretation else None,
        )
        for obs in observations
        if obs.value_numeric is not None
    ]
    lang = reference.display_language(translation.get_language() or "fr")
    label = item.display_label(lang)
    trend = labs.build_trend(item.code, points, item.default_unit, label=label)
    title = _("%(label)s : évolution") % {"label": label}
    svg = render_trend_svg(trend, title=title, lang=lang)
    context = {
        **dmp_nav(dmp),
        "analyte": item,
        "trend": trend,
        "tables": [(series, _series_rows(series, lang)) for series in trend.series],
        "svg": svg,
        "others": [obs for obs in observations if obs.value_numeric is None],
        "conversions": reference.CONVERSIONS.get(item.code, ()),
    }
    return render(request, "records/trend_detail.html", context)


@never_cache
@professional_required
@require_GET
def trend_pro(
    request: AuthenticatedHttpRequest, public_id: uuid.UUID, analyte_code: str
) -> HttpResponse:
    """One analyte across the reports a professional may read: chart and table."""
    dmp = access.dmp_for(request.user, public_id)
    return _trend(request, dmp, analyte_code, professional=True)


@never_cache
@patient_required
@require_GET
def trend_patient(request: AuthenticatedHttpRequest, analyte_code: str) -> HttpResponse:
    """One analyte across the patient's own reports: chart and table."""
    dmp = access.own_dmp(request.user)
    if not dmp.patient.is_open:
        return redirect("records:my_dmp")
    return _trend(request, dmp, analyte_code, professional=False)
