"""The access trail: every read and write of patient data appends one hash-chained event.

``record_access`` is the writer, ``verify_chain`` the checker beside it. An access that cannot
be traced is refused, never served.

Sealing. An event's digest is the SHA-256 of a canonical serialisation of every field it stores
but the digest itself (``CHAINED``: the link to the previous event, its id, public id, seq and
time, who by id, RPPS and profession, which patient by id and INS-C, which entry, what, how, the
request id) and of ``detail_digest``, a salted commitment to its free texts (``actor_label``,
``detail``), never the texts themselves: purging a DMP erases the texts and the salt of its
events (``details_erase``) and the chain still verifies, while a text still present is checked
against its commitment. The salt (random, 128 bits, per event) keeps an erased commitment from
being opened by guessing: "masqué" or an analyte's name are easy guesses.

Anchoring. A chain only proves that its events agree with each other: whoever can write the
table can also delete its tail and rewind the head, or edit an event and re-hash every one
after it. Checkpoints anchor it outside the database: ``checkpoint_publish`` signs the head
(seq, digest, time) with Ed25519 under ``DMP_TRAIL_SIGNING_KEY`` and appends it to a file in
``DMP_TRAIL_CHECKPOINT_DIR``; ``checkpoints_verify`` checks every signed checkpoint against the
trail. What was rewritten after the latest checkpoint goes unseen until the next one: publish
often (``checkpoint_access_log``, every few minutes).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import transaction
from django.db.models import Q, Subquery
from django.http import HttpRequest
from django.utils import timezone

from identity.models import Patient, User
from records.models import AccessChainHead, AccessEvent, AccessMode

GENESIS_DIGEST = "0" * 64

# Every stored field the digest covers, by attribute name. The free texts and their salt are
# covered through their commitment (``detail_digest``), so that they can be erased; the digest
# is what is computed. tests/records/test_trail_tampering.py checks that these three lists
# together name every column of AccessEvent: a new column must be added here, and the trails
# already written re-sealed by a migration (as 0007 does).
CHAINED = (
    "previous_digest",
    "id",
    "public_id",
    "seq",
    "at",
    "actor_id",
    "actor_rpps",
    "actor_profession",
    "patient_id",
    "patient_insc",
    "entry_public_id",
    "action",
    "mode",
    "request_id",
    "detail_digest",
    "actor_structure",
)
# Columns added after trails were written: chained only when set (None adds no key), so the
# events written before them keep their digest and need no re-sealing.
OPTIONAL = ("actor_structure",)
ERASABLE = ("actor_label", "detail", "detail_salt")


def details_digest(salt: str, actor_label: str, detail: str) -> str:
    """The commitment to an event's free texts: SHA-256 of the salt's bytes, then the two texts
    as a JSON pair (so that no two pairs of texts encode alike). ValueError on a bad salt."""
    texts = json.dumps([actor_label, detail], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(bytes.fromhex(salt) + texts.encode()).hexdigest()


def seal_details(event: Any) -> None:  # an AccessEvent, or populate_bench's row of fields
    """Give ``event`` a fresh salt and the commitment to its free texts (then
    ``chain_digest``)."""
    event.detail_salt = secrets.token_hex(16)
    event.detail_digest = details_digest(event.detail_salt, event.actor_label, event.detail)


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def chain_digest(event: Any) -> str:  # an AccessEvent, or populate_bench's row of fields
    """The digest of ``event``: SHA-256 of its ``CHAINED`` fields as one JSON object with sorted
    keys. JSON, not a joined string: no value (a request id is whatever a client sent) can
    make two events encode alike; ASCII escapes: no text can fail to encode."""
    fields = {
        name: _plain(getattr(event, name))
        for name in CHAINED
        if not (name in OPTIONAL and getattr(event, name) is None)
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


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
    """Append one access event to the hash chain. Raises if it cannot be written.

    Callers read patient data only after this returns: an access that cannot be traced is
    refused, never served. Concurrent writers serialise on the chain head row.
    """
    is_professional = actor is not None and getattr(actor, "is_professional", False)
    professional = getattr(actor, "professional", None) if is_professional else None
    if mode == AccessMode.NORMAL and actor is not None and getattr(actor, "is_patient", False):
        mode = AccessMode.PATIENT
    # No savepoint when called inside a caller's transaction: the event and the act it traces
    # commit or roll back together.
    with transaction.atomic(savepoint=False):
        head, _ = AccessChainHead.objects.select_for_update().get_or_create(pk=1)
        event = AccessEvent(
            # The id is chained too, so it must be known before the INSERT: it is the seq.
            id=head.seq + 1,
            seq=head.seq + 1,
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
            previous_digest=head.digest,
        )
        seal_details(event)
        event.digest = chain_digest(event)
        event.save(force_insert=True)
        head.seq, head.digest = event.seq, event.digest
        head.save(update_fields=["seq", "digest"])
    return event


def details_erase(*, patient: Patient, account: User | None = None) -> int:
    """Erase the free texts and salts of the events about ``patient`` (and by ``account``,
    their own account: its label is their name). Called by the purge, inside its transaction.

    The facts and the commitments stay, so the chain still verifies. Returns how many events
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


# --- Verification -------------------------------------------------------------------------------


class TrailBroken(Exception):
    """The trail, its head or its checkpoints show tampering; the message names the problem."""


@dataclass(frozen=True)
class Break:
    """Why the trail is broken, and at which event (None: at the chain head)."""

    reason: str
    event: AccessEvent | None = None

    def __str__(self) -> str:
        if self.event is None:
            return self.reason
        event = self.event
        return (
            f"Broken link at event #{event.seq} (id {event.pk}, "
            f"{event.at:%Y-%m-%d %H:%M:%S}): {self.reason}"
        )


class _Head(NamedTuple):
    """The chain head and the highest seq in the table, read by one statement (one snapshot:
    a writer commits an event and the head together)."""

    seq: int | None  # None: no head row
    digest: str
    last: int  # the highest seq stored, 0 when none


def _head() -> _Head:
    last = Subquery(AccessEvent.objects.order_by("-seq").values("seq")[:1])
    row = (
        AccessChainHead.objects.filter(pk=1)
        .annotate(last=last)
        .values_list("seq", "digest", "last")
        .first()
    )
    if row is None:
        stored = AccessEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
        return _Head(None, GENESIS_DIGEST, stored or 0)
    return _Head(row[0], row[1], row[2] or 0)


def _fault(event: AccessEvent, previous: str, last_seq: int) -> str | None:
    if event.seq != last_seq + 1:
        gap = f"#{last_seq + 1}" + (f" to #{event.seq - 1}" if event.seq > last_seq + 2 else "")
        return f"event {gap} is missing before it (deleted, or its seq was changed)."
    if event.previous_digest != previous:
        return "its link to the previous event (previous_digest) was changed."
    if chain_digest(event) != event.digest:
        return "its stored fields no longer match its digest: the event was altered."
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


def _head_fault(head: _Head, end: int, end_digest: str) -> str | None:
    """Why the head disagrees with the trail, which ends at ``end`` with ``end_digest``."""
    if head.seq is None:
        if end or head.last:
            return (
                "The chain head row is missing while the trail holds events: it was deleted "
                "or its id changed."
            )
        return None
    if end < head.seq:
        return (
            f"The chain head says the trail ends at #{head.seq} but it ends at #{end}: events "
            "are missing at the end."
        )
    if end_digest != head.digest:
        return f"The chain head's digest is not that of event #{head.seq}: the head row was edited."
    if head.last > head.seq:
        return (
            f"Events up to #{head.last} lie beyond the chain head (#{head.seq}): the head row "
            "was edited."
        )
    return None


def verify_chain(batch: int = 5000) -> tuple[int, Break | None]:
    """Walk the trail in order up to its head; return (events checked, the first break or None).

    Broken: an event out of sequence (one is missing before it), not linked to the previous
    one, with any stored field altered, with free texts that do not match their commitment (or
    written into an erased event); or a head that is missing, short of, beyond or not at the
    trail's last event. Events written while it walks are left to the next walk: the head is
    read first, so concurrent writers raise no false alarm.
    """
    head = _head()
    previous = GENESIS_DIGEST
    checked = 0
    events = AccessEvent.objects.order_by("seq")
    if head.seq is not None:
        events = events.filter(seq__lte=head.seq)
    while True:
        page = list(events.filter(seq__gt=checked)[:batch])
        if not page:
            break
        for event in page:
            fault = _fault(event, previous, checked)
            if fault:
                return checked, Break(fault, event)
            previous, checked = event.digest, event.seq
    fault = _head_fault(head, checked, previous)
    return checked, Break(fault) if fault else None


# --- Checkpoints: the head, signed, outside the database ---------------------------------------

CHECKPOINT_FILE = "checkpoints.jsonl"
# Domain separation: a signature made for a checkpoint is good for nothing else.
_CONTEXT = b"DMP Portal access trail checkpoint, version 1\n"


@dataclass(frozen=True)
class Checkpoint:
    """The trail had ``seq`` events ending with ``digest`` at ``at`` (signed, in the file)."""

    seq: int
    digest: str
    at: dt.datetime

    def signed(self) -> bytes:
        body = {"at": self.at.isoformat(), "digest": self.digest, "seq": self.seq}
        return _CONTEXT + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @property
    def name(self) -> str:
        return f"checkpoint of {self.at:%Y-%m-%d %H:%M:%S} UTC"


def checkpoint_path() -> Path:
    return Path(settings.DMP_TRAIL_CHECKPOINT_DIR) / CHECKPOINT_FILE


def _private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(settings.DMP_TRAIL_SIGNING_KEY))


def key_id(public: Ed25519PublicKey | None = None) -> str:
    """A short name of the signing key (of the configured one by default): 16 hex digits."""
    raw = (public or _private_key().public_key()).public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _line(checkpoint: Checkpoint, private: Ed25519PrivateKey) -> bytes:
    record = {
        "at": checkpoint.at.isoformat(),
        "digest": checkpoint.digest,
        "key": key_id(private.public_key()),
        "seq": checkpoint.seq,
        "signature": private.sign(checkpoint.signed()).hex(),
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _parse(line: bytes, number: int | None, public: Ed25519PublicKey) -> Checkpoint:
    label = "The last checkpoint line" if number is None else f"Checkpoint line {number}"
    where = f"{label} of {checkpoint_path()}"
    try:
        record = json.loads(line)
        checkpoint = Checkpoint(
            int(record["seq"]), str(record["digest"]), dt.datetime.fromisoformat(record["at"])
        )
        signature, signer = bytes.fromhex(record["signature"]), str(record["key"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise TrailBroken(f"{where} is unreadable ({error}).") from None
    if signer != key_id(public):
        raise TrailBroken(
            f"{where} is signed by key {signer}, not by this portal's key {key_id(public)}."
        )
    try:
        public.verify(signature, checkpoint.signed())
    except InvalidSignature:
        raise TrailBroken(
            f"{where} (the {checkpoint.name}, #{checkpoint.seq}): its signature is wrong, so "
            "the line was altered or not written by this portal."
        ) from None
    return checkpoint


def _latest(file: IO[bytes], public: Ed25519PublicKey) -> Checkpoint | None:
    """The last checkpoint of the file (a line is ~250 bytes: the last 4 KiB hold it)."""
    size = file.seek(0, os.SEEK_END)
    if not size:
        return None
    file.seek(max(0, size - 4096))
    lines = file.read().splitlines()
    return _parse(lines[-1], None, public) if lines else None


def _anchoring_fault(checkpoint: Checkpoint, head: _Head, stored: str | None) -> str | None:
    """Why ``checkpoint`` no longer matches the trail (``stored``: the digest of its event)."""
    if checkpoint.seq == 0:
        return None
    if head.seq is None or checkpoint.seq > head.seq:
        return (
            f"The {checkpoint.name} anchors event #{checkpoint.seq}, but the trail now "
            f"ends at #{head.seq or 0}: events were removed at the end (and the chain head "
            "rewound to match)."
        )
    if stored is None:
        return f"Event #{checkpoint.seq}, anchored by the {checkpoint.name}, is missing."
    if stored != checkpoint.digest:
        return (
            f"Event #{checkpoint.seq} no longer has the digest the {checkpoint.name} "
            f"signed: the trail was rewritten at or before #{checkpoint.seq}."
        )
    return None


def _stored_digest(seq: int) -> str | None:
    return AccessEvent.objects.filter(seq=seq).values_list("digest", flat=True).first()


def checkpoint_publish() -> Checkpoint:
    """Sign the chain head as it is now and append it to the checkpoint file.

    Who may: the scheduled commands (``verify_access_log``, ``checkpoint_access_log``). Raises
    TrailBroken, and writes nothing, when the head disagrees with the trail's event at its seq
    or with the latest checkpoint (a rewound head must not be anchored): checks of a few rows,
    the whole chain is walked by ``verify_chain``. OSError when the file cannot be written.
    """
    private = _private_key()
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as file:
        # Publishers take turns: each reads the latest checkpoint and the head, then appends.
        fcntl.flock(file, fcntl.LOCK_EX)
        latest = _latest(file, private.public_key())
        head = _head()
        seq, digest = (head.seq, head.digest) if head.seq is not None else (0, GENESIS_DIGEST)
        at_head = _stored_digest(seq) if seq else GENESIS_DIGEST
        fault = _head_fault(head, head.last, at_head or "")
        if fault is None and latest is not None:
            fault = _anchoring_fault(latest, head, _stored_digest(latest.seq))
        if fault:
            raise TrailBroken(f"{fault} No checkpoint was written.")
        checkpoint = Checkpoint(seq, digest, timezone.now().astimezone(dt.UTC))
        file.write(_line(checkpoint, private))
        file.flush()
        os.fsync(file.fileno())
    return checkpoint


def checkpoints_verify(batch: int = 500) -> int:
    """Check every checkpoint of the file: its signature, and that the trail still holds its
    event with the digest it signed. Returns how many there are (0 without a file yet).

    Raises TrailBroken naming the first problem: an unreadable line, a wrong signature or
    another key, the trail ending before a checkpoint (its tail removed and the head rewound),
    or an anchored event missing or with another digest (the trail rewritten and re-hashed).
    With verify_chain, which proves the stored digests a chain, this proves the trail is the
    one the checkpoints saw.
    """
    path = checkpoint_path()
    if not path.exists():
        return 0
    public = _private_key().public_key()
    with path.open("rb") as file:
        checkpoints = [_parse(line, n, public) for n, line in enumerate(file, 1) if line.strip()]
    head = _head()  # after reading the file: a checkpoint published since is not in the list
    ordered = sorted(checkpoints, key=lambda checkpoint: checkpoint.seq)
    wanted = sorted({c.seq for c in ordered if 0 < c.seq <= (head.seq or 0)})
    stored: dict[int, str] = {}
    for start in range(0, len(wanted), batch):
        chunk = wanted[start : start + batch]
        stored.update(AccessEvent.objects.filter(seq__in=chunk).values_list("seq", "digest"))
    for checkpoint in ordered:
        fault = _anchoring_fault(checkpoint, head, stored.get(checkpoint.seq))
        if fault:
            raise TrailBroken(fault)
    return len(checkpoints)
