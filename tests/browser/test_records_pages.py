"""The records pages in a real Chromium, with the demo's content for Alice: the timeline, a
lab report, the HbA1c and creatinine trends, the allergy card (screen and print)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from identity.models import Patient, Professional, User
from records.demo import seed_records
from records.models import Entry
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page: Any, base: str, user: User) -> None:
    """Force-login cookie: the login form itself is covered by test_login_journey."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": cookie.key, "value": cookie.value, "url": base, "httpOnly": True}]
    )


@pytest.fixture
def demo_alice(
    settings: Any,
    tmp_path: Path,
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
) -> Patient:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    seed_records(
        {"alice.dupont": alice},
        {"dr.martin": doctor.user, "ide.moreau": authorised_doctor.user},
    )
    return alice


def test_records_pages_render_in_french(
    live_server: Any, page: Any, demo_alice: Patient, doctor: Professional
) -> None:
    base = live_server.url
    _log_in(page, base, doctor.user)
    alice = demo_alice

    page.goto(f"{base}/pro/dmp/{alice.public_id}/documents/?tout=on")
    assert page.get_by_role("heading", level=1).inner_text() == "Documents du DMP"
    assert page.get_by_text("Invisible pour le patient").first.is_visible()
    assert page.get_by_text("Remplacé").first.is_visible()
    assert page.get_by_text("Résultat anormal").first.is_visible()
    screenshot(page, "records-timeline-pro")

    latest_lab = Entry.objects.filter(kind="lab_report").order_by("-act_date").first()
    assert latest_lab is not None
    page.goto(f"{base}/document/{latest_lab.public_id}/")
    assert page.get_by_role("table").first.is_visible()
    screenshot(page, "records-lab-report")

    page.get_by_role("link", name="Hémoglobine glyquée (HbA1c)").click()
    page.wait_for_url("**/biologie/tendance/4548-4/")
    assert page.locator("figure svg").is_visible()
    assert page.locator(".trend-table .badge", has_text="converti").first.is_visible()
    screenshot(page, "records-trend-hba1c")

    page.goto(f"{base}/pro/dmp/{alice.public_id}/biologie/tendance/2160-0/")
    assert page.locator(".trend-table .badge", has_text="intervalle modifié").first.is_visible()
    screenshot(page, "records-trend-creatinine")

    page.goto(f"{base}/pro/dmp/{alice.public_id}/allergies/carte/")
    card = page.locator(".allergy-card")
    assert "Pénicillines" in card.inner_text() and "Arachide" in card.inner_text()
    assert "contraste" not in card.inner_text()  # refuted: not on the card
    screenshot(page, "records-allergy-card")
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    screenshot(page, "records-allergy-card-print")
    page.emulate_media(media="screen")

    page.goto(f"{base}/pro/dmp/{alice.public_id}/biologie/nouveau/")
    rows = page.locator("[data-row]:visible")
    before = rows.count()
    page.get_by_role("button", name="Ajouter des lignes").click()  # the script adds one row
    assert page.locator("[data-row]:visible").count() == before + 1
    screenshot(page, "records-lab-form")


def test_patient_sees_own_documents(live_server: Any, page: Any, demo_alice: Patient) -> None:
    base = live_server.url
    assert demo_alice.user is not None
    _log_in(page, base, demo_alice.user)
    page.goto(f"{base}/mon-dmp/documents/")
    assert page.get_by_role("heading", level=1).inner_text() == "Mes documents"
    assert "anatomopathologique" not in page.content()  # not yet announced
    screenshot(page, "records-timeline-patient")
    page.get_by_role("link", name="CR opératoire — cholécystectomie cœlioscopique").click()
    assert page.get_by_text("Qui peut voir ce document, et pourquoi").is_visible()
    assert page.get_by_role("link", name="Télécharger le PDF").is_visible()
    screenshot(page, "records-entry-patient")
