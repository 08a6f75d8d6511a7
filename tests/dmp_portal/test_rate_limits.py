"""A rate-limited answer is HTTP 429 with Retry-After, so that monitoring sees it, and keeps
its French page: allauth's login, second factor, password reset and e-mail code limits,
hammered through the real forms (the activation code's limit is in test_activation)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional
from tests.cast import PASSWORD, fresh_login

pytestmark = pytest.mark.django_db

TOO_MANY_LOGINS = "Trop de tentatives de connexion échouées"


def _login(client: Client, email: str, password: str) -> Any:
    return client.post(reverse("account_login"), {"login": email, "password": password})


def _limited(response: Any) -> str:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body: str = response.content.decode()
    assert '<html lang="fr"' in body
    return body


def test_failed_logins_past_the_limit_answer_429_on_the_login_page(
    client: Client, doctor: Professional
) -> None:
    statuses = [_login(client, doctor.user.email, "bad-password").status_code for _ in range(5)]
    assert statuses == [200] * 5
    body = _limited(_login(client, doctor.user.email, "bad-password"))
    assert TOO_MANY_LOGINS in body
    assert 'name="password"' in body  # the same login page, its error above the form
    body = _limited(_login(client, doctor.user.email, PASSWORD))  # the right one too
    assert "_auth_user_id" not in client.session


def test_a_flood_of_login_posts_answers_the_french_429_page(client: Client) -> None:
    # 30 POSTs a minute per address, whatever the account (ACCOUNT_RATE_LIMITS["login"]).
    for i in range(30):
        _login(client, f"nobody{i}@test.example", "bad-password")
    body = _limited(_login(client, "nobody@test.example", "bad-password"))
    assert "Trop de demandes" in body


def test_password_reset_past_the_limit_answers_429(client: Client, doctor: Professional) -> None:
    url = reverse("account_reset_password")
    statuses = [client.post(url, {"email": doctor.user.email}).status_code for _ in range(3)]
    assert statuses == [302] * 3
    body = _limited(client.post(url, {"email": doctor.user.email}))
    assert "Trop de demandes" in body
    assert len(mail.outbox) == 3


def test_wrong_second_factor_codes_past_the_limit_answer_429(
    client: Client, doctor: Professional
) -> None:
    response = _login(client, doctor.user.email, PASSWORD)
    assert response["Location"] == reverse("mfa_authenticate")
    for _ in range(5):
        assert client.post(reverse("mfa_authenticate"), {"code": "000000"}).status_code == 200
    body = _limited(client.post(reverse("mfa_authenticate"), {"code": "000000"}))
    assert TOO_MANY_LOGINS in body
    assert "_auth_user_id" not in client.session


def test_wrong_email_codes_past_the_limit_answer_429(client: Client, alice: Patient) -> None:
    fresh_login(client, alice.user)
    client.post(reverse("identity:email_code_login"), {"enabled": "1"})
    Authenticator.objects.filter(user=alice.user).delete()  # the e-mailed code is her factor
    client.post(reverse("account_logout"))
    response = _login(client, alice.user.email, PASSWORD)
    assert response["Location"] == reverse("account_confirm_login_code")
    url = reverse("account_confirm_login_code")
    assert [client.post(url, {"code": "0000-0000"}).status_code for _ in range(2)] == [200] * 2
    # The third wrong code ends the attempt: the 429 page says so and leads back to the login.
    body = _limited(client.post(url, {"code": "0000-0000"}))
    assert TOO_MANY_LOGINS in body
    assert re.search(rf'href="{reverse("account_login")}"', body)
    assert "_auth_user_id" not in client.session
