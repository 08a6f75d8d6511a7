"""The synthèse at the top of the professional's DMP page and the patient's home: severe
allergies first whatever their date, every visibility rule applied, a query count fixed
whatever the size of the DMP, and what is new since the professional's last access."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from identity.models import Patient, Professional
from records.services import profile as services
from records.services.entries import entry_mask
from records.services.synthesis import entries_new_since_last_access, last_access_at
from tests.records.conftest import logged_in
from tests.records.helpers import LAST_LOOK, allergy, days_ago, lab, report

pytestmark = pytest.mark.django_db


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _synthesis(text: str) -> str:
    """The synthèse's section of a page."""
    start = text.index('class="synthesis"')
    return text[start : text.index("</section>", start)]


def _home(patient: Patient) -> str:
    return reverse("records:patient_home", args=[patient.public_id])


def test_a_severe_allergy_comes_first_whatever_its_date(
    alice: Patient, doctor: Professional
) -> None:
    allergy(
        doctor,
        alice,
        substance_code="aliment:arachide",
        severity="mild",
        criticality="low",
        reactions="Prurit",
    )
    allergy(doctor, alice, recorded_on=days_ago(3000))  # penicillins, severe, eight years ago
    synthesis = _synthesis(_page(logged_in(doctor.user), _home(alice)))
    assert synthesis.index("Pénicillines") < synthesis.index("Arachide")
    assert "⚠" in synthesis.split("Pénicillines")[0].rsplit("<li", 1)[1]


def test_it_gathers_the_profile_and_links_each_fact(alice: Patient, doctor: Professional) -> None:
    problem = services.problem_record(actor=doctor.user, patient=alice, cim10_code="E11")
    services.problem_record(
        actor=doctor.user, patient=alice, label="Appendicectomie", status="resolved"
    )
    treatment = services.treatment_record(
        actor=doctor.user, patient=alice, medicine="Metformine", start_date=days_ago(100)
    )
    services.treatment_record(
        actor=doctor.user,
        patient=alice,
        medicine="Gliclazide",
        start_date=days_ago(900),
        end_date=days_ago(400),
    )
    for kind, value in (("weight", "80"), ("height", "160")):
        services.measure_record(
            actor=doctor.user, patient=alice, kind=kind, value=value, measured_on=days_ago(5)
        )
    services.measure_record(
        actor=alice.user,  # type: ignore[arg-type]
        patient=alice,
        kind="weight",
        value="79",
        measured_on=days_ago(1),
    )
    services.wishes_record(
        actor=alice.user,  # type: ignore[arg-type]
        patient=alice,
        trusted_name="Paul Dupont",
        trusted_relation="époux",
    )
    lab(doctor, alice)  # HbA1c 6,1 % above 6: abnormal
    synthesis = _synthesis(_page(logged_in(doctor.user), _home(alice)))
    assert f"/document/{problem.public_id}/" in synthesis
    assert f"/document/{treatment.public_id}/" in synthesis
    assert "Metformine" in synthesis and "Gliclazide" not in synthesis  # stopped: history only
    assert "Appendicectomie" in synthesis.split("Antécédents")[1]
    assert "79,0 kg" in synthesis and "80,0 kg" not in synthesis  # the latest weight only
    assert "saisie par le patient" in synthesis
    assert "30,9 kg/m²" in synthesis  # BMI of 79 kg for 1,60 m
    assert "Paul Dupont (époux)" in synthesis
    assert "Bilan biologique" in synthesis.split("Résultats anormaux récents")[1]
    assert "en retard" in synthesis  # her adult booster: nothing recorded


def test_it_obeys_every_visibility_rule(
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    pharmacist: Professional,
) -> None:
    hidden = services.problem_record(actor=doctor.user, patient=alice, label="Problème masqué")
    entry_mask(actor=alice.user, entry=hidden, masked=True)  # type: ignore[arg-type]
    report(doctor, alice, title="CR opératoire secret", document_type="34874-8")
    report(doctor, alice, title="Annonce à venir", invisible_to_patient=True)
    traitant = _synthesis(_page(logged_in(doctor.user), _home(alice)))
    authorised = _synthesis(_page(logged_in(authorised_doctor.user), _home(alice)))
    pharmacy = _synthesis(_page(logged_in(pharmacist.user), _home(alice)))
    own = _synthesis(_page(logged_in(alice.user), reverse("records:my_dmp")))  # type: ignore[arg-type]
    assert "Problème masqué" in traitant and "Problème masqué" in own
    assert "Problème masqué" not in authorised
    assert "CR opératoire secret" in authorised and "CR opératoire secret" not in pharmacy
    assert "Annonce à venir" in traitant and "Annonce à venir" not in own


def test_what_is_new_since_the_last_access(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    client = logged_in(authorised_doctor.user)
    first = _page(client, _home(alice))
    assert "depuis votre dernier accès" not in first  # never accessed before
    since = last_access_at(authorised_doctor.user, alice)
    assert since is not None
    services.problem_record(actor=doctor.user, patient=alice, cim10_code="N18.3")
    services.measure_record(
        actor=alice.user,  # type: ignore[arg-type]
        patient=alice,
        kind="weight",
        value="70",
        measured_on=timezone.localdate(),
    )
    services.measure_record(
        actor=authorised_doctor.user,
        patient=alice,
        kind="height",
        value="165",
        measured_on=timezone.localdate(),
    )
    new = entries_new_since_last_access(authorised_doctor.user, alice, since)
    assert new is not None and new.total == 2  # their own deposit is not news to them
    assert dict(new.counts) == {"Problème ou antécédent": 1, "Mesure": 1}
    second = _page(client, _home(alice))
    assert "2 nouveautés depuis votre dernier accès" in second
    assert "Maladie rénale chronique stade 3" in second.split("nouveautés")[1]
    third = _page(client, _home(alice))
    assert "depuis votre dernier accès" not in third  # seen now


# --- Pinned query counts --------------------------------------------------------------------------


def _fill(doctor: Professional, alice: Patient, size: int) -> None:
    """``size`` entries of every kind the synthèse reads."""
    makers = [
        lambda i: services.measure_record(
            actor=doctor.user,
            patient=alice,
            kind=("weight", "blood_pressure", "heart_rate")[i % 3],
            value=str(70 + i % 20),
            value2="60",
            measured_on=days_ago(i % 700),
        ),
        lambda i: services.problem_record(actor=doctor.user, patient=alice, label=f"P{i}"),
        lambda i: services.treatment_record(
            actor=doctor.user, patient=alice, medicine=f"T{i}", start_date=days_ago(i % 700)
        ),
        lambda i: services.vaccination_record(
            actor=doctor.user, patient=alice, vaccine_code="influenza", given_on=days_ago(i % 700)
        ),
        lambda i: allergy(
            doctor, alice, substance_code="", substance_label=f"S{i}", category="food"
        ),
        lambda i: report(doctor, alice, title=f"CR {i}", day=days_ago(i % 700)),
        lambda i: lab(doctor, alice, day=days_ago(i % 700)),
    ]
    for index in range(size):
        makers[index % len(makers)](index)


def _count(client: Client, url: str, expected: int, assert_num_queries: Any) -> None:
    client.get(url)  # warm-up: the session's timestamps are written once
    with assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200


@pytest.mark.parametrize("size", [1, 1000])
def test_the_synthese_costs_the_same_at_1_and_1000_entries(
    size: int, alice: Patient, doctor: Professional, django_assert_num_queries: Any
) -> None:
    _fill(doctor, alice, size)
    # Session, user (with the professional), the DMP in scope, the last access (trail), the
    # event (one INSERT: the trail has no chain head), the matrix row (deposit types), then
    # the synthèse (8): problems, latest measures (one window query), vaccinations, documents,
    # abnormal results, allergies, treatments, wishes; and what is new since the last access
    # (2: counts per kind, list).
    # 15, and the upsert of when the doctor last looked (records.looks.LastLook), a statement
    # of its own but on PostgreSQL.
    _count(logged_in(doctor.user), _home(alice), 15 + LAST_LOOK, django_assert_num_queries)
    # Alice has a second factor (every patient has one), remembered in the session.
    # Session, user, own DMP, the event (1), transitions, notifications, the synthèse (8).
    _count(
        logged_in(alice.user),  # type: ignore[arg-type]
        reverse("records:my_dmp"),
        14,
        django_assert_num_queries,
    )


def test_the_synthese_in_english(alice: Patient, doctor: Professional) -> None:
    services.problem_record(actor=doctor.user, patient=alice, label="Raynaud")
    allergy(doctor, alice)
    response = logged_in(doctor.user).get(_home(alice), HTTP_ACCEPT_LANGUAGE="en")
    text = html.unescape(response.content.decode())
    for words in ("Summary", "Active problems", "uncoded", "Vaccinations due", "overdue"):
        assert words in text, words
    assert "Synthèse" not in text and "Problèmes actifs" not in text
