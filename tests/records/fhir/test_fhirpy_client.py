"""A FHIR client nobody here wrote (fhirpy) drives the API over HTTP against a live server:
search a patient by INS-C, list and read documents, create one, replace it, read the
AuditEvents as the patient."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from fhirpy import SyncFHIRClient

from identity.models import Patient, Professional
from records.models import Entry, EntryStatus
from tests.records.fhir.conftest import APP_NAME, validate
from tests.records.helpers import days_ago, pdf_bytes, report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _private_storage(settings: Any, tmp_path: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }


def _client(live_server: Any, token: str) -> SyncFHIRClient:
    return SyncFHIRClient(
        f"{live_server.url}/fhir",
        authorization=f"Bearer {token}",
        extra_headers={"Accept": "application/fhir+json"},
    )


def test_fhirpy_drives_the_api(
    live_server: Any,
    alice: Patient,
    doctor: Professional,
    token_for: Callable[..., str],
) -> None:
    for n in range(3):
        report(doctor, alice, title=f"CR ancien {n}", day=days_ago(30 + n))
    fhir = _client(live_server, token_for(doctor.user))

    patient = (
        fhir.resources("Patient")
        .search(identifier=f"urn:oid:1.2.250.1.213.1.4.2|{alice.insc}")
        .first()
    )
    assert patient is not None and patient.id == str(alice.public_id)
    validate(patient.serialize())

    # Every page, following the server's next links (2 a page).
    documents = fhir.resources("DocumentReference").search(patient=patient.id).limit(2).fetch_all()
    assert sorted(d["description"] for d in documents) == [f"CR ancien {n}" for n in range(3)]
    read = fhir.reference("DocumentReference", documents[0].id).to_resource()
    assert read["description"] == documents[0]["description"]

    created = fhir.resource(
        "DocumentReference",
        status="current",
        type={"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        subject=patient.to_reference(),
        description="CR déposé par le logiciel",
        context={"period": {"start": days_ago(1).isoformat()}},
        content=[
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": base64.b64encode(pdf_bytes()).decode(),
                }
            }
        ],
    )
    created.save()
    assert created.id
    validate(created.serialize())

    replacement = fhir.resource(
        "DocumentReference",
        **{
            **created.serialize(),
            "id": None,
            "description": "CR déposé par le logiciel (corrigé)",
            "relatesTo": [{"code": "replaces", "target": created.to_reference()}],
        },
    )
    replacement.pop("id")
    replacement.pop("meta", None)
    content = replacement["content"][0]["attachment"]
    replacement["content"] = [
        {
            "attachment": {
                "contentType": content["contentType"],
                "data": base64.b64encode(pdf_bytes("Corrigé")).decode(),
            }
        }
    ]
    replacement.save()
    assert Entry.objects.get(public_id=created.id).status == EntryStatus.REPLACED
    assert Entry.objects.get(public_id=replacement.id).replaces.public_id.hex == created.id.replace(
        "-", ""
    )
    superseded = fhir.reference("DocumentReference", created.id).to_resource()
    assert superseded["status"] == "superseded"

    as_patient = _client(live_server, token_for(alice.user))
    events = as_patient.resources("AuditEvent").limit(100).fetch_all()
    for event in events:
        validate(event.serialize())
    via = [
        agent["who"]["display"]
        for event in events
        for agent in event["agent"]
        if not agent["requestor"]
    ]
    assert via.count(APP_NAME) >= 6  # search, pages, reads, two deposits
