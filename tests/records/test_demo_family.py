"""The demo's family: the same entries seen by each member (what the report shows)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from identity.demo import demo_email, seed_accounts
from identity.models import User
from records.demo import seed_records
from records.demo_dmps import seed_access, seed_patients
from records.demo_family import seed_family
from records.mandates import Mandate
from records.models import Entry

pytestmark = pytest.mark.django_db


@override_settings(MAILERS={"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}})
def test_the_family_sees_each_entry_as_the_rules_say(capsys: pytest.CaptureFixture[str]) -> None:
    accounts = seed_accounts()
    patients = seed_patients(accounts)
    seed_access(accounts, patients)
    seed_records(patients, accounts)
    family = seed_family(accounts, patients)
    counts = (Entry.objects.count(), Mandate.objects.count())
    seed_family(accounts, patients)  # idempotent
    assert (Entry.objects.count(), Mandate.objects.count()) == counts == (counts[0], 3)
    lea = family["lea.leroy"]
    secret = Entry.objects.get(patient=lea, secret=True)
    ordinary = Entry.objects.get(patient=lea, secret=False)
    alices_report = Entry.objects.filter(patient=patients["alice.dupont"], kind="report").first()
    alices_lab = Entry.objects.filter(patient=patients["alice.dupont"], kind="lab_report").first()
    assert alices_report is not None and alices_lab is not None
    who = ["dr.martin", "bob.leroy", "sophie.leroy", "alice.dupont", "paul.dupont"]
    expected = {
        # entry: status for each of `who`
        "Léa — secret consultation": (secret, [200, 404, 404, 404, 404]),
        "Léa — ordinary report": (ordinary, [200, 200, 200, 404, 404]),
        "Alice — a report": (alices_report, [200, 404, 404, 200, 200]),
        "Alice — a lab report": (alices_lab, [200, 404, 404, 200, 404]),
    }
    lines = []
    for label, (entry, statuses) in expected.items():
        got = []
        for name in who:
            client = Client()
            client.force_login(User.objects.get(email=demo_email(name)))
            got.append(client.get(f"/document/{entry.public_id}/").status_code)
        lines.append(f"{label:28} " + " ".join(f"{n}={s}" for n, s in zip(who, got, strict=True)))
        assert got == statuses, (label, got)
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def test_seed_demo_prints_the_real_counts() -> None:
    from io import StringIO

    from django.core.management import call_command

    from identity.models import Patient

    out = StringIO()
    call_command("seed_demo", stdout=out)
    said = out.getvalue()
    assert f"{User.objects.count()} comptes, {Patient.objects.count()} patients" in said, said
    assert (User.objects.count(), Patient.objects.count()) == (12, 3)
