"""The FHIR API seen from a client: what it answers, what it stores, what it traces."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from identity.models import Patient, Professional
from records.models import AccessAction, AccessEvent, Entry, EntryStatus
from tests.records.fhir.conftest import APP_NAME, Api, outcome_text, validate
from tests.records.helpers import LAST_LOOK, days_ago, pdf_bytes, report

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_storage(settings: Any, tmp_path: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }


def stored_files(tmp_path: Any) -> list[str]:
    root = tmp_path / "private"
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def document(patient: Patient, *, data: bytes | None = None, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "subject": {"reference": f"Patient/{patient.public_id}"},
        "description": "CR de consultation (logiciel)",
        "context": {"period": {"start": days_ago(2).isoformat()}},
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "data": base64.b64encode(data or pdf_bytes()).decode(),
                }
            }
        ],
    }
    resource.update(extra)
    return resource


def test_capability_statement_is_public_and_valid(client: Client) -> None:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    body = response.json()
    validate(body)
    assert body["fhirVersion"] == "4.0.1"
    assert "DocumentReference" in {r["type"] for r in body["rest"][0]["resource"]}


def test_patient_found_by_insc_and_the_search_is_traced_naming_the_software(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    api = Api(token_for(doctor.user))
    response = api.get("Patient", identifier=f"urn:oid:1.2.250.1.213.1.4.2|{alice.insc}")
    assert response.status_code == 200
    bundle = response.json()
    validate(bundle)
    (found,) = [entry["resource"] for entry in bundle["entry"]]
    assert found["id"] == str(alice.public_id)
    assert {"system": "urn:oid:1.2.250.1.213.1.4.2", "value": alice.insc}.items() <= found[
        "identifier"
    ][0].items()
    event = AccessEvent.objects.order_by("-id").first()
    assert event is not None
    assert (event.action, event.patient_id, event.application) == (
        AccessAction.DMP_VIEW,
        alice.pk,
        APP_NAME,
    )


def test_out_of_scope_answers_exactly_like_missing(
    alice: Patient, stranger_doctor: Professional, token_for: Callable[..., str]
) -> None:
    entry = report(alice.medecin_traitant, alice)  # type: ignore[arg-type]
    api = Api(token_for(stranger_doctor.user))
    for path in ("Patient/{}", "DocumentReference/{}", "Binary/{}"):
        ident = alice.public_id if path.startswith("Patient") else entry.public_id
        real = api.get(path.format(ident))
        missing = api.get(path.format("0f8e2a4c-1111-4222-8333-944455556666"))
        assert real.status_code == missing.status_code == 404
        assert real.content == missing.content
    found = api.get("Patient", identifier=alice.insc).json()
    assert found.get("entry", []) == []


def test_emergency_access_is_not_used_by_the_api(
    alice: Patient, emergency_doctor: Professional, token_for: Callable[..., str]
) -> None:
    response = Api(token_for(emergency_doctor.user)).get(f"Patient/{alice.public_id}")
    assert response.status_code == 404


def test_document_search_pages_with_next_links(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    for n in range(5):
        report(doctor, alice, title=f"CR {n}", day=days_ago(10 + n))
    api = Api(token_for(doctor.user))
    first = api.get("DocumentReference", patient=str(alice.public_id), _count=3)
    assert first.status_code == 200
    page = first.json()
    validate(page)
    assert [e["resource"]["description"] for e in page["entry"]] == ["CR 0", "CR 1", "CR 2"]
    next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
    second = api.client.get(next_url, headers=api.headers).json()
    assert [e["resource"]["description"] for e in second["entry"]] == ["CR 3", "CR 4"]
    assert all(link["relation"] != "next" for link in second["link"])


@pytest.mark.parametrize("rows", [1, 30])
def test_document_search_query_count_is_constant(
    alice: Patient,
    doctor: Professional,
    token_for: Callable[..., str],
    django_assert_num_queries: Any,
    rows: int,
) -> None:
    for n in range(rows):
        report(doctor, alice, title=f"CR {n}", pdf=pdf_bytes() if n % 2 else None)
    api = Api(token_for(doctor.user))
    api.get("DocumentReference", patient=str(alice.public_id))  # the first access's notice
    # The token (with its user, their professional row and the application:
    # records.api_auth.TokenValidator), the DMP through the funnel, the trail's event (one
    # INSERT), the page of entries with their author, report and replaced version; the
    # search being a look at the DMP (its list of documents), the upsert of when the
    # professional last looked (records.looks.LastLook), a statement of its own but on
    # PostgreSQL.
    with django_assert_num_queries(4 + LAST_LOOK):
        response = api.get("DocumentReference", patient=str(alice.public_id))
    assert len(response.json()["entry"]) == rows


def test_read_document_and_binary_are_traced(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    pdf = pdf_bytes("Échographie")
    entry = report(doctor, alice, title="Écho", pdf=pdf, body="")
    api = Api(token_for(doctor.user))
    read = api.get(f"DocumentReference/{entry.public_id}")
    assert read.status_code == 200
    validate(read.json())
    assert read.json()["content"][0]["attachment"]["contentType"] == "application/pdf"
    raw = api.get(f"Binary/{entry.public_id}")
    assert raw.status_code == 200
    assert raw.content == pdf
    assert raw["Content-Security-Policy"] == "sandbox"
    api.headers["Accept"] = "application/fhir+json"
    binary = api.get(f"Binary/{entry.public_id}").json()
    validate(binary)
    assert base64.b64decode(binary["data"]) == pdf
    actions = list(
        AccessEvent.objects.filter(application=APP_NAME, entry_public_id=entry.public_id)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [AccessAction.ENTRY_VIEW, AccessAction.DOWNLOAD, AccessAction.DOWNLOAD]


def test_deposit_stores_the_document_and_the_patient_sees_the_software(
    alice: Patient, doctor: Professional, token_for: Callable[..., str], tmp_path: Any
) -> None:
    api = Api(token_for(doctor.user))
    response = api.post("DocumentReference", document(alice))
    assert response.status_code == 201, response.content
    created = response.json()
    validate(created)
    entry = Entry.objects.get(public_id=created["id"])
    assert (entry.patient, entry.author, entry.title) == (
        alice,
        doctor,
        "CR de consultation (logiciel)",
    )
    assert default_storage.exists(entry.report.pdf.name)
    assert response["Location"].endswith(f"/fhir/DocumentReference/{entry.public_id}")
    event = AccessEvent.objects.get(
        action=AccessAction.ENTRY_CREATE, entry_public_id=entry.public_id
    )
    assert event.application == APP_NAME
    page = Client()
    page.force_login(alice.user)
    history = page.get("/mon-dmp/historique/").content.decode()
    assert f"via {APP_NAME}" in history


def test_same_master_identifier_twice_keeps_one_document(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    api = Api(token_for(doctor.user))
    resource = document(
        alice, masterIdentifier={"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.3.4.5"}
    )
    first = api.post("DocumentReference", resource)
    again = api.post("DocumentReference", resource)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Entry.objects.filter(patient=alice).count() == 1


def test_replace_supersedes_and_a_stale_replace_conflicts(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    api = Api(token_for(doctor.user))
    first = api.post("DocumentReference", document(alice)).json()
    replaces = [{"code": "replaces", "target": {"reference": f"DocumentReference/{first['id']}"}}]
    second = api.post("DocumentReference", document(alice, relatesTo=replaces))
    assert second.status_code == 201
    assert second.json()["relatesTo"][0]["target"]["reference"].endswith(first["id"])
    old = api.get(f"DocumentReference/{first['id']}").json()
    assert old["status"] == "superseded"
    assert Entry.objects.get(public_id=first["id"]).status == EntryStatus.REPLACED
    stale = api.post("DocumentReference", document(alice, relatesTo=replaces))
    assert stale.status_code == 409
    assert "remplacé" in outcome_text(stale)
    assert Entry.objects.filter(patient=alice).count() == 2


def test_a_search_page_draws_each_resource_as_its_read_does(
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    token_for: Callable[..., str],
) -> None:
    """A search page reads its rows' authors and replaced versions as columns of its one
    statement, a read loads them as rows: the resources are the same, two authors and a
    version chain included."""
    api = Api(token_for(doctor.user))
    first = api.post("DocumentReference", document(alice)).json()
    replaces = [{"code": "replaces", "target": {"reference": f"DocumentReference/{first['id']}"}}]
    assert api.post("DocumentReference", document(alice, relatesTo=replaces)).status_code == 201
    other = Api(token_for(authorised_doctor.user)).post("DocumentReference", document(alice))
    assert other.status_code == 201, other.content
    page = api.get("DocumentReference", patient=str(alice.public_id)).json()
    found = [entry["resource"] for entry in page["entry"]]
    assert len(found) == 3
    for resource in found:
        assert resource == api.get(f"DocumentReference/{resource['id']}").json()
    names = {resource["author"][0]["display"] for resource in found}
    assert names == {doctor.display_name, authorised_doctor.display_name}
    assert [r["relatesTo"][0]["target"]["reference"] for r in found if "relatesTo" in r] == [
        f"DocumentReference/{first['id']}"
    ]


def _transaction(patient: Patient, documents: list[dict[str, Any]]) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": "urn:uuid:9d7a2f7e-0000-4000-8000-000000000001",
            "resource": {
                "resourceType": "List",
                "status": "current",
                "mode": "working",
                "subject": {"reference": f"Patient/{patient.public_id}"},
            },
            "request": {"method": "POST", "url": "List"},
        }
    ]
    for n, resource in enumerate(documents):
        binary_url = f"urn:uuid:9d7a2f7e-0000-4000-8000-1000000000{n:02d}"
        attachment = resource["content"][0]["attachment"]
        entries.append(
            {
                "fullUrl": binary_url,
                "resource": {
                    "resourceType": "Binary",
                    "contentType": attachment["contentType"],
                    "data": attachment["data"],
                },
                "request": {"method": "POST", "url": "Binary"},
            }
        )
        linked = {
            **resource,
            "content": [
                {"attachment": {"contentType": attachment["contentType"], "url": binary_url}}
            ],
        }
        entries.append(
            {"resource": linked, "request": {"method": "POST", "url": "DocumentReference"}}
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_transaction_bundle_deposits_every_document(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    bundle = _transaction(alice, [document(alice), document(alice, description="Second")])
    validate(bundle)
    response = Api(token_for(doctor.user)).post("", bundle)
    assert response.status_code == 200, response.content
    validate(response.json())
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["201 Created"] * 2
    assert Entry.objects.filter(patient=alice).count() == 2


def test_transaction_whose_third_document_fails_stores_nothing(
    alice: Patient, doctor: Professional, token_for: Callable[..., str], tmp_path: Any
) -> None:
    future = {"period": {"start": "2999-01-01"}}
    bundle = _transaction(
        alice, [document(alice), document(alice), document(alice, context=future)]
    )
    response = Api(token_for(doctor.user)).post("", bundle)
    assert response.status_code == 422
    assert "futur" in outcome_text(response)
    assert Entry.objects.filter(patient=alice).count() == 0
    assert stored_files(tmp_path) == []


def test_patient_app_reads_its_access_history(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    Api(token_for(doctor.user)).post("DocumentReference", document(alice))
    api = Api(token_for(alice.user))
    response = api.get("AuditEvent")
    assert response.status_code == 200
    bundle = response.json()
    validate(bundle)
    agents = [
        agent["who"].get("display") for e in bundle["entry"] for agent in e["resource"]["agent"]
    ]
    assert APP_NAME in agents
    assert (
        Api(token_for(doctor.user)).get("AuditEvent", patient=str(alice.public_id)).status_code
        == 403
    )


def test_patient_app_reads_only_its_own_record(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    entry = report(doctor, alice)
    api = Api(token_for(alice.user))
    assert api.get(f"Patient/{alice.public_id}").status_code == 200
    documents = api.get("DocumentReference").json()
    assert [e["resource"]["id"] for e in documents["entry"]] == [str(entry.public_id)]
    # A patient does not deposit, whatever the token says.
    writer = Api(token_for(alice.user, scope="patient/*.cruds"))
    assert writer.post("DocumentReference", document(alice)).status_code == 403
    assert Entry.objects.filter(patient=alice).count() == 1


def test_transaction_about_two_patients_stores_nothing(
    alice: Patient, bob: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    bundle = _transaction(alice, [document(alice)])
    bundle["entry"][0]["resource"]["subject"] = {"reference": f"Patient/{bob.public_id}"}
    response = Api(token_for(doctor.user)).post("", bundle)
    assert response.status_code == 422
    assert "même patient" in outcome_text(response)
    assert not Entry.objects.exists()
