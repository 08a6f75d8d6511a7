"""Passkeys in a real Chromium with the DevTools virtual authenticator: a patient registers one
(after password + TOTP), then logs in with it alone; the same passkey is useless on another
origin."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.mfa.models import Authenticator

from identity.models import Patient
from tests.cast import PASSWORD, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _virtual_authenticator(page: Any) -> tuple[Any, str]:
    """A platform authenticator with user verification (a phone's fingerprint, say)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, str(added["authenticatorId"])


def _password_and_totp(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Courriel").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.wait_for_url("**/accounts/2fa/authenticate/")
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button", name="Connexion", exact=True).click()
    page.wait_for_url(f"{base}/mon-dmp/")


def _register_passkey(page: Any, base: str, alice: Patient) -> tuple[Any, str]:
    cdp, authenticator = _virtual_authenticator(page)
    _password_and_totp(page, base, alice.user.email)
    page.goto(f"{base}/accounts/2fa/webauthn/add/")
    # Adding a second factor is a sensitive act: allauth asks the password again.
    page.wait_for_url("**/accounts/reauthenticate/**")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Confirmer").click()
    page.wait_for_url(f"{base}/accounts/2fa/webauthn/add/")
    page.locator("#id_passwordless").check()
    page.locator("#mfa_webauthn_add").click()
    page.wait_for_url(lambda url: "/webauthn/add/" not in url)
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(f"{base}/")
    return cdp, authenticator


def test_a_patient_registers_a_passkey_and_logs_in_with_it_alone(
    live_server: Any, page: Any, alice: Patient
) -> None:
    base = live_server.url  # http://localhost:<port>: a secure context for WebAuthn
    cdp, authenticator = _register_passkey(page, base, alice)
    passkey = Authenticator.objects.get(user=alice.user, type=Authenticator.Type.WEBAUTHN)
    assert passkey.wrap().is_passwordless
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(stored["credentials"]) == 1  # the device holds the key, the portal its public half

    page.goto(f"{base}/accounts/login/")
    page.locator("#passkey_login").click()
    page.wait_for_url(f"{base}/mon-dmp/")  # no password, no TOTP: the passkey was both
    assert page.get_by_role("button", name="Se déconnecter").is_visible()


def test_a_passkey_is_useless_on_another_origin(
    live_server: Any, page: Any, alice: Patient
) -> None:
    """The same server reached by another origin (an address instead of the name, as a
    look-alike site would be): the browser signs nothing for it, nobody is logged in."""
    base = live_server.url
    _register_passkey(page, base, alice)
    other = base.replace("localhost", "127.0.0.1")
    page.goto(f"{other}/accounts/login/")
    page.locator("#passkey_login").click()
    page.wait_for_timeout(1500)
    assert page.url.startswith(f"{other}/accounts/login/")
    assert page.get_by_role("button", name="Se déconnecter").count() == 0
    page.goto(f"{other}/mon-dmp/")
    assert "/accounts/login/" in page.url
