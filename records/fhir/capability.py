"""The CapabilityStatement (``GET /fhir/metadata``): what the API serves, public as FHIR
asks (clients read it before they hold a token)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from records.fhir.http import FhirError, json_response, outcome


@csrf_exempt
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement (public, as FHIR asks: clients read it before any token)."""
    if request.method != "GET":
        return outcome(FhirError(405, "not-supported", _("Méthode non prise en charge ici.")))
    return json_response(capability_statement(request))


def _rest_resource(
    kind: str, interactions: list[str], params: list[tuple[str, str]]
) -> dict[str, Any]:
    return {
        "type": kind,
        "interaction": [{"code": code} for code in interactions],
        "searchParam": [{"name": name, "type": kind_} for name, kind_ in params],
    }


def capability_statement(request: HttpRequest) -> dict[str, Any]:
    authorize = request.build_absolute_uri("/o/authorize/")
    token = request.build_absolute_uri("/o/token/")
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-06",
        "publisher": "DMP Portal",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "implementation": {
            "description": "DMP Portal — API FHIR R4",
            "url": request.build_absolute_uri("/fhir/"),
        },
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [
                                {"url": "authorize", "valueUri": authorize},
                                {"url": "token", "valueUri": token},
                            ],
                        }
                    ],
                },
                "resource": [
                    _rest_resource(
                        "Patient",
                        ["read", "search-type"],
                        [("_id", "token"), ("identifier", "token")],
                    ),
                    _rest_resource(
                        "Practitioner", ["read", "search-type"], [("identifier", "token")]
                    ),
                    _rest_resource("PractitionerRole", ["read"], []),
                    _rest_resource(
                        "DocumentReference",
                        ["read", "search-type", "create"],
                        [
                            ("patient", "reference"),
                            ("type", "token"),
                            ("status", "token"),
                            ("date", "date"),
                            ("author", "reference"),
                            ("_lastUpdated", "date"),
                            ("_sort", "string"),
                        ],
                    ),
                    _rest_resource("Binary", ["read"], []),
                    _rest_resource("AuditEvent", ["search-type"], [("patient", "reference")]),
                    _rest_resource(
                        "DiagnosticReport",
                        ["read", "search-type", "create"],
                        [("patient", "reference")],
                    ),
                    _rest_resource(
                        "Observation",
                        ["read", "search-type"],
                        [("patient", "reference"), ("code", "token")],
                    ),
                    _rest_resource(
                        "AllergyIntolerance",
                        ["read", "search-type", "create"],
                        [("patient", "reference")],
                    ),
                    _rest_resource(
                        "ImagingStudy", ["read", "search-type"], [("patient", "reference")]
                    ),
                ],
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
