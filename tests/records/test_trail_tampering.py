"""Tampering with the access trail is found by ``verify_access_log``, whatever was touched.

Each kind of change: an edit (every stored field of an event; the list is taken from the model,
so a new column is covered automatically), a deletion, a reordering, an insertion, a truncation
(with the database's heads rewound to an earlier signed head), a rewrite re-hashed and even
re-signed with the portal's key (only the file of signed heads outside the database can tell),
a tree node changed, a signed head edited. Each makes the command fail and name the problem.
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
from records import merkle
from records import trail as trail_module
from records.models import AccessAction, AccessEvent, AccessMode, TrailNode, TreeHead
from records.trail import (
    NOT_IN_LEAF,
    acting_structure,
    acting_through,
    event_leaf,
    heads_path,
    leaf_columns,
    log_integrate,
    record_access,
    verify_log,
)

pytestmark = pytest.mark.django_db

EVENT_FIELDS = [field for field in AccessEvent._meta.concrete_fields if field.name != "leaf_index"]


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_access_log", stdout=out)
    return out.getvalue()


def _names(leaf: int) -> str:
    """A pattern naming leaf #leaf (not #leaf0…)."""
    return rf"Leaf #{leaf}(?!\d)"


@pytest.fixture
def trail(alice: Patient, bob: Patient, doctor: Professional) -> list[AccessEvent]:
    """Seven events in the tree under two signed heads (of 4 and 7 leaves); the fourth has
    every field filled (entry, detail, request id, the software acting for the user)."""
    # The cast's own events (DMPs opened…) are not in the tree yet: leave them out, so that
    # the leaves are numbered from 0 here.
    AccessEvent.objects.all().delete()
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-0042")
    for _ in range(3):
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    with acting_through("Logiciel du cabinet"):  # the software acting for the user, too
        record_access(
            actor=doctor.user,
            patient=alice,
            action=AccessAction.ENTRY_VIEW,
            mode=AccessMode.NORMAL,
            entry_public_id=uuid.uuid4(),
            detail="courbe Hémoglobine",
            request=request,
        )
    log_integrate()
    for _ in range(3):
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    assert "intact" in _verify()
    assert list(TreeHead.objects.order_by("size").values_list("size", flat=True)) == [4, 7]
    return list(AccessEvent.objects.order_by("leaf_index"))


@pytest.fixture(autouse=True)
def _acting_for_a_structure() -> Iterator[None]:
    """Events are written for a structure (a Pro Santé Connect login's), so the middle event
    fills every field, ``actor_structure`` included."""
    token = acting_structure.set("Clinique des Lilas (FINESS 750000001)")
    yield
    acting_structure.reset(token)


def _other_text(value: str) -> str:
    """The same text with its last character changed: a hex digest or salt stays hex."""
    if not value:
        return "1"
    return value[:-1] + ("1" if value[-1] == "0" else "0")


def _altered(event: AccessEvent | TreeHead, field: models.Field[object, object]) -> object:
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
        return _other_text(value)
    raise AssertionError(f"{field.name}: teach this test how to alter a {type(field).__name__}")


# --- Edit -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", EVENT_FIELDS, ids=lambda field: field.name)
def test_changing_any_field_of_an_event_is_found(
    trail: list[AccessEvent], field: models.Field[object, object]
) -> None:
    target = trail[3]
    assert getattr(target, field.attname) not in (None, ""), "the target fills every field"
    AccessEvent.objects.filter(pk=target.pk).update(**{field.attname: _altered(target, field)})
    with pytest.raises(CommandError, match=_names(3)):
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
    assert plain.actor_structure is None and "intact" in _verify()  # the check seals it too
    plain.refresh_from_db()
    assert plain.leaf_index is not None
    AccessEvent.objects.filter(pk=plain.pk).update(actor_structure="Clinique Y (FINESS 1)")
    with pytest.raises(CommandError, match=_names(plain.leaf_index)):
        _verify()


@pytest.mark.parametrize("field", NULLABLE, ids=lambda field: field.name)
def test_blanking_a_nullable_field_is_found(
    trail: list[AccessEvent], field: models.Field[object, object]
) -> None:
    """Setting ``patient`` to NULL takes the event out of the patient's history."""
    AccessEvent.objects.filter(pk=trail[3].pk).update(**{field.attname: None})
    with pytest.raises(CommandError, match=_names(3)):
        _verify()


def test_the_leaf_covers_every_column_but_its_place_and_the_erasable_texts() -> None:
    """Taken from the model: a column another branch adds is in the leaf without a change;
    and a null is left out, so that adding a nullable column changes no leaf written before."""
    columns = {field.attname for field in AccessEvent._meta.concrete_fields}
    assert set(leaf_columns()) == columns - set(NOT_IN_LEAF)
    assert set(NOT_IN_LEAF) == {"leaf_index", "actor_label", "detail", "detail_salt"}
    assert merkle.leaf_data({"a": 1, "added_later": None}) == merkle.leaf_data({"a": 1})


# --- Delete, reorder, insert ----------------------------------------------------------------------


def test_an_event_deleted_in_the_middle_is_found(trail: list[AccessEvent]) -> None:
    AccessEvent.objects.filter(pk=trail[2].pk).delete()
    with pytest.raises(CommandError, match=rf"{_names(3)}.*leaf #2 is missing"):
        _verify()


def test_two_events_swapped_are_found(trail: list[AccessEvent]) -> None:
    AccessEvent.objects.filter(pk=trail[1].pk).update(leaf_index=None)
    AccessEvent.objects.filter(pk=trail[2].pk).update(leaf_index=1)
    AccessEvent.objects.filter(pk=trail[1].pk).update(leaf_index=2)
    with pytest.raises(CommandError, match=rf"{_names(1)}.*reordered"):
        _verify()


def test_events_reordered_with_their_leaves_rehashed_are_found(trail: list[AccessEvent]) -> None:
    """The stored leaves follow the swap: the signed roots do not."""
    first, second = trail[1], trail[2]
    AccessEvent.objects.filter(pk=first.pk).update(leaf_index=None)
    AccessEvent.objects.filter(pk=second.pk).update(leaf_index=1)
    AccessEvent.objects.filter(pk=first.pk).update(leaf_index=2)
    TrailNode.objects.filter(level=0, index=1).update(hash=event_leaf(second).hex())
    TrailNode.objects.filter(level=0, index=2).update(hash=event_leaf(first).hex())
    with pytest.raises(CommandError, match=r"tree head of .*\(4 leaves\) does not match the tree"):
        _verify()


def _forged(**changes: Any) -> AccessEvent:
    forged = AccessEvent.objects.get(leaf_index=0)
    forged.pk, forged.public_id = None, uuid.uuid4()
    for name, value in changes.items():
        setattr(forged, name, value)
    forged.save(force_insert=True)
    return forged


def test_an_event_inserted_into_the_tree_is_found(trail: list[AccessEvent]) -> None:
    _forged(leaf_index=3)
    with pytest.raises(CommandError, match=rf"{_names(3)}.*two events claim this leaf"):
        _verify()


def test_an_event_appended_beyond_the_signed_head_is_found(trail: list[AccessEvent]) -> None:
    forged = _forged(leaf_index=7)
    TrailNode.objects.create(level=0, index=7, hash=event_leaf(forged).hex())
    with pytest.raises(CommandError, match=rf"{_names(7)}.*beyond the latest signed head"):
        _verify()


# --- Truncate, rewrite: what only the signed heads outside the database can tell ------------------


def test_a_truncated_tail_is_found(trail: list[AccessEvent]) -> None:
    AccessEvent.objects.filter(leaf_index__gte=5).delete()
    with pytest.raises(CommandError, match=r"7 leaves, but the trail's events end at leaf #5"):
        _verify()


def test_a_truncation_back_to_an_earlier_signed_head_is_found(trail: list[AccessEvent]) -> None:
    """Consistent in the database (the head of 4 leaves was really signed): only the file
    outside it remembers the head of 7."""
    AccessEvent.objects.filter(leaf_index__gte=4).delete()
    TrailNode.objects.filter(level=0, index__gte=4).delete()
    TrailNode.objects.filter(level=1, index__gte=2).delete()
    TreeHead.objects.filter(size=7).delete()
    assert verify_log().checked == 4
    with pytest.raises(CommandError, match=r"\(7 leaves\) of .* is beyond the trail's latest"):
        _verify()
    before = heads_path().read_bytes()
    record_access(actor=None, patient=None, action=AccessAction.DENIED)
    with pytest.raises(CommandError, match=r"not in the database as signed.*Nothing was signed"):
        call_command("sequence_access_log", stdout=io.StringIO())
    assert heads_path().read_bytes() == before


def _rebuild_tree() -> None:
    """Re-hash the whole tree from the events and re-sign its heads with the portal's key, as
    an attacker holding the database AND the key would."""
    TrailNode.objects.all().delete()
    sizes = list(TreeHead.objects.order_by("size").values_list("size", flat=True))
    TreeHead.objects.all().delete()
    tree = merkle.CompactRange()
    for event in AccessEvent.objects.order_by("leaf_index"):
        for level, index, value in tree.append(event_leaf(event)):
            TrailNode.objects.create(level=level, index=index, hash=value.hex())
        if tree.size in sizes:
            trail_module.head_sign(tree.size, tree.root()).save()


def test_a_trail_rewritten_rehashed_and_resigned_is_found(trail: list[AccessEvent]) -> None:
    AccessEvent.objects.filter(pk=trail[2].pk).update(actor_rpps="10000000000")
    _rebuild_tree()
    broken = verify_log().broken  # the database alone agrees with itself: only the file tells
    assert broken is not None and str(heads_path()) in str(broken)
    with pytest.raises(CommandError, match=r"\(4 leaves\) of .* does not match the trail"):
        _verify()


def test_a_tree_node_changed_is_found(trail: list[AccessEvent]) -> None:
    """(1, 2) hashes leaves 4 and 5: the consistency proof from 4 to 7 leaves goes through it."""
    TrailNode.objects.filter(level=1, index=2).update(hash="0" * 64)
    with pytest.raises(CommandError, match=r"\(7 leaves\) is not consistent with the previous"):
        _verify()
    with pytest.raises(CommandError, match=r"stored tree does not have the root"):
        call_command("sequence_access_log", stdout=io.StringIO())


@pytest.mark.parametrize("field", TreeHead._meta.concrete_fields[1:], ids=lambda f: f.name)
def test_editing_a_signed_head_of_the_database_is_found(
    trail: list[AccessEvent], field: models.Field[object, object]
) -> None:
    head = TreeHead.objects.get(size=4)
    changed = -1 + head.size if field.name == "size" else _altered(head, field)  # type: ignore[arg-type]
    TreeHead.objects.filter(pk=head.pk).update(**{field.attname: changed})
    with pytest.raises(CommandError, match=r"tree head"):
        _verify()


# --- The file of signed heads ---------------------------------------------------------------------


def _lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in heads_path().read_text().splitlines()]


def test_each_sequencer_run_appends_a_signed_head(
    trail: list[AccessEvent], doctor: Professional, alice: Patient
) -> None:
    assert [line["size"] for line in _lines()] == [4, 7]
    record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    out = io.StringIO()
    call_command("sequence_access_log", stdout=out)
    assert "Tree head of 8 leaves signed" in out.getvalue()
    call_command("sequence_access_log", stdout=io.StringIO())  # nothing new: no new head
    assert "8 leaves verified, 3 signed tree heads and 3 heads of" in _verify()
    lines = _lines()
    assert [line["size"] for line in lines] == [4, 7, 8]
    assert set(lines[-1]) == {"at", "key", "root", "signature", "size"}  # no patient data
    assert lines[-1]["root"] == TreeHead.objects.get(size=8).root


def _rewrite_last_line(change: dict[str, Any]) -> None:
    lines = _lines()
    lines[-1].update(change)
    heads_path().write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"size": 4}, "signature is wrong"),
        ({"root": "0" * 64}, "signature is wrong"),
        ({"at": "2020-01-01T00:00:00+00:00"}, "signature is wrong"),
        ({"signature": "00" * 64}, "signature is wrong"),
        ({"key": "0" * 16}, "signed by key 0000000000000000"),
        ({"signature": "not hex"}, "signature is wrong"),
        ({"size": "many"}, "unreadable"),
    ],
)
def test_a_head_of_the_file_with_a_wrong_signature_is_found(
    trail: list[AccessEvent], change: dict[str, Any], problem: str
) -> None:
    _rewrite_last_line(change)
    with pytest.raises(CommandError, match=rf"Line 2 of .*{re.escape(problem)}"):
        _verify()


def test_heads_signed_with_another_key_are_refused(trail: list[AccessEvent], settings: Any) -> None:
    settings.DMP_TRAIL_SIGNING_KEY = "ab" * 32
    with pytest.raises(CommandError, match=r"signed by key .*, not by this portal's key"):
        _verify()


def test_a_torn_line_stops_the_sequencer(trail: list[AccessEvent]) -> None:
    with heads_path().open("ab") as file:
        file.write(b'{"at": "2026')  # a crash in the middle of a write
    record_access(actor=None, patient=None, action=AccessAction.DENIED)
    with pytest.raises(CommandError, match=r"last line .* unreadable"):
        call_command("sequence_access_log", stdout=io.StringIO())


def test_an_unwritable_heads_directory_is_a_clear_error(
    trail: list[AccessEvent], settings: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.DMP_TRAIL_CHECKPOINT_DIR = str(blocker / "heads")
    with pytest.raises(CommandError, match="cannot be read or written"):
        call_command("sequence_access_log", stdout=io.StringIO())


def test_events_written_while_the_walk_runs_raise_no_false_alarm(
    trail: list[AccessEvent], doctor: Professional, alice: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer commits, and the sequencer integrates it and signs, after the heads are read."""
    read_heads = trail_module.file_heads

    def heads_then_a_write() -> Any:
        heads = read_heads()
        record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
        log_integrate()
        return heads

    monkeypatch.setattr(trail_module, "file_heads", heads_then_a_write)
    report = verify_log(batch=2)
    assert report.broken is None and report.checked == 8


def test_a_broken_trail_is_not_signed(trail: list[AccessEvent]) -> None:
    AccessEvent.objects.filter(pk=trail[5].pk).update(detail_digest="0" * 64)
    record_access(actor=None, patient=None, action=AccessAction.DENIED)
    with pytest.raises(CommandError):
        _verify()
    assert [line["size"] for line in _lines()] == [4, 7]
    assert TreeHead.objects.count() == 2
