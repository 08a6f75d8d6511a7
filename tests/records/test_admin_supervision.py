"""Issue 18, item 2: administrators supervise the trail, they do not browse it.

Counts per day, action and mode; the chain's integrity; pseudonymous lists (tested for every
admin page in tests/test_access_matrix.py); one patient's trail only with a stated reason,
itself an access event on that patient which she reads in her history.
"""

from __future__ import annotations

import html

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional, Role, User
from records import trail
from records.models import AccessAction, AccessEvent, AccessMode
from records.services.supervision import patient_pseudonym
from tests.cast import TOTP_SECRET, fresh_login, make_user

pytestmark = pytest.mark.django_db

SUPERVISION = "/admin/records/accessevent/supervision/"
REASON = "Signalement d'un accès inhabituel, ticket 2026-041"


@pytest.fixture
def admin_client(administrator: User) -> Client:
    TOTP.activate(administrator, TOTP_SECRET)
    client = Client()
    fresh_login(client, administrator)
    return client


def _trail_url(event: AccessEvent) -> str:
    return reverse("admin:records_accessevent_patient_trail", args=[event.pk])


def _an_event_on(patient: Patient) -> AccessEvent:
    return AccessEvent.objects.filter(patient=patient).order_by("id").first()  # type: ignore[return-value]


def _secrets(alice: Patient) -> list[bytes]:
    return [
        s.lower().encode()
        for s in (alice.insc, alice.birth_name, alice.first_names, "alice", str(alice.public_id))
    ]


def test_the_supervision_page_counts_per_day_action_and_mode(
    admin_client: Client, alice: Patient, emergency_doctor: Professional
) -> None:
    response = admin_client.get(SUPERVISION)
    assert response.status_code == 200
    counts = response.context["counts"]
    assert counts.total_events == AccessEvent.objects.count()
    assert sum(day["total"] for day in counts.by_day) == AccessEvent.objects.count()
    assert dict(counts.by_action)["Ouverture du DMP"] == 1
    assert (
        dict(counts.by_mode)["Bris de glace"]
        == AccessEvent.objects.filter(mode=AccessMode.EMERGENCY).count()
    )
    assert dict(counts.emergencies_by_mode) == {"Bris de glace": 1}
    assert "Déclaration d'accès en urgence" in html.unescape(response.content.decode())
    assert not [s for s in _secrets(alice) if s in response.content.lower()]


def test_the_chain_is_verified_on_request_and_a_tampered_event_is_named(
    admin_client: Client, alice: Patient
) -> None:
    trail.log_integrate()  # what the sequencer has integrated is what is verified
    response = admin_client.post(SUPERVISION)
    assert response.context["chain"].intact
    assert f"{AccessEvent.objects.count()} événements vérifiés" in response.content.decode()
    AccessEvent.objects.filter(leaf_index=2).update(action=AccessAction.DOWNLOAD)
    response = admin_client.post(SUPERVISION)
    assert not response.context["chain"].intact
    assert "Chaîne rompue à l'événement n° 2" in response.content.decode()


def test_a_patients_trail_is_shown_for_a_reason_traced_on_her_history(
    admin_client: Client, administrator: User, alice: Patient, emergency_doctor: Professional
) -> None:
    event = _an_event_on(alice)
    before = AccessEvent.objects.filter(patient=alice).count()
    response = admin_client.post(_trail_url(event), {"reason": REASON})
    assert response.status_code == 200
    body = response.content.lower()
    assert not [s for s in _secrets(alice) if s in body]
    assert patient_pseudonym(alice.pk).lower().encode() in body
    assert emergency_doctor.rpps.encode() in body  # who came, by RPPS
    rows = response.context["rows"]
    assert len(rows) == before + 1  # her whole trail, this consultation included

    audit = AccessEvent.objects.filter(patient=alice).latest("id")
    assert (audit.actor, audit.action, audit.mode) == (
        administrator,
        AccessAction.HISTORY_VIEW,
        AccessMode.NORMAL,
    )
    assert REASON in audit.detail
    assert trail.verify_log().broken is None

    patient_client = Client()
    patient_client.force_login(alice.user)
    history = html.unescape(patient_client.get(reverse("records:my_history")).content.decode())
    assert REASON in history and "Ada Min" in history


@pytest.mark.parametrize("reason", ["", "pour voir", "x" * 300, "motif\u200b invisible"])
def test_no_trail_without_a_readable_reason(
    admin_client: Client, alice: Patient, reason: str
) -> None:
    event = _an_event_on(alice)
    count = AccessEvent.objects.count()
    response = admin_client.post(_trail_url(event), {"reason": reason}, follow=True)
    assert response.status_code == 200
    assert "rows" not in response.context
    assert AccessEvent.objects.count() == count
    assert "motif" in response.content.decode().lower()


def test_the_trail_is_never_shown_by_get(admin_client: Client, alice: Patient) -> None:
    count = AccessEvent.objects.count()
    assert admin_client.get(_trail_url(_an_event_on(alice))).status_code == 405
    assert AccessEvent.objects.count() == count


def test_the_trail_needs_a_fresh_authentication(administrator: User, alice: Patient) -> None:
    TOTP.activate(administrator, TOTP_SECRET)
    client = Client()
    client.force_login(administrator)
    count = AccessEvent.objects.count()
    response = client.post(_trail_url(_an_event_on(alice)), {"reason": REASON})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert AccessEvent.objects.count() == count


def test_an_event_without_a_dmp_has_no_patient_trail(
    admin_client: Client, administrator: User
) -> None:
    event = trail.record_access(actor=administrator, patient=None, action=AccessAction.DENIED)
    count = AccessEvent.objects.count()
    response = admin_client.post(_trail_url(event), {"reason": REASON}, follow=True)
    assert "ne concerne aucun DMP" in response.content.decode()
    assert AccessEvent.objects.count() == count


def test_staff_without_the_trails_permission_see_neither_counts_nor_trail(
    alice: Patient,
) -> None:
    staff = make_user("staff@test.example", role=Role.ADMINISTRATOR)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    TOTP.activate(staff, TOTP_SECRET)
    client = Client()
    fresh_login(client, staff)
    count = AccessEvent.objects.count()
    assert client.get(SUPERVISION).status_code == 403
    assert client.post(_trail_url(_an_event_on(alice)), {"reason": REASON}).status_code == 403
    assert AccessEvent.objects.count() == count


def test_the_event_page_offers_the_reasoned_consultation_only(
    admin_client: Client, alice: Patient
) -> None:
    event = _an_event_on(alice)
    page = admin_client.get(reverse("admin:records_accessevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert _trail_url(event).encode() in page.content
    assert b'name="reason"' in page.content
    assert not [s for s in _secrets(alice) if s in page.content.lower()]
