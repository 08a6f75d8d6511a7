"""The FHIR endpoints × the cast, each with a token of their own (full scopes of their
context), with a token of the wrong scope, and without one; what the out-of-scope roles
receive never holds Alice's data. (Without tokens, with a session: tests/test_access_matrix.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from identity.models import Patient, Professional, User
from tests.cast import family_cast
from tests.records.fhir.conftest import Api, validate
from tests.records.helpers import allergy, lab, pdf_bytes, report
from tests.test_access_matrix import ROLES, everyone, project_urls

pytestmark = pytest.mark.django_db

READERS = {"alice", "traitant", "authorised", "proxy"}  # no emergency access through the API


def _alice_only(allowed: int = 200) -> dict[str, int]:
    return everyone(404, **{role: allowed for role in READERS})


# name → (path, params, {role: status})
EXPECTED: dict[str, tuple[str, dict[str, str], dict[str, int]]] = {
    "fhir:metadata": ("metadata", {}, everyone(200)),
    "fhir:patient_type": ("Patient", {"identifier": "{insc}"}, everyone(200)),
    "fhir:patient_instance": ("Patient/{alice}", {}, _alice_only()),
    "fhir:practitioner_type": ("Practitioner", {"identifier": "{rpps}"}, everyone(200)),
    "fhir:practitioner_instance": ("Practitioner/{doctor}", {}, everyone(200)),
    "fhir:practitioner_role_instance": ("PractitionerRole/{doctor}", {}, everyone(200)),
    "fhir:document_type": ("DocumentReference", {"patient": "{alice}"}, _alice_only()),
    "fhir:document_instance": ("DocumentReference/{entry}", {}, _alice_only()),
    "fhir:binary_instance": ("Binary/{entry}", {}, _alice_only()),
    "fhir:audit_type": (
        "AuditEvent",
        {},
        everyone(403, alice=200, bob=200),  # patients' apps only, each its own history
    ),
    "fhir:diagnosticreport_type": ("DiagnosticReport", {"patient": "{alice}"}, _alice_only()),
    "fhir:diagnosticreport_instance": ("DiagnosticReport/{lab}", {}, _alice_only()),
    "fhir:observation_type": ("Observation", {"patient": "{alice}"}, _alice_only()),
    "fhir:observation_instance": ("Observation/{lab}-0", {}, _alice_only()),
    "fhir:allergyintolerance_type": ("AllergyIntolerance", {"patient": "{alice}"}, _alice_only()),
    "fhir:allergyintolerance_instance": ("AllergyIntolerance/{allergy}", {}, _alice_only()),
    "fhir:imagingstudy_type": ("ImagingStudy", {"patient": "{alice}"}, _alice_only()),
    "fhir:imagingstudy_instance": ("ImagingStudy/{study}", {}, _alice_only()),
    "fhir:transaction": ("", {}, everyone(405)),  # POST only (tests/records/fhir/test_fhir_api.py)
}
# The family (tests/cast.py: family_cast): a representative of a minor and a former one answer
# as Bob (their own DMP); Alice's proxy (read-only, allergies and reports) as Alice, except for
# the kinds outside its scope: 404 as missing.
_OUTSIDE_THE_PROXYS_KINDS = {
    "fhir:diagnosticreport_instance",
    "fhir:observation_instance",
    "fhir:imagingstudy_instance",
}
for _name, (_path, _params, _table) in EXPECTED.items():
    _table["representative"] = _table["former_representative"] = _table["bob"]
    _table["proxy"] = 404 if _name in _OUTSIDE_THE_PROXYS_KINDS else _table["alice"]


def test_every_fhir_url_has_an_expectation() -> None:
    names = {name for _route, name in project_urls() if name.startswith("fhir:")}
    assert names == set(EXPECTED)


@pytest.fixture
def fhir_cast(
    alice: Patient,
    bob: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    emergency_doctor: Professional,
    stranger_doctor: Professional,
    blocked_doctor: Professional,
    unverified_doctor: Professional,
    administrator: User,
    settings: Any,
    tmp_path: Any,
) -> dict[str, Any]:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    entry = report(doctor, alice, title="CR de consultation", pdf=pdf_bytes())
    from tests.imaging.conftest import ct_series, deposit

    lab_entry = lab(doctor, alice)
    allergy_entry = allergy(doctor, alice)
    study = deposit(doctor.user, alice, ct_series(1), tmp_path / "imaging")
    users = {
        "anonymous": None,
        "alice": alice.user,
        "bob": bob.user,
        "traitant": doctor.user,
        "authorised": authorised_doctor.user,
        "emergency": emergency_doctor.user,
        "stranger": stranger_doctor.user,
        "blocked": blocked_doctor.user,
        "unverified": unverified_doctor.user,
        "administrator": administrator,
        **family_cast(doctor, alice),
    }
    values = {
        "alice": str(alice.public_id),
        "insc": alice.insc,
        "entry": str(entry.public_id),
        "doctor": str(doctor.public_id),
        "rpps": doctor.rpps,
        "lab": str(lab_entry.public_id),
        "allergy": str(allergy_entry.public_id),
        "study": str(study.entry.public_id),
    }
    return {"users": users, "values": values, "alice": alice}


def _fill(text: str, values: dict[str, str]) -> str:
    return text.format(**values)


def test_fhir_matrix_with_each_roles_own_token(
    fhir_cast: dict[str, Any], token_for: Callable[..., str]
) -> None:
    alice: Patient = fhir_cast["alice"]
    secrets = [alice.insc, alice.birth_name, "CR de consultation"]
    failures = []
    tokens = {
        role: token_for(user) if user is not None else None
        for role, user in fhir_cast["users"].items()
    }
    for name, (path, params, table) in EXPECTED.items():
        for role in ROLES:
            api = Api(tokens[role])
            filled = {key: _fill(value, fhir_cast["values"]) for key, value in params.items()}
            response = api.get(_fill(path, fhir_cast["values"]), **filled)
            expected = table[role] if role != "anonymous" or name == "fhir:metadata" else 401
            if name == "fhir:transaction":
                expected = 405
            if response.status_code != expected:
                failures.append(f"{name} as {role}: {response.status_code} ≠ {expected}")
                continue
            if response["Content-Type"].startswith("application/fhir+json"):
                validate(response.json())  # every answer, resources and OperationOutcomes
            if role not in READERS and name != "fhir:metadata":
                leaked = [s for s in secrets if s.encode() in response.content]
                if leaked:
                    failures.append(f"{name} as {role} leaks {leaked}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("scope", "status"),
    [
        ("user/Practitioner.rs", 403),  # another resource
        ("user/DocumentReference.c", 403),  # another interaction
        ("patient/*.rs", 403),  # a patient's context on a professional's token
        ("user/DocumentReference.rs", 200),
        ("user/*.r", 200),
    ],
)
def test_wrong_scope_is_403_whatever_the_data(
    fhir_cast: dict[str, Any], token_for: Callable[..., str], scope: str, status: int
) -> None:
    values = fhir_cast["values"]
    for role in ("traitant", "stranger"):
        api = Api(token_for(fhir_cast["users"][role], scope=scope))
        response = api.get(f"DocumentReference/{values['entry']}")
        # In scope or not, a wrong scope is told first (it says nothing about the data).
        expected = status if role == "traitant" or status == 403 else 404
        assert response.status_code == expected, (role, scope)


def test_a_patients_token_with_professional_scopes_reads_nothing(
    fhir_cast: dict[str, Any], token_for: Callable[..., str]
) -> None:
    api = Api(token_for(fhir_cast["users"]["alice"], scope="user/*.cruds"))
    assert api.get(f"Patient/{fhir_cast['values']['alice']}").status_code == 403
