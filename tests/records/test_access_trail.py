"""The access trail: append-only, in a Merkle tree with signed heads, verified by a command,
written by parallel writers without a global lock."""

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
from django.utils import timezone

from identity.models import Patient, Professional
from records.models import AccessAction, AccessEvent, TreeHead
from records.trail import (
    details_erase,
    file_heads,
    log_integrate,
    log_integrate_all,
    record_access,
    verify_log,
)


def _intact() -> int:
    """The leaves verified; fails naming the break."""
    report = verify_log()
    assert report.broken is None, str(report.broken)
    return report.checked


@pytest.mark.django_db
def test_verify_reports_an_intact_trail(alice: Patient, doctor: Professional) -> None:
    for _ in range(5):
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    out = io.StringIO()
    call_command("verify_access_log", stdout=out)
    assert "intact" in out.getvalue()
    assert _intact() == AccessEvent.objects.count()
    assert not AccessEvent.objects.filter(leaf_index__isnull=True).exists()


@pytest.mark.django_db
def test_verify_finds_the_first_tampered_event(alice: Patient, doctor: Professional) -> None:
    events = [
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        for _ in range(5)
    ]
    log_integrate()
    events[2].refresh_from_db()
    AccessEvent.objects.filter(pk=events[2].pk).update(detail="rien vu")
    with pytest.raises(CommandError, match=f"Leaf #{events[2].leaf_index} "):
        call_command("verify_access_log", stdout=io.StringIO())


@pytest.mark.django_db
def test_verify_notices_deleted_events(alice: Patient, doctor: Professional) -> None:
    events = [
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        for _ in range(3)
    ]
    log_integrate()
    AccessEvent.objects.filter(pk=events[1].pk).delete()
    with pytest.raises(CommandError, match="is missing before it"):
        call_command("verify_access_log", stdout=io.StringIO())
    AccessEvent.objects.filter(id__gte=events[1].pk).delete()
    with pytest.raises(CommandError, match="removed at the end"):
        call_command("verify_access_log", stdout=io.StringIO())


@pytest.mark.django_db
def test_a_read_is_refused_when_its_event_cannot_be_written(
    client: object, alice: Patient, doctor: Professional
) -> None:
    from django.db import DatabaseError, transaction
    from django.test import Client
    from django.urls import reverse

    def no_event_written(execute: Any, sql: str, *args: Any) -> Any:
        if 'INSERT INTO "records_accessevent"' in sql:  # however the trail writes it
            raise DatabaseError("disk full")
        return execute(sql, *args)

    browser = Client(raise_request_exception=False)
    browser.force_login(doctor.user)
    events = AccessEvent.objects.count()
    # (In a savepoint of its own: the test's transaction goes on after the failed one.)
    with transaction.atomic(), connection.execute_wrapper(no_event_written):
        response = browser.get(reverse("records:patient_home", args=[alice.public_id]))
    assert response.status_code == 500
    assert alice.birth_name.encode() not in response.content
    assert AccessEvent.objects.count() == events


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


def _all_in_the_tree_once() -> None:
    leaves = list(AccessEvent.objects.order_by("leaf_index").values_list("leaf_index", flat=True))
    assert leaves == list(range(len(leaves)))  # every event, each at one leaf, none skipped
    head = TreeHead.objects.order_by("-size").first()
    assert head is not None and head.size == len(leaves)
    assert [anchor.size for anchor in file_heads()][-1] == head.size


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_all_land_in_the_tree_once(alice: Patient, doctor: Professional) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("parallel writers need PostgreSQL (CI runs the suite there too)")
    before = AccessEvent.objects.count()
    assert not _in_threads(*[_writer(alice, doctor, 25)] * 8)
    assert AccessEvent.objects.count() == before + 200
    log_integrate_all(batch=64)
    _all_in_the_tree_once()
    assert _intact() == before + 200


@pytest.mark.django_db(transaction=True)
def test_sequencing_and_verifying_during_writes_raise_no_false_alarm(
    alice: Patient, doctor: Professional
) -> None:
    """Writers commit in another order than their ids while the sequencer integrates in
    batches and the checker walks: no event is skipped, none integrated twice, no false alarm."""
    if connection.vendor != "postgresql":
        pytest.skip("parallel writers need PostgreSQL (CI runs the suite there too)")
    write = _writer(alice, doctor, 60)
    done = threading.Event()
    sizes: list[int] = []
    write_errors: list[BaseException] = []

    def writers() -> None:
        try:
            write_errors.extend(_in_threads(*[write] * 6))
        finally:
            done.set()

    def sequencer() -> None:
        while not done.is_set():
            head = log_integrate(batch=25)
            sizes.append(head.size if head else 0)

    def verifier() -> None:
        while not done.is_set():
            _intact()

    assert not _in_threads(writers, sequencer, verifier)
    assert not write_errors
    assert len(sizes) > 1 and sizes == sorted(sizes)
    log_integrate_all()
    _all_in_the_tree_once()
    call_command("verify_access_log", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_writers_do_not_wait_for_each_other(alice: Patient, doctor: Professional) -> None:
    """No global lock: a writer whose transaction stays open does not hold up another."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    from django.db import transaction

    opened, finished = threading.Event(), threading.Event()

    def slow() -> None:
        with transaction.atomic():
            record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
            opened.set()
            assert finished.wait(10)

    def quick() -> None:
        assert opened.wait(10)
        with transaction.atomic():
            record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        finished.set()  # committed while the slow one is still open

    assert not _in_threads(slow, quick)
    log_integrate()  # the quick one committed first: ids and leaves may differ in order
    _all_in_the_tree_once()


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
    log_integrate()  # some erased in the tree, some not yet: both kinds verify after
    late = record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    assert details_erase(patient=alice) == AccessEvent.objects.filter(patient=alice).count()
    assert AccessEvent.objects.get(pk=late.pk).detail_salt == ""
    erased = AccessEvent.objects.get(pk=events[0].pk)
    assert (erased.detail, erased.actor_label, erased.detail_salt) == ("", "", "")
    assert erased.detail_digest == events[0].detail_digest  # the commitment stays
    assert AccessEvent.objects.get(pk=other.pk).detail == "x"
    log_integrate()
    assert _intact() == AccessEvent.objects.count()
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
    log_integrate()
    target.refresh_from_db()
    AccessEvent.objects.filter(pk=target.pk).update(**change)
    report = verify_log()
    assert report.broken is not None and report.broken.event is not None
    assert report.broken.event.pk == target.pk and report.checked == target.leaf_index
    with pytest.raises(CommandError, match=f"#{target.leaf_index} \\(event id {target.pk},"):
        call_command("verify_access_log", stdout=io.StringIO())


@pytest.mark.django_db
def test_text_written_into_an_erased_event_is_found(alice: Patient, doctor: Professional) -> None:
    target = _events_with_details(alice, doctor)[0]
    details_erase(patient=alice)
    log_integrate()
    AccessEvent.objects.filter(pk=target.pk).update(detail="courbe Hémoglobine")
    broken = verify_log().broken
    assert broken is not None and broken.event == AccessEvent.objects.get(pk=target.pk)


# --- The migration that re-sealed the trails written before the commitment -----------------------

RESEAL = "0007_access_event_detail_digest"
reseal = importlib.import_module(f"records.migrations.{RESEAL}")


def _migrate(target: str) -> None:
    MigrationExecutor(connection).migrate([("records", target)])


def _migrate_latest() -> None:
    """Back to the records' latest migration, as the other tests expect the schema (columns
    came after the re-seal: the software that acted, 0008)."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("records"))


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


LATEST = "0008_trail_transparency_log"
to_tree = importlib.import_module(f"records.migrations.{LATEST}")


@pytest.mark.django_db(transaction=True)
def test_migrations_convert_a_legacy_chain_into_the_tree() -> None:
    """0007 re-seals the chain, 0008 verifies it and puts every event at the leaf of its seq
    under one signed head, which the sequencer then anchors in the file."""
    _migrate("0006_digest_constraint")
    try:
        _legacy_trail(3000)
        _migrate(LATEST)
    finally:
        _migrate_latest()  # leave the schema as the other tests expect it
    assert list(TreeHead.objects.values_list("size", flat=True)) == [3000]
    assert _intact() == 3000
    assert AccessEvent.objects.get(leaf_index=6).detail == "détail 7"
    assert AccessEvent.objects.filter(detail_salt="").count() == 0
    record_access(actor=None, patient=None, action=AccessAction.DENIED, detail="après")
    call_command("verify_access_log", stdout=io.StringIO())
    assert [head.size for head in file_heads()] == [3000, 3001]
    assert _intact() == 3001


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
        _migrate_latest()


@pytest.mark.django_db(transaction=True)
def test_the_conversion_refuses_a_chain_tampered_after_its_seal() -> None:
    _migrate(RESEAL)
    events = MigrationExecutor(connection).loader.project_state(("records", RESEAL)).apps
    try:
        _migrate("0006_digest_constraint")
        _legacy_trail(20)
        _migrate(RESEAL)
        events.get_model("records", "AccessEvent").objects.filter(seq=5).update(actor_rpps="1")
        with pytest.raises(to_tree.TrailBroken, match=r"broken at event #5 .*not converted"):
            _migrate(LATEST)
        with connection.cursor() as cursor:  # nothing changed: the migration rolled back
            columns = connection.introspection.get_table_description(cursor, "records_accessevent")
        assert "leaf_index" not in {column.name for column in columns}
    finally:
        events.get_model("records", "AccessEvent").objects.all().delete()
        events.get_model("records", "AccessChainHead").objects.all().delete()
        _migrate_latest()


@pytest.mark.django_db(transaction=True)
def test_migration_back_and_forth_keeps_an_erased_trail_verifiable(
    alice: Patient, doctor: Professional
) -> None:
    _events_with_details(alice, doctor)
    log_integrate()
    record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)  # not in it
    details_erase(patient=alice)
    count = AccessEvent.objects.count()
    try:
        _migrate("0006_digest_constraint")
        assert _legacy_chain_intact()
    finally:
        _migrate_latest()
    assert _intact() == count
    assert not AccessEvent.objects.filter(patient=alice).exclude(detail="").exists()


@pytest.mark.django_db(transaction=True)
def test_migration_on_an_empty_trail() -> None:
    _migrate("0006_digest_constraint")
    try:
        _migrate(LATEST)
    finally:
        _migrate_latest()
    assert _intact() == 0
    assert not TreeHead.objects.exists()


@pytest.mark.django_db
def test_the_events_table_is_partitioned_by_month_on_postgresql(
    alice: Patient, doctor: Professional
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps a plain table")
    record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    month = f"records_accessevent_{timezone.now():%Y_%m}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT child.relname, count(*) FILTER (WHERE e.id IS NOT NULL) FROM pg_inherits "
            "JOIN pg_class child ON child.oid = inhrelid "
            "LEFT JOIN records_accessevent e ON e.tableoid = child.oid "
            "WHERE inhparent = 'records_accessevent'::regclass GROUP BY child.relname"
        )
        partitions = dict(cursor.fetchall())
        cursor.execute(
            "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = %s::regclass",
            ["records_accessevent"],
        )
        assert cursor.fetchone() == ("r",)
    assert partitions[month] == AccessEvent.objects.count()  # every event of this month there
    assert "records_accessevent_default" in partitions
    call_command("sequence_access_log", stdout=io.StringIO())  # creates the coming months
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass",
            ["records_accessevent"],
        )
        assert cursor.fetchone()[0] >= 5
