"""Shared fixtures: the cast of STYLE.md, built through the real services.

Later issues add the patient's side of the cast (her médecin traitant, an authorised doctor,
a blocked doctor…); for now: professionals in every verification state, a patient account,
an administrator without clinical rights.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from hypothesis import settings as hypothesis_settings

from identity import prepared
from identity.models import Patient, Professional, Role, User
from tests.cast import ALICE_NIR, TOTP_SECRET, make_patient, make_professional, make_user

# Properties are checked for what they state, not for how fast one example runs: a loaded
# machine made a 0.1 ms example take 288 ms once (speed is measured in bench/, not here).
hypothesis_settings.register_profile("dmp", deadline=None)
hypothesis_settings.load_profile("dmp")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # Rate limits and used TOTP codes live in the cache: no test may inherit another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _own_trail_checkpoints(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    # verify_access_log signs checkpoints of the trail into a file; every test's trail is a new
    # one, so no test may inherit another's checkpoints (they would say events went missing).
    settings.DMP_TRAIL_CHECKPOINT_DIR = str(tmp_path_factory.mktemp("trail-checkpoints"))


@pytest.fixture(autouse=True)
def _source_language() -> Iterator[None]:
    # Services say their refusals in the active language: no test may inherit a language
    # another left active in this thread (a live server, a client's English request).
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _funnel_statements_checked(settings: Any) -> Iterator[None]:
    # Every fetch through a kept statement is compared with its queryset built afresh, and no
    # test inherits another's statements (ids are reused after a rollback on SQLite).
    settings.DMP_FUNNEL_CHECK = True
    prepared.forget()
    yield
    prepared.forget()


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def administrator(db: None) -> User:
    return make_user(
        "admin@test.example", role=Role.ADMINISTRATOR, staff=True, first_name="Ada", last_name="Min"
    )


@pytest.fixture
def doctor(administrator: User) -> Professional:
    return make_professional(
        "doctor@test.example", verifier=administrator, first_name="Claire", last_name="Martin"
    )


@pytest.fixture
def doctor_without_mfa(administrator: User) -> Professional:
    return make_professional("nomfa@test.example", verifier=administrator, totp=False)


@pytest.fixture
def unverified_doctor(db: None) -> Professional:
    return make_professional("unverified@test.example", verified=False)


@pytest.fixture
def patient_user(db: None) -> User:
    from allauth.mfa.totp.internal.auth import TOTP

    user = make_user("patient@test.example", first_name="Alice", last_name="Dupont")
    TOTP.activate(user, TOTP_SECRET)  # every patient has a second factor
    return user


@pytest.fixture
def stranger_doctor(administrator: User) -> Professional:
    return make_professional(
        "stranger@test.example", verifier=administrator, first_name="Sam", last_name="Stranger"
    )


@pytest.fixture
def alice(doctor: Professional) -> Patient:
    """Alice's DMP, opened by ``doctor`` (her médecin traitant), with an activated account."""
    return make_patient(opened_by=doctor, nir=ALICE_NIR, medecin_traitant=True, account=True)


@pytest.fixture
def alice_nir() -> str:
    return ALICE_NIR


@pytest.fixture
def authorised_doctor(alice: Patient, administrator: User) -> Professional:
    from records.models import AuthorisationReason
    from records.services.care import care_authorise

    professional = make_professional(
        "authorised@test.example", verifier=administrator, first_name="Ana", last_name="Auth"
    )
    care_authorise(
        actor=alice.user,
        patient=alice,
        professional=professional,
        reason=AuthorisationReason.PATIENT,
    )
    return professional


@pytest.fixture
def blocked_doctor(alice: Patient, administrator: User) -> Professional:
    from records.models import AuthorisationReason
    from records.services.care import care_authorise, care_block

    professional = make_professional(
        "blocked@test.example", verifier=administrator, first_name="Bea", last_name="Blocked"
    )
    care_authorise(
        actor=alice.user,
        patient=alice,
        professional=professional,
        reason=AuthorisationReason.PATIENT,
    )
    care_block(actor=alice.user, patient=alice, professional=professional)
    return professional


@pytest.fixture
def emergency_doctor(alice: Patient, administrator: User) -> Professional:
    from records.services.care import emergency_declare

    professional = make_professional(
        "emergency@test.example", verifier=administrator, first_name="Eli", last_name="Urgence"
    )
    emergency_declare(actor=professional.user, patient=alice, samu=False, reason="vital")
    return professional
