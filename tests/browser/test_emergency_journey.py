"""A professional uses bris de glace in the browser; Alice sees it in her access history."""

from __future__ import annotations

from typing import Any

import pytest

from identity.models import Patient, Professional
from tests.browser.conftest import screenshot
from tests.cast import PASSWORD, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Any, base: str, email: str, *, totp: bool) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Courriel").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    if totp:
        page.get_by_label("Code").fill(totp_code())
        page.get_by_role("button", name="Connexion", exact=True).click()


def open_emergency_form(page: Any, base: str, insc: str) -> None:
    """Search the DMP by INS-C, then follow the result's emergency link."""
    page.goto(f"{base}/pro/dmp/rechercher/")
    page.get_by_label("INS-C (22 chiffres)").fill(insc)
    page.locator("form:has(input[name=by][value=insc])").get_by_role("button").click()
    assert insc not in page.url  # a POST: the INS-C stays out of the address bar
    page.get_by_role("link", name="Accès en urgence (bris de glace)").click()


def test_bris_de_glace_then_alice_reads_it(
    live_server: Any, page: Any, alice: Patient, stranger_doctor: Professional
) -> None:
    base = live_server.url
    _login(page, base, stranger_doctor.user.email, totp=True)
    page.wait_for_url(f"{base}/")
    open_emergency_form(page, base, alice.insc)
    page.get_by_label("Motif de l'urgence").select_option("unconscious")
    page.get_by_label("Précisions").fill("Patiente inconsciente aux urgences")
    page.get_by_role("button", name="Déclarer l'urgence et accéder").click()
    # A sensitive act: allauth asks for the password again, then replays the declaration.
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Confirmer").click()
    banner = page.locator(".banner-emergency")
    assert banner.is_visible()
    assert "bris de glace" in banner.inner_text()
    assert alice.insc in page.content()
    screenshot(page, "emergency-banner")

    alice_page = page.context.browser.new_context(locale="fr-FR").new_page()
    alice_page.set_default_timeout(15_000)
    _login(alice_page, base, alice.user.email, totp=True)  # every patient has one
    alice_page.goto(f"{base}/mon-dmp/historique/")
    visits = alice_page.locator("li.visit-emergency")
    # The declaration and the read: one visit in emergency mode, two events under it.
    assert visits.count() == 1
    assert "Sam Stranger" in visits.first.inner_text()
    assert "a déclaré un accès en urgence" in visits.first.inner_text()
    assert visits.first.locator("details tbody tr").count() >= 2
    screenshot(alice_page, "alice-history")
    alice_page.goto(f"{base}/mon-dmp/")
    assert "en urgence (bris de glace)" in alice_page.content()
