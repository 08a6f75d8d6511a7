"""The site navigation and the patient header's links are rendered once per language and set of
links (``portal_tags.site_nav``, ``records_tags.records_nav``): every page stays byte for byte
what the former templates drew (kept in ``before/``: ``base.html`` including ``_nav.html``,
the patient header drawing its links itself), in French and in English, escaping included."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional
from tests.records.conftest import logged_in
from tests.records.helpers import lab, report
from tests.records.test_my_patients import another_patient

pytestmark = pytest.mark.django_db

BEFORE = Path(__file__).parent / "before"
HOSTILE = '<script>alert("x")</script> O\'Brien & Fils'
# What differs from one response to the next whatever the templates: CSRF tokens, CSP nonces.
_PER_RESPONSE = re.compile(r'(name="csrfmiddlewaretoken" value|nonce)="[^"]+"')


def _page(client: Client, url: str, language: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, url
    return _PER_RESPONSE.sub(r'\1="…"', response.content.decode())


def _before_and_now(settings: Any, client: Client, url: str, language: str) -> tuple[str, str]:
    now = _page(client, url, language)
    again = _page(client, url, language)  # the kept rendering, not only the first one
    assert again == now
    templates = [dict(engine) for engine in settings.TEMPLATES]
    templates[0]["DIRS"] = [BEFORE, *templates[0]["DIRS"]]
    settings.TEMPLATES = templates
    before = _page(client, url, language)
    return before, now


@pytest.fixture
def hostile_alice(alice: Patient, doctor: Professional) -> Patient:
    Patient.objects.filter(pk=alice.pk).update(used_name=HOSTILE)
    report(doctor, alice, title=HOSTILE)
    lab(doctor, alice)
    alice.refresh_from_db()
    return alice


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize(
    "page", ["records:timeline_pro", "records:patient_home", "imaging:patient_studies"]
)
def test_a_professional_page_is_unchanged(
    settings: Any, hostile_alice: Patient, doctor: Professional, page: str, language: str
) -> None:
    url = reverse(page, args=[hostile_alice.public_id])
    before, now = _before_and_now(settings, logged_in(doctor.user), url, language)
    assert before == now
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#x27;Brien &amp; Fils" in now
    assert str(hostile_alice.public_id) in now and "d0c5" not in now


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_authorised_doctor_and_an_emergency_see_their_own_links(
    settings: Any,
    hostile_alice: Patient,
    authorised_doctor: Professional,
    emergency_doctor: Professional,
    language: str,
) -> None:
    url = reverse("records:timeline_pro", args=[hostile_alice.public_id])
    for professional in (authorised_doctor, emergency_doctor):
        client = logged_in(professional.user)
        now = _page(client, url, language)
        before, again = _before_and_now(settings, client, url, language)
        assert before == again == now
        settings.TEMPLATES = [
            {**engine, "DIRS": [d for d in engine["DIRS"] if d != BEFORE]}
            for engine in settings.TEMPLATES
        ]
    assert "notice-error" in now  # the emergency's notice, in the header


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("page", ["records:timeline_patient", "records:my_dmp"])
def test_the_patient_pages_are_unchanged(
    settings: Any, hostile_alice: Patient, page: str, language: str
) -> None:
    client = logged_in(hostile_alice.user)  # type: ignore[arg-type]
    before, now = _before_and_now(settings, client, reverse(page), language)
    assert before == now


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_anonymous_and_administrator_navigation_is_unchanged(
    settings: Any, client: Client, administrator: Any, language: str
) -> None:
    before, now = _before_and_now(settings, client, reverse("account_login"), language)
    assert before == now
    settings.TEMPLATES = [
        {**engine, "DIRS": [d for d in engine["DIRS"] if d != BEFORE]}
        for engine in settings.TEMPLATES
    ]
    before, now = _before_and_now(
        settings, logged_in(administrator), reverse("mfa_index"), language
    )
    assert before == now


def test_each_dmp_links_to_itself(alice: Patient, doctor: Professional) -> None:
    """Two DMPs, one kept rendering of their links: each page links to its own DMP only."""
    bob = another_patient(doctor, "MARTIN", "Bob", 1)
    client = logged_in(doctor.user)
    for patient, other in ((alice, bob), (bob, alice), (alice, bob)):
        page = _page(client, reverse("records:timeline_pro", args=[patient.public_id]), "fr")
        assert page.count(f"/pro/dmp/{patient.public_id}/") >= 4
        assert str(other.public_id) not in page
