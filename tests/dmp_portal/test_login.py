"""Strong login: e-mail + password, second factor for professionals, POST-only logout."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional, User
from tests.cast import PASSWORD, totp_code

pytestmark = pytest.mark.django_db


def _login(client: Client, email: str, password: str = PASSWORD) -> Any:
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_professional_logs_in_with_password_then_totp(client: Client, doctor: Professional) -> None:
    response = _login(client, doctor.user.email)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    # Password alone is not a session.
    assert "_auth_user_id" not in client.session

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == doctor.user.pk
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert "Claire Martin" in home.content.decode()


def test_wrong_totp_code_does_not_log_in(client: Client, doctor: Professional) -> None:
    _login(client, doctor.user.email)
    good = totp_code()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = client.post(reverse("mfa_authenticate"), {"code": wrong})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_wrong_password_gives_the_same_answer_for_known_and_unknown_emails(
    client: Client, doctor: Professional
) -> None:
    known = _login(client, doctor.user.email, "not-the-password")
    unknown = _login(client, "nobody@test.example", "not-the-password")
    assert known.status_code == unknown.status_code == 200
    assert known.context["form"].errors == unknown.context["form"].errors


def test_failed_logins_are_rate_limited(client: Client, doctor: Professional) -> None:
    for _ in range(5):
        response = _login(client, doctor.user.email, "bad-password")
        assert "Trop de tentatives" not in response.content.decode()
    response = _login(client, doctor.user.email, "bad-password")
    assert "Trop de tentatives" in response.content.decode()
    # Even the right password is refused while the limit holds: no brute force by luck.
    response = _login(client, doctor.user.email)
    assert response.status_code == 429  # the login page, with the status monitoring counts
    assert "_auth_user_id" not in client.session
    assert "Trop de tentatives" in response.content.decode()


def test_session_key_rotates_at_login(client: Client, doctor: Professional) -> None:
    client.get(reverse("account_login"))
    client.session.save()
    before = client.session.session_key
    _login(client, doctor.user.email)
    client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert client.session.session_key != before


def test_logout_needs_a_post(client: Client, doctor: Professional) -> None:
    client.force_login(doctor.user)
    page = client.get(reverse("account_logout"))
    assert page.status_code == 200  # a confirmation page, nothing more
    assert "_auth_user_id" in client.session
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_professional_without_second_factor_can_only_enrol(
    client: Client, doctor_without_mfa: Professional
) -> None:
    client.force_login(doctor_without_mfa.user)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    # Enrolling is allowed (after confirming the password, as allauth asks).
    enrol = client.get(reverse("mfa_activate_totp"), follow=True)
    assert enrol.status_code == 200
    assert enrol.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))


def test_patient_without_second_factor_can_only_choose_one(client: Client, alice: Patient) -> None:
    """Every patient has a second factor (issue 14): without one, every page leads to the
    choice (authenticator app, passkey or e-mailed code); with the e-mailed code, the DMP
    opens; the only second factor cannot be dropped."""
    from allauth.mfa.models import Authenticator

    from tests.cast import fresh_login

    fresh_login(client, alice.user)
    Authenticator.objects.filter(user=alice.user).delete()
    session = client.session
    session.pop("dmp_second_factor", None)
    session.save()
    for path in (reverse("home"), reverse("records:my_dmp"), reverse("records:my_history")):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == reverse("records:my_settings")
    choice = client.get(reverse("records:my_settings")).content.decode()
    assert reverse("mfa_activate_totp") in choice
    assert reverse("identity:email_code_login") in choice

    client.post(reverse("identity:email_code_login"), {"enabled": "1"})
    assert client.get(reverse("records:my_dmp")).status_code == 200
    refused = client.post(reverse("identity:email_code_login"), {"enabled": "0"}, follow=True)
    assert "votre seul second facteur" in html.unescape(refused.content.decode())
    alice.user.refresh_from_db()
    assert alice.user.email_code_login


def test_admin_login_is_the_allauth_door(client: Client) -> None:
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    # The admin's own form does not accept a password POST either.
    response = client.post("/admin/login/", {"username": "x", "password": "y"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_administrator_without_second_factor_cannot_reach_the_admin(
    client: Client, administrator: User
) -> None:
    client.force_login(administrator)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
