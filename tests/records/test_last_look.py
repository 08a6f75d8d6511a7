"""When each professional last looked at each DMP (records.looks.LastLook): written with the
event of looking (the DMP's page, its list of documents), in the same transaction and in one
statement; never by other reads, nor by a patient; filled from the trail by migration 0014.
And "Mes patients" itself reads no patient data: it leaves no event."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from identity.models import Patient, Professional
from records import trail
from records.models import AccessAction, AccessEvent, LastLook
from tests.records.conftest import logged_in
from tests.records.helpers import LAST_LOOK, report

pytestmark = pytest.mark.django_db


def _look(professional: Professional, patient: Patient) -> Any:
    return LastLook.objects.filter(user=professional.user, patient=patient).values_list(
        "at", flat=True
    )


def test_looking_at_the_dmp_keeps_when_and_nothing_else_does(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    client = logged_in(authorised_doctor.user)
    assert not _look(authorised_doctor, alice).exists()
    entry = report(doctor, alice)
    client.get(reverse("records:entry_detail", args=[entry.public_id]))  # one document: no
    assert not _look(authorised_doctor, alice).exists()

    client.get(reverse("records:patient_home", args=[alice.public_id]))
    first = AccessEvent.objects.filter(actor=authorised_doctor.user, patient=alice).latest("at")
    assert list(_look(authorised_doctor, alice)) == [first.at]
    client.get(reverse("records:timeline_pro", args=[alice.public_id]))
    newest = AccessEvent.objects.filter(
        actor=authorised_doctor.user, action=AccessAction.TIMELINE_VIEW
    ).get()
    assert list(_look(authorised_doctor, alice)) == [newest.at]  # one row, moved forward
    assert LastLook.objects.count() == 1

    logged_in(alice.user).get(reverse("records:my_dmp"))  # the patient: not a professional
    assert LastLook.objects.count() == 1


def test_the_upsert_is_one_statement_on_looking_events_only(
    alice: Patient, authorised_doctor: Professional
) -> None:
    user = authorised_doctor.user
    for action, statements, looked in (
        # The event and the upsert (one statement on PostgreSQL: records.trail._save_looked)
        (AccessAction.DMP_VIEW, 1 + LAST_LOOK, True),
        (AccessAction.TIMELINE_VIEW, 1 + LAST_LOOK, True),
        (AccessAction.ENTRY_VIEW, 1, False),  # other reads: the event alone
        (AccessAction.HISTORY_VIEW, 1, False),
    ):
        before = LastLook.objects.filter(user=user).values_list("at", flat=True).first()
        with CaptureQueriesContext(connection) as queries:
            event = trail.record_access(actor=user, patient=alice, action=action)
        assert len(queries) == statements, (action, [q["sql"] for q in queries])
        # The event is written whole, under the id it was given back.
        stored = AccessEvent.objects.get(pk=event.pk)
        assert (stored.public_id, stored.action, stored.at) == (event.public_id, action, event.at)
        assert stored.actor_rpps == authorised_doctor.rpps and stored.patient_id == alice.pk
        after = LastLook.objects.get(user=user, patient=alice).at
        assert after == (event.at if looked else before)
    assert LastLook.objects.filter(user=user).count() == 1


def test_the_listing_reads_no_patient_data_and_leaves_no_event(
    alice: Patient, doctor: Professional
) -> None:
    """Decision (issue 16): "Mes patients" is not traced. It shows the professional the DMPs
    they already hold by their own care relation — names, birth dates, how they hold them,
    how many documents are new — as the patient's access page shows her their professionals;
    no document is read, and opening one of them is traced as any read."""
    before = AccessEvent.objects.count()
    body = logged_in(doctor.user).get("/", {"tri": "-acces"}).content.decode()
    assert "DUPONT" in body
    assert AccessEvent.objects.count() == before


def test_migration_0015_fills_it_from_the_trail(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    migration = importlib.import_module("records.migrations.0015_pro_last_look")
    user = authorised_doctor.user
    for action in (AccessAction.DMP_VIEW, AccessAction.TIMELINE_VIEW, AccessAction.ENTRY_VIEW):
        trail.record_access(actor=user, patient=alice, action=action)
    trail.record_access(actor=alice.user, patient=alice, action=AccessAction.DMP_VIEW)
    newest = AccessEvent.objects.filter(actor=user, action=AccessAction.TIMELINE_VIEW).get().at
    LastLook.objects.all().delete()
    # What the migration uses of its schema editor (SQLite opens none inside a test's atomic).
    editor = SimpleNamespace(
        quote_name=connection.ops.quote_name,
        execute=lambda sql, params: connection.cursor().execute(sql, params),
    )
    migration.fill_from_the_trail(apps, editor)
    rows = list(LastLook.objects.values_list("user", "patient", "at"))
    assert (user.pk, alice.pk, newest) in rows
    assert all(row[0] != alice.user.pk for row in rows)  # patients are not kept
