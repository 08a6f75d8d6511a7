"""A doctor opens a DMP in the browser and prints the letter; the patient activates the
account with the code and logs in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from identity.models import Patient, Professional
from tests.browser.conftest import screenshot
from tests.cast import PASSWORD, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login_professional(page: Any, base: str, professional: Professional) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Courriel").fill(professional.user.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button", name="Connexion", exact=True).click()
    page.wait_for_url(f"{base}/")


def test_open_print_activate_login(live_server: Any, page: Any, doctor: Professional) -> None:
    base = live_server.url
    _login_professional(page, base, doctor)
    page.get_by_role("link", name="Ouvrir un DMP").first.click()
    page.get_by_label("Nom de naissance").fill("Durand")
    page.get_by_label("Prénom(s)").fill("Léa")
    page.get_by_label("Féminin").check()
    page.get_by_label("Date de naissance").fill("1990-03-21")
    page.get_by_label("NIR (numéro de sécurité sociale du patient)").fill("2 90 03 75 056 012 66")
    page.get_by_label("J'ai expliqué le DMP au patient").check()
    page.get_by_label("Le patient me désigne comme son médecin traitant.").check()
    page.get_by_role("button", name="Ouvrir le DMP").click()

    heading = page.get_by_role("heading", level=1)
    assert "Votre DMP est ouvert" in heading.inner_text()
    code = page.locator("[data-code]").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    page.emulate_media(media="print")
    screenshot(page, "opening-letter-print")
    assert not page.locator(".site-header").is_visible()  # print CSS hides the navigation
    page.emulate_media(media="screen")
    patient = Patient.objects.get(birth_name="Durand")
    assert patient.medecin_traitant == doctor

    # The patient, in their own browser session.
    patient_page = page.context.browser.new_context(locale="fr-FR").new_page()
    patient_page.set_default_timeout(15_000)
    patient_page.goto(f"{base}/activation/")
    patient_page.get_by_label("Code d'activation").fill(code)
    patient_page.get_by_label("Votre date de naissance").fill("1990-03-21")
    patient_page.get_by_role("button", name="Continuer").click()
    patient_page.get_by_label("Adresse e-mail").fill("lea.durand@test.example")
    patient_page.locator("#id_password1").fill("Un-mot-de-passe-2026")
    patient_page.locator("#id_password2").fill("Un-mot-de-passe-2026")
    patient_page.get_by_role("button", name="Activer mon compte").click()
    # Every patient has a second factor: the new account chooses one before its DMP opens.
    patient_page.wait_for_url(f"{base}/mon-dmp/parametres/")
    assert "Un second facteur est obligatoire" in patient_page.content()
    patient_page.get_by_role(
        "button", name="Recevoir un code par e-mail à chaque connexion"
    ).click()
    if "/accounts/reauthenticate/" in patient_page.url:  # a sensitive act: the password again
        patient_page.get_by_label("Mot de passe").fill("Un-mot-de-passe-2026")
        patient_page.get_by_role("button", name="Confirmer").click()
    patient_page.wait_for_url(f"{base}/mon-dmp/parametres/")
    patient_page.goto(f"{base}/mon-dmp/")
    assert "Mon dossier médical" in patient_page.content()
    screenshot(patient_page, "patient-home")
    patient_page.get_by_role("button", name="Se déconnecter").click()

    # Confirm the e-mail from the link sent, then log in with the password.
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body)
    assert link is not None
    patient_page.goto(link.group(0).replace("http://testserver", base))
    patient_page.get_by_role("button", name="Confirmer").click()
    patient_page.goto(f"{base}/accounts/login/")
    patient_page.get_by_label("Courriel").fill("lea.durand@test.example")
    patient_page.get_by_label("Mot de passe").fill("Un-mot-de-passe-2026")
    patient_page.get_by_role("button", name="Connexion").click()
    # The password is not enough: the code e-mailed at this login.
    patient_page.wait_for_url("**/accounts/login/code/confirm/")
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.MULTILINE)
    assert code is not None
    patient_page.locator("#id_code").fill(code.group(1))
    patient_page.get_by_role("button", name="Confirmer", exact=True).click()
    patient_page.wait_for_url(f"{base}/mon-dmp/")
    assert patient.insc in patient_page.content()
