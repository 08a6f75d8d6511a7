"""Demo accounts for the quick start (``manage.py seed_demo``): the administrator and the
professionals (the patients' DMPs are opened by ``records.demo_dmps``). Idempotent.

Every demo account has the password ``demo-dmp-2026``; professionals and the administrator
have a TOTP device with the documented secret, so a person or a script can log in.
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.db import transaction

from identity.models import (
    Profession,
    Professional,
    Role,
    Specialty,
    User,
    VerificationStatus,
)
from identity.rpps import luhn_complete

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
