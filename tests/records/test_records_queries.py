"""Pinned query counts of every records list and detail page, the same with 1 and with 200
rows (entries, results, allergies, points).

The access-event write (``read_traced``) is, for every page, one INSERT of the event (no lock
shared between writers: the sequencer puts it in the tree later) — no savepoint (the write
joins the request's transaction) and no care-relation UPDATE once the first access is known
(``patients_for`` annotates it). ``_statements`` would leave out SAVEPOINT lines if any
appeared; the ≤ 10 budget of QUALITY.md §6 is checked on it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional
from records.models import Entry
from records.services.content import ObservationInput
from tests.records.conftest import logged_in
from tests.records.helpers import LAST_LOOK, allergy, days_ago, lab, pdf_bytes, report

pytestmark = pytest.mark.django_db

SIZES = [1, 200]
EVENT_PRO = 1  # the access-event write of a professional: one INSERT
EVENT_PATIENT = 1  # the same for the patient
LOOK_PRO = LAST_LOOK  # a professional's look at the DMP (records.looks.LastLook)


def _statements(captured: Any) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def _pinned(client: Client, url: str, expected: int, assert_num_queries: Any) -> list[str]:
    client.get(url)  # warm-up: the session's timestamps are written once, not on every page
    with assert_num_queries(expected) as captured:
        response = client.get(url)
    assert response.status_code == 200
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return _statements(captured)


@pytest.fixture
def patient_client(alice: Patient) -> Client:
    # Alice has her TOTP from the cast (every patient has a second factor), as the demo patients.
    return logged_in(alice.user)  # type: ignore[arg-type]


def _entries(doctor: Professional, alice: Patient, count: int) -> Entry:
    last = None
    for index in range(count):
        kind = index % 3
        if kind == 0:
            last = report(doctor, alice, title=f"CR {index}", day=days_ago(index % 600))
        elif kind == 1:
            last = allergy(
                doctor, alice, substance_code="", substance_label=f"S{index}", category="food"
            )
        else:
            last = lab(doctor, alice, day=days_ago(index % 600))
    assert last is not None
    return last


@pytest.mark.parametrize("size", SIZES)
def test_timeline_pro(
    size: int, alice: Patient, doctor: Professional, django_assert_num_queries: Any
) -> None:
    _entries(doctor, alice, size)
    url = reverse("records:timeline_pro", args=[alice.public_id])
    # session, user with the professional (one join: identity/backends.py), DMP in scope
    # (patient_for), event (1), entries page (51 rows)
    statements = _pinned(
        logged_in(doctor.user), url, 3 + EVENT_PRO + LOOK_PRO + 1, django_assert_num_queries
    )
    assert len(statements) <= 10


@pytest.mark.parametrize("size", SIZES)
def test_timeline_patient(
    size: int,
    alice: Patient,
    doctor: Professional,
    patient_client: Client,
    django_assert_num_queries: Any,
) -> None:
    _entries(doctor, alice, size)
    url = reverse("records:timeline_patient")
    # session, user, own DMP, event (1), entries page
    statements = _pinned(patient_client, url, 3 + EVENT_PATIENT + 1, django_assert_num_queries)
    assert len(statements) <= 10


@pytest.mark.parametrize("size", SIZES)
def test_lab_report_detail(
    size: int,
    alice: Patient,
    doctor: Professional,
    patient_client: Client,
    django_assert_num_queries: Any,
) -> None:
    rows = [
        ObservationInput("2160-0", str(60 + i % 50), "umol/L", Decimal(45), Decimal(90))
        for i in range(size)
    ]
    entry = lab(doctor, alice, rows)
    url = reverse("records:entry_detail", args=[entry.public_id])
    # session, user with the professional, entry + lab report + how the DMP is held (one
    # statement: the funnel's entry_for), event (1), observations
    statements = _pinned(logged_in(doctor.user), url, 3 + EVENT_PRO + 1, django_assert_num_queries)
    assert len(statements) == 5
    # The patient: session, user, entry + lab report, event (1), who can see it (relations
    # with their grant, emergencies, the matrix column), observations.
    statements = _pinned(patient_client, url, 3 + EVENT_PATIENT + 3 + 1, django_assert_num_queries)
    assert len(statements) == 8


@pytest.mark.parametrize("size", SIZES)
def test_report_detail_with_versions_and_pdf(
    size: int, alice: Patient, doctor: Professional, django_assert_num_queries: Any
) -> None:
    _entries(doctor, alice, size)
    first = report(doctor, alice, pdf=pdf_bytes(), body="v1")
    current = report(doctor, alice, replaces=first, keep_pdf=True, body="v2")
    client = logged_in(doctor.user)
    # session, user with the professional, entry + report + how the DMP is held, event (1),
    # versions in scope
    for entry in (first, current):
        url = reverse("records:entry_detail", args=[entry.public_id])
        statements = _pinned(client, url, 3 + EVENT_PRO + 1, django_assert_num_queries)
        assert len(statements) == 5
    # The PDF: session, user with the professional, entry + report + how the DMP is held,
    # event (1)
    url = reverse("records:report_pdf", args=[current.public_id])
    assert len(_pinned(client, url, 3 + EVENT_PRO, django_assert_num_queries)) == 4


@pytest.mark.parametrize("size", SIZES)
def test_allergy_detail_and_card(
    size: int,
    alice: Patient,
    doctor: Professional,
    patient_client: Client,
    django_assert_num_queries: Any,
) -> None:
    for index in range(size):
        last = allergy(
            doctor, alice, substance_code="", substance_label=f"S{index}", category="food"
        )
    client = logged_in(doctor.user)
    url = reverse("records:entry_detail", args=[last.public_id])
    # session, user with the professional, entry + allergy + how the DMP is held, event (1); no
    # version query
    assert len(_pinned(client, url, 3 + EVENT_PRO, django_assert_num_queries)) == 4
    # The card: session, user with the professional, DMP in scope, event (1), allergies (one
    # join)
    url = reverse("records:allergy_card_pro", args=[alice.public_id])
    assert (
        len(_pinned(client, url, 3 + EVENT_PRO + LOOK_PRO + 1, django_assert_num_queries))
        == 5 + LOOK_PRO
    )
    # The patient's card: session, user, own DMP, event (1), allergies
    url = reverse("records:allergy_card_patient")
    assert len(_pinned(patient_client, url, 3 + EVENT_PATIENT + 1, django_assert_num_queries)) == 5


@pytest.mark.parametrize("size", SIZES)
def test_trend(
    size: int,
    alice: Patient,
    doctor: Professional,
    patient_client: Client,
    django_assert_num_queries: Any,
) -> None:
    for index in range(size):
        value = f"{5.5 + (index % 30) / 10:.1f}".replace(".", ",")
        unit = "%" if index % 5 else "mmol/mol"
        if unit == "mmol/mol":
            value = str(40 + index % 20)
        lab(doctor, alice, [ObservationInput("4548-4", value, unit)], day=days_ago(size - index))
    # session, user with the professional, DMP in scope, event (1), observations with their
    # reports
    url = reverse("records:trend_pro", args=[alice.public_id, "4548-4"])
    statements = _pinned(
        logged_in(doctor.user), url, 3 + EVENT_PRO + LOOK_PRO + 1, django_assert_num_queries
    )
    assert len(statements) == 5 + LOOK_PRO
    url = reverse("records:trend_patient", args=["4548-4"])
    assert len(_pinned(patient_client, url, 3 + EVENT_PATIENT + 1, django_assert_num_queries)) == 5
