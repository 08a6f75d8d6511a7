"""Fixtures for the records content tests: private storage in a temporary folder, a
pharmacist and a second patient, all made through the real services."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from identity.models import Patient, Profession, Professional, User
from records.models import AuthorisationReason
from records.services.care import care_authorise
from records.services.lifecycle import PatientTraits
from tests.cast import make_patient, make_professional


@pytest.fixture(autouse=True)
def private_storage(settings: Any, tmp_path: Path) -> Path:
    """Every test writes its files under tmp_path, never into var/private."""
    location = tmp_path / "private"
    location.mkdir()
    settings.MEDIA_ROOT = location
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": location, "base_url": None},
        },
    }
    return location


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.fixture
def pharmacist(alice: Patient, administrator: User) -> Professional:
    professional = make_professional(
        "pharmacist@test.example",
        verifier=administrator,
        profession=Profession.PHARMACIEN,
        specialty="",
        first_name="Paul",
        last_name="Pharma",
    )
    care_authorise(
        actor=alice.user,  # type: ignore[arg-type]
        patient=alice,
        professional=professional,
        reason=AuthorisationReason.PATIENT,
    )
    return professional


@pytest.fixture
def bob(stranger_doctor: Professional) -> Patient:
    """Another patient (with an account), whose DMP Alice's doctors cannot read."""
    return make_patient(
        opened_by=stranger_doctor,
        nir="1 78 02 69 123 789 03",
        traits=PatientTraits(
            birth_name="LEROY", first_names="Bob", sex="M", birth_date=datetime.date(1978, 2, 3)
        ),
        medecin_traitant=True,
        account=True,
        email="bob@test.example",
    )


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
