"""The access trail: every read and write of patient data appends one hash-chained event.

``record_access`` is the writer, ``verify_chain`` the checker beside it. An access that cannot
be traced is refused, never served.

The chain links each event's facts (who by id and RPPS, which patient by INS-C, which entry,
what, when, how) and ``detail_digest``, a salted commitment to its free texts (``actor_label``,
``detail``), never the texts themselves: purging a DMP erases the texts and the salt of its
events (``details_erase``) and the chain still verifies, while a text still present is checked
against its commitment. The salt (random, 128 bits, per event) keeps an erased commitment
from being opened by guessing: "masqué" or an analyte's name are easy guesses.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest

from identity.models import Patient, User
from records.models import AccessChainHead, AccessEvent, AccessMode

GENESIS_DIGEST = "0" * 64


def details_digest(salt: str, actor_label: str, detail: str) -> str:
    """The commitment to an event's free texts: SHA-256 of the salt's bytes, then the two texts
    as a JSON pair (so that no two pairs of texts encode alike). ValueError on a bad salt."""
    texts = json.dumps([actor_label, detail], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(bytes.fromhex(salt) + texts.encode()).hexdigest()


def seal_details(event: Any) -> None:  # an AccessEvent, or populate_bench's row of fields
    """Give ``event`` a fresh salt and the commitment to its free texts (before ``_digest``)."""
    event.detail_salt = secrets.token_hex(16)
    event.detail_digest = details_digest(event.detail_salt, event.actor_label, event.detail)


def _digest(previous: str, event: AccessEvent) -> str:
    canonical = "|".join(
        [
            previous,
            str(event.seq),
            event.at.isoformat(),
            str(event.actor_id or ""),
            event.actor_rpps,
            event.patient_insc,
            str(event.entry_public_id or ""),
            event.action,
            event.mode,
            event.detail_digest,
        ]
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


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
            seq=head.seq + 1,
            actor=actor if getattr(actor, "pk", None) else None,
            actor_label=str(actor)[:200] if actor is not None else "",
            actor_rpps=professional.rpps if professional else "",
            actor_profession=professional.profession if professional else "",
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
        event.digest = _digest(head.digest, event)
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


def _intact(event: AccessEvent, previous: str, last_seq: int) -> bool:
    if (
        event.seq != last_seq + 1
        or event.previous_digest != previous
        or _digest(previous, event) != event.digest
    ):
        return False
    if not event.detail_salt:  # erased: nothing may have been written back into it
        return not (event.detail or event.actor_label)
    try:
        return details_digest(event.detail_salt, event.actor_label, event.detail) == (
            event.detail_digest
        )
    except ValueError:  # a salt that is not hex was not written by seal_details
        return False


def verify_chain(batch: int = 5000) -> tuple[int, AccessEvent | None]:
    """Walk the trail in order; return (events checked, first broken event or None).

    Broken: out of sequence, not linked to the previous event, facts or commitment altered, or
    free texts that do not match their commitment (or written into an erased event).
    """
    previous = GENESIS_DIGEST
    checked = 0
    last_seq = 0
    while True:
        events = list(AccessEvent.objects.filter(seq__gt=last_seq).order_by("seq")[:batch])
        if not events:
            break
        for event in events:
            if not _intact(event, previous, last_seq):
                return checked, event
            previous, last_seq = event.digest, event.seq
            checked += 1
    return checked, None
