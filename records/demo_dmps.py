"""Demo DMPs for the quick start (``manage.py seed_demo``): Alice Dupont and Bob Leroy, opened
through the real services with their accounts activated, and Alice's care team. Idempotent."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction

from identity.demo import DEMO_PASSWORD, demo_email, ensure_account, ensure_totp
from identity.models import Patient, Role, User
from records import access
from records.models import AccessAction, AuthorisationReason, CareRelation, EmergencyAccess
from records.services.care import care_authorise, care_block, emergency_declare, read_traced
from records.services.lifecycle import (
    PatientTraits,
    activation_code_check,
    activation_code_issue,
    dmp_open,
    patient_account_create,
)


@dataclass(frozen=True)
class DemoPatient:
    local_part: str
    traits: PatientTraits
    nir: str
    opened_by: str
    medecin_traitant: bool
    opposes_samu: bool = False
    opposes_bris_de_glace: bool = False


DEMO_PATIENTS = (
    DemoPatient(
        "alice.dupont",
        PatientTraits(
            birth_name="DUPONT",
            first_names="Alice Marie",
            sex="F",
            birth_date=datetime.date(1985, 5, 14),
            birth_place_code="75112",
        ),
        nir="2 85 05 75 123 456 23",  # made up, valid key
        opened_by="dr.martin",
        medecin_traitant=True,
        opposes_samu=True,
    ),
    DemoPatient(
        "bob.leroy",
        PatientTraits(
            birth_name="LEROY",
            first_names="Bob",
            sex="M",
            birth_date=datetime.date(1978, 2, 3),
            birth_place_code="69123",
        ),
        nir="1 78 02 69 123 789 03",  # made up, valid key
        opened_by="dr.petit",
        medecin_traitant=False,
    ),
)


@transaction.atomic
def seed_patients(accounts: dict[str, User]) -> dict[str, Patient]:
    """Alice Dupont and Bob Leroy: DMPs opened through the real services, accounts activated."""
    patients: dict[str, Patient] = {}
    for demo in DEMO_PATIENTS:
        result = dmp_open(
            actor=accounts[demo.opened_by],
            traits=demo.traits,
            nir=demo.nir,
            consent_given=True,
            opposes_bris_de_glace=demo.opposes_bris_de_glace,
            opposes_samu=demo.opposes_samu,
            actor_is_medecin_traitant=demo.medecin_traitant,
        )
        patient = result.patient
        if patient.user is None:
            code = activation_code_issue(actor=accounts[demo.opened_by], patient=patient)
            activation = activation_code_check(code=code, birth_date=demo.traits.birth_date)
            patient_account_create(
                activation=activation, email=demo_email(demo.local_part), password=DEMO_PASSWORD
            )
            patient.refresh_from_db()
        if patient.user is None:  # pragma: no cover - patient_account_create sets it
            raise RuntimeError(f"demo patient {demo.local_part} has no account")
        ensure_account(
            patient.user.email,
            first_name=patient.user.first_name,
            last_name=patient.user.last_name,
            role=Role.PATIENT,
        )
        ensure_totp(patient.user)
        patients[demo.local_part] = patient
    return patients


@transaction.atomic
def seed_access(accounts: dict[str, User], patients: dict[str, Patient]) -> None:
    """Alice's care team: dr.bernard, ide.moreau and ph.lambert authorised (the matrix then
    shows its effect), dr.roux blocked, dr.petit without access (bris de glace allowed: Alice
    does not oppose it) and a past emergency access, plus some reads in her history."""
    alice = patients["alice.dupont"]
    alice.refresh_from_db()
    if CareRelation.objects.filter(patient=alice, professional__user=accounts["dr.roux"]).exists():
        return  # already seeded
    owner = alice.user
    if owner is None:  # pragma: no cover - seed_patients gives every demo patient an account
        raise RuntimeError("the demo patient has no account")
    for local_part in ("dr.bernard", "ide.moreau", "ph.lambert", "dr.roux"):
        care_authorise(
            actor=owner,
            patient=alice,
            professional=accounts[local_part].professional,
            reason=AuthorisationReason.PATIENT,
        )
    care_block(
        actor=owner,
        patient=alice,
        professional=accounts["dr.roux"].professional,
    )
    for local_part in ("dr.martin", "dr.bernard", "ide.moreau"):
        _demo_read(accounts[local_part], alice)
    # A past emergency access (SAMU is opposed by Alice; bris de glace is not).
    Patient.objects.filter(pk=alice.pk).update(opposes_samu=False)
    alice.refresh_from_db()
    grant = emergency_declare(
        actor=accounts["dr.petit"],
        patient=alice,
        samu=False,
        reason="unconscious",
        reason_text="Malaise au cabinet de cardiologie, patiente inconsciente",
    )
    _demo_read(accounts["dr.petit"], alice)
    EmergencyAccess.objects.filter(pk=grant.pk).update(expires_at=grant.started_at)
    Patient.objects.filter(pk=alice.pk).update(opposes_samu=True)


def _demo_read(actor: User, patient: Patient) -> None:
    """A professional opens the DMP, as the page would (through the funnel, traced)."""
    held = access.dmp_access(actor, patient)
    if held is None:  # pragma: no cover - the demo grants it just before
        raise RuntimeError(f"{actor} cannot read the demo DMP")
    read_traced(actor=actor, dmp=held, action=AccessAction.DMP_VIEW)
