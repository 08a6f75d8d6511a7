"""Build the test cast through the real services (never by writing rows by hand)."""

from __future__ import annotations

import time

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value

from identity.models import Profession, Professional, Role, Specialty, User
from identity.rpps import luhn_complete
from identity.services import professional_register, professional_verify

PASSWORD = "correct-horse-battery-staple-42"
TOTP_SECRET = "JBSWY3DPEHPK3PXP"

_counter = iter(range(10_000, 99_999))


def make_user(email: str, *, role: str = Role.PATIENT, staff: bool = False, **names: str) -> User:
    user = User.objects.create_user(
        email, PASSWORD, role=role, is_staff=staff, is_superuser=staff, **names
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def make_professional(
    email: str,
    *,
    verified: bool = True,
    totp: bool = True,
    profession: str = Profession.MEDECIN,
    specialty: str = Specialty.MEDECINE_GENERALE,
    verifier: User | None = None,
    **names: str,
) -> Professional:
    user = make_user(email, role=Role.PATIENT, **names)
    professional = professional_register(
        user=user,
        rpps=luhn_complete(f"10{next(_counter):08d}"),
        profession=profession,
        specialty=specialty,
    )
    if verified:
        verifier = verifier or User.objects.filter(is_staff=True).first()
        if verifier is None:
            verifier = make_user(f"verifier{next(_counter)}@test.example", staff=True)
        professional_verify(actor=verifier, professional=professional)
    if totp:
        TOTP.activate(user, TOTP_SECRET)
    return professional


def totp_code(secret: str = TOTP_SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))
