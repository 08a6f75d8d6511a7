"""Writes on entries: deposit (with versions), masking, announcing to the patient, the
scheduled release of documents invisible to the patient.

Keyword-only ``entity_verb(*, actor, …)`` functions: they check who may act, write inside one
transaction, and record the access event.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity.errors import AccessDenied
from identity.models import Patient, User
from records import access, trail
from records.models import AccessAction, AccessMode, Entry, NotificationKind
from records.services.care import notify, require_patient

# --- Entries' visibility ------------------------------------------------------------------------


def entry_mask(*, actor: User, entry: Entry, masked: bool) -> Entry:
    """The patient masks (or unmasks) an entry from professionals (author and médecin traitant
    keep it). Per-entry rows exist only while masked."""
    require_patient(actor, entry.patient)
    if (entry.secret or entry.hidden_from_representatives) and entry.patient.user_id != actor.pk:
        raise AccessDenied("An entry kept from the representatives is the patient's alone.")
    with transaction.atomic():
        entry.masked = masked
        entry.save(update_fields=["masked"])
        if masked:
            access.masked_entry_grant(entry=entry)
        else:
            access.masked_entry_revoke(entry=entry)
        trail.record_access(
            actor=actor,
            patient=entry.patient,
            action=AccessAction.ENTRY_UPDATE,
            entry_public_id=entry.public_id,
            detail="masqué" if masked else "démasqué",
        )
    return entry


def entry_announce(*, actor: User, entry: Entry) -> Entry:
    """A professional with access marks an invisible-to-patient entry as announced: the
    patient sees it now and is told."""
    _scoped, held = access.entry_for(actor, entry.public_id)
    if not held.may_deposit:
        raise AccessDenied("announcing needs normal access (an emergency access only reads)")
    if not entry.invisible_to_patient or entry.announced_at:
        return entry
    with transaction.atomic():
        entry.announced_at = timezone.now()
        entry.invisible_to_patient = False
        entry.save(update_fields=["announced_at", "invisible_to_patient"])
        trail.record_access(
            actor=actor,
            patient=entry.patient,
            action=AccessAction.ENTRY_UPDATE,
            entry_public_id=entry.public_id,
            detail="annoncé",
        )
        notify(
            recipient=entry.patient.user,
            patient=entry.patient,
            kind=NotificationKind.NEW_DOCUMENT,
            entry=entry,
        )
    return entry


def entries_release_due(*, now: Any = None) -> tuple[int, int]:
    """The scheduled release (``manage.py release_due_entries``): at 14 days the patient is told
    a document awaits; at 30 days it becomes visible. Idempotent; returns (reminded, released).
    """
    now = now or timezone.now()
    reminded = released = 0
    for entry in Entry.objects.due_for_reminder(now).select_related("patient__user")[:1000]:
        with transaction.atomic():
            if Entry.objects.filter(pk=entry.pk, patient_reminded_at__isnull=True).update(
                patient_reminded_at=now
            ):
                notify(
                    recipient=entry.patient.user,
                    patient=entry.patient,
                    kind=NotificationKind.REMINDER,
                )
                reminded += 1
    for entry in Entry.objects.due_for_release(now).select_related("patient__user")[:1000]:
        with transaction.atomic():
            if Entry.objects.filter(pk=entry.pk, invisible_to_patient=True).update(
                invisible_to_patient=False
            ):
                notify(
                    recipient=entry.patient.user,
                    patient=entry.patient,
                    kind=NotificationKind.NEW_DOCUMENT,
                    entry=entry,
                )
                released += 1
    return reminded, released


# --- Deposit -------------------------------------------------------------------------------------


def _supersede(patient: Patient, replaces: Entry | None) -> None:
    """Mark the version being replaced (inside the caller's transaction; locked, so two new
    versions of one entry cannot both succeed)."""
    if replaces is None:
        return
    locked = Entry.objects.select_for_update().get(pk=replaces.pk)
    if locked.patient_id != patient.pk or locked.status != "current":
        raise ValidationError(
            _("Seule la version en vigueur d'un document de ce DMP peut être remplacée."),
            code="not_current",
        )
    locked.status = "replaced"
    locked.save(update_fields=["status"])


def entry_deposit(
    *,
    actor: User,
    patient: Patient,
    kind: str,
    document_type: str,
    title: str,
    act_date: Any,
    summary: str = "",
    masked: bool = False,
    invisible_to_patient: bool = False,
    abnormal: bool = False,
    replaces: Entry | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> Entry:
    """Create an entry in a DMP (the kind-specific rows are written by the caller inside the
    same transaction: call this from within ``transaction.atomic()``).

    Who may: whoever the funnel's ``DmpAccess.may_deposit_type`` lets deposit this type: a
    verified professional in normal access (an emergency access reads, it does not deposit)
    whose profession may read the type (AccessDenied otherwise). With ``replaces``, the old
    version is marked replaced and stays reachable from the new one. The patient is told of
    a new document unless it is invisible to them until announced.
    """
    held = access.dmp_access(actor, patient)
    if held is None:
        raise AccessDenied("No access to this DMP.")
    held.require_deposit(document_type)
    if act_date > timezone.localdate():
        raise ValidationError(_("La date de l'acte est dans le futur."), code="future")
    with transaction.atomic():
        _supersede(patient, replaces)
        entry = Entry.objects.create(
            patient=patient,
            author=actor.professional,
            kind=kind,
            document_type=document_type,
            title=title[:200],
            summary=summary[:300],
            act_date=act_date,
            masked=masked,
            invisible_to_patient=invisible_to_patient,
            abnormal=abnormal,
            replaces=replaces,
            # A minor's DMP: kept from the representatives (records.mandates); a secret
            # consultation (CSP L1111-5) is also kept from them. A new version keeps what its
            # previous one kept from them (the old one is reachable from the new one).
            hidden_from_representatives=hidden_from_representatives
            or secret
            or bool(replaces and replaces.hidden_from_representatives),
            secret=secret or bool(replaces and replaces.secret),
        )
        if masked:
            access.masked_entry_grant(entry=entry)
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.ENTRY_CREATE,
            entry_public_id=entry.public_id,
        )
        if not invisible_to_patient:
            notify(
                recipient=patient.user,
                patient=patient,
                kind=NotificationKind.NEW_DOCUMENT,
                entry=entry,
            )
    return entry


def entry_declare(
    *,
    actor: User,
    patient: Patient,
    kind: str,
    document_type: str,
    title: str,
    act_date: Any,
    summary: str = "",
    replaces: Entry | None = None,
) -> Entry:
    """The patient's own entry in their DMP (a measure, a vaccination they declare, their
    wishes): no author, marked ``declared_by_patient``. Call from within
    ``transaction.atomic()``; the caller writes the kind's row.

    Who may: the patient of this open DMP only (AccessDenied otherwise); which kinds a patient
    may write is decided by the caller (``records.services.profile``). With ``replaces`` (one
    of their own current declarations), the old version is kept, marked replaced.
    """
    require_patient(actor, patient)
    if act_date > timezone.localdate():
        raise ValidationError(_("La date est dans le futur."), code="future")
    if replaces is not None and not replaces.declared_by_patient:
        raise AccessDenied("a patient replaces only what they declared")
    with transaction.atomic():
        _supersede(patient, replaces)
        entry = Entry.objects.create(
            patient=patient,
            author=None,
            declared_by_patient=True,
            kind=kind,
            document_type=document_type,
            title=title[:200],
            summary=summary[:300],
            act_date=act_date,
            replaces=replaces,
        )
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.ENTRY_CREATE,
            mode=AccessMode.PATIENT,
            entry_public_id=entry.public_id,
            detail="déclaré par le patient",
        )
    return entry


def entry_verify(*, actor: User, entry: Entry) -> Entry:
    """A professional with normal access who may read the entry marks a patient-declared
    entry verified (idempotent). AccessDenied in emergency access or for a professional's own
    deposit (only what the patient declared is verified)."""
    _scoped, held = access.entry_for(actor, entry.public_id)
    held.require_deposit(entry.document_type)
    if not entry.declared_by_patient:
        raise AccessDenied("only patient-declared entries are verified")
    if entry.verified_at is not None:
        return entry
    with transaction.atomic():
        entry.verified_by = actor.professional
        entry.verified_at = timezone.now()
        entry.save(update_fields=["verified_by", "verified_at"])
        trail.record_access(
            actor=actor,
            patient=entry.patient,
            action=AccessAction.ENTRY_UPDATE,
            entry_public_id=entry.public_id,
            detail="vérifié",
        )
    return entry
