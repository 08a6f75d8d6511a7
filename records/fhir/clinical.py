"""Lab reports (DiagnosticReport + Observation) and allergies (AllergyIntolerance) in FHIR:
read and search, through the same funnel and trail as the documents."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from records import access
from records.api_auth import ApiClient
from records.content import Allergy, LabReport, Observation
from records.fhir.deposit import allergy_input, lab_report_input
from records.fhir.http import (
    FhirError,
    check_params,
    json_response,
    not_found,
    page_params,
    read_json,
    searchset,
)
from records.fhir.resources import LOINC, instant, ref
from records.fhir.views import endpoint, scoped_dmp, scoped_entry, search_dmp
from records.models import AccessAction, Entry, EntryKind
from records.services import care as care_services
from records.services.content import DuplicateSubmission, allergy_record, lab_report_deposit

UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"


def _quantity(value: Any, unit: str) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if unit:
        quantity.update(unit=unit, system=UCUM, code=unit)
    return quantity


def observation_resource(entry: Entry, report: LabReport, row: Observation) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{entry.public_id}-{row.position}",
        "status": "final",
        "category": [
            {"coding": [{"system": f"{TERMINOLOGY}observation-category", "code": "laboratory"}]}
        ],
        "code": {
            "coding": [{"system": LOINC, "code": row.analyte_code, "display": row.analyte_label}]
        },
        "subject": ref("Patient", entry.patient.public_id),
        "effectiveDateTime": instant(report.specimen_collected_at),
    }
    if row.value_numeric is not None:
        resource["valueQuantity"] = _quantity(row.value_numeric, row.unit)
    else:
        resource["valueString"] = row.value_text
    if row.interpretation:
        resource["interpretation"] = [
            {"coding": [{"system": INTERPRETATION, "code": row.interpretation}]}
        ]
    if row.ref_low is not None or row.ref_high is not None or row.ref_text:
        bounds: dict[str, Any] = {}
        if row.ref_low is not None:
            bounds["low"] = _quantity(row.ref_low, row.unit)
        if row.ref_high is not None:
            bounds["high"] = _quantity(row.ref_high, row.unit)
        if row.ref_text:
            bounds["text"] = row.ref_text
        resource["referenceRange"] = [bounds]
    return resource


def diagnostic_report(entry: Entry, report: LabReport, rows: list[Observation]) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "id": str(entry.public_id),
        "meta": {"versionId": "1", "lastUpdated": instant(entry.deposited_at)},
        "status": "final",
        "category": [{"coding": [{"system": f"{TERMINOLOGY}v2-0074", "code": "LAB"}]}],
        "code": {"coding": [{"system": LOINC, "code": entry.document_type}], "text": entry.title},
        "subject": ref("Patient", entry.patient.public_id),
        "effectiveDateTime": instant(report.specimen_collected_at),
        "issued": instant(entry.deposited_at),
        "performer": [{"display": report.laboratory}],
        "result": [ref("Observation", f"{entry.public_id}-{row.position}") for row in rows],
    }


def allergy_resource(entry: Entry, allergy: Allergy) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": str(entry.public_id),
        "meta": {"versionId": "1", "lastUpdated": instant(entry.deposited_at)},
        "clinicalStatus": {
            "coding": [
                {
                    "system": f"{TERMINOLOGY}allergyintolerance-clinical",
                    "code": allergy.clinical_status,
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": f"{TERMINOLOGY}allergyintolerance-verification",
                    "code": allergy.verification_status,
                }
            ]
        },
        "category": [allergy.category],
        "criticality": allergy.criticality,
        "code": {"text": allergy.substance_label},
        "patient": ref("Patient", entry.patient.public_id),
        "recordedDate": instant(entry.deposited_at),
    }
    if allergy.substance_code:
        resource["code"]["coding"] = [
            {"system": "urn:dmp-portal:substance", "code": allergy.substance_code}
        ]
    if entry.author is not None:
        resource["recorder"] = ref("Practitioner", entry.author.public_id)
    if allergy.onset_date:
        resource["onsetDateTime"] = allergy.onset_date.isoformat()
    if allergy.reactions:
        reaction: dict[str, Any] = {"manifestation": [{"text": allergy.reactions}]}
        if allergy.severity:
            reaction["severity"] = allergy.severity
        resource["reaction"] = [reaction]
    if allergy.note:
        resource["note"] = [{"text": allergy.note}]
    return resource


# --- Endpoints ------------------------------------------------------------------------------


def _lab(client: ApiClient, public_id: str) -> tuple[Entry, Any, LabReport]:
    entry, dmp = scoped_entry(client, public_id, EntryKind.LAB_REPORT, ("lab_report",))
    return entry, dmp, entry.lab_report


def report_read(request: HttpRequest, client: ApiClient, public_id: str) -> HttpResponse:
    entry, dmp, report = _lab(client, public_id)
    care_services.read_traced(
        actor=client.user, dmp=dmp, action=AccessAction.ENTRY_VIEW, entry=entry, request=request
    )
    return json_response(diagnostic_report(entry, report, list(report.observations.all())))


def observation_read(request: HttpRequest, client: ApiClient, public_id: str) -> HttpResponse:
    entry_id, _sep, position = public_id.rpartition("-")
    if not position.isdigit():
        raise not_found()
    entry, dmp, report = _lab(client, entry_id)
    row = report.observations.filter(position=int(position)).first()
    if row is None:
        raise not_found()
    care_services.read_traced(
        actor=client.user, dmp=dmp, action=AccessAction.ENTRY_VIEW, entry=entry, request=request
    )
    return json_response(observation_resource(entry, report, row))


def report_search(request: HttpRequest, client: ApiClient) -> HttpResponse:
    """The lab reports of one DMP, newest first, with their results (one page: two queries)."""
    check_params(request, ("patient", "subject"))
    count, offset = page_params(request)
    dmp = search_dmp(request, client)
    care_services.read_traced(
        actor=client.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail="FHIR DiagnosticReport",
    )
    rows = list(
        access.entries_for(client.user, dmp)
        .filter(kind=EntryKind.LAB_REPORT)
        .select_related("patient", "lab_report")
        .prefetch_related("lab_report__observations")
        .order_by("-act_date", "-id")[offset : offset + count + 1]
    )
    shown = [
        diagnostic_report(e, e.lab_report, list(e.lab_report.observations.all()))
        for e in rows[:count]
    ]
    return json_response(
        searchset(request, shown, count=count, offset=offset, more=len(rows) > count)
    )


def observation_search(request: HttpRequest, client: ApiClient) -> HttpResponse:
    """The results of one DMP (``code``: one LOINC analyte), newest first."""
    check_params(request, ("patient", "subject", "code"))
    count, offset = page_params(request)
    dmp = search_dmp(request, client)
    care_services.read_traced(
        actor=client.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail="FHIR Observation",
    )
    rows = access.observations_for(client.user, dmp).select_related("lab_report__entry__patient")
    if "code" in request.GET:
        rows = rows.filter(analyte_code=request.GET["code"].rpartition("|")[2])
    page = list(
        rows.order_by("-lab_report__specimen_collected_at", "position")[offset : offset + count + 1]
    )
    shown = [observation_resource(r.lab_report.entry, r.lab_report, r) for r in page[:count]]
    return json_response(
        searchset(request, shown, count=count, offset=offset, more=len(page) > count)
    )


def allergy_read(request: HttpRequest, client: ApiClient, public_id: str) -> HttpResponse:
    entry, dmp = scoped_entry(client, public_id, EntryKind.ALLERGY, ("allergy",))
    care_services.read_traced(
        actor=client.user, dmp=dmp, action=AccessAction.ENTRY_VIEW, entry=entry, request=request
    )
    return json_response(allergy_resource(entry, entry.allergy))


def allergy_search(request: HttpRequest, client: ApiClient) -> HttpResponse:
    check_params(request, ("patient", "subject"))
    count, offset = page_params(request)
    dmp = search_dmp(request, client)
    care_services.read_traced(
        actor=client.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail="FHIR AllergyIntolerance",
    )
    rows = list(
        access.entries_for(client.user, dmp)
        .filter(kind=EntryKind.ALLERGY)
        .select_related("patient", "author", "allergy")
        .order_by("-act_date", "-id")[offset : offset + count + 1]
    )
    shown = [allergy_resource(e, e.allergy) for e in rows[:count]]
    return json_response(
        searchset(request, shown, count=count, offset=offset, more=len(rows) > count)
    )


def _location(request: HttpRequest, kind: str, ident: object) -> str:
    return request.build_absolute_uri(f"/fhir/{kind}/{ident}")


def report_create(request: HttpRequest, client: ApiClient) -> HttpResponse:
    """Deposit a lab report with its results (contained Observations): every value checked
    by the service (LOINC analyte, finite number, UCUM unit, range), all or nothing."""
    patient_id, fields = lab_report_input(read_json(request, "DiagnosticReport"))
    dmp = scoped_dmp(client, patient_id)
    try:
        entry = lab_report_deposit(actor=client.user, patient=dmp.patient, **fields)
    except DuplicateSubmission:
        raise FhirError(409, "duplicate", _("Soumission déjà reçue.")) from None
    report = entry.lab_report
    body = diagnostic_report(entry, report, list(report.observations.all()))
    return json_response(
        body, 201, Location=_location(request, "DiagnosticReport", entry.public_id)
    )


def allergy_create(request: HttpRequest, client: ApiClient) -> HttpResponse:
    patient_id, fields = allergy_input(read_json(request, "AllergyIntolerance"))
    dmp = scoped_dmp(client, patient_id)
    entry = allergy_record(actor=client.user, patient=dmp.patient, **fields)
    body = allergy_resource(entry, entry.allergy)
    return json_response(
        body, 201, Location=_location(request, "AllergyIntolerance", entry.public_id)
    )


report_type = endpoint(
    "DiagnosticReport", {"GET": ("s", report_search), "POST": ("c", report_create)}
)
report_instance = endpoint("DiagnosticReport", {"GET": ("r", report_read)})
observation_type = endpoint("Observation", {"GET": ("s", observation_search)})
observation_instance = endpoint("Observation", {"GET": ("r", observation_read)})
allergy_type = endpoint(
    "AllergyIntolerance", {"GET": ("s", allergy_search), "POST": ("c", allergy_create)}
)
allergy_instance = endpoint("AllergyIntolerance", {"GET": ("r", allergy_read)})
