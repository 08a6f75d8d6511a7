"""Demo accounts for the quick start (``manage.py seed_demo``). Idempotent.

Every demo account has the password ``demo-dmp-2026``; professionals and the administrator
have a TOTP device with the documented secret, so a person or a script can log in.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.db import transaction

from identity.models import (
    Patient,
    Profession,
    Professional,
    Role,
    Specialty,
    User,
    VerificationStatus,
)
from identity.rpps import luhn_complete
from identity.services import (
    PatientTraits,
    activation_code_check,
    activation_code_issue,
    dmp_open,
    patient_account_create,
)
from records.models import AccessAction

DEMO_PASSWORD = "demo-dmp-2026"  # noqa: S105 - documented demo credential
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # noqa: S105 - documented demo credential
DEMO_DOMAIN = "demo.dmp.example"


@dataclass(frozen=True)
class DemoProfessional:
    local_part: str
    first_name: str
    last_name: str
    profession: str
    specialty: str
    verified: bool
    rpps_prefix: str
    regulation: bool = False


DEMO_PROFESSIONALS = (
    DemoProfessional(
        "dr.martin",
        "Claire",
        "Martin",
        Profession.MEDECIN,
        Specialty.MEDECINE_GENERALE,
        True,
        "1000100001",
    ),
    DemoProfessional(
        "dr.bernard",
        "Luc",
        "Bernard",
        Profession.MEDECIN,
        Specialty.RADIOLOGIE,
        True,
        "1000100002",
    ),
    DemoProfessional(
        "dr.petit",
        "Sophie",
        "Petit",
        Profession.MEDECIN,
        Specialty.CARDIOLOGIE,
        True,
        "1000100003",
    ),
    DemoProfessional(
        "dr.roux",
        "Marc",
        "Roux",
        Profession.MEDECIN,
        Specialty.MEDECINE_GENERALE,
        True,
        "1000100004",
    ),
    DemoProfessional(
        "ide.moreau",
        "Julie",
        "Moreau",
        Profession.INFIRMIER,
        "",
        True,
        "1000100005",
    ),
    DemoProfessional(
        "ph.lambert",
        "Paul",
        "Lambert",
        Profession.PHARMACIEN,
        "",
        True,
        "1000100006",
    ),
    DemoProfessional(
        "dr.nouveau",
        "Hugo",
        "Nouveau",
        Profession.MEDECIN,
        Specialty.MEDECINE_GENERALE,
        False,
        "1000100007",
    ),
)


def demo_email(local_part: str) -> str:
    return f"{local_part}@{DEMO_DOMAIN}"


def ensure_account(
    email: str, *, first_name: str, last_name: str, role: str, staff: bool = False
) -> User:
    """Create or refresh a demo account with a verified e-mail and the demo password."""
    user, created = User.objects.get_or_create(
        email=email,
        defaults={"first_name": first_name, "last_name": last_name, "role": role},
    )
    if created or not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
    user.first_name, user.last_name, user.role = first_name, last_name, role
    user.is_staff = user.is_superuser = staff
    user.is_active = True
    user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def ensure_totp(user: User) -> None:
    """Give the account the documented TOTP secret (and recovery codes) once."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists():
        RecoveryCodes.activate(user)


@transaction.atomic
def seed_accounts() -> dict[str, User]:
    """The administrator and the demo professionals; returns them by e-mail local part."""
    accounts: dict[str, User] = {}
    admin = ensure_account(
        demo_email("admin"),
        first_name="Alex",
        last_name="Admin",
        role=Role.ADMINISTRATOR,
        staff=True,
    )
    ensure_totp(admin)
    accounts["admin"] = admin
    for demo in DEMO_PROFESSIONALS:
        user = ensure_account(
            demo_email(demo.local_part),
            first_name=demo.first_name,
            last_name=demo.last_name,
            role=Role.PROFESSIONAL,
        )
        status = VerificationStatus.VERIFIED if demo.verified else VerificationStatus.PENDING
        Professional.objects.update_or_create(
            user=user,
            defaults={
                "rpps": luhn_complete(demo.rpps_prefix),
                "profession": demo.profession,
                "specialty": demo.specialty,
                "verification_status": status,
                "verified_by": admin if demo.verified else None,
                "is_regulation_doctor": demo.regulation,
            },
        )
        ensure_totp(user)
        accounts[demo.local_part] = user
    return accounts


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
    from records.models import AuthorisationReason, CareRelation, EmergencyAccess
    from records.services import care_authorise, care_block, emergency_declare, read_traced

    alice = patients["alice.dupont"]
    alice.refresh_from_db()
    if CareRelation.objects.filter(patient=alice, professional__user=accounts["dr.roux"]).exists():
        return  # already seeded
    for local_part in ("dr.bernard", "ide.moreau", "ph.lambert", "dr.roux"):
        care_authorise(
            actor=alice.user,  # type: ignore[arg-type]
            patient=alice,
            professional=accounts[local_part].professional,
            reason=AuthorisationReason.PATIENT,
        )
    care_block(
        actor=alice.user,  # type: ignore[arg-type]
        patient=alice,
        professional=accounts["dr.roux"].professional,
    )
    for local_part in ("dr.martin", "dr.bernard", "ide.moreau"):
        read_traced(actor=accounts[local_part], patient=alice, action=AccessAction.DMP_VIEW)
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
    read_traced(actor=accounts["dr.petit"], patient=alice, action=AccessAction.DMP_VIEW)
    EmergencyAccess.objects.filter(pk=grant.pk).update(expires_at=grant.started_at)
    Patient.objects.filter(pk=alice.pk).update(opposes_samu=True)
