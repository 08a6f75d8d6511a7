"""The professional's timeline: text search in titles and summaries, sort by date both ways,
and entries that matter whatever their age (active allergies) never hidden by the two-year
default window — a rule by entry kind (records.models.MATTERS_WHATEVER_ITS_AGE)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from identity.models import Patient, Professional
from records.models import MATTERS_WHATEVER_ITS_AGE, EntryKind
from tests.records.conftest import logged_in
from tests.records.helpers import allergy, days_ago, report

pytestmark = pytest.mark.django_db


def titles(doctor: Professional, patient: Patient, **params: Any) -> list[str]:
    url = reverse("records:timeline_pro", args=[patient.public_id])
    response = logged_in(doctor.user).get(url, params)
    assert response.status_code == 200
    return re.findall(r'class="doc-title" href="[^"]+">([^<]+)</a>', response.content.decode())


def test_search_in_titles_and_summaries(alice: Patient, doctor: Professional) -> None:
    report(doctor, alice, title="Échographie abdominale", body="Foie normal.")
    report(doctor, alice, title="Consultation de suivi", body="Diabète équilibré, HbA1c 6,1.")
    report(doctor, alice, title="Radio du thorax", body="Rien à signaler.")
    assert titles(doctor, alice, q="échographie") == ["Échographie abdominale"]
    assert titles(doctor, alice, q="DIABÈTE") == ["Consultation de suivi"]  # the summary
    assert titles(doctor, alice, q="suivi diabète") == ["Consultation de suivi"]
    assert titles(doctor, alice, q="introuvable") == []


def test_sort_by_date_either_way(alice: Patient, doctor: Professional) -> None:
    report(doctor, alice, title="Ancien", day=days_ago(100))
    report(doctor, alice, title="Récent", day=days_ago(1))
    report(doctor, alice, title="Milieu", day=days_ago(50))
    assert titles(doctor, alice) == ["Récent", "Milieu", "Ancien"]
    assert titles(doctor, alice, tri="date") == ["Ancien", "Milieu", "Récent"]
    assert titles(doctor, alice, tri="n'importe quoi") == ["Récent", "Milieu", "Ancien"]


def test_an_active_allergy_is_shown_whatever_its_age(alice: Patient, doctor: Professional) -> None:
    old = days_ago(5 * 365)
    report(doctor, alice, title="Vieux compte rendu", day=old)
    active = allergy(doctor, alice, recorded_on=old)
    allergy(
        doctor,
        alice,
        substance_code="",
        substance_label="Latex",
        category="environment",
        recorded_on=old,
        clinical_status="resolved",
    )
    shown = titles(doctor, alice)
    assert shown == [active.title]  # the report and the resolved allergy: outside the window
    url = reverse("records:timeline_pro", args=[alice.public_id])
    assert "toujours affiché (actif)" in logged_in(doctor.user).get(url).content.decode()
    assert len(titles(doctor, alice, tout="on")) == 3


def test_the_rule_is_one_line_per_entry_kind() -> None:
    assert set(MATTERS_WHATEVER_ITS_AGE) == {
        EntryKind.ALLERGY,
        EntryKind.PROBLEM,
        EntryKind.TREATMENT,
    }


def test_the_filters_kept_per_query_and_language_never_with_typed_words(
    alice: Patient, doctor: Professional
) -> None:
    """The filter form's HTML is kept for the same query (records.views.documents): the
    reader's language, the chosen values and the errors still show, typed words are not kept."""
    from records.views import documents

    documents._filters_seen.clear()
    url = reverse("records:timeline_pro", args=[alice.public_id])
    client = logged_in(doctor.user)
    french = client.get(url, {"tri": "date"}, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    english = client.get(url, {"tri": "date"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Type de document" in french and "Type de document" not in english
    assert '<option value="date" selected>' in french
    assert '<option value="date" selected>' in english
    wrong = client.get(url, {"du": "1800-01-01"}, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Choisissez une date entre" in wrong
    again = client.get(url, {"du": "1800-01-01"}, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Choisissez une date entre" in again
    typed = client.get(url, {"q": "diabète"}, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert 'value="diabète"' in typed
    assert not any("diabète" in html for html in documents._filters_seen.values())
    assert len(documents._filters_seen) == 3
