"""Pages of the profil médical: the professional's forms (problems, treatments, vaccinations,
measures), the patient's (measures, declared vaccinations and the calendar, wishes), the
measure charts, and marking a patient's declaration verified.

The first line of every view asks the funnel (404 out of scope, 403 when the user may not
write here); reads are traced before anything is rendered; the services write.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identity.auth import AuthenticatedHttpRequest, patient_required, professional_required
from identity.errors import AccessDenied
from records import access, labs, profile_reference, reference
from records.family import is_minor
from records.forms.content import MinorFlagsForm
from records.forms.profile import (
    MeasureForm,
    PatientDocumentForm,
    PatientVaccinationForm,
    ProblemForm,
    TreatmentForm,
    VaccinationForm,
    WishesForm,
)
from records.models import AccessAction, Entry, EntryKind, EntryStatus
from records.patient_files import MAX_PATIENT_FILE_BYTES
from records.profile import Measure
from records.services import entries as entry_services
from records.services import profile as profile_services
from records.services.care import read_traced
from records.services.content import DuplicateSubmission, StorageUnavailable
from records.services.synthesis import vaccination_calendar_for
from records.trend_svg import render_trend_svg
from records.uploads import capped_upload, upload_too_large
from records.views.deposits import (
    _duplicate,
    _form_dmp,
    _form_status,
    _storage_message,
    _trace_refused_file,
)
from records.views.documents import kind_row, sandboxed_attachment, scoped_entry

Service = Callable[..., Entry]


def _profile_form(
    request: AuthenticatedHttpRequest,
    form: forms.Form,
    service: Service,
    *,
    patient: Any,
    title: str,
    professional: bool,
    replaces: Entry | None = None,
    done: str = "",
) -> HttpResponse:
    """Show ``form``; on a valid POST call ``service`` with its cleaned data (nothing stored
    and the form shown again with a French message when the service refuses)."""
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        extra = {"replaces": replaces} if replaces is not None else {}
        try:
            entry = service(actor=request.user, patient=patient, **data, **extra)
        except DuplicateSubmission as error:
            return _duplicate(request, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("L'information est enregistrée dans le DMP."))
            return redirect(done or reverse("records:entry_detail", args=[entry.public_id]))
    context = {
        "patient": patient,
        "form": form,
        "title": title,
        "professional": professional,
        "cim10": profile_reference.CIM10 if isinstance(form, ProblemForm) else (),
    }
    return render(request, "records/profile_form.html", context, status=_form_status(request))


# --- The professional's forms -------------------------------------------------------------------


@dataclass(frozen=True)
class _ProForm:
    document_type: str
    form: type[MinorFlagsForm]
    service: Service
    title: Any  # a lazy translation
    date_field: str = ""  # prefilled with today


_PRO_FORMS: dict[str, _ProForm] = {
    EntryKind.PROBLEM: _ProForm(
        profile_services.PROBLEM_DOCUMENT_TYPE,
        ProblemForm,
        profile_services.problem_record,
        gettext_lazy("Nouveau problème ou antécédent"),
    ),
    EntryKind.TREATMENT: _ProForm(
        profile_services.TREATMENT_DOCUMENT_TYPE,
        TreatmentForm,
        profile_services.treatment_record,
        gettext_lazy("Nouveau traitement"),
        "start_date",
    ),
    EntryKind.VACCINATION: _ProForm(
        profile_services.VACCINATION_DOCUMENT_TYPE,
        VaccinationForm,
        profile_services.vaccination_record,
        gettext_lazy("Nouvelle vaccination"),
        "given_on",
    ),
    EntryKind.MEASURE: _ProForm(
        profile_services.MEASURE_DOCUMENT_TYPE,
        MeasureForm,
        profile_services.measure_record,
        gettext_lazy("Nouvelle mesure"),
        "measured_on",
    ),
}


def _pro_new(request: AuthenticatedHttpRequest, public_id: uuid.UUID, kind: str) -> HttpResponse:
    """A professional's form for one profile kind (404 out of scope, 403 when they may not
    deposit this type)."""
    spec = _PRO_FORMS[kind]
    dmp = _form_dmp(request, public_id, spec.document_type)
    initial = {spec.date_field: timezone.localdate()} if spec.date_field else {}
    return _profile_form(
        request,
        spec.form(request.POST or None, initial=initial, minor=is_minor(dmp.patient.birth_date)),
        spec.service,
        patient=dmp.patient,
        title=str(spec.title),
        professional=True,
    )


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def problem_new(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Record a problem or antécédent (CIM-10 code of the list, or free text uncoded)."""
    return _pro_new(request, public_id, EntryKind.PROBLEM)


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def treatment_new(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Record a treatment in progress."""
    return _pro_new(request, public_id, EntryKind.TREATMENT)


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def vaccination_new(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Record a vaccination (administered by the professional unless said otherwise)."""
    return _pro_new(request, public_id, EntryKind.VACCINATION)


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def measure_new(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Record a measure (weight, blood pressure, …)."""
    return _pro_new(request, public_id, EntryKind.MEASURE)


@dataclass(frozen=True)
class _Version:
    row: str  # the kind's row, named after the kind
    fields: tuple[str, ...]  # prefilled from the current version
    title: Any  # a lazy translation


_VERSIONS: dict[str, _Version] = {
    EntryKind.PROBLEM: _Version(
        "problem",
        ("cim10_code", "label", "status", "history", "onset_date", "end_date"),
        gettext_lazy("Mettre à jour un problème ou antécédent"),
    ),
    EntryKind.TREATMENT: _Version(
        "treatment",
        ("medicine", "atc_code", "dose", "frequency", "start_date", "end_date", "prescriber"),
        gettext_lazy("Mettre à jour un traitement"),
    ),
    EntryKind.VACCINATION: _Version(
        "vaccination",
        ("vaccine_code", "given_on", "dose_number", "lot", "administered_by"),
        gettext_lazy("Corriger une vaccination"),
    ),
    EntryKind.MEASURE: _Version(
        "measure",
        ("kind", "value", "value2", "unit", "measured_on"),
        gettext_lazy("Corriger une mesure"),
    ),
}


def _prefilled(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The current version's values as the form's initial data (decimals with a comma)."""
    initial = {}
    for name in names:
        value = getattr(row, name)
        if isinstance(value, Decimal):
            value = format(value.normalize(), "f").replace(".", ",")
        initial[name] = value
    return initial


def profile_new_version(
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, entry: Entry
) -> HttpResponse:
    """A new version of a problem (resolved, recoded…), a treatment (stopped, new dose), a
    vaccination or a measure (corrected; a patient's declaration too, the new version then the
    professional's): the form filled with the current version, the old one kept, marked
    replaced."""
    version = _VERSIONS[entry.kind]
    spec = _PRO_FORMS[entry.kind]
    row = kind_row(entry, version.row)
    initial = _prefilled(row, version.fields) if row else {}
    return _profile_form(
        request,
        spec.form(request.POST or None, initial=initial, minor=is_minor(dmp.patient.birth_date)),
        spec.service,
        patient=dmp.patient,
        title=str(version.title),
        professional=True,
        replaces=entry,
    )


@professional_required
@require_POST
def entry_verify(request: AuthenticatedHttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """Mark what the patient declared (a measure, a vaccination) verified."""
    entry, _dmp = scoped_entry(request.user, entry_id)
    try:
        entry_services.entry_verify(actor=request.user, entry=entry)
    except AccessDenied:
        raise PermissionDenied("not verifiable by this user") from None
    messages.success(request, _("L'information déclarée par le patient est marquée vérifiée."))
    return redirect("records:entry_detail", entry_id=entry.public_id)


# --- The patient's forms --------------------------------------------------------------------------


def _own_open_dmp(
    request: AuthenticatedHttpRequest, detail: str, *, writes: bool = False
) -> access.DmpAccess:
    """The DMP of the patient pages (the patient's, or the one acted for). A page that only
    writes (``writes``), or any POST, is refused (403) to a read-only proxy: the services would
    refuse it; the pages that also show (vaccinations, documents) hide their forms then."""
    dmp = access.own_dmp(request.user)
    if not dmp.patient.is_open:
        raise Http404("closed DMP")
    if not dmp.may_act and (writes or request.method == "POST"):
        raise AccessDenied("a read-only proxy does not write")
    if request.method == "GET":
        read_traced(
            actor=request.user,
            dmp=dmp,
            action=AccessAction.DMP_VIEW,
            request=request,
            detail=detail,
        )
    return dmp


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
def my_measure_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient enters a measure (shown as entered by the patient)."""
    dmp = _own_open_dmp(request, "saisie d'une mesure", writes=True)
    form = MeasureForm(request.POST or None, initial={"measured_on": timezone.localdate()})
    return _profile_form(
        request,
        form,
        profile_services.measure_record,
        patient=dmp.patient,
        title=_("Nouvelle mesure"),
        professional=False,
        done=reverse("records:my_dmp"),
    )


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
def my_vaccinations(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's vaccination calendar (French schedule, their age, their history) and
    the form to declare a vaccination."""
    dmp = _own_open_dmp(request, "vaccinations")
    patient = dmp.patient
    form = PatientVaccinationForm(request.POST or None)
    if request.method == "POST":
        return _profile_form(
            request,
            form,
            profile_services.vaccination_record,
            patient=patient,
            title=_("Déclarer une vaccination"),
            professional=False,
            done=reverse("records:my_vaccinations"),
        )
    scope = access.entries_for(request.user, patient).filter(status=EntryStatus.CURRENT)
    vaccinations = list(
        scope.filter(kind=EntryKind.VACCINATION)
        .select_related("vaccination")
        .order_by("-act_date", "-pk")[:200]
    )
    context = {
        "patient": patient,
        "calendar": vaccination_calendar_for(scope, patient, timezone.localdate()),
        "vaccinations": vaccinations,
        "form": form,
        "may_act": dmp.may_act,
    }
    return render(request, "records/my_vaccinations.html", context)


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
def my_wishes(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's wishes: directives anticipées, personne de confiance, organ donation,
    emergency contacts (each change a new version)."""
    dmp = _own_open_dmp(request, "volontés", writes=True)
    current = (
        access.entries_for(request.user, dmp.patient)
        .filter(kind=EntryKind.WISHES, status=EntryStatus.CURRENT)
        .select_related("wishes")
        .order_by("-pk")
        .first()
    )
    row = kind_row(current, "wishes") if current else None
    names = [name for name in WishesForm.base_fields if name != "submission_key"]
    initial = {name: getattr(row, name) for name in names} if row else {}
    return _profile_form(
        request,
        WishesForm(request.POST or None, initial=initial),
        profile_services.wishes_record,
        patient=dmp.patient,
        title=_("Mes volontés"),
        professional=False,
        replaces=current,
        done=reverse("records:my_dmp"),
    )


# --- Measure charts -------------------------------------------------------------------------------


def _measure_series(
    measures: list[Measure], unit: str, second: bool
) -> tuple[labs.TrendPoint, ...]:
    points = []
    for measure in measures:
        value = measure.value2 if second else measure.value
        if value is None:
            continue
        points.append(
            labs.TrendPoint(
                when=measure.measured_on,
                value=float(value),
                unit=unit,
                low=None,
                high=None,
                original_value=value,
                original_unit=unit,
                original_low=None,
                original_high=None,
                href=reverse("records:entry_detail", args=[measure.entry.public_id]),
                report_id=str(measure.entry.public_id),
                flag=None,
            )
        )
    return tuple(points)


def _measure_trend(
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, key: str, *, professional: bool
) -> HttpResponse:
    kind = profile_reference.measure_type(key)
    if kind is None:
        raise Http404("Unknown measure")
    patient = dmp.patient
    read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail=f"courbe {kind.label}",
    )
    measures = list(
        Measure.objects.filter(
            entry__in=access.entries_for(request.user, patient).filter(status=EntryStatus.CURRENT),
            kind=kind.key,
        )
        .select_related("entry")
        .order_by("measured_on", "pk")[:1000]
    )
    lang = reference.display_language(translation.get_language() or "fr")
    label = kind.display_label(lang)
    series = [labs.Series(kind.unit_label, _measure_series(measures, kind.unit_label, False))]
    if kind.paired:
        series.append(
            labs.Series(kind.unit_label, _measure_series(measures, kind.unit_label, True))
        )
    trend = labs.Trend(kind.key, label, kind.unit_label, tuple(series))
    title = _("%(label)s : évolution") % {"label": label}
    context = {
        "patient": patient,
        "professional": professional,
        "kind": kind,
        "label": label,
        "svg": render_trend_svg(trend, title=title, lang=lang) if measures else "",
        "measures": list(reversed(measures)),
    }
    return render(request, "records/measure_trend.html", context)


@never_cache
@professional_required
@require_GET
def measure_trend_pro(
    request: AuthenticatedHttpRequest, public_id: uuid.UUID, measure: str
) -> HttpResponse:
    """One measure over time, as a professional may read it: chart and table."""
    dmp = access.dmp_for(request.user, public_id)
    return _measure_trend(request, dmp, measure, professional=True)


@never_cache
@patient_required
@require_GET
def measure_trend_patient(request: AuthenticatedHttpRequest, measure: str) -> HttpResponse:
    """One of the patient's measures over time: chart and table."""
    dmp = access.own_dmp(request.user)
    if not dmp.patient.is_open:
        return redirect("records:my_dmp")
    return _measure_trend(request, dmp, measure, professional=False)


# --- Documents added by the patient ----------------------------------------------------------


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
@capped_upload(max_file=MAX_PATIENT_FILE_BYTES)
def my_documents(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The documents the patient added, and the form to add one (PDF, JPEG or PNG, 5 MB)."""
    dmp = _own_open_dmp(request, "documents ajoutés")
    patient = dmp.patient
    form = PatientDocumentForm(
        request.POST or None, request.FILES or None, too_large=upload_too_large(request)
    )
    status = _form_status(request)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            profile_services.patient_document_add(actor=request.user, patient=patient, **data)
        except DuplicateSubmission as error:
            return _duplicate(request, error)
        except StorageUnavailable as error:
            form.add_error(None, _storage_message(error))
            status = 507 if error.full else 503
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Le document est ajouté à votre DMP."))
            return redirect("records:my_documents")
    if form.errors.get("upload"):
        _trace_refused_file(request, patient, form.errors.as_data()["upload"])
    documents = list(
        access.entries_for(request.user, patient)
        .filter(kind=EntryKind.PATIENT_DOCUMENT)
        .select_related("patient_document")
        .order_by("-deposited_at", "-pk")[:200]
    )
    context = {"patient": patient, "form": form, "documents": documents, "may_act": dmp.may_act}
    return render(request, "records/my_documents.html", context, status=status)


@login_required
@require_GET
def patient_document_file(request: AuthenticatedHttpRequest, entry_id: uuid.UUID) -> FileResponse:
    """A document added by the patient, as a sandboxed attachment that no cache keeps."""
    entry, dmp = scoped_entry(request.user, entry_id)
    document = kind_row(entry, "patient_document")
    if document is None:
        raise Http404("No file")
    read_traced(
        actor=request.user, dmp=dmp, action=AccessAction.DOWNLOAD, entry=entry, request=request
    )
    try:
        handle = default_storage.open(document.file.name, "rb")
    except OSError:
        raise Http404("No file") from None
    suffix = document.file.name.rsplit(".", 1)[-1]
    return sandboxed_attachment(handle, entry, suffix, document.content_type)


@patient_required
@require_POST
def patient_document_delete(request: AuthenticatedHttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """The patient deletes a document they added."""
    entry, _dmp = scoped_entry(request.user, entry_id)
    try:
        profile_services.patient_document_delete(actor=request.user, entry=entry)
    except AccessDenied:
        raise PermissionDenied("not a document the patient added") from None
    messages.success(request, _("Le document est supprimé de votre DMP."))
    return redirect("records:my_documents")
