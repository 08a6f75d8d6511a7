"""The issue's bad-input table: the right status, a clear OperationOutcome in French (English
under Accept-Language: en), nothing stored, never a 500."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from identity.models import Patient, Professional
from records.fhir.http import MAX_BODY_BYTES
from records.models import AccessEvent, Entry
from tests.records.fhir.conftest import Api, outcome_text
from tests.records.fhir.test_fhir_api import document, stored_files
from tests.records.helpers import pdf_bytes

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


def _attachment(content_type: str, data: str) -> dict[str, Any]:
    return {"content": [{"attachment": {"contentType": content_type, "data": data}}]}


def _nested(depth: int) -> str:
    return '{"extension":[' * depth + "{}" + "]}" * depth


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# (case, body builder (alice, bob) -> bytes/str/dict, content type, status, French words)
CASES: list[tuple[str, Callable[[Patient, Patient], Any], str, int, str]] = [
    ("malformed JSON", lambda a, b: '{"resourceType": ', "application/fhir+json", 400, "JSON"),
    ("not JSON at all", lambda a, b: b"\xff\xfe\x00", "application/fhir+json", 400, "JSON"),
    (
        "NaN",
        lambda a, b: '{"resourceType":"DocumentReference","x":NaN}',
        "application/json",
        400,
        "NaN",
    ),
    (
        "10 000 nested extensions",
        lambda a, b: _nested(10_000),
        "application/fhir+json",
        400,
        "JSON",
    ),
    ("40 nested levels", lambda a, b: _nested(40), "application/fhir+json", 400, "imbriqué"),
    (
        "form content type",
        lambda a, b: document(a),
        "application/x-www-form-urlencoded",
        415,
        "contenu",
    ),
    ("XML", lambda a, b: "<DocumentReference/>", "application/fhir+xml", 415, "JSON"),
    (
        "another resource type",
        lambda a, b: {"resourceType": "Patient"},
        "application/fhir+json",
        422,
        "DocumentReference",
    ),
    (
        "another patient (out of scope)",
        lambda a, b: document(b),
        "application/fhir+json",
        404,
        "introuvable",
    ),
    (
        "HTML sent as a PDF",
        lambda a, b: document(
            a, **_attachment("application/pdf", _b64(b"<html><script>x</script></html>"))
        ),
        "application/fhir+json",
        422,
        "PDF",
    ),
    (
        "a truncated PDF",
        lambda a, b: document(a, data=pdf_bytes()[:200]),
        "application/fhir+json",
        422,
        "PDF",
    ),
    (
        "contentType lying (PDF said text)",
        lambda a, b: document(a, **_attachment("text/plain", _b64(pdf_bytes()))),
        "application/fhir+json",
        422,
        "PDF",
    ),
    (
        "an image type",
        lambda a, b: document(a, **_attachment("image/svg+xml", _b64(b"<svg/>"))),
        "application/fhir+json",
        415,
        "pièce jointe",
    ),
    (
        "base64 that is not",
        lambda a, b: document(a, **_attachment("application/pdf", "%%%not base64%%%")),
        "application/fhir+json",
        422,
        "base64",
    ),
    (
        "a date in the future",
        lambda a, b: document(a, context={"period": {"start": "2999-01-01"}}),
        "application/fhir+json",
        422,
        "futur",
    ),
    (
        "an impossible date",
        lambda a, b: document(a, context={"period": {"start": "2024-02-30"}}),
        "application/fhir+json",
        422,
        "date",
    ),
    (
        "a 1 MB string",
        lambda a, b: document(a, description="x" * 1_000_000),
        "application/fhir+json",
        422,
        "trop long",
    ),
    (
        "a NUL byte",
        lambda a, b: document(a, description="CR\u0000"),
        "application/fhir+json",
        422,
        "contrôle",
    ),
    (
        "NUL in a text body",
        lambda a, b: document(a, **_attachment("text/plain", _b64(b"ok\x00ko"))),
        "application/fhir+json",
        422,
        "contrôle",
    ),
    (
        "no LOINC type",
        lambda a, b: document(a, type={"text": "CR"}),
        "application/fhir+json",
        422,
        "LOINC",
    ),
    (
        "unknown LOINC type",
        lambda a, b: document(
            a, type={"coding": [{"system": "http://loinc.org", "code": "99999-9"}]}
        ),
        "application/fhir+json",
        422,
        "inconnu",
    ),
    (
        "two attachments",
        lambda a, b: {**document(a), "content": document(a)["content"] * 2},
        "application/fhir+json",
        422,
        "pièce jointe",
    ),
    (
        "subject not a patient",
        lambda a, b: document(a, subject={"reference": "Group/1"}),
        "application/fhir+json",
        422,
        "Patient",
    ),
    (
        "replacing a missing document",
        lambda a, b: document(
            a, relatesTo=[{"code": "replaces", "target": {"reference": "DocumentReference/nope"}}]
        ),
        "application/fhir+json",
        404,
        "introuvable",
    ),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_deposit_is_refused_clearly_and_stores_nothing(
    alice: Patient,
    bob: Patient,
    doctor: Professional,
    token_for: Callable[..., str],
    tmp_path: Any,
    body: Callable[[Patient, Patient], Any],
    content_type: str,
    status: int,
    words: str,
) -> None:
    events = AccessEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = Api(token_for(doctor.user)).post("DocumentReference", body(alice, bob), content_type)
    assert response.status_code == status, response.content[:300]
    assert words.lower() in outcome_text(response).lower()
    assert Entry.objects.count() == 0
    assert stored_files(tmp_path) == []
    assert not AccessEvent.objects.filter(id__gt=events, action="entry_create").exists()


def test_over_the_cap_is_413_before_reading(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    api = Api(token_for(doctor.user))
    body = b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}"
    response = api.post("DocumentReference", body)
    assert response.status_code == 413
    assert "volumineuse" in outcome_text(response)
    assert Entry.objects.count() == 0


def test_a_60_mb_binary_in_a_transaction_is_413(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    api = Api(token_for(doctor.user))
    huge = "A" * (60 * 2**20)
    bundle = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Binary",
                        "contentType": "application/pdf",
                        "data": huge,
                    }
                }
            ],
        }
    )
    assert api.post("", bundle).status_code == 413
    assert Entry.objects.count() == 0


def test_errors_speak_english_under_accept_language_en(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    api = Api(token_for(doctor.user), language="en")
    response = api.post("DocumentReference", '{"resourceType": ')
    assert response.status_code == 400
    assert outcome_text(response) == "The request body is not valid JSON."
    missing = api.get("Patient/0f8e2a4c-1111-4222-8333-944455556666")
    assert outcome_text(missing) == "Resource not found."


def test_without_a_token_401_with_www_authenticate(alice: Patient) -> None:
    for token in (None, "not-a-token"):
        response = Api(token).get(f"Patient/{alice.public_id}")
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "jeton" in outcome_text(response).lower()


def test_expired_token_is_401(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    response = Api(token_for(doctor.user, seconds=-1)).get(f"Patient/{alice.public_id}")
    assert response.status_code == 401


def test_a_token_in_the_query_string_is_not_accepted(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    token = token_for(doctor.user)
    response = Api(None).get(f"Patient/{alice.public_id}", access_token=token)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("scope", "status"),
    [
        ("user/DocumentReference.rs", 403),  # reads only: no create
        ("user/Patient.cruds", 403),
        ("patient/*.cruds", 403),  # a patient's scope on a professional's token
        ("user/DocumentReference.c", 201),
    ],
)
def test_insufficient_scope_is_403_and_stores_nothing(
    alice: Patient, doctor: Professional, token_for: Callable[..., str], scope: str, status: int
) -> None:
    response = Api(token_for(doctor.user, scope=scope)).post("DocumentReference", document(alice))
    assert response.status_code == status
    assert Entry.objects.count() == (1 if status == 201 else 0)


def test_rate_limit_per_token(
    alice: Patient, doctor: Professional, token_for: Callable[..., str], settings: Any
) -> None:
    settings.DMP_API_RATE_PER_MINUTE = 3
    api = Api(token_for(doctor.user))
    statuses = [api.get(f"Patient/{alice.public_id}").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert Api(token_for(doctor.user)).get(f"Patient/{alice.public_id}").status_code == 200


def test_bad_search_parameters_are_400(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    api = Api(token_for(doctor.user))
    patient = str(alice.public_id)
    for params in (
        {"patient": patient, "_count": "1000"},
        {"patient": patient, "_count": "x"},
        {"patient": patient, "date": "ge2024-13-45"},
        {"patient": patient, "unknown": "1"},
        {"patient": patient, "_sort": "title"},
        {},
    ):
        response = api.get("DocumentReference", **params)
        assert response.status_code == 400, params
        outcome_text(response)


def test_a_professional_looks_patients_up_by_identity_only(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    response = Api(token_for(doctor.user)).get("Patient")
    assert response.status_code == 400
    assert "identifier" in outcome_text(response)


def test_cors_is_closed(
    alice: Patient, doctor: Professional, token_for: Callable[..., str]
) -> None:
    api = Api(token_for(doctor.user))
    api.headers["Origin"] = "https://evil.example"
    response = api.get(f"Patient/{alice.public_id}")
    assert response.status_code == 200
    assert not response.has_header("Access-Control-Allow-Origin")
    preflight = api.client.options(f"/fhir/Patient/{alice.public_id}", headers=api.headers)
    assert preflight.status_code == 405
    assert not preflight.has_header("Access-Control-Allow-Origin")
