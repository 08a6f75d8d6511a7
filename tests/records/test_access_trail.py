"""The access trail: append-only, hash-chained, verified by a command, never forked."""

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from identity.models import Patient, Professional
from records.models import AccessAction, AccessEvent
from records.trail import record_access, verify_chain


@pytest.mark.django_db
def test_verify_reports_an_intact_trail(alice: Patient, doctor: Professional) -> None:
    for _ in range(5):
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    out = io.StringIO()
    call_command("verify_access_log", stdout=out)
    assert "intact" in out.getvalue()
    checked, broken = verify_chain()
    assert broken is None
    assert checked == AccessEvent.objects.count()


@pytest.mark.django_db
def test_verify_finds_the_first_tampered_event(alice: Patient, doctor: Professional) -> None:
    events = [
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        for _ in range(5)
    ]
    AccessEvent.objects.filter(pk=events[2].pk).update(detail="rien vu")
    with pytest.raises(CommandError, match=f"#{events[2].seq}"):
        call_command("verify_access_log", stdout=io.StringIO())


@pytest.mark.django_db
def test_verify_notices_deleted_events(alice: Patient, doctor: Professional) -> None:
    events = [
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        for _ in range(3)
    ]
    AccessEvent.objects.filter(pk=events[1].pk).delete()
    with pytest.raises(CommandError, match="Broken link"):
        call_command("verify_access_log", stdout=io.StringIO())
    AccessEvent.objects.filter(seq__gte=events[1].seq).delete()
    with pytest.raises(CommandError, match="missing at the end"):
        call_command("verify_access_log", stdout=io.StringIO())


@pytest.mark.django_db
def test_a_read_is_refused_when_its_event_cannot_be_written(
    client: object, alice: Patient, doctor: Professional, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import DatabaseError
    from django.test import Client
    from django.urls import reverse

    def broken_save(*args: object, **kwargs: object) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(AccessEvent, "save", broken_save)
    browser = Client(raise_request_exception=False)
    browser.force_login(doctor.user)
    response = browser.get(reverse("records:patient_home", args=[alice.public_id]))
    assert response.status_code == 500
    assert alice.birth_name.encode() not in response.content


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(alice: Patient, doctor: Professional) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("parallel writers need PostgreSQL (CI runs the suite there too)")
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(25):
                record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    before = AccessEvent.objects.count()
    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert AccessEvent.objects.count() == before + 150
    seqs = list(AccessEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    checked, broken = verify_chain()
    assert broken is None and checked == len(seqs)
