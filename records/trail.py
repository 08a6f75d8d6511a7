"""The access trail: every read and write of patient data appends one hash-chained event.

``record_access`` is the writer, ``verify_chain`` the checker beside it. An access that cannot
be traced is refused, never served.
"""

from __future__ import annotations

import hashlib
import uuid

from django.db import transaction
from django.http import HttpRequest

from identity.models import Patient, User
from records.models import AccessAction, AccessChainHead, AccessEvent, AccessMode

GENESIS_DIGEST = "0" * 64


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
            event.detail,
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
        event.digest = _digest(head.digest, event)
        event.save(force_insert=True)
        head.seq, head.digest = event.seq, event.digest
        head.save(update_fields=["seq", "digest"])
    return event


def record_denied(*, actor: User, detail: str, request: HttpRequest | None = None) -> None:
    """Trace a refused attempt (no patient named: a refusal must not reveal who exists)."""
    record_access(
        actor=actor, patient=None, action=AccessAction.DENIED, detail=detail, request=request
    )


def verify_chain(batch: int = 5000) -> tuple[int, AccessEvent | None]:
    """Walk the trail in order; return (events checked, first broken event or None)."""
    previous = GENESIS_DIGEST
    checked = 0
    last_seq = 0
    while True:
        events = list(AccessEvent.objects.filter(seq__gt=last_seq).order_by("seq")[:batch])
        if not events:
            break
        for event in events:
            if (
                event.seq != last_seq + 1
                or event.previous_digest != previous
                or _digest(previous, event) != event.digest
            ):
                return checked, event
            previous, last_seq = event.digest, event.seq
            checked += 1
    return checked, None
