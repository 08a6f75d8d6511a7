"""The access trail: append-only, hash-chained, verified by a command, never forked."""

from __future__ import annotations

import importlib
import io
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from django.utils import timezone

from identity.models import Patient, Professional
from records.models import AccessAction, AccessChainHead, AccessEvent
from records.trail import (
    checkpoint_publish,
    checkpoints_verify,
    details_erase,
    record_access,
    verify_chain,
)


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


def _in_threads(*jobs: Callable[[], object]) -> list[BaseException]:
    """Run each job in its own thread (its own connection); return what they raised."""
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _writer(alice: Patient, doctor: Professional, count: int) -> Callable[[], None]:
    def write() -> None:
        for _ in range(count):
            record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)

    return write


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(alice: Patient, doctor: Professional) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("parallel writers need PostgreSQL (CI runs the suite there too)")
    before = AccessEvent.objects.count()
    assert not _in_threads(*[_writer(alice, doctor, 25)] * 6)
    assert AccessEvent.objects.count() == before + 150
    seqs = list(AccessEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    checked, broken = verify_chain()
    assert broken is None and checked == len(seqs)


@pytest.mark.django_db(transaction=True)
def test_verifying_and_checkpointing_during_writes_raise_no_false_alarm(
    alice: Patient, doctor: Professional
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("parallel writers need PostgreSQL (CI runs the suite there too)")
    write = _writer(alice, doctor, 60)
    done = threading.Event()
    runs: list[int] = []
    write_errors: list[BaseException] = []

    def writers() -> None:
        try:
            write_errors.extend(_in_threads(*[write] * 4))
        finally:
            done.set()

    def verifier() -> None:
        while not done.is_set():
            _checked, broken = verify_chain(batch=7)
            assert broken is None, str(broken)
            checkpoints_verify()
            runs.append(checkpoint_publish().seq)

    assert not _in_threads(writers, verifier)
    assert not write_errors
    assert len(runs) > 1 and runs == sorted(runs)
    call_command("verify_access_log", stdout=io.StringIO())


# --- Erasable details: the chain links a salted commitment, never the texts ---------------------


def _events_with_details(alice: Patient, doctor: Professional) -> list[AccessEvent]:
    return [
        record_access(
            actor=doctor.user, patient=alice, action=AccessAction.TIMELINE_VIEW, detail=detail
        )
        for detail in ("courbe Hémoglobine", "carte des allergies", "")
    ]


@pytest.mark.django_db
def test_erasing_details_keeps_the_chain_verifiable(alice: Patient, doctor: Professional) -> None:
    events = _events_with_details(alice, doctor)
    other = record_access(actor=doctor.user, patient=None, action=AccessAction.DENIED, detail="x")
    assert (
        details_erase(patient=alice)
        == len(events) + AccessEvent.objects.filter(patient=alice, seq__lt=events[0].seq).count()
    )
    erased = AccessEvent.objects.get(pk=events[0].pk)
    assert (erased.detail, erased.actor_label, erased.detail_salt) == ("", "", "")
    assert erased.detail_digest == events[0].detail_digest  # the commitment stays
    assert AccessEvent.objects.get(pk=other.pk).detail == "x"
    assert verify_chain() == (AccessEvent.objects.count(), None)
    assert details_erase(patient=alice) == 0  # idempotent


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"detail": "rien vu"},  # a text that does not match its commitment
        {"actor_label": "Quelqu'un d'autre"},
        {"detail_digest": "f" * 64},  # the commitment itself: the link breaks
        {"detail_salt": "zz" * 16},  # not a salt seal_details wrote
    ],
)
def test_verify_finds_altered_details(
    alice: Patient, doctor: Professional, change: dict[str, str]
) -> None:
    target = _events_with_details(alice, doctor)[1]
    AccessEvent.objects.filter(pk=target.pk).update(**change)
    checked, broken = verify_chain()
    assert broken is not None and broken.event is not None
    assert broken.event.pk == target.pk and checked == target.seq - 1
    with pytest.raises(CommandError, match=f"#{target.seq} \\(id {target.pk},"):
        call_command("verify_access_log", stdout=io.StringIO())


@pytest.mark.django_db
def test_text_written_into_an_erased_event_is_found(alice: Patient, doctor: Professional) -> None:
    target = _events_with_details(alice, doctor)[0]
    details_erase(patient=alice)
    AccessEvent.objects.filter(pk=target.pk).update(detail="courbe Hémoglobine")
    broken = verify_chain()[1]
    assert broken is not None and broken.event == AccessEvent.objects.get(pk=target.pk)


# --- The migration that re-sealed the trails written before the commitment -----------------------

RESEAL = "0007_access_event_detail_digest"
reseal = importlib.import_module(f"records.migrations.{RESEAL}")


def _migrate(target: str) -> None:
    MigrationExecutor(connection).migrate([("records", target)])


def _migrate_to_latest() -> None:
    """Leave the schema as the other tests expect it: every migration of records applied (the
    columns added after the re-sealing keep the events' digests: None is not chained)."""
    executor = MigrationExecutor(connection)
    executor.migrate([node for node in executor.loader.graph.leaf_nodes() if node[0] == "records"])


def _historical(name: str) -> Any:
    state = MigrationExecutor(connection).loader.project_state(
        ("records", "0006_digest_constraint")
    )
    return state.apps.get_model("records", name)


def _legacy_trail(count: int, *, break_at: int | None = None) -> None:
    """``count`` events chained as before 0007 (the detail linked), through the historical
    models, their ids in the reverse order of their seqs (the re-seal gives each the id of its
    seq: every one collides with another's); with ``break_at``, that event's detail is altered
    after it was chained."""
    event_model = _historical("AccessEvent")
    previous, rows = reseal.GENESIS, []
    at = timezone.now()
    for seq in range(1, count + 1):
        row = {
            "seq": seq,
            "at": at,
            "actor_id": None,
            "actor_rpps": "10000000001",
            "patient_insc": "1" * 22,
            "entry_public_id": uuid.uuid4() if seq % 2 else None,
            "action": AccessAction.ENTRY_VIEW,
            "mode": "normal",
            "detail": f"détail {seq}",
        }
        digest = reseal.legacy_digest(previous, row)
        if seq == break_at:
            row["detail"] = "modifié"
        rows.append(
            event_model(
                **row,
                id=count + 1 - seq,
                actor_label="Dr Test",
                actor_profession="medecin",
                request_id=f"req-{seq}",
                previous_digest=previous,
                digest=digest,
            )
        )
        previous = digest
    event_model.objects.bulk_create(rows, batch_size=1000)
    _historical("AccessChainHead").objects.update_or_create(
        pk=1, defaults={"seq": count, "digest": previous}
    )


def _legacy_chain_intact() -> bool:
    previous = reseal.GENESIS
    columns = [name for name in reseal.FIELDS if not name.startswith("detail_")]
    for row in _historical("AccessEvent").objects.order_by("seq").values(*columns):
        if (
            row["previous_digest"] != previous
            or reseal.legacy_digest(previous, row) != row["digest"]
        ):
            return False
        previous = row["digest"]
    return True


@pytest.mark.django_db(transaction=True)
def test_migration_reseals_a_legacy_trail() -> None:
    _migrate("0006_digest_constraint")
    try:
        _legacy_trail(3000)
        _migrate(RESEAL)
    finally:
        _migrate_to_latest()
    assert verify_chain() == (3000, None)
    assert AccessChainHead.objects.get(pk=1).digest == AccessEvent.objects.get(seq=3000).digest
    assert not AccessEvent.objects.exclude(id=F("seq")).exists()  # every id is its seq
    assert AccessEvent.objects.get(seq=7).detail == "détail 7"
    assert AccessEvent.objects.filter(detail_salt="").count() == 0
    record_access(actor=None, patient=None, action=AccessAction.DENIED, detail="après")
    assert verify_chain() == (3001, None)


@pytest.mark.django_db(transaction=True)
def test_migration_refuses_a_broken_legacy_trail() -> None:
    _migrate("0006_digest_constraint")
    try:
        _legacy_trail(20, break_at=12)
        with pytest.raises(reseal.TrailBroken, match="broken at event #12"):
            _migrate(RESEAL)
        with connection.cursor() as cursor:  # nothing changed: the migration rolled back
            columns = connection.introspection.get_table_description(cursor, "records_accessevent")
        assert "detail_salt" not in {column.name for column in columns}
    finally:
        _historical("AccessEvent").objects.all().delete()
        _historical("AccessChainHead").objects.all().delete()
        _migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_migration_back_and_forth_keeps_an_erased_trail_verifiable(
    alice: Patient, doctor: Professional
) -> None:
    _events_with_details(alice, doctor)
    details_erase(patient=alice)
    count = AccessEvent.objects.count()
    try:
        _migrate("0006_digest_constraint")
        assert _legacy_chain_intact()
    finally:
        _migrate_to_latest()
    assert verify_chain() == (count, None)
    assert not AccessEvent.objects.filter(patient=alice).exclude(detail="").exists()


@pytest.mark.django_db(transaction=True)
def test_migration_on_an_empty_trail() -> None:
    _migrate("0006_digest_constraint")
    try:
        _migrate(RESEAL)
    finally:
        _migrate_to_latest()
    assert verify_chain() == (0, None)
