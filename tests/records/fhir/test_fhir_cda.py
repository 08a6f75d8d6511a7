"""A CDA R2 document deposited through the FHIR API (DocumentReference, contentType XML and a
CI-SIS format code): the same checks as the web form, nothing stored when refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from identity.models import Patient, Professional
from records.cda import codes
from records.content import Observation
from records.models import Entry
from tests.records.conftest import stored_files
from tests.records.fhir.conftest import Api
from tests.records.helpers import lab
from tests.records.test_cda_in import HOSTILE, _cda_of, _fresh_ids, _titled_bilan

pytestmark = pytest.mark.django_db


def _document(patient: Patient, data: bytes, format_code: str | None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "attachment": {"contentType": "text/xml", "data": base64.b64encode(data).decode()}
    }
    if format_code:
        content["format"] = {"system": f"urn:oid:{codes.FORMAT_SCHEME}", "code": format_code}
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "subject": {"reference": f"Patient/{patient.public_id}"},
        "content": [content],
    }


def test_a_cr_bio_deposited_through_fhir_becomes_a_lab_report(
    alice: Patient, doctor: Professional, token_for: Callable[..., str], tmp_path: Path
) -> None:
    incoming = _fresh_ids(_cda_of(lab(doctor, alice)))
    api = Api(token_for(doctor.user))
    before = Observation.objects.count()
    response = api.post("DocumentReference", _document(alice, incoming, codes.FORMAT_CR_BIO))
    assert response.status_code == 201, response.content
    entry = Entry.objects.get(public_id=response.json()["id"])
    assert entry.kind == "lab_report" and entry.author == doctor
    assert Observation.objects.count() == before + 2


@pytest.mark.parametrize("language", ["fr", "en"])
def test_hostile_or_unformatted_cda_is_refused_nothing_stored(
    alice: Patient,
    doctor: Professional,
    token_for: Callable[..., str],
    language: str,
) -> None:
    api = Api(token_for(doctor.user), language=language)
    before = Entry.objects.count()
    data, _words = HOSTILE["billion laughs"]
    refused = api.post("DocumentReference", _document(alice, data, codes.FORMAT_CR_BIO))
    assert refused.status_code == 422
    text = refused.content.decode()
    assert ("DOCTYPE" in text) and (("refusé" in text) == (language == "fr"))
    incoming = _fresh_ids(_cda_of(lab(doctor, alice)))
    no_format = api.post("DocumentReference", _document(alice, incoming, None))
    assert no_format.status_code == 422
    assert Entry.objects.count() == before + 1  # only the lab report made for the test


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_cda_failing_the_schematron_is_an_operation_outcome_nothing_stored(
    alice: Patient,
    doctor: Professional,
    token_for: Callable[..., str],
    private_storage: Path,
    language: str,
) -> None:
    data = _titled_bilan(doctor, alice)
    api = Api(token_for(doctor.user), language=language)
    before = (
        Entry.objects.count(),
        Observation.objects.count(),
        len(stored_files(private_storage)),
    )
    refused = api.post("DocumentReference", _document(alice, data, codes.FORMAT_CR_BIO))
    assert refused.status_code == 422
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    said = json.dumps(outcome, ensure_ascii=False)
    expected = (
        "CI-SIS rules (CR-BIO volet)" if language == "en" else "règles du CI-SIS (volet CR-BIO)"
    )
    assert expected in said and "title" in said
    after = (Entry.objects.count(), Observation.objects.count(), len(stored_files(private_storage)))
    assert after == before
