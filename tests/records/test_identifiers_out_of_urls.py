"""No patient identifier in a URL (QUALITY.md §3): the professional's journeys — search by
INS-C and by carte Vitale, opening an existing DMP, attesting consent, emergency access,
reopening a closed DMP — walked through the real views, and every Location header and every
link or form action of every page they show is checked for the INS-C, the NIR and the names.
URLs end up in access logs, browser history and Referer headers; DMPs are named there by
their opaque public id only."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

import pytest
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional
from records.services import lifecycle
from tests.cast import ALICE_NIR, ALICE_TRAITS, fresh_login, make_professional

pytestmark = pytest.mark.django_db

_URL_ATTRIBUTES = re.compile(r'(?:href|action|src|formaction)="([^"]*)"')


class Walk:
    """A professional's browser: every answer's Location and page URLs are kept."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.urls: list[str] = []

    def _keep(self, response: Any) -> Any:
        if response.has_header("Location"):
            self.urls.append(response["Location"])
        if not response.streaming and "html" in response.get("Content-Type", ""):
            self.urls += _URL_ATTRIBUTES.findall(response.content.decode())
        return response

    def get(self, url: str, data: dict[str, str] | None = None) -> Any:
        return self._keep(self.client.get(url, data))

    def post(self, url: str, data: dict[str, str] | None = None) -> Any:
        return self._keep(self.client.post(url, data or {}))

    def links(self, text: str) -> list[str]:
        """The URLs kept so far that point to the page named ``text``."""
        return [url for url in self.urls if url.startswith(text)]


def _identifiers(patient: Patient) -> list[str]:
    nir = ALICE_NIR.replace(" ", "")
    return [patient.insc, nir, nir[:13], patient.birth_name, *patient.first_names.split()]


def _leaks(walk: Walk, patient: Patient) -> list[tuple[str, str]]:
    found = []
    for url in walk.urls:
        readable = unquote_plus(url.replace("&amp;", "&")).lower()
        found += [(url, s) for s in _identifiers(patient) if s.lower() in readable]
    return found


def _opening_data() -> dict[str, str]:
    return {
        "birth_name": ALICE_TRAITS.birth_name,
        "first_names": ALICE_TRAITS.first_names,
        "sex": ALICE_TRAITS.sex,
        "birth_date": ALICE_TRAITS.birth_date.isoformat(),
        "nir": ALICE_NIR,
        "consent": "on",
    }


def test_the_stranger_journeys_put_no_identifier_in_a_url(
    alice: Patient, stranger_doctor: Professional, django_capture_on_commit_callbacks: Any
) -> None:
    walk = Walk(Client())
    fresh_login(walk.client, stranger_doctor.user)
    search = reverse("records:patient_search")
    walk.get(search)
    by_insc = walk.post(search, {"by": "insc", "insc": alice.insc})
    assert by_insc.context["state"] == "no_access"
    walk.post(
        search,
        {
            "by": "card",
            "first_names": ALICE_TRAITS.first_names,
            "birth_date": ALICE_TRAITS.birth_date.isoformat(),
            "nir": ALICE_NIR,
        },
    )
    # Opening a DMP that exists shows what a search shows.
    walk.post(reverse("records:dmp_open"), _opening_data())
    # Each emergency link leads to a form that names its patient.
    emergency_links = walk.links(reverse("records:emergency"))
    assert len(emergency_links) >= 2  # bris de glace, from both searches
    for link in emergency_links:
        page = walk.get(link.replace("&amp;", "&"))
        assert page.status_code == 200
        assert alice.insc in page.content.decode()  # in the page, never in its URL
        assert page.context["form"].initial["insc"] == alice.insc
    with django_capture_on_commit_callbacks(execute=True):
        declared = walk.post(
            reverse("records:emergency"), {"insc": alice.insc, "reason": "unconscious"}
        )
    assert declared.status_code == 302
    walk.get(declared["Location"])
    assert _leaks(walk, alice) == []


def test_consent_reopening_and_reauthentication_put_no_identifier_in_a_url(
    alice: Patient, stranger_doctor: Professional
) -> None:
    # An old session: the sensitive act sends it to re-authenticate, with the path to replay.
    walk = Walk(Client())
    walk.client.force_login(stranger_doctor.user)
    to_confirm = walk.post(reverse("records:attest_consent"), {"insc": alice.insc, "consent": "on"})
    assert to_confirm["Location"].startswith(reverse("account_reauthenticate"))
    fresh_login(walk.client, stranger_doctor.user)
    granted = walk.post(reverse("records:attest_consent"), {"insc": alice.insc, "consent": "on"})
    walk.get(granted["Location"])
    assert granted["Location"] == reverse("records:patient_home", args=[alice.public_id])

    lifecycle.dmp_close(actor=alice.user, patient=alice)  # type: ignore[arg-type]
    other = make_professional("other@test.example", first_name="Olga", last_name="Autre")
    walk = Walk(Client())
    fresh_login(walk.client, other.user)
    closed = walk.post(reverse("records:patient_search"), {"by": "insc", "insc": alice.insc})
    assert closed.context["state"] == "closed"
    reopened = walk.post(
        reverse("records:dmp_reopen_by_professional"), {"insc": alice.insc, "consent": "on"}
    )
    walk.get(reopened["Location"])
    assert _leaks(walk, alice) == []


def test_the_doctor_who_opens_an_existing_dmp_is_sent_by_public_id(
    alice: Patient, doctor: Professional
) -> None:
    walk = Walk(Client())
    fresh_login(walk.client, doctor.user)
    response = walk.post(reverse("records:dmp_open"), _opening_data())
    assert response["Location"] == reverse("records:patient_home", args=[alice.public_id])
    walk.get(response["Location"])
    assert _leaks(walk, alice) == []
