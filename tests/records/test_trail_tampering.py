"""Tampering with the access trail is found by ``verify_access_log``, whatever was touched.

Every stored field of every event (the list is taken from the model, so a new field is covered
automatically), the head row, an event deleted in the middle, the tail truncated with the head
rewound to match, a chain rewritten and re-hashed from an edited event on: each makes the
command fail and name the problem. The last two leave a chain that is consistent in the
database, and only the signed checkpoints outside it can tell.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import models
from django.test import RequestFactory

from identity.models import Patient, Professional
from records import trail as trail_module
from records.models import AccessAction, AccessChainHead, AccessEvent, AccessMode
from records.trail import (
    CHAINED,
    ERASABLE,
    TrailBroken,
    acting_structure,
    chain_digest,
    checkpoint_path,
    checkpoint_publish,
    checkpoints_verify,
    record_access,
    verify_chain,
)

pytestmark = pytest.mark.django_db

EVENT_FIELDS = [field for field in AccessEvent._meta.concrete_fields]
HEAD_FIELDS = [field for field in AccessChainHead._meta.concrete_fields]


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_access_log", stdout=out)
    return out.getvalue()


def _names(seq: int) -> str:
    """A pattern naming event #seq (not #seq0…)."""
    return rf"#{seq}(?!\d)"


@pytest.fixture
def trail(alice: Patient, bob: Patient, doctor: Professional) -> list[AccessEvent]:
    """Seven events; the middle one has every field filled (entry, detail, request id)."""
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-0042")
    events = [
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        for _ in range(3)
    ]
    events.append(
        record_access(
            actor=doctor.user,
            patient=alice,
            action=AccessAction.ENTRY_VIEW,
            mode=AccessMode.NORMAL,
            entry_public_id=uuid.uuid4(),
            detail="courbe Hémoglobine",
            request=request,
        )
    )
    events += [
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        for _ in range(3)
    ]
    assert "intact" in _verify()
    return events


@pytest.fixture(autouse=True)
def _acting_for_a_structure() -> Iterator[None]:
    """Events are written for a structure (a Pro Santé Connect login's), so the middle event
    fills every field, ``actor_structure`` included."""
    token = acting_structure.set("Clinique des Lilas (FINESS 750000001)")
    yield
    acting_structure.reset(token)


def _other_text(value: str, max_length: int | None) -> str:
    """The same text with its last character changed: a hex digest or salt stays hex."""
    if not value:
        return "1"
    return value[:-1] + ("1" if value[-1] == "0" else "0")


def _altered(event: AccessEvent, field: models.Field[object, object]) -> object:
    """Another plausible value of ``field`` for ``event``: what a tamperer would write."""
    value = getattr(event, field.attname)
    if field.is_relation:
        related = field.related_model
        assert related is not None and not isinstance(related, str)
        other = related._default_manager.exclude(pk=value).order_by("pk").first()
        assert other is not None, f"no other {related.__name__} to point {field.name} at"
        return other.pk
    if isinstance(field, models.DateTimeField):
        return value + datetime.timedelta(seconds=1)
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.IntegerField | models.AutoField):
        return value + 1000
    if field.choices:
        return next(choice for choice, _label in field.flatchoices if choice != value)
    if isinstance(field, models.CharField):
        return _other_text(value, field.max_length)
    raise AssertionError(f"{field.name}: teach this test how to alter a {type(field).__name__}")


@pytest.mark.parametrize("field", EVENT_FIELDS, ids=lambda field: field.name)
def test_changing_any_field_of_an_event_is_found(
    trail: list[AccessEvent], field: models.Field[object, object]
) -> None:
    target = trail[3]
    assert getattr(target, field.attname) not in (None, ""), "the target fills every field"
    AccessEvent.objects.filter(pk=target.pk).update(**{field.attname: _altered(target, field)})
    with pytest.raises(CommandError, match=_names(target.seq)):
        _verify()


NULLABLE = [field for field in EVENT_FIELDS if field.null]


def test_a_structure_written_into_an_event_without_one_is_found(
    trail: list[AccessEvent], doctor: Professional, alice: Patient
) -> None:
    """Events without a structure (a password login's, or written before the column) chain no
    key for it; giving one a structure afterwards breaks its digest."""
    token = acting_structure.set(None)
    try:
        plain = record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    finally:
        acting_structure.reset(token)
    assert plain.actor_structure is None and "intact" in _verify()
    AccessEvent.objects.filter(pk=plain.pk).update(actor_structure="Clinique Y (FINESS 1)")
    with pytest.raises(CommandError, match=_names(plain.seq)):
        _verify()


@pytest.mark.parametrize("field", NULLABLE, ids=lambda field: field.name)
def test_blanking_a_nullable_field_is_found(
    trail: list[AccessEvent], field: models.Field[object, object]
) -> None:
    """Setting ``patient`` to NULL takes the event out of the patient's history."""
    target = trail[3]
    AccessEvent.objects.filter(pk=target.pk).update(**{field.attname: None})
    with pytest.raises(CommandError, match=_names(target.seq)):
        _verify()


def test_an_event_deleted_in_the_middle_is_found(trail: list[AccessEvent]) -> None:
    AccessEvent.objects.filter(pk=trail[2].pk).delete()
    with pytest.raises(CommandError, match=rf"{_names(trail[2].seq)}.*missing"):
        _verify()


def test_a_truncated_tail_with_the_head_rewound_is_found(trail: list[AccessEvent]) -> None:
    """Consistent in the database: only the checkpoint the last run signed knows the end."""
    last_kept = trail[3]
    AccessEvent.objects.filter(seq__gt=last_kept.seq).delete()
    AccessChainHead.objects.filter(pk=1).update(seq=last_kept.seq, digest=last_kept.digest)
    with pytest.raises(
        CommandError, match=rf"{_names(trail[-1].seq)}.*ends at {_names(last_kept.seq)}"
    ):
        _verify()


@pytest.mark.parametrize("field", HEAD_FIELDS, ids=lambda field: field.name)
def test_editing_the_head_row_is_found(
    trail: list[AccessEvent], field: models.Field[object, object]
) -> None:
    head = AccessChainHead.objects.get(pk=1)
    AccessChainHead.objects.filter(pk=1).update(**{field.attname: _altered(head, field)})
    with pytest.raises(CommandError, match=re.escape("chain head")):
        _verify()


def test_the_digest_covers_every_column() -> None:
    """A new column must be chained (or declared erasable): the tests above then cover it."""
    columns = [field.attname for field in EVENT_FIELDS]
    assert sorted([*CHAINED, *ERASABLE, "digest"]) == sorted(columns)


# --- What only the checkpoints can tell --------------------------------------------------------


def _lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in checkpoint_path().read_text().splitlines()]


def test_a_trail_rewritten_and_rehashed_is_found(trail: list[AccessEvent]) -> None:
    """Edit an event and re-hash every one after it, head included, as trail.py would: the
    chain is consistent again, the checkpoint of the last run is not."""
    target = trail[2]
    AccessEvent.objects.filter(pk=target.pk).update(actor_rpps="10000000000")
    previous = AccessEvent.objects.get(seq=target.seq - 1).digest
    for event in AccessEvent.objects.filter(seq__gte=target.seq).order_by("seq"):
        event.previous_digest = previous
        event.digest = previous = chain_digest(event)
        event.save(update_fields=["previous_digest", "digest"])
    AccessChainHead.objects.filter(pk=1).update(digest=previous)
    assert verify_chain() == (AccessEvent.objects.count(), None)  # the database alone: intact
    with pytest.raises(CommandError, match=r"no longer has the digest.*at or before #"):
        _verify()


def test_each_run_and_the_periodic_command_append_a_signed_checkpoint(
    trail: list[AccessEvent], doctor: Professional, alice: Patient
) -> None:
    last = trail[-1].seq
    assert [line["seq"] for line in _lines()] == [last]  # the fixture's run
    record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    out = io.StringIO()
    call_command("checkpoint_access_log", stdout=out)
    assert f"Checkpoint #{last + 1} signed" in out.getvalue()
    assert f"{last + 1} events verified, 2 checkpoints matched" in _verify()
    lines = _lines()
    assert [line["seq"] for line in lines] == [last, last + 1, last + 1]
    assert set(lines[-1]) == {"at", "digest", "key", "seq", "signature"}  # no patient data
    assert lines[-1]["digest"] == AccessChainHead.objects.get(pk=1).digest
    assert checkpoints_verify() == 3


def test_no_checkpoint_anchors_a_rewound_head(trail: list[AccessEvent]) -> None:
    before = checkpoint_path().read_bytes()
    last_kept = trail[3]
    AccessEvent.objects.filter(seq__gt=last_kept.seq).delete()
    AccessChainHead.objects.filter(pk=1).update(seq=last_kept.seq, digest=last_kept.digest)
    with pytest.raises(CommandError, match=r"ends at .*No checkpoint was written"):
        call_command("checkpoint_access_log", stdout=io.StringIO())
    with pytest.raises(TrailBroken):
        checkpoint_publish()
    assert checkpoint_path().read_bytes() == before


def _rewrite_last_line(change: dict[str, Any]) -> None:
    lines = _lines()
    lines[-1].update(change)
    checkpoint_path().write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"seq": 1}, "signature is wrong"),  # anchor an earlier event: a truncation would pass
        ({"digest": "0" * 64}, "signature is wrong"),
        ({"at": "2020-01-01T00:00:00+00:00"}, "signature is wrong"),
        ({"signature": "00" * 64}, "signature is wrong"),
        ({"key": "0" * 16}, "signed by key 0000000000000000"),
        ({"signature": "not hex"}, "unreadable"),
    ],
)
def test_a_checkpoint_with_a_wrong_signature_is_found(
    trail: list[AccessEvent], change: dict[str, Any], problem: str
) -> None:
    _rewrite_last_line(change)
    with pytest.raises(CommandError, match=rf"Checkpoint line 1 of .*{re.escape(problem)}"):
        _verify()


def test_a_checkpoint_signed_with_another_key_is_refused(
    trail: list[AccessEvent], settings: Any
) -> None:
    settings.DMP_TRAIL_SIGNING_KEY = "ab" * 32
    with pytest.raises(CommandError, match=r"signed by key .*, not by this portal's key"):
        _verify()


def test_a_torn_checkpoint_line_stops_the_periodic_command(trail: list[AccessEvent]) -> None:
    with checkpoint_path().open("ab") as file:
        file.write(b'{"at": "2026')  # a crash in the middle of a write
    with pytest.raises(CommandError, match=r"last checkpoint line .* unreadable"):
        call_command("checkpoint_access_log", stdout=io.StringIO())


def test_an_unwritable_checkpoint_directory_is_a_clear_error(
    trail: list[AccessEvent], settings: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.DMP_TRAIL_CHECKPOINT_DIR = str(blocker / "checkpoints")
    with pytest.raises(CommandError, match="cannot be read or written"):
        _verify()


def test_events_written_while_the_walk_runs_raise_no_false_alarm(
    trail: list[AccessEvent], doctor: Professional, alice: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer commits between the head read and the walk (and another during it)."""
    read_head = trail_module._head

    def head_then_a_write() -> Any:
        head = read_head()
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        return head

    monkeypatch.setattr(trail_module, "_head", head_then_a_write)
    assert verify_chain(batch=2) == (trail[-1].seq, None)
    assert checkpoints_verify() == 1
