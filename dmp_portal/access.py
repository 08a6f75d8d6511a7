"""The one access funnel: who may see which DMP, and the trail of every access.

This is the only module that imports django-guardian (ruff's banned-api rule keeps it so; the
direct foreign-key permission models sit beside the models they protect). Every queryset of
patient data that a view, form, export or admin page uses comes from here.

Rules implemented so far (PRODUCT.md §4; the access issue completes them):

* administrators, staff and superusers get nothing from being so (``with_superuser=False``,
  ``accept_global_perms=False``, never ``user.has_perm``);
* a professional must be verified;
* a closed or purged DMP is visible to no professional;
* a professional sees a DMP when they hold the DMP-level ``view_patient`` object permission
  (granted when they open it) or when they are its médecin traitant;
* a patient sees their own DMP (its lifecycle page even when closed);
* anything out of scope answers 404, exactly like a missing object.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from identity.models import DmpStatus, Patient, User
from records.models import AccessAction, AccessChainHead, AccessEvent, AccessMode

VIEW_DMP = "identity.view_patient"
GENESIS_DIGEST = "0" * 64


# --- Scope -----------------------------------------------------------------------------------


def patients_for(user: Any) -> QuerySet[Patient]:
    """The DMPs ``user`` may open, as a queryset (empty for anyone without clinical access)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Patient.objects.none()
    if user.is_patient:
        return Patient.objects.filter(user=user).exclude(dmp_status=DmpStatus.PURGED)
    if not user.is_verified_professional:
        return Patient.objects.none()
    granted = get_objects_for_user(
        user,
        VIEW_DMP,
        klass=Patient.objects.open(),
        with_superuser=False,
        accept_global_perms=False,
    )
    treating = Patient.objects.open().filter(medecin_traitant__user=user)
    return Patient.objects.filter(pk__in=granted.values("pk")) | treating


def patient_for(user: Any, public_id: uuid.UUID | str) -> Patient:
    """Fetch one DMP in ``user``'s scope by public id; Http404 when missing *or* forbidden."""
    try:
        return patients_for(user).select_related("medecin_traitant__user").get(public_id=public_id)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise Http404("No such DMP") from None


def own_patient(user: Any) -> Patient:
    """The logged-in patient's own DMP (any state but purged); Http404 otherwise."""
    if not getattr(user, "is_authenticated", False) or not user.is_patient:
        raise Http404("No such DMP")
    patient = patients_for(user).select_related("medecin_traitant__user").first()
    if patient is None:
        raise Http404("No such DMP")
    return patient


def may_read_dmp(user: Any, patient: Patient) -> bool:
    """True when ``patient`` is in ``user``'s scope (one query). Used for a single decision,
    never per row of a list."""
    return patients_for(user).filter(pk=patient.pk).exists()


# --- Grants (called only from services, which record the event) ------------------------------


def dmp_grant(*, patient: Patient, user: User) -> None:
    """Give ``user`` (a professional's account) DMP-level read access: one row, O(1)."""
    assign_perm(VIEW_DMP, user, patient)


def dmp_revoke(*, patient: Patient, user: User) -> None:
    """Withdraw the DMP-level grant (the médecin traitant keeps access through that role)."""
    remove_perm(VIEW_DMP, user, patient)


# --- Trail -----------------------------------------------------------------------------------


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
    actor: Any,
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
    professional = getattr(actor, "professional", None) if actor is not None else None
    if mode == AccessMode.NORMAL and actor is not None and getattr(actor, "is_patient", False):
        mode = AccessMode.PATIENT
    with transaction.atomic():
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


def record_denied(*, actor: Any, detail: str, request: HttpRequest | None = None) -> None:
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


def dmp_revoke_all(*, patient: Patient) -> None:
    """Drop every DMP-level grant of a purged DMP."""
    for user in User.objects.filter(
        pk__in=patient.patientuserobjectpermission_set.values("user_id")
    ):
        remove_perm(VIEW_DMP, user, patient)
