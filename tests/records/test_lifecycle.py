"""Search, médecin traitant, oppositions, closing, reopening, purge — each transition recorded."""

from __future__ import annotations

import io
import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from identity.errors import AccessDenied
from identity.models import DmpStatus, DmpTransition, Patient, Professional, TransitionKind
from records.models import AccessAction, AccessEvent
from records.services import lifecycle
from tests.cast import ALICE_NIR, fresh_login, make_professional, without_csrf

pytestmark = pytest.mark.django_db


def _kinds(patient: Patient) -> list[str]:
    return list(DmpTransition.objects.filter(patient=patient).values_list("kind", flat=True))


def test_search_by_insc_and_by_card(
    client: Client, doctor: Professional, alice: Patient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.force_login(doctor.user)
    url = reverse("records:patient_search")
    response = client.post(url, {"by": "insc", "insc": f" {alice.insc[:11]} {alice.insc[11:]} "})
    assert response.context["state"] == "readable"
    assert AccessEvent.objects.filter(action=AccessAction.DMP_SEARCH_HIT).count() == 1
    card = {"by": "card", "first_names": "ALICE-MARIE", "birth_date": "1985-05-14"}
    response = client.post(url, {**card, "nir": ALICE_NIR})
    assert response.context["state"] == "readable"
    # The carte Vitale search is a POST: the NIR is in no URL (the server's access log, the
    # browser's history, a Referer), in no log line, and not on the result page.
    nir_forms = {ALICE_NIR, ALICE_NIR.replace(" ", ""), ALICE_NIR.replace(" ", "")[:13]}
    request_line = response.request["PATH_INFO"] + "?" + response.request.get("QUERY_STRING", "")
    for form in nir_forms:
        assert form not in request_line
        assert form not in caplog.text
        assert form not in response.content.decode()
    # A search by GET only shows the blank forms: a NIR put in a link is not used.
    shown = client.get(url, {**card, "nir": ALICE_NIR})
    assert shown.status_code == 200 and shown.context["state"] is None
    response = client.post(
        url, {"by": "insc", "insc": alice.insc[:-1] + str((int(alice.insc[-1]) + 1) % 10)}
    )
    assert response.status_code == 400
    assert response.context["state"] is None
    assert "clé" in " ".join(response.context["by_insc"].errors["insc"])


def test_stranger_finds_the_dmp_but_cannot_open_it(
    client: Client, stranger_doctor: Professional, alice: Patient
) -> None:
    client.force_login(stranger_doctor.user)
    response = client.post(reverse("records:patient_search"), {"by": "insc", "insc": alice.insc})
    assert response.context["state"] == "no_access"
    assert alice.birth_name not in response.content.decode()
    real = client.get(reverse("records:patient_home", args=[alice.public_id]))
    missing = client.get(
        reverse("records:patient_home", args=["00000000-0000-4000-8000-000000000000"])
    )
    assert real.status_code == missing.status_code == 404
    assert without_csrf(real.content) == without_csrf(missing.content)


def test_administrator_has_no_clinical_access(
    client: Client, administrator: object, alice: Patient
) -> None:
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(administrator, "JBSWY3DPEHPK3PXP")
    client.force_login(administrator)  # type: ignore[arg-type]
    assert client.get(reverse("records:patient_home", args=[alice.public_id])).status_code == 403


def test_patient_names_their_medecin_traitant_and_changes_oppositions(
    alice: Patient, stranger_doctor: Professional
) -> None:
    lifecycle.medecin_traitant_set(actor=alice.user, patient=alice, professional=stranger_doctor)
    lifecycle.oppositions_set(actor=alice.user, patient=alice, bris_de_glace=True, samu=False)
    alice.refresh_from_db()
    assert alice.medecin_traitant == stranger_doctor
    assert alice.opposes_bris_de_glace and not alice.opposes_samu
    assert _kinds(alice).count(TransitionKind.MEDECIN_TRAITANT_CHANGED) == 2
    # The médecin traitant sees the DMP without any grant.
    assert Patient.objects.filter(pk=alice.pk).exists()
    from records.access import dmp_access

    held = dmp_access(stranger_doctor.user, alice)
    assert held is not None and held.may_deposit
    nurse = make_professional("nurse@test.example", profession="infirmier", specialty="")
    with pytest.raises(ValidationError):
        lifecycle.medecin_traitant_set(actor=alice.user, patient=alice, professional=nurse)
    with pytest.raises(AccessDenied):
        lifecycle.oppositions_set(
            actor=stranger_doctor.user, patient=alice, bris_de_glace=False, samu=False
        )


def test_settings_page_needs_reauthentication_to_change(client: Client, alice: Patient) -> None:
    client.force_login(alice.user)
    url = reverse("records:my_settings")
    assert client.get(url).status_code == 200
    response = client.post(url, {"form": "oppositions", "opposes_samu": "on"})
    assert response.status_code == 302
    assert "reauthenticate" in response["Location"]
    alice.refresh_from_db()
    assert not alice.opposes_samu


def test_close_then_nobody_reads_then_reopen(
    client: Client, alice: Patient, doctor: Professional
) -> None:
    lifecycle.dmp_close(actor=alice.user, patient=alice)
    alice.refresh_from_db()
    assert alice.dmp_status == DmpStatus.CLOSED
    assert alice.purge_after - alice.closed_at >= timedelta(days=3652)
    client.force_login(doctor.user)
    assert client.get(reverse("records:patient_home", args=[alice.public_id])).status_code == 404
    search = client.post(reverse("records:patient_search"), {"by": "insc", "insc": alice.insc})
    assert search.context["state"] == "closed"
    # The patient still sees that it is closed, and may reopen it.
    patient_client = Client()
    patient_client.force_login(alice.user)
    assert "est fermé" in patient_client.get(reverse("records:my_dmp")).content.decode()
    lifecycle.dmp_reopen(actor=alice.user, patient=alice)
    alice.refresh_from_db()
    assert alice.is_open and alice.purge_after is None
    assert client.get(reverse("records:patient_home", args=[alice.public_id])).status_code == 200
    assert _kinds(alice)[-2:] == [TransitionKind.CLOSED, TransitionKind.REOPENED]


def test_professional_reopens_with_consent(
    client: Client, alice: Patient, stranger_doctor: Professional
) -> None:
    lifecycle.dmp_close(actor=alice.user, patient=alice)
    fresh_login(client, stranger_doctor.user)  # reopening gives access back: a sensitive act
    url = reverse("records:dmp_reopen_by_professional")
    client.post(url, {"insc": alice.insc})  # no consent ticked
    alice.refresh_from_db()
    assert alice.dmp_status == DmpStatus.CLOSED
    response = client.post(url, {"insc": alice.insc, "consent": "on"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.is_open
    assert alice.consents.filter(kind="reopening", collected_by=stranger_doctor).exists()


def test_purge_command_keeps_a_tombstone_and_is_idempotent(alice: Patient) -> None:
    lifecycle.dmp_close(actor=alice.user, patient=alice, early_erasure=True)
    out = io.StringIO()
    call_command("purge_closed_dmps", "--dry-run", stdout=out)
    assert "0 DMP(s) would be purged" in out.getvalue()  # delay not over yet
    Patient.objects.filter(pk=alice.pk).update(erasure_due_at=timezone.now() - timedelta(days=1))
    out = io.StringIO()
    call_command("purge_closed_dmps", "--dry-run", stdout=out)
    assert f"would purge DMP {alice.public_id}" in out.getvalue()
    assert Patient.objects.get(pk=alice.pk).dmp_status == DmpStatus.CLOSED
    call_command("purge_closed_dmps", stdout=io.StringIO())
    tombstone = Patient.objects.get(pk=alice.pk)
    assert tombstone.dmp_status == DmpStatus.PURGED
    assert tombstone.insc == alice.insc
    assert (tombstone.birth_name, tombstone.first_names, tombstone.birth_date) == ("", "", None)
    assert not tombstone.consents.exists()
    assert tombstone.purged_at is not None and tombstone.closed_at is not None
    assert not alice.user.__class__.objects.get(pk=alice.user.pk).is_active
    out = io.StringIO()
    call_command("purge_closed_dmps", stdout=out)
    assert "0 DMP(s) purged" in out.getvalue()


def test_retention_runs_ten_years(alice: Patient) -> None:
    lifecycle.dmp_close(actor=alice.user, patient=alice)
    nine_years = timezone.now() + timedelta(days=9 * 365)
    assert not Patient.objects.due_for_purge(nine_years).exists()
    assert Patient.objects.due_for_purge(timezone.now() + timedelta(days=3660)).exists()


def test_close_page_is_a_sensitive_action(client: Client, alice: Patient) -> None:
    client.force_login(alice.user)
    url = reverse("records:my_dmp_close")
    assert client.get(url).status_code == 200
    response = client.post(url, {"confirm": "on"})
    assert "reauthenticate" in response["Location"]
    alice.refresh_from_db()
    assert alice.is_open
