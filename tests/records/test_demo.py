"""The demo records: a realistic file for Alice, made through the services, idempotent."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone

from identity.demo import seed_accounts
from records.content import Allergy, LabReport, Observation, Report
from records.demo import seed_records
from records.demo_dmps import seed_access, seed_patients
from records.models import Entry, EntryStatus
from records.profile import Measure, Problem, Treatment, Wishes
from records.profile_reference import OVERDUE
from records.services.synthesis import vaccination_calendar_for

pytestmark = pytest.mark.django_db


@override_settings(MAILERS={"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}})
def test_seed_records_is_realistic_and_idempotent() -> None:
    accounts = seed_accounts()
    patients = seed_patients(accounts)
    seed_access(accounts, patients)
    seed_records(patients, accounts)
    counts = (Entry.objects.count(), Observation.objects.count(), Report.objects.count())
    seed_records(patients, accounts)
    assert (Entry.objects.count(), Observation.objects.count(), Report.objects.count()) == counts
    alice = patients["alice.dupont"]
    assert LabReport.objects.filter(entry__patient=alice).count() == 9
    assert Observation.objects.filter(analyte_code="4548-4").count() == 9
    assert Observation.objects.filter(analyte_code="2160-0", unit="mg/L").count() == 1
    assert Observation.objects.exclude(interpretation__in=["", "N"]).exists()
    assert Report.objects.exclude(pdf="").exclude(pdf=None).count() == 1
    assert Entry.objects.filter(status=EntryStatus.REPLACED).count() == 1
    assert Entry.objects.filter(invisible_to_patient=True).count() == 1
    allergies = {a.substance_label: a for a in Allergy.objects.all()}
    assert len(allergies) == 3
    penicillin = allergies["Pénicillines (classe)"]
    assert (penicillin.severity, penicillin.criticality) == ("severe", "high")
    assert allergies["Produits de contraste iodés"].verification_status == "refuted"
    assert allergies["Arachide (cacahuète)"].entry.author.user == accounts["ide.moreau"]


@override_settings(MAILERS={"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}})
def test_alice_has_a_realistic_profile() -> None:
    accounts = seed_accounts()
    patients = seed_patients(accounts)
    seed_access(accounts, patients)
    seed_records(patients, accounts)
    alice = patients["alice.dupont"]
    problems = {p.cim10_code: p for p in Problem.objects.filter(entry__patient=alice)}
    assert {"E11", "N18.3", "K80"} <= set(problems)
    assert problems["K80"].history == "surgical"
    assert Treatment.objects.filter(medicine__startswith="Metformine", end_date=None).exists()
    assert Treatment.objects.exclude(end_date=None).exists()  # a stopped treatment, kept
    weights = Measure.objects.filter(entry__patient=alice, kind="weight")
    assert weights.count() == 12 and weights.filter(entry__declared_by_patient=True).exists()
    assert Measure.objects.filter(kind="blood_pressure").exclude(value2=None).count() == 12
    assert Wishes.objects.get(entry__patient=alice).trusted_name == "Paul Dupont"
    scope = Entry.objects.filter(patient=alice, status=EntryStatus.CURRENT)
    calendar = vaccination_calendar_for(scope, alice, timezone.localdate())
    assert [item.rule.key for item in calendar if item.status == OVERDUE] == ["dtp_25"]
