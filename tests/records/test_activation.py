"""The patient activates their account with the letter's code and their date of birth."""

from __future__ import annotations

import datetime
import re
from datetime import timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from identity.models import ActivationCode, Patient, Professional, Role, User
from records.services import lifecycle
from tests.cast import fresh_login, make_patient

pytestmark = pytest.mark.django_db

BIRTH = "1985-05-14"


@pytest.fixture
def opened(doctor: Professional) -> tuple[Patient, str]:
    patient = make_patient(opened_by=doctor)
    code = lifecycle.activation_code_issue(actor=doctor.user, patient=patient)
    return patient, code


def _step1(client: Client, code: str, birth: str = BIRTH, address: str = "127.0.0.1") -> Any:
    return client.post(
        reverse("records:activation"), {"code": code, "birth_date": birth}, REMOTE_ADDR=address
    )


def _step2(client: Client, email: str = "alice@test.example") -> Any:
    return client.post(
        reverse("records:activation_account"),
        {"email": email, "password1": "Un-mot-de-passe-2026", "password2": "Un-mot-de-passe-2026"},
    )


def test_activation_creates_the_account_and_logs_in(
    client: Client, opened: tuple[Patient, str]
) -> None:
    patient, code = opened
    response = _step1(client, code.lower().replace("-", " "))  # typed loosely
    assert response.status_code == 302
    assert response["Location"] == reverse("records:activation_account")
    response = _step2(client)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.user is not None
    assert patient.user.role == Role.PATIENT
    assert int(client.session["_auth_user_id"]) == patient.user.pk
    # The e-mail is verified by a link, as for any account.
    address = EmailAddress.objects.get(user=patient.user)
    assert address.primary and not address.verified
    assert len(mail.outbox) == 1
    # Before the DMP opens, the new account chooses its second factor (every patient has one).
    assert client.get(reverse("records:my_dmp"))["Location"] == reverse("records:my_settings")
    assert client.get(reverse("records:my_settings")).status_code == 200
    # Single use.
    other = Client()
    response = _step1(other, code)
    assert "déjà été utilisé" in response.content.decode()


def test_wrong_birth_date_counts_against_the_code_until_it_is_blocked(
    client: Client, opened: tuple[Patient, str]
) -> None:
    _, code = opened
    for _ in range(lifecycle.ACTIVATION_MAX_FAILED_ATTEMPTS):
        response = _step1(client, code, "1985-05-15")
        assert "incorrects" in response.content.decode()
    live = ActivationCode.objects.get(revoked_at__isnull=True)
    assert live.failed_attempts == lifecycle.ACTIVATION_MAX_FAILED_ATTEMPTS
    response = _step1(client, code)  # now even the right date is refused
    assert "bloqué" in response.content.decode()
    assert not User.objects.filter(role=Role.PATIENT).exists()


def test_unknown_code_is_refused_with_the_same_message(
    client: Client, opened: tuple[Patient, str]
) -> None:
    response = _step1(client, "AAAA-BBBB-CCCC")
    assert response.status_code == 200
    assert "incorrects" in response.content.decode()


def test_expired_code_says_so(client: Client, opened: tuple[Patient, str]) -> None:
    _, code = opened
    ActivationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "expiré" in _step1(client, code).content.decode()


def test_reissuing_a_letter_revokes_the_old_code(
    client: Client, doctor: Professional, opened: tuple[Patient, str]
) -> None:
    patient, old = opened
    fresh_login(client, doctor.user)  # the new code opens the patient's account: sensitive
    response = client.post(reverse("records:letter_reissue", args=[patient.public_id]))
    assert response.status_code == 200
    new = response.context["code"]
    anonymous = Client()
    assert "remplacé" in _step1(anonymous, old).content.decode()
    assert _step1(anonymous, new).status_code == 302


def test_activation_is_rate_limited_per_address(
    client: Client, opened: tuple[Patient, str]
) -> None:
    statuses = [_step1(client, f"ZZZZ-ZZZZ-ZZ{i:02d}").status_code for i in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[10:] == [429, 429]


TOO_MANY = "Trop d'essais. Réessayez dans un quart d'heure."


def test_a_guess_spread_over_many_addresses_is_limited_per_date_of_birth(
    client: Client, opened: tuple[Patient, str]
) -> None:
    _, code = opened
    # 25 wrong codes for one date of birth (the target's), each from its own address.
    statuses = [
        _step1(client, f"ZZZZ-ZZZZ-ZZ{i:02d}", address=f"10.0.0.{i}").status_code for i in range(25)
    ]
    assert statuses == [200] * 10 + [429] * 15
    # Until the window ends, even the right code for that date is refused, from anywhere.
    response = _step1(client, code, address="10.0.1.1")
    assert response.status_code == 429
    assert response.context["form"].non_field_errors() == [TOO_MANY]
    assert ActivationCode.objects.get(revoked_at__isnull=True).failed_attempts == 0
    # Other dates of birth are not held up.
    assert (
        "incorrects" in _step1(client, "ZZZZ-ZZZZ-ZZZZ", "1990-01-01", "10.0.1.2").content.decode()
    )


def test_a_guess_spread_over_dates_and_addresses_meets_a_global_limit(
    client: Client, opened: tuple[Patient, str], settings: Any
) -> None:
    _, code = opened
    settings.DMP_ACTIVATION_LIMITS = {**settings.DMP_ACTIVATION_LIMITS, "everyone": 20}
    day = datetime.date(1950, 1, 1)
    statuses = [
        _step1(
            client,
            f"ZZZZ-ZZZZ-ZZ{i:02d}",
            (day + timedelta(days=i)).isoformat(),
            address=f"10.0.0.{i}",
        ).status_code
        for i in range(25)
    ]
    assert statuses == [200] * 20 + [429] * 5
    assert _step1(client, code, address="10.0.1.1").status_code == 429


@pytest.mark.parametrize(
    ("limits", "tries"),
    [
        # One address, three dates of birth.
        ({"address": 2}, [("1960-01-01", "10.0.0.1"), ("1960-01-02", "10.0.0.1")] * 2),
        # One date of birth, three addresses.
        ({"birth_date": 2}, [("1960-01-01", f"10.0.0.{i}") for i in range(3)]),
        # Three dates of birth, three addresses.
        ({"everyone": 2}, [(f"1960-01-0{i + 1}", f"10.0.0.{i}") for i in range(3)]),
    ],
    ids=["address", "birth_date", "everyone"],
)
def test_every_limit_answers_alike(
    client: Client,
    opened: tuple[Patient, str],
    settings: Any,
    limits: dict[str, int],
    tries: list[tuple[str, str]],
) -> None:
    """Whatever limit is reached, the same message, status and header: nothing to learn."""
    settings.DMP_ACTIVATION_LIMITS = {"address": 100, "birth_date": 100, "everyone": 100, **limits}
    *before, last = [_step1(client, "ZZZZ-ZZZZ-ZZZZ", birth, address) for birth, address in tries]
    assert {r.status_code for r in before[:2]} == {200}
    assert last.status_code == 429
    assert last["Retry-After"] == "900"
    assert last.context["form"].non_field_errors() == [TOO_MANY]


def test_account_step_needs_a_checked_code(client: Client) -> None:
    response = _step2(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("records:activation")
    assert not User.objects.exists()


def test_taken_email_and_weak_password_store_nothing(
    client: Client, opened: tuple[Patient, str], doctor: Professional
) -> None:
    patient, code = opened
    _step1(client, code)
    response = _step2(client, email=doctor.user.email)
    assert "existe déjà" in response.content.decode()
    response = client.post(
        reverse("records:activation_account"),
        {"email": "a@test.example", "password1": "123456789012", "password2": "123456789012"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    patient.refresh_from_db()
    assert patient.user is None
    assert ActivationCode.objects.get(revoked_at__isnull=True).used_at is None


def test_code_for_an_account_already_activated(alice: Patient, doctor: Professional) -> None:
    with pytest.raises(lifecycle.ActivationError):
        code = lifecycle.activation_code_issue(actor=doctor.user, patient=alice)
        lifecycle.activation_code_check(code=code, birth_date=datetime.date(1985, 5, 14))


def test_email_code_second_factor_for_patients(
    client: Client, alice: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.cast import PASSWORD

    fresh_login(client, alice.user)
    response = client.post(reverse("identity:email_code_login"), {"enabled": "1"})
    assert response.status_code == 302
    alice.user.refresh_from_db()
    assert alice.user.email_code_login
    from allauth.mfa.models import Authenticator

    Authenticator.objects.filter(user=alice.user).delete()  # the e-mailed code is her factor
    client.post(reverse("account_logout"))
    mail.outbox.clear()

    other = Client()
    response = other.post(
        reverse("account_login"), {"login": alice.user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    assert "_auth_user_id" not in other.session  # the password alone is not enough
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mail.outbox[-1].body, re.MULTILINE)
    assert code is not None, mail.outbox[-1].body
    wrong = other.post(reverse("account_confirm_login_code"), {"code": "000000"})
    assert "_auth_user_id" not in other.session and wrong.status_code == 200
    response = other.post(reverse("account_confirm_login_code"), {"code": code.group(1)})
    assert response.status_code == 302
    assert int(other.session["_auth_user_id"]) == alice.user.pk
