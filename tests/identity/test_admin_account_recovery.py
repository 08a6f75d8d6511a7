"""Issue 18, item 1: account recovery goes through the owner's own channel, and every act of the
administration on an account is traced and shown to its owner.

- password: allauth's reset link, sent to the owner's own verified address;
- second factor: one administrator requests (with a reason), a second one approves; the owner
  is told by e-mail at each step;
- verification, deactivation: traced, listed on the owner's "Suivi du compte" page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from identity import account_recovery
from identity.errors import AccessDenied, UserError
from identity.models import (
    AccountEvent,
    AccountEventKind,
    MfaResetRequest,
    MfaResetStatus,
    Professional,
    Role,
    User,
)
from tests.cast import PASSWORD, TOTP_SECRET, fresh_login, make_staff_viewer, make_user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/identity/user/"
REQUESTS = "/admin/identity/mfaresetrequest/"
REASON = "Téléphone perdu, identité vérifiée par rappel au cabinet"


def _admin_client(user: User) -> Client:
    TOTP.activate(user, TOTP_SECRET)
    client = Client()
    fresh_login(client, user)
    return client


@pytest.fixture
def admin_client(administrator: User) -> Client:
    return _admin_client(administrator)


@pytest.fixture
def second_administrator(db: None) -> User:
    return make_user("admin2@test.example", role=Role.ADMINISTRATOR, staff=True, last_name="Deux")


@pytest.fixture
def post(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """POST, then run what waits for the commit (the e-mails to the owner), as in production."""

    def send(client: Client, url: str, data: dict[str, Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data)

    return send


def _kinds(user: User) -> list[str]:
    """The administration's acts on ``user`` after the fixture's verification."""
    events = AccountEvent.objects.filter(account=user).exclude(kind=AccountEventKind.VERIFIED)
    return list(events.order_by("at", "pk").values_list("kind", flat=True))


def _owner_page(user: User) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("identity:my_account_events"))
    assert response.status_code == 200
    return response.content.decode()


# --- Password: a link to the owner's own address ------------------------------------------


def test_the_reset_link_goes_to_the_owners_address_and_is_traced(
    admin_client: Client, administrator: User, doctor: Professional, post: Callable[..., Any]
) -> None:
    victim = doctor.user
    password = victim.password
    response = post(
        admin_client, CHANGELIST, {"action": "send_password_reset", "_selected_action": [victim.pk]}
    )
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [[victim.email]]
    assert "/accounts/password/reset/key/" in mail.outbox[0].body
    victim.refresh_from_db()
    assert victim.password == password  # nobody chose a password
    event = AccountEvent.objects.exclude(kind=AccountEventKind.VERIFIED).get(account=victim)
    assert (event.kind, event.actor) == (AccountEventKind.PASSWORD_RESET_SENT, administrator)
    assert "Lien de réinitialisation du mot de passe envoyé" in _owner_page(victim)


def test_the_reset_link_is_also_an_action_of_the_accounts_page(
    admin_client: Client, doctor: Professional
) -> None:
    url = reverse("admin:identity_user_change", args=[doctor.user.pk])
    page = admin_client.get(url)
    assert b"send_password_reset" in page.content
    response = admin_client.post(
        url,
        {"CHANGE_FORM-action": "send_password_reset", "_selected_action": [doctor.user.pk]},
    )
    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [[doctor.user.email]]


def test_acting_on_an_account_needs_a_fresh_authentication(
    administrator: User, doctor: Professional
) -> None:
    TOTP.activate(administrator, TOTP_SECRET)
    client = Client()
    client.force_login(administrator)  # a session, but no recent password or code
    response = client.post(
        CHANGELIST, {"action": "deactivate", "_selected_action": [doctor.user.pk]}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    doctor.user.refresh_from_db()
    assert doctor.user.is_active
    assert _kinds(doctor.user) == []


def test_no_link_for_an_account_without_a_verified_address(
    admin_client: Client, administrator: User
) -> None:
    account = User.objects.create_user("noaddress@test.example", PASSWORD)
    admin_client.post(
        CHANGELIST, {"action": "send_password_reset", "_selected_action": [account.pk]}
    )
    assert mail.outbox == []
    assert not AccountEvent.objects.filter(account=account).exists()


# --- Second factor: two administrators ------------------------------------------------------


def test_a_second_factor_reset_needs_a_second_administrator(
    admin_client: Client,
    administrator: User,
    second_administrator: User,
    doctor: Professional,
    post: Callable[..., Any],
) -> None:
    victim = doctor.user
    password = victim.password
    data = {"action": "request_mfa_reset", "_selected_action": [victim.pk]}

    # The first administrator asks, with a reason: a page asks for it first.
    page = admin_client.post(CHANGELIST, data)
    assert page.status_code == 200
    assert b'name="reason"' in page.content
    response = post(admin_client, CHANGELIST, {**data, "confirm": "yes", "reason": REASON})
    assert response.status_code == 302
    reset = MfaResetRequest.objects.get(account=victim)
    assert (reset.status, reset.requested_by, reset.reason) == (
        MfaResetStatus.PENDING,
        administrator,
        REASON,
    )
    assert Authenticator.objects.filter(user=victim).exists()  # nothing removed yet
    assert [message.to for message in mail.outbox] == [[victim.email]]
    assert REASON in mail.outbox[0].body

    # The requester cannot approve their own request.
    approve = {"action": "approve", "_selected_action": [reset.pk]}
    post(admin_client, REQUESTS, approve)
    reset.refresh_from_db()
    assert reset.status == MfaResetStatus.PENDING
    assert Authenticator.objects.filter(user=victim).exists()

    # A second administrator approves: the authenticators go, the owner is told.
    second = _admin_client(second_administrator)
    assert second.get(REQUESTS).status_code == 200
    assert post(second, REQUESTS, approve).status_code == 302
    reset.refresh_from_db()
    assert (reset.status, reset.decided_by) == (MfaResetStatus.APPROVED, second_administrator)
    assert not Authenticator.objects.filter(user=victim).exists()
    assert [message.to for message in mail.outbox] == [[victim.email], [victim.email]]
    assert _kinds(victim) == [
        AccountEventKind.MFA_RESET_REQUESTED,
        AccountEventKind.MFA_RESET_APPROVED,
    ]
    TOTP.activate(victim, TOTP_SECRET)  # at his next login he enrols a new one, then reads:
    page_text = _owner_page(victim)
    assert REASON in page_text and "Réinitialisation du second facteur approuvée" in page_text

    # His password is his own still: the administrators cannot log in as him.
    victim.refresh_from_db()
    assert victim.password == password


@pytest.mark.parametrize("reason", ["", "court", "x" * 301, "motif\x00caché à lire"])
def test_a_second_factor_reset_without_a_readable_reason_is_refused(
    admin_client: Client, doctor: Professional, reason: str, post: Callable[..., Any]
) -> None:
    data = {"action": "request_mfa_reset", "_selected_action": [doctor.user.pk]}
    page = post(admin_client, CHANGELIST, {**data, "confirm": "yes", "reason": reason})
    assert page.status_code == 200
    assert b"errornote" in page.content
    assert not MfaResetRequest.objects.exists()
    assert mail.outbox == []
    assert _kinds(doctor.user) == []


def test_one_pending_request_per_account(administrator: User, doctor: Professional) -> None:
    account_recovery.mfa_reset_request(actor=administrator, account=doctor.user, reason=REASON)
    with pytest.raises(UserError, match="déjà en attente"):
        account_recovery.mfa_reset_request(actor=administrator, account=doctor.user, reason=REASON)
    assert MfaResetRequest.objects.count() == 1


def test_nobody_resets_their_own_second_factor_here(administrator: User) -> None:
    TOTP.activate(administrator, TOTP_SECRET)
    with pytest.raises(UserError):
        account_recovery.mfa_reset_request(
            actor=administrator, account=administrator, reason=REASON
        )


def test_the_database_refuses_an_approval_by_the_requester(
    administrator: User, doctor: Professional
) -> None:
    reset = account_recovery.mfa_reset_request(
        actor=administrator, account=doctor.user, reason=REASON
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        MfaResetRequest.objects.filter(pk=reset.pk).update(
            status=MfaResetStatus.APPROVED, decided_by=administrator
        )


def test_a_cancelled_request_removes_nothing(
    admin_client: Client, administrator: User, doctor: Professional
) -> None:
    reset = account_recovery.mfa_reset_request(
        actor=administrator, account=doctor.user, reason=REASON
    )
    admin_client.post(REQUESTS, {"action": "cancel", "_selected_action": [reset.pk]})
    reset.refresh_from_db()
    assert reset.status == MfaResetStatus.CANCELLED
    assert Authenticator.objects.filter(user=doctor.user).exists()
    with pytest.raises(UserError, match="déjà été traitée"):
        account_recovery.mfa_reset_approve(
            actor=make_user("a3@test.example", staff=True), reset=reset
        )


# --- Deactivation and verification -----------------------------------------------------------


def test_deactivation_is_traced_told_and_ends_the_owners_sessions(
    admin_client: Client, doctor: Professional, post: Callable[..., Any]
) -> None:
    session = Client()
    session.force_login(doctor.user)
    assert session.get(reverse("records:patient_search")).status_code == 200
    post(admin_client, CHANGELIST, {"action": "deactivate", "_selected_action": [doctor.user.pk]})
    doctor.user.refresh_from_db()
    assert not doctor.user.is_active
    assert session.get(reverse("records:patient_search")).status_code == 302  # logged out
    assert [message.to for message in mail.outbox] == [[doctor.user.email]]
    post(admin_client, CHANGELIST, {"action": "reactivate", "_selected_action": [doctor.user.pk]})
    doctor.user.refresh_from_db()
    assert doctor.user.is_active
    assert _kinds(doctor.user) == [AccountEventKind.DEACTIVATED, AccountEventKind.REACTIVATED]
    assert len(mail.outbox) == 2


def test_an_administrator_cannot_deactivate_their_own_account(
    admin_client: Client, administrator: User
) -> None:
    admin_client.post(CHANGELIST, {"action": "deactivate", "_selected_action": [administrator.pk]})
    administrator.refresh_from_db()
    assert administrator.is_active


def test_verification_is_traced_on_the_professionals_page(
    administrator: User, unverified_doctor: Professional
) -> None:
    TOTP.activate(administrator, TOTP_SECRET)
    client = Client()
    client.force_login(administrator)
    client.post(
        reverse("admin:identity_professional_changelist"),
        {"action": "verify", "_selected_action": [unverified_doctor.pk]},
    )
    event = AccountEvent.objects.get(account=unverified_doctor.user)
    assert (event.kind, event.actor) == (AccountEventKind.VERIFIED, administrator)
    page = _owner_page(unverified_doctor.user)
    assert "Profil professionnel vérifié" in page and "Ada Min" in page


def test_the_owners_page_lists_only_their_own_account(
    administrator: User, doctor: Professional, stranger_doctor: Professional
) -> None:
    account_recovery.account_deactivate(actor=administrator, account=stranger_doctor.user)
    assert "Compte désactivé" not in _owner_page(doctor.user)


# --- What a staff member with every view permission may do: look -----------------------------


def test_view_permissions_run_no_act_on_accounts(
    doctor: Professional, post: Callable[..., Any]
) -> None:
    viewer = make_staff_viewer("viewer@test.example")
    client = Client()
    fresh_login(client, viewer)
    assert client.get(CHANGELIST).status_code == 200
    for action in ("send_password_reset", "deactivate", "request_mfa_reset"):
        post(
            client,
            CHANGELIST,
            {
                "action": action,
                "_selected_action": [doctor.user.pk],
                "confirm": "yes",
                "reason": REASON,
            },
        )
    client.post(
        reverse("admin:identity_professional_changelist"),
        {"action": "reject", "_selected_action": [doctor.pk]},
    )
    doctor.refresh_from_db()
    assert doctor.is_verified and doctor.user.is_active
    assert mail.outbox == []
    assert not MfaResetRequest.objects.exists()
    assert _kinds(doctor.user) == []


def test_services_refuse_a_non_administrator(
    doctor: Professional, stranger_doctor: Professional
) -> None:
    with pytest.raises(AccessDenied):
        account_recovery.account_deactivate(actor=stranger_doctor.user, account=doctor.user)
    with pytest.raises(AccessDenied):
        account_recovery.mfa_reset_request(
            actor=stranger_doctor.user, account=doctor.user, reason=REASON
        )
