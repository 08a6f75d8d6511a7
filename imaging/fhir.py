"""ImagingStudy in FHIR (read and search): studies reached through imaging's scope, which is
the funnel's (``imaging.access``), traced like the study page. Each study points viewers at
the portal's DICOMweb service (``endpoint``: a contained Endpoint, WADO-RS), which accepts the
same bearer tokens."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse

from imaging import access as imaging_access
from imaging.models import ImagingStudy
from imaging.services.reads import study_read_traced
from records.api_auth import ApiClient
from records.fhir.http import check_params, json_response, page_params, searchset
from records.fhir.resources import instant, ref
from records.fhir.views import endpoint, scoped_entry, search_dmp
from records.models import AccessAction, EntryKind
from records.services import care as care_services

DCM = "http://dicom.nema.org/resources/ontology/DCM"


def _modality(code: str) -> dict[str, str]:
    return {"system": DCM, "code": code or "OT"}


def _wado_endpoint(request: HttpRequest) -> dict[str, Any]:
    """The DICOMweb base of this portal as a contained FHIR Endpoint (WADO-RS)."""
    base = request.build_absolute_uri(reverse("imaging:dicomweb_studies")).removesuffix("/studies")
    return {
        "resourceType": "Endpoint",
        "id": "dicomweb",
        "status": "active",
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "dicom-wado-rs",
        },
        "payloadType": [{"text": "DICOM"}],
        "payloadMimeType": ["application/dicom"],
        "address": base.rstrip("/"),
    }


def imaging_study_resource(study: ImagingStudy, request: HttpRequest | None) -> dict[str, Any]:
    """The study (its series annotated with ``instance_count``); with its DICOMweb endpoint
    when answering a request (not in an offline archive)."""
    entry = study.entry
    series = list(study.series.all())
    resource: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": str(entry.public_id),
        "meta": {"versionId": "1", "lastUpdated": instant(entry.deposited_at)},
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study.study_instance_uid}"}],
        "status": "available",
        "subject": ref("Patient", entry.patient.public_id),
        "numberOfSeries": len(series),
        "numberOfInstances": sum(getattr(s, "instance_count", 0) for s in series),
        "series": [
            {
                "uid": s.series_instance_uid,
                "modality": _modality(s.modality),
                "numberOfInstances": getattr(s, "instance_count", 0),
                **({"number": s.number} if s.number is not None else {}),
                **({"description": s.description} if s.description else {}),
            }
            for s in series
        ],
    }
    if request is not None:
        resource["contained"] = [_wado_endpoint(request)]
        resource["endpoint"] = [{"reference": "#dicomweb"}]
    if study.modalities:
        resource["modality"] = [_modality(code) for code in study.modalities]
    if study.study_date:
        resource["started"] = study.study_date.isoformat()
    if study.description:
        resource["description"] = study.description
    return resource


def study_read(request: HttpRequest, client: ApiClient, public_id: str) -> HttpResponse:
    entry, _dmp = scoped_entry(client, public_id, EntryKind.IMAGING_STUDY, ())
    study = imaging_access.studies_for(client.user, entry.patient).get(entry=entry)
    study_read_traced(actor=client.user, study=study, request=request, detail="FHIR")
    return json_response(imaging_study_resource(study, request))


def study_search(request: HttpRequest, client: ApiClient) -> HttpResponse:
    check_params(request, ("patient", "subject"))
    count, offset = page_params(request)
    dmp = search_dmp(request, client)
    care_services.read_traced(
        actor=client.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail="FHIR ImagingStudy",
    )
    studies = list(
        imaging_access.studies_for(client.user, dmp.patient).select_related("entry__patient")[
            offset : offset + count + 1
        ]
    )
    shown = [imaging_study_resource(study, request) for study in studies[:count]]
    return json_response(
        searchset(request, shown, count=count, offset=offset, more=len(studies) > count)
    )


study_type = endpoint("ImagingStudy", {"GET": ("s", study_search)})
study_instance = endpoint("ImagingStudy", {"GET": ("r", study_read)})

urlpatterns = [
    path("ImagingStudy", study_type, name="imagingstudy_type"),
    path("ImagingStudy/<str:public_id>", study_instance, name="imagingstudy_instance"),
]
