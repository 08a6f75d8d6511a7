"""The synthèse in a real Chromium, with the demo's profile for Alice: as her médecin
traitant, as a pharmacist (the profession × type matrix applied) and as Alice herself, in
French and English, on a desktop and on a 390 px wide phone (no horizontal scrolling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from identity.models import Patient, Profession, Professional, User
from records.demo import seed_records
from records.models import AuthorisationReason, ProfessionDocumentRule
from records.services.care import care_authorise
from tests.browser.conftest import screenshot
from tests.browser.test_records_pages import _log_in
from tests.cast import make_professional

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "390px": {"width": 390, "height": 844}}
_FITS = """() => {
  const box = document.querySelector('.synthesis');
  const inside = [box, ...box.querySelectorAll('*')];
  return inside.every(el => el.getBoundingClientRect().right <= window.innerWidth + 0.5);
}"""
HEADINGS = {"fr": ("Synthèse", "Allergies"), "en": ("Summary", "Allergies")}


@pytest.fixture
def pharmacist(alice: Patient, administrator: User) -> Professional:
    """A pharmacist Alice authorised (the matrix hides pathology reports from them)."""
    # The default matrix is migration data, which a transactional test before this one may
    # have flushed: the one cell this test relies on is set here.
    ProfessionDocumentRule.objects.get_or_create(
        profession=Profession.PHARMACIEN, document_type="60568-3"
    )
    professional = make_professional(
        "ph.synthese@test.example",
        verifier=administrator,
        profession=Profession.PHARMACIEN,
        specialty="",
    )
    assert alice.user is not None
    care_authorise(
        actor=alice.user,
        patient=alice,
        professional=professional,
        reason=AuthorisationReason.PATIENT,
    )
    return professional


@pytest.fixture
def demo_alice(
    settings: Any,
    tmp_path: Path,
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    pharmacist: Professional,
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


def _shoot(browser: Any, base: str, user: User, url: str, name: str) -> dict[str, str]:
    """The page at every language and width; its synthèse's text by variant."""
    texts = {}
    for lang in ("fr", "en"):
        for label, viewport in VIEWPORTS.items():
            context = browser.new_context(locale=lang, viewport=viewport)
            page = context.new_page()
            page.set_default_timeout(15_000)
            _log_in(page, base, user)
            page.goto(f"{base}{url}")
            synthesis = page.locator(".synthesis")
            assert synthesis.get_by_role("heading", name=HEADINGS[lang][0]).is_visible()
            # The synthèse fits the width (the rest of the patient's home is reworked for
            # phones by another branch).
            fits = page.evaluate(_FITS)
            assert fits, f"{name} {lang} {label}: the synthèse scrolls horizontally"
            texts[f"{lang}-{label}"] = synthesis.inner_text()
            screenshot(page, f"synthese-{name}-{lang}-{label}")
            context.close()
    return texts


def test_the_synthese_for_the_doctor_the_pharmacist_and_alice(
    live_server: Any,
    browser: Any,
    demo_alice: Patient,
    doctor: Professional,
    pharmacist: Professional,
) -> None:
    base = live_server.url
    home = f"/pro/dmp/{demo_alice.public_id}/"
    doctor_view = _shoot(browser, base, doctor.user, home, "dr-martin")["fr-desktop"]
    allergies = doctor_view.split("Problèmes actifs")[0]
    assert allergies.index("Pénicillines") < allergies.index("Arachide")  # severe first
    assert "Diabète sucré de type 2" in doctor_view and "Metformine" in doctor_view
    assert "Paul Dupont" in doctor_view and "en retard" in doctor_view
    assert "Examen anatomopathologique" in doctor_view.split("Derniers documents")[1]
    pharmacy = _shoot(browser, base, pharmacist.user, home, "pharmacien")["fr-desktop"]
    # The matrix: a pharmacist reads no pathology report.
    assert "Pénicillines" in pharmacy and "anatomopathologique" not in pharmacy
    assert demo_alice.user is not None
    own = _shoot(browser, base, demo_alice.user, "/mon-dmp/", "alice")
    assert "saisie par le patient" in own["fr-desktop"]  # her own measures, marked
    assert "Latest measures" in own["en-390px"] and "Paul Dupont" in own["en-390px"]
