"""The site navigation, the patient header's links and the language switcher's choices are
rendered once per language (and set of links: ``portal_tags.site_nav``,
``records_tags.records_nav``, ``portal_tags.language_options``): every page drawn from the kept
renderings is byte for byte the page the templates draw afresh, in French and in English,
escaping included, whatever was kept before it (another language, role, DMP or set of links).
When they were introduced, the pages were also compared with the former templates (commit
a18bad8); that copy is not kept, so that a change of a template is not a test to rewrite."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from dmp_portal.templatetags import portal_tags
from identity.models import Patient, Professional
from records.templatetags import records_tags
from tests.records.conftest import logged_in
from tests.records.helpers import lab, report
from tests.records.test_my_patients import another_patient

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script> O\'Brien & Fils'
# What differs from one response to the next whatever the templates: CSRF tokens, CSP nonces.
_PER_RESPONSE = re.compile(r'(name="csrfmiddlewaretoken" value|nonce)="[^"]+"')


def _page(client: Client, url: str, language: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, url
    return _PER_RESPONSE.sub(r'\1="…"', response.content.decode())


def _forget() -> None:
    portal_tags._navs_seen.clear()
    records_tags._navs_seen.clear()


def _fresh_and_kept(client: Client, url: str, language: str) -> tuple[str, str]:
    """The page drawn with nothing kept, and drawn again after the same page in the other
    language was kept first: from the kept renderings."""
    _forget()
    fresh = _page(client, url, language)
    _forget()
    _page(client, url, "en" if language == "fr" else "fr")
    return fresh, _page(client, url, language)


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
    hostile_alice: Patient, doctor: Professional, page: str, language: str
) -> None:
    url = reverse(page, args=[hostile_alice.public_id])
    fresh, now = _fresh_and_kept(logged_in(doctor.user), url, language)
    assert fresh == now
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#x27;Brien &amp; Fils" in now
    assert str(hostile_alice.public_id) in now and "d0c5" not in now


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_authorised_doctor_and_an_emergency_see_their_own_links(
    hostile_alice: Patient,
    authorised_doctor: Professional,
    emergency_doctor: Professional,
    language: str,
) -> None:
    url = reverse("records:timeline_pro", args=[hostile_alice.public_id])
    pages = {}
    for professional in (authorised_doctor, emergency_doctor):
        fresh, now = _fresh_and_kept(logged_in(professional.user), url, language)
        assert fresh == now
        pages[professional.pk] = now
    for professional in (authorised_doctor, emergency_doctor):  # each other's kept links
        assert _page(logged_in(professional.user), url, language) == pages[professional.pk]
    now = pages[emergency_doctor.pk]
    assert "notice-error" in now  # the emergency's notice, in the header


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("page", ["records:timeline_patient", "records:my_dmp"])
def test_the_patient_pages_are_unchanged(hostile_alice: Patient, page: str, language: str) -> None:
    client = logged_in(hostile_alice.user)  # type: ignore[arg-type]
    fresh, now = _fresh_and_kept(client, reverse(page), language)
    assert fresh == now


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_anonymous_and_administrator_navigation_is_unchanged(
    client: Client, administrator: Any, language: str
) -> None:
    fresh, now = _fresh_and_kept(client, reverse("account_login"), language)
    assert fresh == now
    fresh, now = _fresh_and_kept(logged_in(administrator), reverse("mfa_index"), language)
    assert fresh == now


def test_each_dmp_links_to_itself(alice: Patient, doctor: Professional) -> None:
    """Two DMPs, one kept rendering of their links: each page links to its own DMP only."""
    bob = another_patient(doctor, "MARTIN", "Bob", 1)
    client = logged_in(doctor.user)
    for patient, other in ((alice, bob), (bob, alice), (alice, bob)):
        page = _page(client, reverse("records:timeline_pro", args=[patient.public_id]), "fr")
        assert page.count(f"/pro/dmp/{patient.public_id}/") >= 4
        assert str(other.public_id) not in page
