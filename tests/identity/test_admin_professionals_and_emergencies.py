"""Administrators: verifying a professional sends the e-mail the waiting page promises (and a
refusal says so too); the lists of professionals and of emergency accesses are usable —
filters, search, the columns one needs — and still name no patient."""

from __future__ import annotations

import datetime
import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from identity.models import Patient, Professional, User
from records.models import EmergencyAccess
from tests.cast import TOTP_SECRET, make_professional

pytestmark = pytest.mark.django_db

PROFESSIONALS = reverse("admin:identity_professional_changelist")
EMERGENCIES = reverse("admin:records_emergencyaccess_changelist")


@pytest.fixture
def admin_client(administrator: User) -> Client:
    TOTP.activate(administrator, TOTP_SECRET)
    client = Client()
    client.force_login(administrator)
    return client


def test_the_waiting_page_promises_an_email(unverified_doctor: Professional) -> None:
    client = Client()
    client.force_login(unverified_doctor.user)
    assert "Vous serez prévenu par e-mail" in client.get("/").content.decode()


def test_verifying_sends_the_promised_email(
    admin_client: Client,
    unverified_doctor: Professional,
    django_capture_on_commit_callbacks: object,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = admin_client.post(
            PROFESSIONALS, {"action": "verify", "_selected_action": [unverified_doctor.pk]}
        )
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == [unverified_doctor.user.email]
    assert "est vérifié" in message.subject
    assert "vous pouvez désormais accéder" in message.body.lower()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        admin_client.post(
            PROFESSIONALS, {"action": "reject", "_selected_action": [unverified_doctor.pk]}
        )
    [refusal] = mail.outbox
    assert refusal.to == [unverified_doctor.user.email]
    assert "n'est pas vérifié" in refusal.subject


def _names(body: str) -> list[str]:
    return re.findall(r'<th class="field-display_name"><a href="[^"]+">([^<]+)</a>', body)


def test_the_professionals_list_puts_those_waiting_first_and_searches(
    admin_client: Client, doctor: Professional, unverified_doctor: Professional
) -> None:
    body = admin_client.get(PROFESSIONALS).content.decode()
    assert body.index(unverified_doctor.user.email) < body.index(doctor.user.email)
    assert "inscrit le" in body.lower() and "e-mail" in body.lower()
    found = admin_client.get(PROFESSIONALS, {"q": "Martin"}).content.decode()
    assert doctor.user.email in found and unverified_doctor.user.email not in found
    pending = admin_client.get(PROFESSIONALS, {"verification_status__exact": "pending"})
    text = pending.content.decode()
    assert unverified_doctor.user.email in text and doctor.user.email not in text


def test_the_emergency_list_filters_and_searches_without_naming_the_patient(
    admin_client: Client, alice: Patient, emergency_doctor: Professional, administrator: User
) -> None:
    from records.services.care import emergency_declare

    nurse = make_professional(
        "ide@test.example",
        verifier=administrator,
        profession="infirmier",
        specialty="",
        first_name="Inès",
        last_name="Soin",
    )
    emergency_declare(actor=nurse.user, patient=alice, samu=False, reason="vital")
    EmergencyAccess.objects.filter(professional=nurse).update(
        started_at=timezone.now() - datetime.timedelta(hours=6),
        expires_at=timezone.now() - datetime.timedelta(hours=2),
    )

    def listed(**params: str) -> str:
        response = admin_client.get(EMERGENCIES, params)
        assert response.status_code == 200
        return response.content.decode()

    everything = listed()
    assert "Urgence" in everything and "Soin" in everything
    for secret in (alice.insc, alice.birth_name, "vital", "Urgence vitale"):
        assert secret not in everything
    assert "en cours" in everything and "terminé" in everything
    ongoing = listed(etat="en_cours")
    assert "Urgence" in ongoing and "Soin" not in ongoing
    over = listed(etat="termine")
    assert "Soin" in over and "Eli Urgence" not in over
    nurses = listed(profession="infirmier")
    assert "Soin" in nurses and "Eli Urgence" not in nurses
    searched = listed(q="soin")
    assert "Soin" in searched and "Eli Urgence" not in searched
    assert admin_client.get(EMERGENCIES, {"patient": str(alice.pk)}).status_code == 400
