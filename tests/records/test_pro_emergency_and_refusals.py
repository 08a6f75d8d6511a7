"""What a professional is told: the emergency form names the patient and has no default
reason; a blocked professional or an opposed emergency is told before any form; during an
emergency access nothing offers a deposit and a direct deposit URL says why; each 403 says
what is actually the case."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional
from records.models import CareRelation, EmergencyAccess
from tests.cast import fresh_login, make_staff_viewer
from tests.records.conftest import logged_in

pytestmark = pytest.mark.django_db

EMERGENCY = reverse("records:emergency")
SEARCH = reverse("records:patient_search")


def _search(client: Client, patient: Patient) -> tuple[str, str | None]:
    response = client.post(SEARCH, {"by": "insc", "insc": patient.insc})
    assert response.status_code == 200
    return response.content.decode(), response.context["emergency_target"]


def test_the_emergency_form_names_the_patient_and_the_reason_has_no_default(
    client: Client, alice: Patient, stranger_doctor: Professional
) -> None:
    fresh_login(client, stranger_doctor.user)
    _body, target = _search(client, alice)
    body = client.get(EMERGENCY, {"cible": target}).content.decode()
    assert "DUPONT Alice Marie" in body
    assert "14/05/1985" in body
    assert alice.insc in body
    select = re.search(r'<select name="reason".*?</select>', body, re.S)
    assert select is not None
    options = re.findall(r'<option value="([^"]*)"( selected)?', select.group(0))
    assert options[0] == ("", " selected")  # the placeholder, nothing chosen
    assert all(not chosen for value, chosen in options[1:])

    response = client.post(EMERGENCY, {"insc": alice.insc, "reason_text": "chute"})
    assert "Choisissez le motif de l&#x27;urgence." in response.content.decode()
    assert "DUPONT Alice Marie" in response.content.decode()  # still named
    assert not EmergencyAccess.objects.exists()


def test_no_patient_no_emergency_form(client: Client, stranger_doctor: Professional) -> None:
    fresh_login(client, stranger_doctor.user)
    body = client.get(EMERGENCY).content.decode()
    assert "Aucun patient choisi" in body
    assert 'name="reason"' not in body and "Déclarer l" not in body


def test_a_blocked_professional_is_told_before_any_form(
    client: Client, alice: Patient, blocked_doctor: Professional
) -> None:
    fresh_login(client, blocked_doctor.user)
    body, target = _search(client, alice)
    assert "Ce patient vous a bloqué" in body
    assert 'name="consent"' not in body
    assert "bris de glace" not in body.split("<main", 1)[1]
    assert target is None
    # Even a token forged from another search names no form: the emergency page says it too.
    session = client.session
    session["dmp_targets"] = {"t": {"insc": alice.insc, "at": 10**10}}
    session.save()
    page = client.get(EMERGENCY, {"cible": "t"}).content.decode()
    assert "Le patient vous a bloqué" in page and 'name="reason"' not in page
    response = client.post(EMERGENCY, {"insc": alice.insc, "reason": "vital"})
    assert "Le patient vous a bloqué" in response.content.decode()
    assert not EmergencyAccess.objects.exists()
    assert CareRelation.objects.get(professional=blocked_doctor).status == "blocked"


def test_an_opposition_is_told_before_the_form(
    client: Client, alice: Patient, stranger_doctor: Professional
) -> None:
    Patient.objects.filter(pk=alice.pk).update(opposes_bris_de_glace=True)
    fresh_login(client, stranger_doctor.user)
    _body, target = _search(client, alice)
    page = client.get(EMERGENCY, {"cible": target}).content.decode()
    assert "DUPONT Alice Marie" in page
    assert "Le patient s&#x27;est opposé à l&#x27;accès à son DMP en urgence" in page
    assert 'name="reason"' not in page


def test_emergency_access_offers_no_deposit_and_a_direct_url_says_why(
    alice: Patient, emergency_doctor: Professional
) -> None:
    client = logged_in(emergency_doctor.user)
    deposit_urls = [
        reverse(name, args=[alice.public_id])
        for name in ("records:lab_report_new", "records:report_new", "records:allergy_new")
    ]
    for page in ("records:patient_home", "records:timeline_pro", "records:allergy_card_pro"):
        body = client.get(reverse(page, args=[alice.public_id])).content.decode()
        assert not any(url in body for url in deposit_urls), page
        assert "consultation seulement" in body, page
    for url in deposit_urls:
        response = client.get(url)
        assert response.status_code == 403
        body = response.content.decode().replace("&#x27;", "'")
        assert "En accès d'urgence, consultation seulement" in body


def test_normal_access_offers_the_deposits(alice: Patient, doctor: Professional) -> None:
    body = logged_in(doctor.user).get(reverse("records:timeline_pro", args=[alice.public_id]))
    text = body.content.decode()
    assert reverse("records:report_new", args=[alice.public_id]) in text
    assert "consultation seulement" not in text


@pytest.mark.parametrize(
    ("who", "url", "told"),
    [
        ("doctor", "records:my_dmp", "réservée aux patients, pour leur propre DMP"),
        ("administrator", "records:patient_search", "Un compte administrateur ne donne aucun"),
        ("alice", "records:patient_search", "réservée aux professionnels de santé"),
        ("unverified", "records:patient_search", "doit être vérifié par un administrateur"),
    ],
)
def test_each_refusal_says_what_is_the_case(
    who: str,
    url: str,
    told: str,
    alice: Patient,
    doctor: Professional,
    unverified_doctor: Professional,
) -> None:
    user = {
        "doctor": doctor.user,
        "administrator": make_staff_viewer("staff@test.example"),
        "alice": alice.user,
        "unverified": unverified_doctor.user,
    }[who]
    response = logged_in(user).get(reverse(url))  # type: ignore[arg-type]
    assert response.status_code == 403
    body = response.content.decode().replace("&#x27;", "'")
    assert told in body
    if who != "unverified":
        assert "doit être vérifié" not in body


def test_refusals_in_english(alice: Patient, emergency_doctor: Professional) -> None:
    client = logged_in(emergency_doctor.user)
    client.cookies["django_language"] = "en"
    response = client.get(reverse("records:report_new", args=[alice.public_id]))
    assert response.status_code == 403
    assert "read only" in response.content.decode()
