"""Issue 18, item 1: an administrator cannot become a professional through the admin.

The attack found: in the admin, set dr. Martin's password, delete his TOTP authenticator, log
in as him, enrol a TOTP of one's own, read Alice's timeline (200). Every step is refused now
(403, 404, or no such field) and nothing about his account changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional, Role, User
from tests.cast import TOTP_SECRET, fresh_login, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "mot-de-passe-de-l-attaquant-2026"


def _account_state(user: User) -> tuple[Any, ...]:
    """Everything an attacker would need to change to take the account over."""
    user.refresh_from_db()
    return (
        user.password,
        user.email,
        user.role,
        user.is_active,
        user.is_staff,
        user.is_superuser,
        sorted(Authenticator.objects.filter(user=user).values_list("pk", "type", "data")),
        sorted(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")),
        Professional.objects.filter(user=user).values_list("pk", "verification_status").first(),
    )


def _not_in_the_admin(client: Client, object_url: str, data: dict[str, Any]) -> None:
    """The model's list, add, change and delete pages answer 404, to GET and to POST."""
    model_url = object_url.rstrip("/").rsplit("/", 1)[0] + "/"
    for url in (model_url, f"{model_url}add/", f"{object_url}change/", f"{object_url}delete/"):
        assert client.get(url).status_code == 404, url
        assert client.post(url, data).status_code == 404, url


@pytest.fixture
def admin_client(administrator: User) -> Client:
    TOTP.activate(administrator, TOTP_SECRET)
    client = Client()
    fresh_login(client, administrator)  # a fresh re-authentication: the strongest admin session
    return client


def test_the_takeover_is_refused_at_every_step(
    admin_client: Client, doctor: Professional, alice: Patient
) -> None:
    victim = doctor.user
    before = _account_state(victim)

    # 1. No form sets another account's password.
    password_url = f"/admin/identity/user/{victim.pk}/password/"
    assert admin_client.get(password_url).status_code == 403
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    assert admin_client.post(password_url, form).status_code == 403

    # 2. Authenticators are not in the admin: neither listed, nor deleted, nor added.
    authenticator = Authenticator.objects.get(user=victim, type=Authenticator.Type.TOTP)
    _not_in_the_admin(
        admin_client,
        f"/admin/mfa/authenticator/{authenticator.pk}/",
        {"post": "yes", "user": victim.pk, "type": "totp"},
    )

    # 3. Logging in with the password the attacker wanted fails; Alice's timeline stays shut.
    attacker = Client()
    response = attacker.post(
        reverse("account_login"), {"login": victim.email, "password": NEW_PASSWORD}
    )
    assert response.status_code == 200  # the login form again, with its error
    assert "_auth_user_id" not in attacker.session
    timeline = attacker.get(reverse("records:timeline_pro", args=[alice.public_id]))
    assert timeline.status_code == 302
    assert timeline["Location"].startswith(reverse("account_login"))

    assert _account_state(victim) == before


def test_the_account_page_sets_no_password_email_role_or_flag(
    admin_client: Client, doctor: Professional
) -> None:
    victim = doctor.user
    before = _account_state(victim)
    url = reverse("admin:identity_user_change", args=[victim.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    for field in ("password", "email", "role", "is_staff", "is_superuser", "is_active", "groups"):
        assert f'name="{field}'.encode() not in page.content, field
    assert b"/password/" not in page.content
    response = admin_client.post(
        url,
        {
            "email": "attacker@evil.example",
            "role": Role.ADMINISTRATOR,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "first_name": "X",
            "last_name": "Y",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 403
    assert _account_state(victim) == before


def test_email_addresses_are_not_in_the_admin(admin_client: Client, doctor: Professional) -> None:
    victim = doctor.user
    before = _account_state(victim)
    address = EmailAddress.objects.get(user=victim)
    _not_in_the_admin(
        admin_client,
        f"/admin/account/emailaddress/{address.pk}/",
        {"user": victim.pk, "email": "attacker@evil.example", "verified": "on", "post": "yes"},
    )
    assert _account_state(victim) == before


def test_a_professional_profile_cannot_be_moved_to_another_account(
    admin_client: Client, doctor: Professional
) -> None:
    """Moving dr. Martin's verified profile onto an account the attacker holds would make that
    account dr. Martin, médecin traitant of his patients."""
    attacker = make_user("attacker@test.example")
    before = _account_state(doctor.user)
    url = reverse("admin:identity_professional_change", args=[doctor.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="user"' not in page.content
    admin_client.post(
        url,
        {
            "user": attacker.pk,
            "rpps": doctor.rpps,
            "profession": doctor.profession,
            "specialty": doctor.specialty,
        },
    )
    doctor.refresh_from_db()
    assert doctor.user_id != attacker.pk
    assert not Professional.objects.filter(user=attacker).exists()
    assert _account_state(doctor.user) == before


def test_accounts_are_deactivated_not_deleted(admin_client: Client, doctor: Professional) -> None:
    before = _account_state(doctor.user)
    url = reverse("admin:identity_user_delete", args=[doctor.user.pk])
    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:identity_user_changelist")
    admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [doctor.user.pk], "post": "yes"},
    )
    assert _account_state(doctor.user) == before


def test_a_new_account_from_the_admin_gets_no_staff_or_superuser_flag(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        reverse("admin:identity_user_add"),
        {
            "email": "new.person@test.example",
            "role": Role.ADMINISTRATOR,
            "password1": "un-mot-de-passe-solide-2026",
            "password2": "un-mot-de-passe-solide-2026",
            "usable_password": "true",
            "is_staff": "on",
            "is_superuser": "on",
        },
    )
    assert response.status_code == 302
    created = User.objects.get(email="new.person@test.example")
    assert not created.is_staff
    assert not created.is_superuser
