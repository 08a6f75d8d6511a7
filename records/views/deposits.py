"""The deposit forms of professionals: a lab report with its results, a report (text and/or
PDF), an allergy, and a new version of a report or an allergy.

The first line of every view asks the funnel whether the user may deposit here (404 out of
scope, 403 in emergency access or for a document type their profession may not read); the
content services do the writing and check it again.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from identity.auth import AuthenticatedHttpRequest, professional_required
from identity.models import Patient
from records import access, facts, reference, trail
from records.family import is_minor
from records.forms.content import (
    ADD_ROWS,
    AllergyForm,
    BaseObservationFormSet,
    LabReportForm,
    ObservationFormSet,
    ReportForm,
)
from records.models import AccessAction, Entry, EntryKind, EntryStatus
from records.pdf import MAX_PDF_BYTES
from records.services import care as care_services
from records.services import content as content_services
from records.uploads import capped_upload, upload_too_large
from records.views.documents import VERSIONED_BY_PROFESSIONALS, kind_row, scoped_entry

# --- Deposit forms -------------------------------------------------------------------------------


def _form_dmp(
    request: AuthenticatedHttpRequest, public_id: uuid.UUID, document_type: str | None = None
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
def lab_report_new(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Deposit a lab report: the report's header and its result rows (a formset)."""
    patient = _form_dmp(request, public_id, content_services.LAB_DOCUMENT_TYPE).patient
    adding = "ajouter_lignes" in request.POST
    data = _with_more_rows(request.POST) if adding else (request.POST or None)
    form = LabReportForm(data, minor=is_minor(patient.birth_date))
    rows = cast(BaseObservationFormSet, ObservationFormSet(data))
    if request.method == "POST" and not adding and form.is_valid() and rows.is_valid():
        try:
            entry = content_services.lab_report_deposit(
                actor=request.user,
                patient=patient,
                observations=rows.rows(),
                submission_key=form.cleaned_data["submission_key"],
                **{k: form.cleaned_data[k] for k in _LAB_FIELDS},
                **form.minor_flags(),
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
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, previous: Entry | None
) -> HttpResponse:
    patient = dmp.patient
    old = kind_row(previous, "report") if previous else None
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
        minor=is_minor(patient.birth_date),
    )
    status = _form_status(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = content_services.report_deposit(
                actor=request.user,
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
                **form.minor_flags(),
            )
        except content_services.DuplicateSubmission as error:
            return _duplicate(request, error)
        except content_services.StorageUnavailable as error:
            form.add_error(None, _storage_message(error))
            status = 507 if error.full else 503
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _deposited(request, entry)
    if form.errors.get("pdf"):
        _trace_refused_file(request, patient, form.errors.as_data()["pdf"])
    context = {"patient": patient, "form": form, "previous": previous}
    return render(request, "records/report_form.html", context, status=status)


def _storage_message(error: content_services.StorageUnavailable) -> str:
    """The bound form is shown again with what was typed; a browser never re-sends a file."""
    if error.full:
        return _(
            "L'espace de stockage des documents est plein : le compte rendu n'a pas été "
            "enregistré et rien n'a été conservé. Le texte saisi est gardé ci-dessous : "
            "joignez de nouveau le PDF et réessayez plus tard."
        )
    return _(
        "Le stockage des documents est momentanément indisponible : le compte rendu n'a pas "
        "été enregistré et rien n'a été conservé. Le texte saisi est gardé ci-dessous : "
        "joignez de nouveau le PDF et réessayez dans quelques minutes."
    )


def _form_status(request: HttpRequest) -> int:
    """200 for a form shown; 4xx when a submission was refused (nothing stored)."""
    if upload_too_large(request):
        return 413
    return 400 if request.method == "POST" and "ajouter_lignes" not in request.POST else 200


def _trace_refused_file(
    request: AuthenticatedHttpRequest, patient: Patient, errors: list[ValidationError]
) -> None:
    """A refused upload leaves an event with its reason in the trail (QUALITY §1): the facts
    (why, with its parameters; ``records.facts``), written in the reader's language when read."""
    known = facts.pdf_refusals(errors)
    # A refusal known only as a sentence (a patient's image file) is kept as before.
    said = " ".join(message for error in errors for message in error.messages)
    trail.record_access(
        actor=request.user,
        patient=patient,
        action=AccessAction.DEPOSIT_REFUSED,
        detail=known[0] if known else f"dépôt refusé : {said}"[:300],
        request=request,
    )


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
@capped_upload(max_file=MAX_PDF_BYTES)
def report_new(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
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


def _allergy_form(
    request: AuthenticatedHttpRequest, patient: Patient, previous: Entry | None
) -> HttpResponse:
    old = kind_row(previous, "allergy") if previous else None
    initial = {}
    if old is not None:
        initial = {name: getattr(old, name) for name in _ALLERGY_FIELDS}
        if not old.substance_code:
            initial["substance_label"] = old.substance_label
    form = AllergyForm(request.POST or None, initial=initial, minor=is_minor(patient.birth_date))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        key = data.pop("submission_key")
        try:
            entry = content_services.allergy_record(
                actor=request.user,
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
def allergy_new(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Record an allergy or intolerance."""
    dmp = _form_dmp(request, public_id, content_services.ALLERGY_DOCUMENT_TYPE)
    return _allergy_form(request, dmp.patient, None)


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
@capped_upload(max_file=MAX_PDF_BYTES)
def entry_new_version(request: AuthenticatedHttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """A new version of a report, an allergy, a problem or a treatment; the old one is kept,
    marked replaced."""
    entry, dmp = scoped_entry(request.user, entry_id)
    dmp.require_deposit(entry.document_type)
    patient = dmp.patient
    if entry.status != EntryStatus.CURRENT or entry.kind not in VERSIONED_BY_PROFESSIONALS:
        raise PermissionDenied("only the current version of a versioned kind")
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
    if entry.kind == EntryKind.ALLERGY:
        return _allergy_form(request, patient, entry)
    # The profile's pages build on these helpers, hence the import here, not at the top.
    from records.views.profile import profile_new_version

    return profile_new_version(request, dmp, entry)
