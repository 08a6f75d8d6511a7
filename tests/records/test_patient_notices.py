"""The worried patient's notifications and access history: facts shown in the reader's
language, links, read/unread, what is notified and how, visits, the médecin traitant."""

from __future__ import annotations

import datetime
import html
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation

from identity.models import Patient, Professional
from records import access
from records.models import (
    AccessAction,
    AccessEvent,
    AuthorisationReason,
    EmergencyAccess,
    Notification,
    NotificationKind,
    NotifiedAccesses,
)
from records.services.care import (
    care_authorise,
    emergency_declare,
    notification_preference_set,
    read_traced,
)
from records.trail import record_access
from tests.cast import fresh_login, make_professional
from tests.records.helpers import report

pytestmark = pytest.mark.django_db


def _page(client: Client, name: str, lang: str = "fr", **params: Any) -> str:
    response = client.get(reverse(name), params, HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _prefer(
    alice: Patient, accesses: str, *, by_email: bool = True, in_portal: bool = True
) -> None:
    notification_preference_set(
        actor=alice.user,
        patient=alice,
        accesses=accesses,
        by_email=by_email,
        in_portal=in_portal,
    )


def _read(professional: Professional, patient: Patient) -> None:
    """A professional opens the DMP's page, as the view does (through the funnel)."""
    dmp = access.dmp_for(professional.user, patient.public_id)
    read_traced(actor=professional.user, dmp=dmp, action=AccessAction.DMP_VIEW)


def test_an_emergency_notice_is_facts_shown_in_each_language(
    client: Client,
    alice: Patient,
    stranger_doctor: Professional,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        emergency_declare(
            actor=stranger_doctor.user,
            patient=alice,
            samu=False,
            reason="other",
            reason_text="AVP, inconsciente",
        )
    stored = Notification.objects.get(recipient=alice.user)
    assert stored.message == ""  # no sentence stored: the facts
    assert stored.professional == stranger_doctor
    assert stored.emergency == EmergencyAccess.objects.get()
    started = timezone.localtime(stored.emergency.started_at)
    with translation.override("fr"):
        when_fr = formats.date_format(started, "DATETIME_FORMAT")
    with translation.override("en"):
        when_en = formats.date_format(started, "DATETIME_FORMAT")
    client.force_login(alice.user)
    french = _page(client, "records:my_notifications")
    assert (
        "Dr Sam Stranger (Médecin — Médecine générale) a accédé à votre DMP en urgence "
        f"(bris de glace) le {when_fr}, pour 4 heures" in french
    )
    assert "Motif : Autre (préciser) — AVP, inconsciente" in french
    english = _page(client, "records:my_notifications", "en")
    assert (
        "Dr Sam Stranger (Doctor — General practice) accessed your DMP in an emergency "
        f"(break the glass) on {when_en}, for 4 hours" in english
    )
    assert "a accédé" not in english
    # Both told, by e-mail too (the médecin traitant of their patient).
    assert {m.to[0] for m in mail.outbox} == {alice.user.email, alice.medecin_traitant.user.email}
    # The link leads to the accesses of that professional, and marks the notice read.
    opened = client.get(reverse("records:notification_open", args=[stored.public_id]))
    assert opened.status_code == 302
    assert opened["Location"].startswith(reverse("records:my_history"))
    assert f"who={stranger_doctor.rpps}" in opened["Location"]
    stored.refresh_from_db()
    assert stored.read_at is not None


def test_a_new_document_notice_links_to_it_and_is_read_once_opened(
    client: Client, alice: Patient, doctor: Professional
) -> None:
    entry = report(doctor, alice, title="Compte rendu de coloscopie")
    notice = Notification.objects.get(recipient=alice.user, kind=NotificationKind.NEW_DOCUMENT)
    assert notice.entry == entry and notice.message == ""
    client.force_login(alice.user)
    page = _page(client, "records:my_notifications")
    assert "Compte rendu de coloscopie" in page
    assert "notification-unread" in page
    opened = client.get(reverse("records:notification_open", args=[notice.public_id]))
    assert opened["Location"] == reverse("records:entry_detail", args=[entry.public_id])
    page = _page(client, "records:my_notifications")
    assert "notification-unread" not in page
    assert "1 notification non lue" not in page


def test_all_read_at_once_and_others_notices_answer_404(
    client: Client, alice: Patient, doctor: Professional, stranger_doctor: Professional
) -> None:
    report(doctor, alice, title="A")
    report(doctor, alice, title="B")
    client.force_login(alice.user)
    assert "2 notifications non lues" in _page(client, "records:my_notifications")
    client.post(reverse("records:my_notifications"))
    assert not Notification.objects.filter(recipient=alice.user, read_at__isnull=True).exists()
    other = Client()
    other.force_login(stranger_doctor.user)
    notice = Notification.objects.filter(recipient=alice.user).first()
    assert notice is not None
    response = other.get(reverse("records:notification_open", args=[notice.public_id]))
    assert response.status_code == 404


@pytest.mark.parametrize("count", [2, 20])
def test_notifications_page_has_constant_queries(
    client: Client,
    alice: Patient,
    doctor: Professional,
    count: int,
    django_assert_num_queries: Any,
) -> None:
    for i in range(count):
        report(doctor, alice, title=f"Document {i}")
    client.force_login(alice.user)
    client.get(reverse("records:my_notifications"))
    # session, user, the notifications with their facts. Alice's second factor (every patient
    # has one) is remembered in the session: no query for it.
    with django_assert_num_queries(3):
        response = client.get(reverse("records:my_notifications"))
    assert response.content.decode().count("notification-unread") == count


def test_emergencies_only_silences_first_accesses_but_never_emergencies(
    alice: Patient, administrator: Any, stranger_doctor: Professional
) -> None:
    _prefer(alice, NotifiedAccesses.EMERGENCIES, by_email=False, in_portal=False)
    newcomer = make_professional("newcomer@test.example", verifier=administrator)
    care_authorise(
        actor=alice.user, patient=alice, professional=newcomer, reason=AuthorisationReason.PATIENT
    )
    _read(newcomer, alice)
    assert not Notification.objects.filter(recipient=alice.user).exists()
    emergency_declare(actor=stranger_doctor.user, patient=alice, samu=False, reason="vital")
    # Always told of an emergency, in the portal too, whatever the channels chosen.
    assert list(
        Notification.objects.filter(recipient=alice.user).values_list("kind", flat=True)
    ) == [NotificationKind.EMERGENCY]


def test_every_access_is_told_once_per_visit(
    alice: Patient, authorised_doctor: Professional
) -> None:
    _prefer(alice, NotifiedAccesses.EVERY)
    _read(authorised_doctor, alice)  # the first access: told as such
    _read(authorised_doctor, alice)  # the same visit
    kinds = lambda: list(  # noqa: E731
        Notification.objects.filter(recipient=alice.user)
        .order_by("created_at", "pk")
        .values_list("kind", flat=True)
    )
    assert kinds() == [NotificationKind.FIRST_ACCESS]
    AccessEvent.objects.filter(actor=authorised_doctor.user).update(
        at=timezone.now() - datetime.timedelta(hours=2)
    )
    _read(authorised_doctor, alice)  # a new visit, two hours later
    _read(authorised_doctor, alice)
    assert kinds() == [NotificationKind.FIRST_ACCESS, NotificationKind.ACCESS]


def test_first_access_only_is_the_default(alice: Patient, authorised_doctor: Professional) -> None:
    _read(authorised_doctor, alice)
    AccessEvent.objects.update(at=timezone.now() - datetime.timedelta(hours=2))
    _read(authorised_doctor, alice)
    kinds = Notification.objects.filter(recipient=alice.user).values_list("kind", flat=True)
    assert list(kinds) == [NotificationKind.FIRST_ACCESS]


def test_channels_are_the_patients_choice(
    alice: Patient, doctor: Professional, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer(alice, NotifiedAccesses.FIRST, by_email=False, in_portal=True)
    with django_capture_on_commit_callbacks(execute=True):
        report(doctor, alice, title="Portail seulement")
    assert Notification.objects.filter(recipient=alice.user).count() == 1
    assert not [m for m in mail.outbox if alice.user.email in m.to]
    _prefer(alice, NotifiedAccesses.FIRST, by_email=True, in_portal=False)
    with django_capture_on_commit_callbacks(execute=True):
        report(doctor, alice, title="E-mail seulement")
    assert Notification.objects.filter(recipient=alice.user).count() == 1
    (sent,) = [m for m in mail.outbox if alice.user.email in m.to]
    assert "E-mail seulement" in sent.body


def test_the_settings_page_saves_the_choice(client: Client, alice: Patient) -> None:
    fresh_login(client, alice.user)
    page = _page(client, "records:my_settings")
    assert "Seulement les accès en urgence" in page
    response = client.post(
        reverse("records:my_settings"),
        {"form": "notifications", "accesses": "every", "in_portal": "on"},
    )
    assert response.status_code == 302
    preference = alice.user.notification_preference
    assert (preference.accesses, preference.by_email, preference.in_portal) == (
        "every",
        False,
        True,
    )
    bad = client.post(reverse("records:my_settings"), {"form": "notifications", "accesses": "x"})
    assert bad.status_code == 200
    assert "Sélectionnez un choix valide" in bad.content.decode()
    preference.refresh_from_db()
    assert preference.accesses == "every"


def test_notices_written_as_sentences_become_facts(
    alice: Patient, doctor: Professional, stranger_doctor: Professional
) -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("records.migrations.0013_patient_notifications")
    entry = report(doctor, alice, title="Bilan")
    emergency = emergency_declare(
        actor=stranger_doctor.user, patient=alice, samu=False, reason="vital"
    )
    Notification.objects.all().delete()
    legacy = {
        "doc": Notification.objects.create(
            recipient=alice.user,
            patient=alice,
            kind="new_document",
            message="Un nouveau document est disponible dans votre DMP : Bilan.",
        ),
        "emergency": Notification.objects.create(
            recipient=alice.user,
            patient=alice,
            kind="emergency",
            message="Dr Sam Stranger (Médecin) a accédé à votre DMP en urgence (bris de glace) "
            "le 01/01/2026 à 10:00, pour 4 heures. Motif : Urgence vitale.",
            created_at=emergency.started_at + datetime.timedelta(seconds=1),
        ),
        "unknown": Notification.objects.create(
            recipient=alice.user, patient=alice, kind="first_access", message="Quelqu'un."
        ),
    }
    migration.facts_from_messages(apps, None)
    for row in legacy.values():
        row.refresh_from_db()
    assert (legacy["doc"].message, legacy["doc"].entry) == ("", entry)
    assert (legacy["emergency"].message, legacy["emergency"].emergency) == ("", emergency)
    assert legacy["emergency"].professional == stranger_doctor
    assert legacy["unknown"].message == "Quelqu'un."  # kept as written, shown as it is


# --- The médecin traitant ------------------------------------------------------------------


def test_the_medecin_traitant_is_changed_not_removed(
    client: Client, alice: Patient, doctor: Professional
) -> None:
    care_authorise(
        actor=alice.user, patient=alice, professional=doctor, reason=AuthorisationReason.PATIENT
    )
    fresh_login(client, alice.user)
    page = _page(client, "records:my_access")
    assert "Changer de médecin traitant" in page
    assert "Son accès ne peut pas être retiré tant qu'il est votre médecin traitant" in page
    assert f'value="{doctor.public_id}"' not in page  # no revoke/block form for him
    response = client.post(
        reverse("records:my_access_change"),
        {"action": "revoke", "professional": str(doctor.public_id)},
        follow=True,
    )
    assert "changez d'abord de médecin traitant" in html.unescape(response.content.decode())
    assert access.dmp_access(doctor.user, alice) is not None


# --- The access history ------------------------------------------------------------------


def test_history_is_one_line_per_visit_in_plain_words(
    client: Client, alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    entry = report(doctor, alice, title="Échographie abdominale")
    hidden = report(doctor, alice, title="Annonce à faire", invisible_to_patient=True)
    for action, public_id in [
        (AccessAction.DMP_VIEW, None),
        (AccessAction.ENTRY_VIEW, entry.public_id),
        (AccessAction.THUMBNAIL, entry.public_id),
        (AccessAction.THUMBNAIL, entry.public_id),
        (AccessAction.ENTRY_VIEW, hidden.public_id),
    ]:
        record_access(
            actor=authorised_doctor.user,
            patient=alice,
            action=action,
            entry_public_id=public_id,
        )
    client.force_login(alice.user)
    response = client.get(reverse("records:my_history"))
    visits = response.context["visits"]
    ana = visits[0]
    assert ana.last.actor == authorised_doctor.user
    assert ana.summary() == [
        "a consulté votre DMP",
        "a consulté : Échographie abdominale, document non visible pour vous",
        "a consulté l'imagerie",
    ]
    body = response.content.decode()
    assert "Annonce à faire" not in body  # a title the patient may not read yet
    # Alice's own reads apart: off by default, on when asked for.
    assert not any(visit.is_patient for visit in visits)
    own = client.get(reverse("records:my_history"), {"own": "on"}).context["visits"]
    assert any(visit.is_patient for visit in own)
    english = _page(client, "records:my_history", "en")
    assert "viewed your DMP" in english and "a consulté" not in english


def test_history_csv_names_documents_by_title(
    client: Client, alice: Patient, doctor: Professional
) -> None:
    entry = report(doctor, alice, title="Radiographie du thorax")
    hidden = report(doctor, alice, title="Pas encore annoncé", invisible_to_patient=True)
    client.force_login(alice.user)
    content = b"".join(
        client.get(reverse("records:my_history_csv")).streaming_content  # type: ignore[attr-defined]
    ).decode()
    assert "Radiographie du thorax" in content
    assert str(entry.public_id) not in content
    assert "Pas encore annoncé" not in content and str(hidden.public_id) not in content
    assert ";Médecin;" in content  # the profession's label, not its code
    english = b"".join(
        client.get(reverse("records:my_history_csv"), HTTP_ACCEPT_LANGUAGE="en").streaming_content  # type: ignore[attr-defined]
    ).decode()
    assert english.startswith(
        "\ufeffdate;who;RPPS;profession;organisation;action;mode;document;detail;software"
    )
    assert ";Document added;" in english and "Radiographie du thorax" in english
