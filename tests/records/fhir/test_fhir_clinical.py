"""Lab reports, results, allergies and imaging studies as FHIR: valid resources, the values as
stored (range given with the result, UCUM unit, interpretation), traced reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from identity.models import Patient, Professional
from records.models import AccessAction, AccessEvent, Entry
from tests.records.fhir.conftest import APP_NAME, Api, outcome_text, validate
from tests.records.helpers import allergy, lab

pytestmark = pytest.mark.django_db


def test_lab_report_and_its_results(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    entry = lab(doctor, alice)
    api = Api(token_for(doctor.user))
    report = api.get(f"DiagnosticReport/{entry.public_id}").json()
    validate(report)
    assert report["performer"] == [{"display": "Laboratoire du Parc"}]
    first = report["result"][0]["reference"].removeprefix("Observation/")
    observation = api.get(f"Observation/{first}").json()
    validate(observation)
    assert observation["code"]["coding"][0]["code"] == "4548-4"
    assert observation["valueQuantity"]["system"] == "http://unitsofmeasure.org"
    assert observation["referenceRange"][0]["low"]["value"] == 4
    assert observation["referenceRange"][0]["high"]["value"] == 6
    assert observation["interpretation"][0]["coding"][0]["code"] == "H"
    for kind in ("DiagnosticReport", "Observation"):
        bundle = api.get(kind, patient=str(alice.public_id)).json()
        validate(bundle)
        assert bundle["entry"]
    only = api.get("Observation", patient=str(alice.public_id), code="http://loinc.org|2160-0")
    assert [e["resource"]["code"]["coding"][0]["code"] for e in only.json()["entry"]] == ["2160-0"]
    assert (
        AccessEvent.objects.filter(
            application=APP_NAME, action=AccessAction.ENTRY_VIEW, entry_public_id=entry.public_id
        ).count()
        == 2
    )


def test_allergy(alice: Patient, doctor: Professional, token_for: Callable[..., str]) -> None:
    entry = allergy(doctor, alice)
    api = Api(token_for(doctor.user))
    resource = api.get(f"AllergyIntolerance/{entry.public_id}").json()
    validate(resource)
    assert resource["criticality"] == "high"
    assert resource["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert resource["reaction"][0]["severity"] == "severe"
    bundle = api.get("AllergyIntolerance", patient=str(alice.public_id)).json()
    validate(bundle)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(entry.public_id)]


def test_imaging_study(
    alice: Patient,
    doctor: Professional,
    token_for: Callable[..., str],
    settings: Any,
    tmp_path: Any,
) -> None:
    from tests.imaging.conftest import ct_series, deposit

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    study = deposit(doctor.user, alice, ct_series(3), tmp_path / "imaging")
    api = Api(token_for(doctor.user))
    resource = api.get(f"ImagingStudy/{study.entry.public_id}").json()
    validate(resource)
    assert resource["numberOfInstances"] == 3
    assert resource["series"][0]["modality"]["code"] == "CT"
    bundle = api.get("ImagingStudy", patient=str(alice.public_id)).json()
    validate(bundle)
    assert len(bundle["entry"]) == 1


def lab_resource(patient: Patient, *values: dict[str, Any]) -> dict[str, Any]:
    observations = [
        {
            "resourceType": "Observation",
            "id": f"o{n}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
            **value,
        }
        for n, value in enumerate(values)
    ]
    return {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}], "text": "Bilan"},
        "subject": {"reference": f"Patient/{patient.public_id}"},
        "effectiveDateTime": "2026-01-05T08:30:00+01:00",
        "performer": [{"display": "Laboratoire des Lilas"}],
        "contained": observations,
        "result": [{"reference": f"#o{n}"} for n in range(len(values))],
    }


HBA1C = {
    "valueQuantity": {
        "value": 7.2,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    },
    "referenceRange": [{"low": {"value": 4}, "high": {"value": 6}}],
}


def test_lab_report_created_with_its_results(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    api = Api(token_for(doctor.user))
    body = lab_resource(alice, HBA1C, {"valueString": "Positif"})
    validate(body)
    response = api.post("DiagnosticReport", body)
    assert response.status_code == 201, response.content
    created = response.json()
    validate(created)
    entry = Entry.objects.get(public_id=created["id"])
    rows = list(entry.lab_report.observations.order_by("position"))
    assert [(r.analyte_code, r.value_text, r.unit, r.interpretation) for r in rows] == [
        ("4548-4", "7.2", "%", "H"),
        ("4548-4", "Positif", "", ""),
    ]
    assert AccessEvent.objects.get(entry_public_id=entry.public_id).application == APP_NAME


@pytest.mark.parametrize(
    ("value", "status", "words"),
    [
        ('{"valueQuantity": {"value": NaN, "code": "%"}}', 400, "NaN"),
        ('{"valueQuantity": {"value": Infinity, "code": "%"}}', 400, "Infinity"),
        ('{"valueQuantity": {"value": 1e309, "code": "%"}}', 422, "grand"),
        ('{"valueQuantity": {"value": "7", "code": "%"}}', 422, "nombre"),
        ('{"valueQuantity": {"value": 7, "code": "furlong/fortnight"}}', 422, "unité"),
        ('{"valueQuantity": {"value": 7, "code": "mmol/L"}}', 422, "unité"),
    ],
)
def test_bad_results_store_nothing(
    alice: Patient,
    doctor: Professional,
    token_for: Callable[..., str],
    value: str,
    status: int,
    words: str,
) -> None:
    import json

    body = json.dumps(lab_resource(alice, {"valueString": "PLACEHOLDER"}))
    body = body.replace('"valueString": "PLACEHOLDER"', value[1:-1])
    response = Api(token_for(doctor.user)).post("DiagnosticReport", body)
    assert response.status_code == status, response.content
    assert words.lower() in outcome_text(response).lower()
    assert not Entry.objects.exists()


def test_lab_report_dated_in_the_future_stores_nothing(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    body = {**lab_resource(alice, HBA1C), "effectiveDateTime": "2999-01-01T08:00:00+01:00"}
    response = Api(token_for(doctor.user)).post("DiagnosticReport", body)
    assert response.status_code == 422
    assert "futur" in outcome_text(response)
    assert not Entry.objects.exists()


def test_allergy_created(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    body = {
        "resourceType": "AllergyIntolerance",
        "patient": {"reference": f"Patient/{alice.public_id}"},
        "code": {"text": "Pénicilline"},
        "category": ["medication"],
        "criticality": "high",
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": "confirmed",
                }
            ]
        },
        "reaction": [{"manifestation": [{"text": "Urticaire"}], "severity": "moderate"}],
    }
    validate(body)
    response = Api(token_for(doctor.user)).post("AllergyIntolerance", body)
    assert response.status_code == 201, response.content
    validate(response.json())
    entry = Entry.objects.get(public_id=response.json()["id"])
    assert (entry.allergy.substance_label, entry.allergy.criticality, entry.allergy.reactions) == (
        "Pénicilline",
        "high",
        "Urticaire",
    )
    bad = {**body, "criticality": "apocalyptic"}
    refused = Api(token_for(doctor.user)).post("AllergyIntolerance", bad)
    assert refused.status_code == 422
    assert Entry.objects.count() == 1
