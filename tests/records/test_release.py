"""Documents invisible to the patient: warning to professionals, 14-day reminder, 30-day release,
announcement by a professional."""

from __future__ import annotations

import datetime
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from identity.errors import AccessDenied
from identity.models import Patient, Professional
from records import access
from records.models import Entry, Notification, NotificationKind
from records.services.entries import entry_announce, entry_deposit

pytestmark = pytest.mark.django_db


def _invisible(doctor: Professional, alice: Patient) -> Entry:
    return entry_deposit(
        actor=doctor.user,
        patient=alice,
        kind="report",
        document_type="60568-3",
        title="CR d'anatomopathologie",
        act_date=datetime.date(2026, 1, 5),
        invisible_to_patient=True,
    )


def _age(entry: Entry, days: int) -> None:
    Entry.objects.filter(pk=entry.pk).update(deposited_at=timezone.now() - timedelta(days=days))


def _run() -> str:
    out = io.StringIO()
    call_command("release_due_entries", stdout=out)
    return out.getvalue()


def test_reminder_at_14_days_then_release_at_30_days(alice: Patient, doctor: Professional) -> None:
    entry = _invisible(doctor, alice)
    assert not Notification.objects.filter(recipient=alice.user).exists()
    _age(entry, 13)
    assert "0 reminder(s) sent, 0 document(s) released" in _run()
    _age(entry, 15)
    assert "1 reminder(s) sent" in _run()
    assert "0 reminder(s) sent" in _run()  # idempotent
    assert not access.entries_for(alice.user, alice).filter(pk=entry.pk).exists()
    _age(entry, 31)
    assert "1 document(s) released" in _run()
    assert "0 document(s) released" in _run()
    entry.refresh_from_db()
    assert not entry.invisible_to_patient
    assert access.entries_for(alice.user, alice).filter(pk=entry.pk).exists()
    kinds = list(
        Notification.objects.filter(recipient=alice.user)
        .order_by("created_at")
        .values_list("kind", flat=True)
    )
    assert kinds == [NotificationKind.REMINDER, NotificationKind.NEW_DOCUMENT]


def test_announcement_releases_it_at_once(alice: Patient, doctor: Professional) -> None:
    entry = _invisible(doctor, alice)
    entry_announce(actor=doctor.user, entry=entry)
    assert access.entries_for(alice.user, alice).filter(pk=entry.pk).exists()
    assert Notification.objects.filter(
        recipient=alice.user, kind=NotificationKind.NEW_DOCUMENT
    ).exists()
    _age(entry, 40)
    assert "0 document(s) released" in _run()


def test_visible_deposit_tells_the_patient(alice: Patient, doctor: Professional) -> None:
    entry_deposit(
        actor=doctor.user,
        patient=alice,
        kind="report",
        document_type="11488-4",
        title="CR de consultation",
        act_date=datetime.date(2026, 1, 5),
    )
    assert Notification.objects.filter(
        recipient=alice.user, kind=NotificationKind.NEW_DOCUMENT
    ).exists()


def test_deposit_rules(
    alice: Patient,
    doctor: Professional,
    emergency_doctor: Professional,
    stranger_doctor: Professional,
) -> None:
    from django.core.exceptions import ValidationError

    for professional in (emergency_doctor, stranger_doctor):
        with pytest.raises(AccessDenied):
            entry_deposit(
                actor=professional.user,
                patient=alice,
                kind="report",
                document_type="11488-4",
                title="x",
                act_date=datetime.date(2026, 1, 5),
            )
    with pytest.raises(ValidationError):
        entry_deposit(
            actor=doctor.user,
            patient=alice,
            kind="report",
            document_type="11488-4",
            title="x",
            act_date=timezone.localdate() + timedelta(days=1),
        )
    assert not Entry.objects.exists()


def test_versions(alice: Patient, doctor: Professional) -> None:
    from django.core.exceptions import ValidationError

    first = entry_deposit(
        actor=doctor.user,
        patient=alice,
        kind="report",
        document_type="11488-4",
        title="v1",
        act_date=datetime.date(2026, 1, 5),
    )
    second = entry_deposit(
        actor=doctor.user,
        patient=alice,
        kind="report",
        document_type="11488-4",
        title="v2",
        act_date=datetime.date(2026, 1, 5),
        replaces=first,
    )
    first.refresh_from_db()
    assert first.status == "replaced"
    assert first.replaced_by == second
    with pytest.raises(ValidationError):
        entry_deposit(
            actor=doctor.user,
            patient=alice,
            kind="report",
            document_type="11488-4",
            title="v2 bis",
            act_date=datetime.date(2026, 1, 5),
            replaces=first,
        )
