"""The access trail, a transparency log: every read and write of patient data appends one event;
a sequencer integrates the events into a Merkle tree and signs its heads.

``record_access`` is the writer: one INSERT in the read's own transaction, no lock shared with
any other writer (an access that cannot be traced is refused, never served). The sequencer
(``log_integrate``, run by ``manage.py sequence_access_log`` from cron) takes the events not yet
in the tree in batches, gives each its leaf (``leaf_index``), stores the new tree nodes
(``TrailNode``) and signs the new tree head (``TreeHead``: size, root, time; Ed25519 under
``DMP_TRAIL_SIGNING_KEY``), which it also appends to a file outside the database
(``DMP_TRAIL_CHECKPOINT_DIR``): whoever can rewrite the tables cannot rewrite what was signed.
Hashing is RFC 6962/9162's (``records.merkle``). ``verify_log`` recomputes the tree from the
events and checks it against every signed head, in the database and in the file, and the heads'
consistency proofs; ``inclusion_proof`` gives a patient the proof that an event of their history
is in the tree, which ``records/merkle.py`` checks standalone.

The leaf. An event's leaf data is every stored field (taken from the model: a column added
later is covered without a change here) but ``leaf_index`` and the free texts: those
(``actor_label``, ``detail``) are covered through ``detail_digest``, a salted commitment, so
that purging a DMP erases the texts and the salt (``details_erase``) and the tree still
verifies, while a text still present is checked against its commitment. The salt (random, 128
bits, per event) keeps an erased commitment from being opened by guessing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Subquery
from django.db.models.functions import Coalesce
from django.db.models.sql import InsertQuery
from django.http import HttpRequest
from django.utils import timezone

from identity.models import Patient, User
from records import merkle
from records.merkle import Node
from records.models import (
    LOOKED_AT_THE_DMP,
    AccessEvent,
    AccessMode,
    LastLook,
    TrailNode,
    TreeHead,
)

# The free texts and their salt: covered through their commitment (``detail_digest``), erasable.
ERASABLE = ("actor_label", "detail", "detail_salt")
# Where the event is in the tree is not part of what is in the tree.
NOT_IN_LEAF = ("leaf_index", *ERASABLE)
INTEGRATE_BATCH = 10_000


def leaf_columns() -> list[str]:
    """The columns an event's leaf covers: every concrete field of the model but
    ``NOT_IN_LEAF``, by attribute name (``actor_id``, not ``actor``)."""
    return [
        column.attname
        for column in AccessEvent._meta.concrete_fields
        if column.attname not in NOT_IN_LEAF
    ]


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def leaf_fields(event: Any) -> dict[str, object]:  # an AccessEvent, or populate_bench's row
    """What ``event``'s leaf says, as plain JSON values (the patient's proof carries them)."""
    return {name: _plain(getattr(event, name)) for name in leaf_columns()}


def event_leaf(event: Any) -> bytes:
    return merkle.leaf_hash(merkle.leaf_data(leaf_fields(event)))


details_digest = merkle.details_digest


def seal_details(event: Any) -> None:  # an AccessEvent, or populate_bench's row of fields
    """Give ``event`` a fresh salt and the commitment to its free texts."""
    event.detail_salt = secrets.token_hex(16)
    event.detail_digest = details_digest(event.detail_salt, event.actor_label, event.detail)


# The software acting for the user during this request (the FHIR API sets it): every event
# written meanwhile names it, whichever service writes it.
_application: ContextVar[str | None] = ContextVar("trail_application", default=None)


@contextmanager
def acting_through(application: str) -> Iterator[None]:
    """Every access event recorded inside this block names ``application`` ("via …")."""
    token = _application.set(application[:255])
    try:
        yield
    finally:
        _application.reset(token)


# The structure the signed-in professional acts for, set for the length of a request by
# records.sso.ActingStructureMiddleware from the session (Pro Santé Connect's login).
acting_structure: ContextVar[str | None] = ContextVar("acting_structure", default=None)


def record_access(
    *,
    actor: User | None,
    patient: Patient | None,
    action: str,
    mode: str = AccessMode.NORMAL,
    entry_public_id: uuid.UUID | None = None,
    detail: str = "",
    request: HttpRequest | None = None,
) -> AccessEvent:
    """Append one access event to the trail. Raises if it cannot be written.

    Callers read patient data only after this returns: an access that cannot be traced is
    refused, never served. One INSERT, in the caller's transaction when there is one (the event
    and the act it traces commit or roll back together); writers share no lock, the sequencer
    puts the event in the tree later.
    """
    is_professional = actor is not None and getattr(actor, "is_professional", False)
    professional = getattr(actor, "professional", None) if is_professional else None
    if mode == AccessMode.NORMAL and actor is not None and getattr(actor, "is_patient", False):
        # Someone speaking for the patient (records.mandates) is traced as themself, for them.
        theirs = patient is None or patient.user_id == actor.pk
        mode = AccessMode.PATIENT if theirs else AccessMode.ON_BEHALF
    event = AccessEvent(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=str(actor)[:200] if actor is not None else "",
        actor_rpps=professional.rpps if professional else "",
        actor_profession=professional.profession if professional else "",
        actor_structure=acting_structure.get() if professional else None,
        patient=patient,
        patient_insc=patient.insc if patient else "",
        entry_public_id=entry_public_id,
        action=action,
        mode=mode,
        detail=detail[:300],
        request_id=(request.META.get("HTTP_X_REQUEST_ID", "")[:64] if request else ""),
        application=_application.get(),
    )
    seal_details(event)
    if actor is None or professional is None or patient is None or action not in LOOKED_AT_THE_DMP:
        event.save(force_insert=True)
        return event
    # A professional looked at the DMP: "Mes patients" keeps when, in the same transaction
    # (one upsert, on these events only; the two commit or fail together).
    if connection.vendor == "postgresql":
        _save_looked(event, actor, patient)  # one statement: atomic by itself
        return event
    with transaction.atomic(savepoint=False):
        event.save(force_insert=True)
        _last_look(actor, patient, event.at)
    return event


# PostgreSQL: while another open transaction is writing the same row (the same professional
# on the same DMP in another tab, a first look included), this one leaves it to that one —
# it records practically the same moment — rather than wait for it: readers never queue
# behind one another here (test_writers_do_not_wait_for_each_other). Everyone who writes the
# row first takes a transaction-level advisory lock on it, without waiting.
_LAST_LOOK_SQL = """
INSERT INTO {t} (user_id, patient_id, at)
SELECT %s, %s, %s WHERE pg_try_advisory_xact_lock(%s)
ON CONFLICT (user_id, patient_id) DO UPDATE SET at = GREATEST({t}.at, EXCLUDED.at)
"""


# PostgreSQL: the event's INSERT (as Django's compiler writes it for ``event.save()``) and the
# upsert above as one statement. A data-modifying WITH runs to completion whatever the outer
# SELECT reads, and one statement is one transaction: the read costs one round trip to the
# database instead of four (BEGIN, the two INSERTs, COMMIT) on every traced page.
_SAVE_LOOKED_SQL = """
WITH event AS ({insert}), look AS ({last_look})
SELECT id FROM event
"""


def _look_key(actor: User, patient: Patient) -> int:
    """The advisory lock's key for the row of ``actor`` on ``patient``'s DMP."""
    name = f"records.lastlook:{actor.pk}:{patient.pk}".encode()
    return int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)


def _last_look_sql() -> str:
    return _LAST_LOOK_SQL.format(t=connection.ops.quote_name(LastLook._meta.db_table))


def _save_looked(event: AccessEvent, actor: User, patient: Patient) -> None:
    """PostgreSQL: save ``event`` and its last look in one statement (``_SAVE_LOOKED_SQL``)."""
    meta = AccessEvent._meta
    query = InsertQuery(AccessEvent)
    query.insert_values([f for f in meta.concrete_fields if f is not meta.pk], [event])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.pk]
    [(insert, params)] = compiler.as_sql()
    look: list[Any] = [actor.pk, patient.pk, event.at, _look_key(actor, patient)]
    sql = _SAVE_LOOKED_SQL.format(insert=insert, last_look=_last_look_sql())
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *look])
        (event.pk,) = cursor.fetchone()
    event._state.adding = False
    event._state.db = connection.alias


# Elsewhere (SQLite): one writer at a time, no lock to take; the newest time wins as above,
# whichever of two readers commits first.
_LAST_LOOK_ELSEWHERE_SQL = """
INSERT INTO {t} (user_id, patient_id, at) VALUES (%s, %s, %s)
ON CONFLICT (user_id, patient_id) DO UPDATE SET at = MAX({t}.at, excluded.at)
"""


def _last_look(actor: User, patient: Patient, at: dt.datetime) -> None:
    """Elsewhere than PostgreSQL (``_save_looked``): when ``actor`` last looked at ``patient``'s
    DMP ("Mes patients"), in the event's transaction."""
    table = connection.ops.quote_name(LastLook._meta.db_table)
    stored = LastLook._meta.get_field("at").get_db_prep_value(at, connection)
    with connection.cursor() as cursor:
        cursor.execute(_LAST_LOOK_ELSEWHERE_SQL.format(t=table), [actor.pk, patient.pk, stored])


def details_erase(*, patient: Patient, account: User | None = None) -> int:
    """Erase the free texts and salts of the events about ``patient`` (and by ``account``,
    their own account: its label is their name). Called by the purge, inside its transaction.

    The facts and the commitments stay, so the tree still verifies. Returns how many events
    were erased now (erased ones are left alone: idempotent).
    """
    about = Q(patient=patient)
    if account is not None:
        about |= Q(actor=account)
    return (
        AccessEvent.objects.filter(about)
        .exclude(detail_salt="")
        .update(detail="", actor_label="", detail_salt="")
    )


class TrailBroken(Exception):
    """The trail, its tree or its signed heads show tampering; the message names the problem."""


# --- Signed tree heads ---------------------------------------------------------------------------

HEADS_FILE = "tree-heads.jsonl"


def heads_path() -> Path:
    return Path(settings.DMP_TRAIL_CHECKPOINT_DIR) / HEADS_FILE


def _private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(settings.DMP_TRAIL_SIGNING_KEY))


def public_key() -> Ed25519PublicKey:
    return _private_key().public_key()


def public_key_hex() -> str:
    return public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def key_id(public: Ed25519PublicKey | None = None) -> str:
    """A short name of the signing key (of the configured one by default): 16 hex digits."""
    raw = (public or public_key()).public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


def head_sign(size: int, root: bytes) -> TreeHead:
    """A new signed head (not saved) of a tree of ``size`` leaves with ``root``."""
    private = _private_key()
    at = timezone.now().astimezone(dt.UTC)
    message = merkle.head_message(size, root.hex(), _iso(at))
    return TreeHead(
        size=size,
        root=root.hex(),
        at=at,
        key=key_id(private.public_key()),
        signature=private.sign(message).hex(),
    )


def head_name(head: TreeHead) -> str:
    return f"tree head of {head.at:%Y-%m-%d %H:%M:%S} UTC ({head.size} leaves)"


def _head_fault(head: TreeHead, public: Ed25519PublicKey, where: str) -> str | None:
    if head.key != key_id(public):
        return f"{where} is signed by key {head.key}, not by this portal's key {key_id(public)}."
    try:
        message = merkle.head_message(head.size, head.root, _iso(head.at))
        public.verify(bytes.fromhex(head.signature), message)
    except (InvalidSignature, ValueError):
        return (
            f"{where} (the {head_name(head)}): its signature is wrong, so it was altered or not "
            "written by this portal."
        )
    return None


def _head_line(head: TreeHead) -> bytes:
    record = {
        "at": _iso(head.at),
        "key": head.key,
        "root": head.root,
        "signature": head.signature,
        "size": head.size,
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _parse_line(line: bytes, number: int | None) -> TreeHead:
    label = "The last line" if number is None else f"Line {number}"
    try:
        record = json.loads(line)
        return TreeHead(
            size=int(record["size"]),
            root=str(record["root"]),
            at=dt.datetime.fromisoformat(record["at"]),
            key=str(record["key"]),
            signature=str(record["signature"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise TrailBroken(f"{label} of {heads_path()} is unreadable ({error}).") from None


def _last_line(file: IO[bytes]) -> TreeHead | None:
    """The last head of the file (a line is ~250 bytes: the last 4 KiB hold it)."""
    size = file.seek(0, os.SEEK_END)
    if not size:
        return None
    file.seek(max(0, size - 4096))
    lines = file.read().splitlines()
    return _parse_line(lines[-1], None) if lines else None


def file_heads() -> list[TreeHead]:
    """Every head of the file, signatures checked. TrailBroken on a bad line or signature."""
    path = heads_path()
    if not path.exists():
        return []
    public = public_key()
    heads = []
    with path.open("rb") as file:
        for number, line in enumerate(file, 1):
            if line.strip():
                head = _parse_line(line, number)
                fault = _head_fault(head, public, f"Line {number} of {path}")
                if fault:
                    raise TrailBroken(fault)
                heads.append(head)
    return heads


def heads_anchor() -> int:
    """Append to the file the signed heads of the database it does not hold yet (those newer
    than its last line); returns how many. TrailBroken, and nothing written, when its last line
    is not in the database as it was signed (heads removed or rewritten); OSError when the file
    cannot be written."""
    path = heads_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # anchors take turns
        last = _last_line(file)
        if last is not None:
            stored = TreeHead.objects.filter(size=last.size).first()
            if stored is None or (stored.root, stored.signature) != (last.root, last.signature):
                raise TrailBroken(
                    f"The {head_name(last)} of {path} is not in the database as signed: tree "
                    "heads were removed or rewritten (the trail truncated or rewritten). "
                    "Nothing was signed."
                )
        newer = TreeHead.objects.filter(size__gt=last.size if last else -1).order_by("size")
        written = 0
        for head in newer.iterator():
            file.write(_head_line(head))
            written += 1
        file.flush()
        os.fsync(file.fileno())
    return written


# --- The tree: nodes, the sequencer, proofs ------------------------------------------------------


def tree_nodes(keys: Sequence[Node]) -> dict[Node, bytes]:
    """The stored hashes of the tree nodes ``keys``, in one query. TrailBroken if one is
    missing (a node the tree must have was deleted)."""
    by_level: dict[int, list[int]] = {}
    for level, index in keys:
        by_level.setdefault(level, []).append(index)
    found: dict[Node, bytes] = {}
    if by_level:
        where = Q()
        for level, indexes in by_level.items():
            where |= Q(level=level, index__in=indexes)
        rows = TrailNode.objects.filter(where).values_list("level", "index", "hash")
        found = {(level, index): bytes.fromhex(value) for level, index, value in rows}
    missing = [key for key in keys if key not in found]
    if missing:
        level, index = missing[0]
        raise TrailBroken(f"The tree node {level}/{index} is missing: the tree was cut.")
    return found


def latest_head() -> TreeHead | None:
    return TreeHead.objects.order_by("-size").first()


def _frontier_check(head: TreeHead | None) -> list[tuple[Node, bytes]]:
    """The perfect subtrees of the latest tree (what new leaves join), checked against its
    signed root; TrailBroken if they or the head were tampered with."""
    if head is None:
        if TrailNode.objects.exists():
            raise TrailBroken("The tree has nodes but no signed head: its heads were removed.")
        return []
    fault = _head_fault(head, public_key(), "The latest tree head of the database")
    if fault:
        raise TrailBroken(fault)
    keys = merkle.perfect_nodes(0, head.size)
    nodes = tree_nodes(keys)
    if merkle.fold([nodes[key] for key in keys]).hex() != head.root:
        raise TrailBroken(
            f"The stored tree does not have the root of the {head_name(head)}: its nodes were "
            "changed."
        )
    return [(key, nodes[key]) for key in keys]


def _lock_sequencer() -> None:
    # One sequencer at a time. SQLite has one writer anyway; elsewhere the unique (level,
    # index) and size would make a second one fail rather than fork the tree.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x44_4D_50_54])  # "DMPT"


def _leaves_assign(places: list[tuple[int, int | None]]) -> None:
    """Give each event (id) its leaf index: one statement on PostgreSQL (Django's bulk_update
    builds a CASE per row: 15 s for 10 000 rows), one prepared UPDATE per row elsewhere."""
    table = AccessEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET leaf_index = place.leaf "  # noqa: S608 (our table name)
                "FROM unnest(%s::bigint[], %s::bigint[]) AS place(id, leaf) "
                f"WHERE {table}.id = place.id",
                [[pk for pk, _leaf in places], [leaf for _pk, leaf in places]],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET leaf_index = %s WHERE id = %s",  # noqa: S608
                [(leaf, pk) for pk, leaf in places],
            )


def _nodes_store(nodes: list[tuple[int, int, str]]) -> None:
    """Store new tree nodes: COPY on PostgreSQL (bulk_create costs ~3× more), else in bulk."""
    if connection.vendor != "postgresql":
        TrailNode.objects.bulk_create(
            [TrailNode(level=level, index=index, hash=value) for level, index, value in nodes],
            batch_size=2000,
        )
        return
    table = TrailNode._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(  # psycopg 3's COPY
            f'COPY {table} (level, "index", hash) FROM STDIN'
        ) as copy,
    ):
        for node in nodes:
            copy.write_row(node)


def log_integrate(batch: int = INTEGRATE_BATCH) -> TreeHead | None:
    """Integrate up to ``batch`` events not yet in the tree (in the order they were written),
    sign the new head, then anchor it in the file. Returns the new head (the latest one when
    there was nothing to integrate; None for an empty trail).

    Who may: the sequencer command and tests. TrailBroken, nothing written, when the stored tree
    or the latest head disagree with their signature; OSError when the file cannot be written.
    """
    with transaction.atomic():
        _lock_sequencer()
        latest = latest_head()
        frontier = _frontier_check(latest)
        pending = list(AccessEvent.objects.filter(leaf_index__isnull=True).order_by("id")[:batch])
        if pending:
            tree = merkle.CompactRange(latest.size if latest else 0, [v for _k, v in frontier])
            nodes: list[tuple[int, int, str]] = []
            for event in pending:
                event.leaf_index = tree.size
                nodes += [
                    (lv, index, value.hex()) for lv, index, value in tree.append(event_leaf(event))
                ]
            _leaves_assign([(event.pk, event.leaf_index) for event in pending])
            _nodes_store(nodes)
            latest = head_sign(tree.size, tree.root())
            latest.save(force_insert=True)
    heads_anchor()
    return latest


def log_integrate_all(batch: int = INTEGRATE_BATCH) -> TreeHead | None:
    """Integrate the events written so far, one batch (and one signed head) at a time, until a
    batch is not full (writers do not keep it running forever)."""
    head = latest_head()
    while True:
        before = head.size if head else 0
        head = log_integrate(batch)
        if head is None or head.size - before < batch:
            return head


def audit_path(index: int, size: int) -> list[bytes]:
    return merkle.ranges_hashes(merkle.inclusion_ranges(index, size), tree_nodes)


def consistency_proof(old: int, new: int) -> list[bytes]:
    return merkle.ranges_hashes(merkle.consistency_ranges(old, new), tree_nodes)


def inclusion_proof(event: AccessEvent) -> dict[str, Any] | None:
    """The proof that ``event`` is in the tree under the latest signed head, as the patient
    downloads it (``records/merkle.py`` checks it); None while the event is not in the tree
    yet. The texts and salt ride along while they exist, so the commitment can be opened."""
    head = latest_head()
    if event.leaf_index is None or head is None or event.leaf_index >= head.size:
        return None
    texts = None
    if event.detail_salt:
        texts = {
            "actor_label": event.actor_label,
            "detail": event.detail,
            "salt": event.detail_salt,
        }
    return {
        "format": merkle.PROOF_FORMAT,
        "event": leaf_fields(event),
        "texts": texts,
        "leaf_index": event.leaf_index,
        "tree_head": {
            "size": head.size,
            "root": head.root,
            "at": _iso(head.at),
            "key": head.key,
            "signature": head.signature,
        },
        "public_key": public_key_hex(),
        "audit_path": [value.hex() for value in audit_path(event.leaf_index, head.size)],
    }


# --- Verification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """Why the trail is broken, and at which event (None: not at one event)."""

    reason: str
    event: AccessEvent | None = None

    def __str__(self) -> str:
        if self.event is None:
            return self.reason
        event = self.event
        return (
            f"Leaf #{event.leaf_index} (event id {event.pk}, {event.at:%Y-%m-%d %H:%M:%S}): "
            f"{self.reason}"
        )


@dataclass
class LogReport:
    """What ``verify_log`` checked: leaves, signed heads (database, file), events pending."""

    checked: int = 0
    heads: int = 0
    anchored: int = 0
    pending: int = 0
    broken: Break | None = None
    roots: dict[int, bytes] = field(default_factory=dict)


def _texts_fault(event: AccessEvent) -> str | None:
    if not event.detail_salt:  # erased: nothing may have been written back into it
        if event.detail or event.actor_label:
            return "text was written into an event whose free texts were erased."
        return None
    try:
        opened = details_digest(event.detail_salt, event.actor_label, event.detail)
    except ValueError:  # a salt that is not hex was not written by seal_details
        return "its salt was not written by the trail."
    if opened != event.detail_digest:
        return "its free texts (actor label, detail) or their salt were altered."
    return None


def _leaf_fault(event: AccessEvent, expected: int, stored: Mapping[int, bytes]) -> Break | None:
    index = event.leaf_index if event.leaf_index is not None else -1  # walked: never None
    if index < expected:
        return Break("two events claim this leaf (a leaf index was changed).", event)
    if index > expected:
        gap = f"#{expected}" + (f" to #{index - 1}" if index > expected + 1 else "")
        return Break(f"leaf {gap} is missing before it (an event deleted, or moved).", event)
    if stored.get(index) != event_leaf(event):
        return Break(
            "its stored fields no longer match its leaf in the signed tree: the event was "
            "altered (or events reordered).",
            event,
        )
    fault = _texts_fault(event)
    return Break(fault, event) if fault else None


def _walk(size: int, sizes: set[int], report: LogReport, batch: int) -> None:
    """Recompute the leaves of the tree of ``size`` leaves from the events, check them against
    the stored leaves, and record in ``report.roots`` the root at each of ``sizes``."""
    tree = merkle.CompactRange()
    if 0 in sizes:
        report.roots[0] = tree.root()
    while report.checked < size:
        page = list(
            AccessEvent.objects.filter(
                leaf_index__gte=report.checked, leaf_index__lt=size
            ).order_by("leaf_index", "id")[:batch]
        )
        if not page:
            break
        last = page[-1].leaf_index or 0
        rows = TrailNode.objects.filter(level=0, index__gte=report.checked, index__lte=last)
        stored = {index: bytes.fromhex(value) for index, value in rows.values_list("index", "hash")}
        for event in page:
            broken = _leaf_fault(event, report.checked, stored)
            if broken:
                report.broken = broken
                return
            leaf = stored[report.checked]
            tree.append(leaf)
            report.checked += 1
            if report.checked in sizes:
                report.roots[report.checked] = tree.root()


def _heads_fault(heads: list[TreeHead], report: LogReport) -> str | None:
    """Why the signed heads of the database disagree with the recomputed tree or with each
    other (consistency proofs from the stored nodes)."""
    public = public_key()
    previous: TreeHead | None = None
    for head in heads:
        fault = _head_fault(head, public, "A tree head of the database")
        if fault:
            return fault
        if report.roots.get(head.size, b"").hex() != head.root:
            return (
                f"The {head_name(head)} does not match the tree of the trail's first {head.size} "
                "events: the trail was rewritten (events edited, reordered or re-hashed)."
            )
        if previous is not None:
            try:
                proof = consistency_proof(previous.size, head.size)
                merkle.verify_consistency(
                    previous.size,
                    head.size,
                    bytes.fromhex(previous.root),
                    bytes.fromhex(head.root),
                    proof,
                )
            except merkle.ProofError as error:
                return f"The {head_name(head)} is not consistent with the previous head: {error}."
        previous = head
    return None


def _anchors_fault(anchors: list[TreeHead], heads: list[TreeHead], report: LogReport) -> str | None:
    """Why a head of the file (outside the database) is not the trail's."""
    stored = {head.size: head for head in heads}
    last = heads[-1].size if heads else 0
    for anchor in anchors:
        if anchor.size > last:
            return (
                f"The {head_name(anchor)} of {heads_path()} is beyond the trail's latest head "
                f"({last} leaves): events were removed at the end (and the heads rewound)."
            )
        mine = stored.get(anchor.size)
        if mine is None or report.roots.get(anchor.size, b"").hex() != anchor.root:
            return (
                f"The {head_name(anchor)} of {heads_path()} does not match the trail: it was "
                "rewritten (or its heads removed)."
            )
    return None


def verify_log(batch: int = 5000) -> LogReport:
    """Recompute the tree from the events and check it against every signed head.

    Broken: an event whose fields no longer give its stored leaf (any covered field altered,
    events reordered), a leaf missing (an event deleted) or claimed twice, free texts that do
    not match their commitment (or written into an erased event), a head whose signature is
    wrong or whose root is not the tree's at its size, two heads not consistent, a head of the
    file outside the database missing from the trail (the tail truncated) or different. Events
    not yet in the tree are counted as pending (the sequencer takes them next).
    """
    report = LogReport()
    anchors = file_heads()  # first: a head signed while this runs is not in the list
    heads = list(TreeHead.objects.order_by("size"))
    size = heads[-1].size if heads else 0
    sizes = {head.size for head in heads} | {
        anchor.size for anchor in anchors if anchor.size <= size
    }
    _walk(size, sizes, report, batch)
    report.heads, report.anchored = len(heads), len(anchors)
    report.pending = AccessEvent.objects.filter(leaf_index__isnull=True).count()
    if report.broken:
        return report
    if report.checked < size:
        report.broken = Break(
            f"The latest signed head says the tree has {size} leaves, but the trail's events end "
            f"at leaf #{report.checked}: events were removed at the end."
        )
        return report
    # One statement, one snapshot: the leaves the sequencer adds with their head since the
    # heads were read are not beyond it.
    newest = TreeHead.objects.order_by("-size").values("size")[:1]
    beyond = (
        AccessEvent.objects.filter(leaf_index__gte=Coalesce(Subquery(newest), 0))
        .order_by("leaf_index")
        .first()
    )
    if beyond is not None:
        report.broken = Break("this leaf lies beyond the latest signed head.", beyond)
        return report
    fault = _heads_fault(heads, report) or _anchors_fault(anchors, heads, report)
    if fault:
        report.broken = Break(fault)
    return report


# --- Partitions (PostgreSQL): one per month -------------------------------------------------------


def month_partition_sql(year: int, month: int) -> str:
    start = dt.date(year, month, 1)
    end = dt.date(year + month // 12, month % 12 + 1, 1)
    return (
        f"CREATE TABLE IF NOT EXISTS records_accessevent_{start:%Y_%m} PARTITION OF "
        f"records_accessevent FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def partitions_ensure(months_ahead: int = 3) -> int:
    """Create the partitions of the events table for this month and the next ones (PostgreSQL;
    nothing elsewhere). An event outside them lands in the default partition, never refused.
    Returns how many months were checked."""
    if connection.vendor != "postgresql":
        return 0
    today = timezone.now().astimezone(dt.UTC).date()
    with connection.cursor() as cursor:
        for ahead in range(months_ahead + 1):
            month = today.month - 1 + ahead
            cursor.execute(month_partition_sql(today.year + month // 12, month % 12 + 1))
    return months_ahead + 1
