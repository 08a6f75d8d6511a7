"""Build the test cast through the real services (never by writing rows by hand)."""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value

from identity.models import Patient, Profession, Professional, Role, Specialty, User
from identity.rpps import luhn_complete
from identity.services import professional_register, professional_verify
from records.services.lifecycle import (
    PatientTraits,
    activation_code_check,
    activation_code_issue,
    dmp_open,
    patient_account_create,
)

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


def totp_code(secret: str = TOTP_SECRET, *, margin: float = 10.0) -> str:
    """The authenticator's current code, never one about to expire: the portal accepts only the
    current 30-second period (allauth's tolerance 0), and a loaded machine may take seconds
    between typing the code and checking it. Within `margin` seconds of the period's end, this
    waits for the next period."""
    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


ALICE_NIR = "2 85 05 75 123 456 23"
ALICE_TRAITS = PatientTraits(
    birth_name="DUPONT",
    first_names="Alice Marie",
    sex="F",
    birth_date=datetime.date(1985, 5, 14),
)


def make_patient(
    *,
    opened_by: Professional,
    nir: str = ALICE_NIR,
    traits: PatientTraits = ALICE_TRAITS,
    medecin_traitant: bool = False,
    account: bool = False,
    email: str = "alice@test.example",
) -> Patient:
    """Open a DMP through the real service (and activate the patient's account if asked)."""
    result = dmp_open(
        actor=opened_by.user,
        traits=traits,
        nir=nir,
        consent_given=True,
        actor_is_medecin_traitant=medecin_traitant,
    )
    patient = result.patient
    if account:
        code = activation_code_issue(actor=opened_by.user, patient=patient)
        activation = activation_code_check(code=code, birth_date=traits.birth_date)
        user = patient_account_create(activation=activation, email=email, password=PASSWORD)
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        # Every patient has a second factor (issue 14): the cast's is the TOTP app.
        TOTP.activate(user, TOTP_SECRET)
        patient.refresh_from_db()
    return patient


_VARYING = re.compile(rb'name="(csrfmiddlewaretoken|next)" (type="hidden" )?value="[^"]*"')


def without_csrf(body: bytes) -> bytes:
    """A page's body with what legitimately varies blanked: the per-render masked CSRF tokens
    and the echo of the requested path in the language switcher. Used to show that "out of
    scope" and "missing" pages are otherwise identical."""
    return _VARYING.sub(rb'name="\1" value=""', body)


def fresh_login(client: Any, user: User) -> None:
    """Log in through the real forms (password, then TOTP when the user has one), then
    re-authenticate, so that the session allows sensitive acts for the next minutes."""
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    if response.status_code == 302 and response["Location"] == "/accounts/2fa/authenticate/":
        response = client.post("/accounts/2fa/authenticate/", {"code": totp_code()})
    assert response.status_code == 302, response.content[:500]
    assert int(client.session["_auth_user_id"]) == user.pk
    # Sensitive acts want an explicit re-authentication, not just a recent login.
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302, response.content[:500]


def make_staff_viewer(email: str) -> User:
    """A staff member (not superuser) holding every model-wide view_* permission through a
    group, with a second factor: the "can see everything" admin account that must still see
    no patient data (issue 18)."""
    from django.contrib.auth.models import Group, Permission

    user = make_user(email, role=Role.ADMINISTRATOR)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    group = Group.objects.create(name=f"Tout voir ({email})")
    group.permissions.set(Permission.objects.filter(codename__startswith="view_"))
    user.groups.add(group)
    TOTP.activate(user, TOTP_SECRET)
    return user


# --- Families (records.mandates): a minor and her representatives, a proxy -------------------

LEA_NIR = "2 11 04 75 123 456 44"
LEA_TRAITS = PatientTraits(
    birth_name="LEROY", first_names="Léa", sex="F", birth_date=datetime.date(2011, 4, 2)
)


def make_minor(
    *,
    opened_by: Professional,
    parents: list[User],
    nir: str = LEA_NIR,
    traits: PatientTraits = LEA_TRAITS,
) -> Patient:
    """A minor's DMP (no account of her own), opened by ``opened_by`` with the consent of her
    legal representatives, each recorded with the basis (the real services)."""
    from records.mandates import MandateKind, MandateProof
    from records.services.family import representative_add

    patient = make_patient(opened_by=opened_by, nir=nir, traits=traits)
    for parent in parents:
        representative_add(
            actor=opened_by.user,
            patient=patient,
            email=parent.email,
            kind=MandateKind.REPRESENTATIVE,
            basis="autorité parentale",
            proof=MandateProof.FAMILY_BOOK,
        )
    return patient


def take_over(patient: Patient, *, doctor: Professional, email: str) -> User:
    """The patient (a minor, or one who came of age) activates their own account with the code
    of their letter, and their second factor (the real services)."""
    from allauth.mfa.totp.internal.auth import TOTP

    from records.services.lifecycle import (
        activation_code_check,
        activation_code_issue,
        patient_account_create,
    )

    code = activation_code_issue(actor=doctor.user, patient=patient)
    assert patient.birth_date is not None
    activation = activation_code_check(code=code, birth_date=patient.birth_date)
    user = patient_account_create(activation=activation, email=email, password="x" * 20)
    TOTP.activate(user, TOTP_SECRET)
    patient.refresh_from_db()
    return user


def make_proxy(
    patient: Patient,
    holder: User,
    *,
    kinds: tuple[str, ...] = ("allergy", "report"),
    read_only: bool = True,
    days: int = 180,
) -> Any:
    """``patient`` (an adult with an account) gives ``holder`` a proxy (the real service)."""
    from django.utils import timezone

    from records.services.family import proxy_grant

    assert patient.user is not None
    return proxy_grant(
        actor=patient.user,
        patient=patient,
        email=holder.email,
        read_only=read_only,
        kinds=kinds,
        ends_on=timezone.localdate() + datetime.timedelta(days=days),
    )


def family_cast(professional: Professional, alice: Patient) -> dict[str, User]:
    """The family's members of the access matrix, each with a DMP of their own: a legal
    representative of a minor (Léa), the proxy of Alice (read-only, allergies and reports)
    and a former representative, whose child came of age."""
    from records.services.family import majority_end

    def adult(email: str, nir: str, first: str, birth: datetime.date, sex: str) -> User:
        traits = PatientTraits(birth_name="DURAND", first_names=first, sex=sex, birth_date=birth)
        patient = make_patient(
            opened_by=professional, nir=nir, traits=traits, account=True, email=email
        )
        assert patient.user is not None
        return patient.user

    representative = adult(
        "rep@test.example", "1 80 03 75 123 457 91", "Marc", datetime.date(1980, 3, 1), "M"
    )
    proxy = adult(
        "proxy@test.example", "1 75 01 75 123 459 11", "Paul", datetime.date(1975, 1, 1), "M"
    )
    former = adult(
        "former@test.example", "2 82 09 75 123 458 38", "Nina", datetime.date(1982, 9, 1), "F"
    )
    make_minor(opened_by=professional, parents=[representative])
    grown = PatientTraits(
        birth_name="DURAND", first_names="Inès", sex="F", birth_date=datetime.date(2010, 6, 1)
    )
    make_minor(opened_by=professional, parents=[former], nir="2 10 06 75 123 460 24", traits=grown)
    majority_end(today=datetime.date(2028, 6, 1))  # Inès is 18: Nina's mandate ended
    make_proxy(alice, proxy)
    return {"representative": representative, "proxy": proxy, "former_representative": former}
