"""Lab reports, results, allergies and imaging studies as FHIR: valid resources, the values as
stored (range given with the result, UCUM unit, interpretation), traced reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from identity.models import Patient, Professional
from records.models import AccessAction, AccessEvent
from tests.records.fhir.conftest import APP_NAME, Api, validate
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
