"""The patient's access controls and history; the professional's consent and emergency pages."""

from __future__ import annotations

import datetime
import html

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation

from identity.models import Patient, Professional
from records.models import (
    AccessAction,
    AccessEvent,
    AccessMode,
    CareRelation,
    CareRelationStatus,
    EmergencyAccess,
    Notification,
)
from records.trail import log_integrate, record_access
from tests.cast import fresh_login, make_professional
from tests.records.helpers import report

pytestmark = pytest.mark.django_db


def _change(client: Client, action: str, professional: Professional) -> None:
    response = client.post(
        reverse("records:my_access_change"),
        {"action": action, "professional": str(professional.public_id)},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("records:my_access")


def test_access_page_lists_who_and_why(
    client: Client, alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    client.force_login(alice.user)
    response = client.get(reverse("records:my_access"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Claire Martin" in body  # médecin traitant, who opened the DMP
    assert "A ouvert le DMP" in body
    assert "Ana Auth" in body and "Autorisé par le patient" in body
    assert AccessEvent.objects.filter(actor=alice.user, action=AccessAction.DMP_VIEW).exists()


def test_directory_search_finds_verified_professionals_only(
    client: Client, alice: Patient, unverified_doctor: Professional
) -> None:
    target = make_professional("zoe@test.example", first_name="Zoé", last_name="Zorro")
    client.force_login(alice.user)
    by_name = client.get(reverse("records:my_access"), {"q": "zorro"})
    assert list(by_name.context["found"]) == [target]
    by_rpps = client.get(reverse("records:my_access"), {"q": target.rpps})
    assert list(by_rpps.context["found"]) == [target]
    unverified = client.get(reverse("records:my_access"), {"q": unverified_doctor.rpps})
    assert list(unverified.context["found"]) == []


def test_changes_need_a_fresh_login_then_apply(
    client: Client, alice: Patient, doctor: Professional
) -> None:
    other = make_professional("other@test.example", first_name="Oscar", last_name="Autre")
    client.force_login(alice.user)
    response = client.post(
        reverse("records:my_access_change"),
        {"action": "authorise", "professional": str(other.public_id)},
    )
    assert "reauthenticate" in response["Location"]
    assert not CareRelation.objects.filter(professional=other).exists()

    client.logout()
    fresh_login(client, alice.user)
    _change(client, "authorise", other)
    assert CareRelation.objects.get(professional=other).status == CareRelationStatus.AUTHORISED
    _change(client, "block", other)
    assert CareRelation.objects.get(professional=other).status == CareRelationStatus.BLOCKED
    _change(client, "unblock", other)
    assert CareRelation.objects.get(professional=other).status == CareRelationStatus.REVOKED
    _change(client, "medecin_traitant", other)
    alice.refresh_from_db()
    assert alice.medecin_traitant == other
    # The médecin traitant cannot be blocked: a clear message, nothing changes.
    response = client.post(
        reverse("records:my_access_change"),
        {"action": "block", "professional": str(other.public_id)},
        follow=True,
    )
    assert "ne peut pas être bloqué" in response.content.decode()
    assert CareRelation.objects.get(professional=other).status == CareRelationStatus.REVOKED


def test_forged_actions_are_refused(client: Client, alice: Patient) -> None:
    fresh_login(client, alice.user)
    for data in (
        {"action": "authorise", "professional": "not-a-uuid"},
        {"action": "drop_table", "professional": "00000000-0000-4000-8000-000000000000"},
        {"action": "authorise"},
    ):
        response = client.post(reverse("records:my_access_change"), data, follow=True)
        assert response.status_code == 200
        assert "Action impossible" in response.content.decode()


def test_history_lists_filters_and_exports(
    client: Client, alice: Patient, doctor: Professional, emergency_doctor: Professional
) -> None:
    doctor_client = Client()
    doctor_client.force_login(doctor.user)
    doctor_client.get(reverse("records:patient_home", args=[alice.public_id]))
    client.force_login(alice.user)
    response = client.get(reverse("records:my_history"))
    body = response.content.decode()
    assert "Claire Martin" in body
    assert "Bris de glace" in body
    emergency_only = client.get(reverse("records:my_history"), {"mode": "emergency"})
    visits = emergency_only.context["visits"]
    assert visits and {e.mode for visit in visits for e in visit.events} == {"emergency"}
    history_reads = AccessEvent.objects.filter(actor=alice.user, action=AccessAction.HISTORY_VIEW)
    assert history_reads.count() == 2
    export = client.get(reverse("records:my_history_csv"))
    assert export["Content-Type"].startswith("text/csv")
    assert "attachment" in export["Content-Disposition"]
    content = b"".join(export.streaming_content).decode()  # type: ignore[attr-defined]
    assert content.startswith("\ufeffdate;qui;RPPS")
    assert emergency_doctor.rpps in content
    assert AccessEvent.objects.filter(actor=alice.user, action=AccessAction.EXPORT).exists()


def test_history_rejects_bad_filters_without_error(client: Client, alice: Patient) -> None:
    client.force_login(alice.user)
    response = client.get(
        reverse("records:my_history"),
        {"start": "2026-02-30", "end": "x", "mode": "hack", "page": "-3"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "2101-01-01", "9999-12-31"])
def test_dates_out_of_range_are_a_form_error(client: Client, alice: Patient, day: str) -> None:
    client.force_login(alice.user)
    for url, keys in [
        (reverse("records:my_history"), ("start", "end")),
        (reverse("records:timeline_patient"), ("du", "au")),
    ]:
        for key in keys:
            response = client.get(url, {key: day})
            assert response.status_code == 200, (url, key)
            form = response.context["form" if "historique" in url else "filters"]
            assert form.errors[key] == ["Choisissez une date entre 1900 et 2100."]
            assert "Choisissez une date entre 1900 et 2100." in response.content.decode()
    export = client.get(reverse("records:my_history_csv"), {"start": day, "end": day})
    assert b"".join(export.streaming_content).startswith("\ufeffdate".encode())  # type: ignore[attr-defined]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_impossible_birth_dates_are_a_form_error(
    client: Client, alice: Patient, doctor: Professional, day: str
) -> None:
    client.force_login(doctor.user)
    response = client.post(
        reverse("records:patient_search"),
        {"by": "card", "first_names": "Alice", "birth_date": day, "nir": "285057512345623"},
    )
    assert response.status_code == 400
    assert response.context["by_traits"].errors["birth_date"]
    anonymous = Client()
    response = anonymous.post(
        reverse("records:activation"), {"code": "AAAA-BBBB-CCCC", "birth_date": day}
    )
    assert response.context["form"].errors["birth_date"]


def test_history_rows_show_each_access_escaped_with_its_proof_in_either_language(
    client: Client, alice: Patient, doctor: Professional
) -> None:
    entry = report(doctor, alice, title="Bilan <b>lipidique</b>")
    sealed = record_access(
        actor=doctor.user,
        patient=alice,
        action=AccessAction.ENTRY_VIEW,
        entry_public_id=entry.public_id,
    )
    log_integrate()
    record_access(
        actor=doctor.user,
        patient=alice,
        action=AccessAction.DOWNLOAD,
        entry_public_id=entry.public_id,
        detail="<script>alert(1)</script>",
    )
    client.force_login(alice.user)
    proof = reverse("records:my_history_proof", args=[sealed.public_id])
    at = timezone.localtime(sealed.at)
    for lang, download, sealing in (
        ("fr", "Télécharger", "en cours de scellement"),
        ("en", "Download", "being sealed"),
    ):
        page = client.get(reverse("records:my_history"), HTTP_ACCEPT_LANGUAGE=lang)
        page = page.content.decode()
        with translation.override(lang):  # the language's short date format (d/m/Y in French)
            when = formats.date_format(at, "SHORT_DATETIME_FORMAT")
            mode = str(AccessMode.NORMAL.label)
        # The document's title and the event's free text are shown, never interpreted.
        assert "Bilan &lt;b&gt;lipidique&lt;/b&gt;" in page and "<b>lipidique" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
        # The sealed access has its proof (which downloads); the newer one is being sealed.
        assert f'<td data-label="Mode">{mode}</td>' in page
        assert f'<a href="{proof}" download>{download}</a>' in page
        assert f'<span class="helptext">{sealing}</span>' in page
        assert f'<time datetime="{at.isoformat()}">{html.escape(when)}</time>' in page, lang
    assert client.get(proof).status_code == 200


@pytest.mark.parametrize("events", [1, 200])
def test_history_query_count_is_constant(
    client: Client,
    alice: Patient,
    doctor: Professional,
    events: int,
    django_assert_num_queries: object,
) -> None:
    from records.trail import record_access

    entry = report(doctor, alice, title="Bilan lipidique")
    for _ in range(events):
        record_access(
            actor=doctor.user,
            patient=alice,
            action=AccessAction.ENTRY_VIEW,
            entry_public_id=entry.public_id,
        )
    client.force_login(alice.user)
    client.get(reverse("records:my_history"))  # warm the session
    # 1 session, 2 user, 3 own patient, 4 access event (one INSERT: no chain head to lock),
    # 5 the window of events, 6 the titles of their documents. Alice's second factor (every
    # patient has one) is remembered in the session: no query for it.
    with django_assert_num_queries(6):  # type: ignore[operator]
        response = client.get(reverse("records:my_history"))
    # The doctor's reads are one visit, the deposit and the opening included; Alice's own
    # reads are not listed by default.
    visits = response.context["visits"]
    assert len(visits) == 1
    assert len(visits[0].events) == events + 3  # the opening, its authorisation, the deposit
    assert visits[0].summary() == [
        "a ouvert votre DMP",
        "a modifié les droits d'accès",
        "a déposé : Bilan lipidique",
        "a consulté : Bilan lipidique",
    ]


def test_emergency_journey(
    client: Client,
    alice: Patient,
    stranger_doctor: Professional,
    doctor: Professional,
    django_capture_on_commit_callbacks: object,
) -> None:
    fresh_login(client, stranger_doctor.user)
    search = client.post(reverse("records:patient_search"), {"by": "insc", "insc": alice.insc})
    assert search.context["state"] == "no_access"
    url = reverse("records:emergency")
    form = client.get(url, {"cible": search.context["emergency_target"]})
    assert form.status_code == 200
    assert form.context["target"] == alice
    assert "Déclarer l'urgence" in form.content.decode()
    response = client.post(url, {"insc": alice.insc, "reason": "other", "reason_text": ""})
    assert response.status_code == 200
    assert "Précisez le motif" in response.content.decode()
    assert not EmergencyAccess.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = client.post(
            url, {"insc": alice.insc, "reason": "unconscious", "reason_text": "AVP, inconsciente"}
        )
    assert response.status_code == 302
    home = client.get(response["Location"])
    body = home.content.decode()
    assert "banner-emergency" in body
    assert "en urgence (bris de glace)" in body
    grant = EmergencyAccess.objects.get()
    assert grant.expires_at - grant.started_at == datetime.timedelta(hours=4)
    kinds = set(Notification.objects.values_list("recipient__email", flat=True))
    assert kinds == {alice.user.email, doctor.user.email}
    assert any("AVP, inconsciente" in m.body for m in mail.outbox)
    assert AccessEvent.objects.filter(
        actor=stranger_doctor.user, mode="emergency", action=AccessAction.DMP_VIEW
    ).exists()


def test_emergency_links_work_only_in_their_session_and_for_a_while(
    client: Client, alice: Patient, stranger_doctor: Professional
) -> None:
    from records.views import targets

    fresh_login(client, stranger_doctor.user)
    search = client.post(reverse("records:patient_search"), {"by": "insc", "insc": alice.insc})
    token = search.context["emergency_target"]
    url = reverse("records:emergency")
    other = Client()
    other.force_login(stranger_doctor.user)  # the same professional, another session
    session = client.session
    session[targets.SESSION_KEY][token]["at"] -= targets.TTL_SECONDS
    for response in (
        client.get(url, {"cible": "forged"}),
        client.get(url),
        other.get(url, {"cible": token}),
    ):
        assert response.status_code == 200
        assert response.context["target"] is None
        body = response.content.decode()
        assert "Aucun patient choisi" in body and "Déclarer l'urgence" not in body
    session.save()
    assert client.get(url, {"cible": token}).context["target"] is None
    # A forged INS-C in the form's body: no patient shown, nothing declared.
    response = client.post(url, {"insc": "1234", "reason": "vital"})
    assert response.context["target"] is None
    assert not EmergencyAccess.objects.exists()


def test_emergency_refused_when_the_patient_opposed(
    client: Client, alice: Patient, stranger_doctor: Professional
) -> None:
    Patient.objects.filter(pk=alice.pk).update(opposes_bris_de_glace=True)
    fresh_login(client, stranger_doctor.user)
    response = client.post(reverse("records:emergency"), {"insc": alice.insc, "reason": "vital"})
    assert response.status_code == 200
    assert "opposé" in response.content.decode()
    assert not EmergencyAccess.objects.exists()


def test_attested_consent_grants_access_and_tells_the_patient(
    client: Client, alice: Patient, stranger_doctor: Professional
) -> None:
    fresh_login(client, stranger_doctor.user)
    response = client.post(reverse("records:attest_consent"), {"insc": alice.insc, "consent": "on"})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    relation = CareRelation.objects.get(professional=stranger_doctor)
    assert relation.reason == "consultation"
    assert Notification.objects.filter(recipient=alice.user, kind="authorised").exists()


def test_first_access_by_an_authorised_professional_is_notified_once(
    client: Client, alice: Patient, authorised_doctor: Professional
) -> None:
    client.force_login(authorised_doctor.user)
    url = reverse("records:patient_home", args=[alice.public_id])
    client.get(url)
    client.get(url)
    assert Notification.objects.filter(recipient=alice.user, kind="first_access").count() == 1


def test_a_search_revealing_a_dmp_without_access_is_traced(
    client: Client, alice: Patient, stranger_doctor: Professional
) -> None:
    client.force_login(stranger_doctor.user)
    client.post(reverse("records:patient_search"), {"by": "insc", "insc": alice.insc})
    event = AccessEvent.objects.get(actor=stranger_doctor.user)
    assert (event.patient, event.action, event.detail) == (
        alice,
        AccessAction.DMP_SEARCH_HIT,
        "sans autorisation",
    )


def test_reading_the_settings_page_is_traced(client: Client, alice: Patient) -> None:
    client.force_login(alice.user)
    client.get(reverse("records:my_settings"))
    assert AccessEvent.objects.filter(
        actor=alice.user, action=AccessAction.DMP_VIEW, detail="paramètres"
    ).exists()
