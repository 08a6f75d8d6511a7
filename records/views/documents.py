"""Records pages: the timeline (document list), entry details, the deposit forms, the allergy
card, lab trends, the PDF download, masking and announcing.

The first line of every view decides access through ``records.access`` (out of scope ≡
missing: 404); every read writes its access event (``read_traced``) before anything is
rendered; writes are ``records.services.content`` / ``records.services`` calls.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identity.auth import patient_required, professional_required, sensitive_action
from identity.models import Patient
from records import access, labs, reference, trail
from records.content import (
    CRITICALITY_ORDER,
    SEVERITY_ORDER,
    Allergy,
    AllergyVerification,
    ClinicalStatus,
    Criticality,
    Observation,
)
from records.forms.content import (
    ADD_ROWS,
    AllergyForm,
    BaseObservationFormSet,
    LabReportForm,
    MaskForm,
    ObservationFormSet,
    ReportForm,
    TimelineFilterForm,
)
from records.models import AccessAction, Entry, EntryKind, EntryStatus
from records.pdf import MAX_PDF_BYTES
from records.services import care as care_services
from records.services import content as content_services
from records.services import entries as entry_services
from records.trend_svg import render_trend_svg
from records.uploads import capped_upload, upload_too_large

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
PRO_DEFAULT_WINDOW = datetime.timedelta(days=730)
_KIND_ROWS = ("lab_report", "report", "allergy")


# --- Access helpers ----------------------------------------------------------------------------


def _scoped_entry(user: Any, entry_id: uuid.UUID | str) -> tuple[Entry, access.DmpAccess]:
    """One entry in ``user``'s scope with its kind row, and how they hold its DMP (one query);
    404 when missing *or* forbidden."""
    return access.entry_for(user, entry_id, related=_KIND_ROWS)


def _kind_row(entry: Entry, name: str) -> Any:
    try:
        return getattr(entry, name)
    except ObjectDoesNotExist:
        return None


def _trend_url(user: Any, patient: Patient, code: str) -> str:
    if getattr(user, "is_patient", False):
        return reverse("records:trend_patient", kwargs={"analyte_code": code})
    return reverse(
        "records:trend_pro", kwargs={"public_id": patient.public_id, "analyte_code": code}
    )


# --- Timeline ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    entry: Entry
    hidden_from_patient: bool


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
    return entries


def _timeline(request: HttpRequest, dmp: access.DmpAccess, *, professional: bool) -> HttpResponse:
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
    patient = dmp.patient
    entries = _filtered(access.entries_for(request.user, patient), data)
    if window_start is not None:
        entries = entries.filter(act_date__gte=window_start)
    page = data.get("page") or 1
    offset = (page - 1) * PAGE_SIZE
    # One row more than a page tells whether a next page exists, without a COUNT.
    fetched = list(
        entries.select_related("author__user").order_by("-act_date", "-id")[
            offset : offset + PAGE_SIZE + 1
        ]
    )
    rows = [
        TimelineRow(entry, professional and entry.hidden_from_patient_now())
        for entry in fetched[:PAGE_SIZE]
    ]
    return render(
        request,
        "records/entry_list.html",
        {
            "patient": patient,
            "professional": professional,
            "filters": filters,
            "rows": rows,
            "page": page,
            "has_next": len(fetched) > PAGE_SIZE,
            "window_start": window_start,
            "show_all": bool(data.get("tout")),
            "can_deposit": dmp.may_deposit,
        },
    )


@never_cache
@professional_required
@require_GET
def timeline_pro(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A professional's view of the DMP's documents (default window: the last two years)."""
    return _timeline(request, access.dmp_for(request.user, public_id), professional=True)


@never_cache
@patient_required
@require_GET
def timeline_patient(request: HttpRequest) -> HttpResponse:
    """The patient's own documents (those invisible to them until announced are not listed)."""
    dmp = access.own_dmp(request.user)
    if not dmp.patient.is_open:
        return redirect("records:my_dmp")
    return _timeline(request, dmp, professional=False)


# --- Entry detail --------------------------------------------------------------------------------


def _versions(user: Any, patient: Patient, entry: Entry) -> dict[str, Entry | None]:
    """The previous and next versions the viewer may read (no query when there are none)."""
    if entry.replaces_id is None and entry.status != EntryStatus.REPLACED:
        return {"previous": None, "next": None}  # no version: no query
    neighbours = access.entries_for(user, patient).filter(
        Q(pk=entry.replaces_id) | Q(replaces=entry)
    )
    found: dict[str, Entry | None] = {"previous": None, "next": None}
    for other in neighbours.only("public_id", "replaces_id", "title", "act_date", "status"):
        found["previous" if other.pk == entry.replaces_id else "next"] = other
    return found


def _kind_context(user: Any, patient: Patient, entry: Entry) -> dict[str, Any]:
    if entry.kind == EntryKind.LAB_REPORT:
        lab = _kind_row(entry, "lab_report")
        observations = list(lab.observations.all()) if lab else []
        return {
            "lab_report": lab,
            "observations": [
                (obs, _trend_url(user, patient, obs.analyte_code)) for obs in observations
            ],
        }
    if entry.kind == EntryKind.REPORT:
        return {"report": _kind_row(entry, "report")}
    if entry.kind == EntryKind.ALLERGY:
        return {"allergy": _kind_row(entry, "allergy")}
    return {}


@never_cache
@login_required
@require_GET
def entry_detail(request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """One entry, for the patient and for professionals alike (each sees what is theirs)."""
    entry, dmp = _scoped_entry(request.user, entry_id)
    patient = dmp.patient
    care_services.read_traced(
        actor=request.user, dmp=dmp, action=AccessAction.ENTRY_VIEW, entry=entry, request=request
    )
    is_patient = dmp.is_patient
    normal = dmp.may_deposit
    hidden = not is_patient and entry.hidden_from_patient_now()
    context = {
        "entry": entry,
        "patient": patient,
        "is_patient": is_patient,
        "professional": not is_patient,
        "hidden_from_patient": hidden,
        "can_announce": hidden and normal,
        "can_replace": normal
        and entry.status == EntryStatus.CURRENT
        and entry.kind in (EntryKind.REPORT, EntryKind.ALLERGY),
        "viewers": access.who_can_see(entry) if is_patient else None,
        **_versions(request.user, patient, entry),
        **_kind_context(request.user, patient, entry),
    }
    return render(request, "records/entry_detail.html", context)


@login_required
@require_GET
def report_pdf(request: HttpRequest, entry_id: uuid.UUID) -> FileResponse:
    """The report's PDF, as a sandboxed attachment that no cache keeps."""
    entry, dmp = _scoped_entry(request.user, entry_id)
    report = _kind_row(entry, "report")
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
    name = f"{slugify(entry.title)[:80] or 'document'}.pdf"
    response = FileResponse(
        handle, as_attachment=True, filename=name, content_type="application/pdf"
    )
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@patient_required
@sensitive_action
@require_POST
def entry_mask(request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """The patient masks (or unmasks) one of their entries from professionals."""
    entry, _dmp = _scoped_entry(request.user, entry_id)
    form = MaskForm(request.POST)
    masked = form.is_valid() and form.cleaned_data["masquer"]
    entry_services.entry_mask(actor=request.user, entry=entry, masked=masked)  # type: ignore[arg-type]
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
def entry_announce(request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """After the consultation d'annonce: the patient sees the entry now, and is told."""
    entry, _dmp = _scoped_entry(request.user, entry_id)
    entry_services.entry_announce(actor=request.user, entry=entry)  # type: ignore[arg-type]
    messages.success(request, _("Le document est maintenant visible par le patient."))
    return redirect("records:entry_detail", entry_id=entry.public_id)


# --- Deposit forms -------------------------------------------------------------------------------


def _form_dmp(
    request: HttpRequest, public_id: uuid.UUID, document_type: str | None = None
) -> access.DmpAccess:
    """The DMP a professional deposits into (404 out of scope, 403 when they may not deposit:
    an emergency access reads, it does not write). Showing a blank deposit form reads the
    patient's identity: it is traced."""
    dmp = access.dmp_for(request.user, public_id)
    dmp.require_deposit(document_type)
    if request.method == "GET":
        care_services.read_traced(
            actor=request.user,
            dmp=dmp,
            action=AccessAction.DMP_VIEW,
            request=request,
            detail="formulaire de dépôt",
        )
    return dmp


def _duplicate(request: HttpRequest, error: content_services.DuplicateSubmission) -> HttpResponse:
    messages.info(
        request,
        _("Ce formulaire a déjà été envoyé : le document n'est enregistré qu'une fois."),
    )
    if error.entry is not None:
        return redirect("records:entry_detail", entry_id=error.entry.public_id)
    return redirect("home")


def _deposited(request: HttpRequest, entry: Entry) -> HttpResponse:
    messages.success(request, _("Le document est déposé dans le DMP."))
    return redirect("records:entry_detail", entry_id=entry.public_id)


def _with_more_rows(data: Any) -> Any:
    """The no-JavaScript "add rows" button: the same POST, a few more empty rows."""
    data = data.copy()
    total = int(data.get("form-TOTAL_FORMS", 0) or 0)
    data["form-TOTAL_FORMS"] = str(min(total + ADD_ROWS, 60))
    return data


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def lab_report_new(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Deposit a lab report: the report's header and its result rows (a formset)."""
    patient = _form_dmp(request, public_id, content_services.LAB_DOCUMENT_TYPE).patient
    adding = "ajouter_lignes" in request.POST
    data = _with_more_rows(request.POST) if adding else (request.POST or None)
    form = LabReportForm(data)
    rows = cast(BaseObservationFormSet, ObservationFormSet(data))
    if request.method == "POST" and not adding and form.is_valid() and rows.is_valid():
        try:
            entry = content_services.lab_report_deposit(
                actor=request.user,  # type: ignore[arg-type]
                patient=patient,
                observations=rows.rows(),
                submission_key=form.cleaned_data["submission_key"],
                **{k: form.cleaned_data[k] for k in _LAB_FIELDS},
            )
        except content_services.DuplicateSubmission as error:
            return _duplicate(request, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _deposited(request, entry)
    return render(
        request,
        "records/labreport_form.html",
        {"patient": patient, "form": form, "rows": rows, "units": reference.UNITS},
        status=_form_status(request),
    )


_LAB_FIELDS = ("laboratory", "specimen_collected_at", "reported_at", "invisible_to_patient")


def _report_form(
    request: HttpRequest, dmp: access.DmpAccess, previous: Entry | None
) -> HttpResponse:
    patient = dmp.patient
    old = _kind_row(previous, "report") if previous else None
    initial = {}
    if previous is not None and old is not None:
        initial = {
            "document_type": previous.document_type,
            "title": previous.title,
            "act_date": previous.act_date,
            "body": old.body,
        }
    form = ReportForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        too_large=upload_too_large(request),
        previous_pdf=bool(old and old.pdf),
        document_types=dmp.deposit_types(),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = content_services.report_deposit(
                actor=request.user,  # type: ignore[arg-type]
                patient=patient,
                document_type=data["document_type"],
                title=data["title"],
                act_date=data["act_date"],
                body=data["body"],
                pdf=data["pdf"],
                keep_pdf=bool(data.get("keep_pdf")),
                replaces=previous,
                invisible_to_patient=data["invisible_to_patient"],
                submission_key=data["submission_key"],
            )
        except content_services.DuplicateSubmission as error:
            return _duplicate(request, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _deposited(request, entry)
    if form.errors.get("pdf"):
        _trace_refused_file(request, patient, [str(e) for e in form.errors["pdf"]])
    context = {"patient": patient, "form": form, "previous": previous}
    return render(request, "records/report_form.html", context, status=_form_status(request))


def _form_status(request: HttpRequest) -> int:
    """200 for a form shown; 4xx when a submission was refused (nothing stored)."""
    if upload_too_large(request):
        return 413
    return 400 if request.method == "POST" and "ajouter_lignes" not in request.POST else 200


def _trace_refused_file(request: HttpRequest, patient: Patient, reasons: Iterable[str]) -> None:
    """A refused upload leaves an event with its reason in the trail (QUALITY §1)."""
    trail.record_access(
        actor=request.user,
        patient=patient,
        action=AccessAction.DEPOSIT_REFUSED,
        detail=f"dépôt refusé : {' '.join(reasons)}"[:300],
        request=request,
    )


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
@capped_upload(max_file=MAX_PDF_BYTES)
def report_new(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Deposit a report: a text body and/or a PDF (20 MB at most, judged by its content)."""
    return _report_form(request, _form_dmp(request, public_id), None)


_ALLERGY_FIELDS = (
    "substance_code",
    "category",
    "reactions",
    "severity",
    "criticality",
    "clinical_status",
    "verification_status",
    "onset_date",
    "note",
)


def _allergy_form(request: HttpRequest, patient: Patient, previous: Entry | None) -> HttpResponse:
    old = _kind_row(previous, "allergy") if previous else None
    initial = {}
    if old is not None:
        initial = {name: getattr(old, name) for name in _ALLERGY_FIELDS}
        if not old.substance_code:
            initial["substance_label"] = old.substance_label
    form = AllergyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        key = data.pop("submission_key")
        try:
            entry = content_services.allergy_record(
                actor=request.user,  # type: ignore[arg-type]
                patient=patient,
                replaces=previous,
                submission_key=key,
                **data,
            )
        except content_services.DuplicateSubmission as error:
            return _duplicate(request, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _deposited(request, entry)
    context = {"patient": patient, "form": form, "previous": previous}
    return render(request, "records/allergy_form.html", context, status=_form_status(request))


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def allergy_new(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Record an allergy or intolerance."""
    dmp = _form_dmp(request, public_id, content_services.ALLERGY_DOCUMENT_TYPE)
    return _allergy_form(request, dmp.patient, None)


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
@capped_upload(max_file=MAX_PDF_BYTES)
def entry_new_version(request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """A new version of a report or an allergy; the old one is kept, marked replaced."""
    entry, dmp = _scoped_entry(request.user, entry_id)
    dmp.require_deposit(entry.document_type)
    patient = dmp.patient
    versionable = entry.kind in (EntryKind.REPORT, EntryKind.ALLERGY)
    if entry.status != EntryStatus.CURRENT or not versionable:
        raise PermissionDenied("only the current version of a report or allergy")
    if request.method == "GET":
        care_services.read_traced(
            actor=request.user,
            dmp=dmp,
            action=AccessAction.ENTRY_VIEW,
            entry=entry,
            request=request,
            detail="nouvelle version",
        )
    if entry.kind == EntryKind.REPORT:
        return _report_form(request, dmp, entry)
    return _allergy_form(request, patient, entry)


# --- Allergy card --------------------------------------------------------------------------------


def _allergy_card(
    request: HttpRequest, dmp: access.DmpAccess, *, professional: bool
) -> HttpResponse:
    patient = dmp.patient
    care_services.read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail="carte des allergies",
    )
    allergies = list(
        Allergy.objects.filter(
            entry__in=access.entries_for(request.user, patient),
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
        "patient": patient,
        "professional": professional,
        "allergies": allergies,
        "updated": updated,
        "today": timezone.localdate(),
    }
    return render(request, "records/allergy_card.html", context)


@never_cache
@professional_required
@require_GET
def allergy_card_pro(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The patient's allergy card, printable, as a professional sees it."""
    return _allergy_card(request, access.dmp_for(request.user, public_id), professional=True)


@never_cache
@patient_required
@require_GET
def allergy_card_patient(request: HttpRequest) -> HttpResponse:
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
    request: HttpRequest, dmp: access.DmpAccess, analyte_code: str, *, professional: bool
) -> HttpResponse:
    item = reference.find_analyte(analyte_code)
    if item is None:
        raise Http404("Unknown analyte")
    patient = dmp.patient
    care_services.read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail=f"courbe {item.short_label}",
    )
    observations = list(
        Observation.objects.filter(
            lab_report__entry__in=access.entries_for(request.user, patient),
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
        "patient": patient,
        "professional": professional,
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
def trend_pro(request: HttpRequest, public_id: uuid.UUID, analyte_code: str) -> HttpResponse:
    """One analyte across the reports a professional may read: chart and table."""
    dmp = access.dmp_for(request.user, public_id)
    return _trend(request, dmp, analyte_code, professional=True)


@never_cache
@patient_required
@require_GET
def trend_patient(request: HttpRequest, analyte_code: str) -> HttpResponse:
    """One analyte across the patient's own reports: chart and table."""
    dmp = access.own_dmp(request.user)
    if not dmp.patient.is_open:
        return redirect("records:my_dmp")
    return _trend(request, dmp, analyte_code, professional=False)
