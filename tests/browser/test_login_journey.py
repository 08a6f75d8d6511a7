"""A demo professional logs in with password + TOTP through a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from identity.models import Professional
from tests.browser.conftest import screenshot
from tests.cast import PASSWORD, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_professional_logs_in_with_totp(live_server: Any, page: Any, doctor: Professional) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Courriel").fill(doctor.user.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()

    page.wait_for_url("**/accounts/2fa/authenticate/")
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button", name="Connexion", exact=True).click()

    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Bonjour")
    assert "Claire Martin" in page.content()
    path = screenshot(page, "professional-home")
    assert path.stat().st_size > 10_000

    # Logout is a POST form in the header.
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("link", name="Se connecter").first.is_visible()
