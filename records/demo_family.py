"""The demo's family (``manage.py seed_demo``, idempotent): Bob Leroy's daughter Léa (15),
her two parents' accounts as her legal representatives (bob.leroy and sophie.leroy), one
secret consultation (CSP L1111-5) and one ordinary report; Alice's proxy, her husband Paul
(paul.dupont: read-only, allergies and reports, for 300 days)."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from identity.demo import demo_email, ensure_account, ensure_totp
from identity.models import Patient, Role, User
from records.demo import _once
from records.mandates import Mandate, MandateKind, MandateProof
from records.services.content import report_deposit
from records.services.family import proxy_grant, representative_add
from records.services.lifecycle import PatientTraits, dmp_open

LEA = PatientTraits(
    birth_name="LEROY",
    first_names="Léa",
    sex="F",
    birth_date=datetime.date(2011, 4, 2),
    birth_place_code="69123",
)
LEA_NIR = "2 11 04 75 123 456 44"  # made up, valid key


@transaction.atomic
def seed_family(accounts: dict[str, User], patients: dict[str, Patient]) -> dict[str, Patient]:
    """Léa's family and Alice's proxy; ``accounts`` and ``patients`` gain the family's
    members (Léa's mother, Alice's husband; Léa), so that the demo's counts are the real ones.
    Returns the family's patients."""
    doctor = accounts["dr.martin"]
    bob = patients["bob.leroy"]
    alice = patients["alice.dupont"]
    if bob.user is None or alice.user is None:  # pragma: no cover - seed_patients sets them
        raise RuntimeError("the demo's Bob and Alice need their accounts")
    sophie = ensure_account(
        demo_email("sophie.leroy"), first_name="Sophie", last_name="Leroy", role=Role.PATIENT
    )
    paul = ensure_account(
        demo_email("paul.dupont"), first_name="Paul", last_name="Dupont", role=Role.PATIENT
    )
    for user in (sophie, paul):
        ensure_totp(user)
    lea = dmp_open(actor=doctor, traits=LEA, nir=LEA_NIR, consent_given=True).patient
    held = set(Mandate.objects.active().filter(patient=lea).values_list("holder_id", flat=True))
    for parent in (bob.user, sophie):
        if parent.pk not in held:
            representative_add(
                actor=doctor,
                patient=lea,
                email=parent.email,
                kind=MandateKind.REPRESENTATIVE,
                basis="autorité parentale (parents mariés)",
                proof=MandateProof.FAMILY_BOOK,
            )
    today = timezone.localdate()
    _once(
        "lea-vaccins",
        lambda key: report_deposit(
            actor=doctor,
            patient=lea,
            document_type="11488-4",
            title="Consultation — rappel DTCaP",
            act_date=today - datetime.timedelta(days=40),
            body="Rappel diphtérie, tétanos, coqueluche, poliomyélite fait. Bonne tolérance.",
            submission_key=key,
        ),
    )
    _once(
        "lea-secret",
        lambda key: report_deposit(
            actor=doctor,
            patient=lea,
            document_type="11488-4",
            title="Consultation de contraception",
            act_date=today - datetime.timedelta(days=12),
            body="Consultation à la demande de la patiente, secret demandé (art. L1111-5 CSP).",
            submission_key=key,
            secret=True,
        ),
    )
    if not Mandate.objects.active().filter(patient=alice, holder=paul).exists():
        proxy_grant(
            actor=alice.user,
            patient=alice,
            email=paul.email,
            read_only=True,
            kinds=["allergy", "report"],
            ends_on=today + datetime.timedelta(days=300),
        )
    accounts.update({"sophie.leroy": sophie, "paul.dupont": paul})
    patients["lea.leroy"] = lea
    return {"lea.leroy": lea}
