"""A professional registers with an RPPS; an administrator verifies them in the admin."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from identity.models import Professional, Role, User, VerificationStatus
from identity.rpps import luhn_complete
from tests.cast import TOTP_SECRET

pytestmark = pytest.mark.django_db

RPPS = luhn_complete("1000777001")


def _signup(client: Client, **overrides: str) -> object:
    data = {
        "email": "new.doc@test.example",
        "first_name": "Nina",
        "last_name": "Durand",
        "rpps": RPPS,
        "profession": "medecin",
        "specialty": "pediatrie",
        "password1": "un-mot-de-passe-solide-2026",
        "password2": "un-mot-de-passe-solide-2026",
    }
    data.update(overrides)
    return client.post(reverse("account_signup"), data)


def test_signup_creates_a_pending_professional_and_sends_a_verification_email(
    client: Client,
) -> None:
    response = _signup(client)
    assert response.status_code == 302  # type: ignore[attr-defined]
    user = User.objects.get(email="new.doc@test.example")
    assert user.role == Role.PROFESSIONAL
    assert user.professional.verification_status == VerificationStatus.PENDING
    assert user.professional.rpps == RPPS
    assert not user.is_verified_professional
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("rpps", "message"),
    [
        (RPPS[:-1], "11 chiffres"),
        (RPPS[:-1] + str((int(RPPS[-1]) + 1) % 10), "clé de Luhn"),
        ("abc", "que des chiffres"),
    ],
)
def test_bad_rpps_is_refused_next_to_the_field_and_nothing_is_stored(
    client: Client, rpps: str, message: str
) -> None:
    response = _signup(client, rpps=rpps)
    assert response.status_code == 200  # type: ignore[attr-defined]
    errors = response.context["form"].errors  # type: ignore[attr-defined]
    assert message in " ".join(errors["rpps"])
    assert not User.objects.exists()


def test_medecin_needs_a_specialty_others_do_not(client: Client) -> None:
    response = _signup(client, specialty="")
    assert "specialty" in response.context["form"].errors  # type: ignore[attr-defined]
    assert not User.objects.exists()
    response = _signup(client, profession="infirmier", specialty="")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert Professional.objects.get().specialty == ""


def test_duplicate_rpps_is_refused(client: Client, doctor: Professional) -> None:
    response = _signup(client, rpps=doctor.rpps)
    assert "déjà enregistré" in " ".join(response.context["form"].errors["rpps"])  # type: ignore[attr-defined]


def test_administrator_verifies_professionals_with_the_admin_action(
    client: Client, administrator: User, unverified_doctor: Professional
) -> None:
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(administrator, TOTP_SECRET)
    client.force_login(administrator)
    changelist = reverse("admin:identity_professional_changelist")
    assert client.get(changelist).status_code == 200
    response = client.post(
        changelist,
        {"action": "verify", "_selected_action": [unverified_doctor.pk]},
    )
    assert response.status_code == 302
    unverified_doctor.refresh_from_db()
    assert unverified_doctor.is_verified
    assert unverified_doctor.verified_by == administrator
    assert unverified_doctor.verified_at is not None
