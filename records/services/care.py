"""Writes on who sees what, on entries' visibility, and notifications.

Keyword-only ``entity_verb(*, actor, …)`` functions: they check who may act, write inside one
transaction, and record the access event. Grants themselves are written by
``records.access`` only.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity.errors import AccessDenied, UserError
from identity.models import Patient, Professional, User
from records import access, notices, trail
from records.models import (
    EMERGENCY_DURATION,
    AccessAction,
    AccessEvent,
    AccessMode,
    AuthorisationReason,
    CareRelation,
    CareRelationStatus,
    EmergencyAccess,
    EmergencyReason,
    Entry,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotifiedAccesses,
)
from records.visits import VISIT_GAP

logger = logging.getLogger(__name__)


class AccessRefused(UserError):
    """An access request the rules refuse. ``message`` is for the user (French)."""


# --- Notifications -----------------------------------------------------------------------------


def notify(
    *,
    recipient: User | None,
    patient: Patient | None,
    kind: str,
    professional: Professional | None = None,
    entry: Entry | None = None,
    emergency: EmergencyAccess | None = None,
) -> None:
    """Tell ``recipient`` what happened, as the recipient chose (in the portal, by e-mail, or
    both; emergencies always both ways). Stored as facts; the text is written when read
    (``records.notices``), the e-mail's in the language active now. A mail failure never
    undoes the act."""
    if recipient is None or not recipient.is_active:
        return
    preference = NotificationPreference.objects.filter(user=recipient).first()
    always = kind == NotificationKind.EMERGENCY
    in_portal = always or preference is None or preference.in_portal
    by_email = always or preference is None or preference.by_email
    notification = Notification(
        recipient=recipient,
        patient=patient,
        kind=kind,
        professional=professional,
        entry=entry,
        emergency=emergency,
    )
    if in_portal:
        notification.save()
    if not by_email:
        return
    subject = "[DMP] " + str(NotificationKind(kind).label)
    body = f"{notices.text(notification)}\n\n" + str(
        _("Connectez-vous au portail DMP pour en savoir plus.")
    )

    def send() -> None:
        try:
            send_mail(subject, body, None, [recipient.email])
        except OSError:
            logger.warning("notification e-mail not sent", extra={"notification": notification.pk})
            return
        if notification.pk:
            Notification.objects.filter(pk=notification.pk).update(emailed=True)

    transaction.on_commit(send)


def notification_preference_of(user: User) -> NotificationPreference:
    """``user``'s choices, or the defaults (first accesses, e-mail and portal), unsaved."""
    found = NotificationPreference.objects.filter(user=user).first()
    return found or NotificationPreference(user=user)


def notified_accesses(user: User | None) -> str:
    """Which accesses ``user`` wants to hear of (``NotifiedAccesses``)."""
    if user is None:
        return NotifiedAccesses.FIRST
    return notification_preference_of(user).accesses


def notifications_mark_read(*, actor: User, notification: Notification | None = None) -> int:
    """Mark ``actor``'s notification (all of their unread ones without one) as read."""
    unread = access.notifications_for(actor).filter(read_at__isnull=True)
    if notification is not None:
        unread = unread.filter(pk=notification.pk)
    return unread.update(read_at=timezone.now())


def notification_preference_set(
    *, actor: User, patient: Patient, accesses: str, by_email: bool, in_portal: bool
) -> NotificationPreference:
    """The patient chooses which accesses they hear of, and how (traced on their DMP).

    Who may: the patient, or who acts for them (a representative, tutor or acting proxy): the
    choice is the patient's own, the one their notifications follow, since those are the
    notifications read on their behalf; never the actor's own. AccessDenied for anyone else,
    and when the patient has no account (nothing is notified then, there is nothing to choose).
    """
    require_patient(actor, patient)
    holder = patient.user
    if holder is None:
        raise AccessDenied("no account of their own: nothing is notified to choose about")
    if accesses not in NotifiedAccesses.values:
        raise ValidationError(_("Choix de notification inconnu."), code="accesses")
    with transaction.atomic():
        preference, _created = NotificationPreference.objects.update_or_create(
            user=holder,
            defaults={"accesses": accesses, "by_email": by_email, "in_portal": in_portal},
        )
        trail.record_access(
            actor=actor, patient=patient, action=AccessAction.DMP_UPDATE, detail="notifications"
        )
    return preference


# --- Reads -----------------------------------------------------------------------------------


def read_traced(
    *,
    actor: User,
    dmp: access.DmpAccess,
    action: str,
    entry: Entry | None = None,
    request: HttpRequest | None = None,
    detail: str = "",
) -> None:
    """The one way to trace a read of patient data, before it is served (refused if it
    cannot be written). ``dmp`` is what the funnel returned for this actor.

    The first read by a professional the patient authorised tells the patient.
    """

    def trace() -> AccessEvent:
        return trail.record_access(
            actor=actor,
            patient=dmp.patient,
            action=action,
            mode=dmp.mode,
            entry_public_id=entry.public_id if entry else None,
            detail=detail,
            request=request,
        )

    if not dmp.first_access_pending and not dmp.notify_every_access:
        trace()  # the event is all there is to write: no transaction of its own to open
        return
    with transaction.atomic(savepoint=False):
        event = trace()
        # The funnel tells whether a first-access notice is pending: no UPDATE on every read.
        first = 0
        if dmp.first_access_pending:
            first = CareRelation.objects.filter(
                patient=dmp.patient,
                professional__user=actor,
                status=CareRelationStatus.AUTHORISED,
                first_access_at__isnull=True,
            ).update(first_access_at=timezone.now())
            if first and notified_accesses(dmp.patient.user) != NotifiedAccesses.EMERGENCIES:
                notify(
                    recipient=dmp.patient.user,
                    patient=dmp.patient,
                    kind=NotificationKind.FIRST_ACCESS,
                    professional=actor.professional,
                )
        if (
            dmp.notify_every_access
            and not first
            and not dmp.is_emergency  # told by its own notification
            and not _same_visit(event)
        ):
            notify(
                recipient=dmp.patient.user,
                patient=dmp.patient,
                kind=NotificationKind.ACCESS,
                professional=actor.professional,
            )


def _same_visit(event: AccessEvent) -> bool:
    """Whether ``event`` continues a visit: the same actor read this DMP shortly before."""
    return (
        AccessEvent.objects.filter(
            patient=event.patient, actor=event.actor, at__gte=event.at - VISIT_GAP
        )
        .exclude(pk=event.pk)
        .exists()
    )


# --- Care relations -----------------------------------------------------------------------------


def _relation(patient: Patient, professional: Professional) -> CareRelation:
    relation, _created = CareRelation.objects.select_for_update().get_or_create(
        patient=patient,
        professional=professional,
        defaults={"status": CareRelationStatus.REVOKED},
    )
    return relation


def require_patient(actor: User, patient: Patient) -> None:
    if not (actor.is_patient and patient.is_open and access.may_act_for(actor, patient)):
        raise AccessDenied("Only the patient (or who acts for them) changes who sees their DMP.")


def care_authorise(
    *, actor: User, patient: Patient, professional: Professional, reason: str
) -> CareRelation:
    """Authorise a professional on a DMP (O(1): one relation row, one DMP-level grant).

    Who may: the patient (reason PATIENT); the opening professional (OPENED); a professional
    attesting the patient's consent during a consultation (CONSULTATION, the patient is told).
    A blocked professional cannot authorise themself.
    """
    if not professional.is_verified:
        raise ValidationError(_("Ce professionnel n'est pas vérifié."), code="unverified")
    if reason == AuthorisationReason.PATIENT:
        require_patient(actor, patient)
    elif actor.pk != professional.user_id or not actor.is_verified_professional:
        raise AccessDenied("A professional authorises only themself, with consent.")
    with transaction.atomic():
        relation = _relation(patient, professional)
        if relation.status == CareRelationStatus.BLOCKED and reason != AuthorisationReason.PATIENT:
            raise AccessRefused(str(_("Le patient vous a bloqué : aucun accès n'est possible.")))
        relation.status, relation.reason, relation.since = (
            CareRelationStatus.AUTHORISED,
            reason,
            timezone.now(),
        )
        relation.save(update_fields=["status", "reason", "since"])
        access.dmp_grant(patient=patient, user=professional.user)
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.ACCESS_CHANGE,
            detail=f"autorisation ({AuthorisationReason(reason).label}) — "
            f"{professional.display_name}, RPPS {professional.rpps}",
        )
        if (
            reason == AuthorisationReason.CONSULTATION
            and notified_accesses(patient.user) != NotifiedAccesses.EMERGENCIES
        ):
            notify(
                recipient=patient.user,
                patient=patient,
                kind=NotificationKind.AUTHORISED,
                professional=professional,
            )
    return relation


def care_revoke(*, actor: User, patient: Patient, professional: Professional) -> CareRelation:
    """The patient withdraws an authorisation. Not from their médecin traitant, who holds
    access by that role (ValidationError: the patient changes médecin traitant instead)."""
    require_patient(actor, patient)
    if patient.medecin_traitant_id == professional.pk:
        raise ValidationError(
            _(
                "Votre médecin traitant garde l'accès à votre DMP tant qu'il l'est. Pour le lui "
                "retirer, changez d'abord de médecin traitant."
            ),
            code="medecin_traitant",
        )
    with transaction.atomic():
        relation = _relation(patient, professional)
        if relation.status == CareRelationStatus.AUTHORISED:
            relation.status, relation.since = CareRelationStatus.REVOKED, timezone.now()
            relation.save(update_fields=["status", "since"])
        access.dmp_revoke(patient=patient, user=professional.user)
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.ACCESS_CHANGE,
            detail=f"autorisation retirée — {professional.display_name}, RPPS {professional.rpps}",
        )
    return relation


def care_block(*, actor: User, patient: Patient, professional: Professional) -> CareRelation:
    """The patient blocks a professional: nothing visible any more, emergency included.

    The médecin traitant cannot be blocked (ValidationError).
    """
    require_patient(actor, patient)
    if patient.medecin_traitant_id == professional.pk:
        raise ValidationError(
            _(
                "Votre médecin traitant ne peut pas être bloqué. Changez d'abord de "
                "médecin traitant."
            ),
            code="medecin_traitant",
        )
    now = timezone.now()
    with transaction.atomic():
        relation = _relation(patient, professional)
        relation.status, relation.since = CareRelationStatus.BLOCKED, now
        relation.save(update_fields=["status", "since"])
        access.dmp_revoke(patient=patient, user=professional.user)
        EmergencyAccess.objects.filter(
            patient=patient, professional=professional, expires_at__gt=now
        ).update(expires_at=now)
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.ACCESS_CHANGE,
            detail=f"blocage — {professional.display_name}, RPPS {professional.rpps}",
        )
    return relation


def care_unblock(*, actor: User, patient: Patient, professional: Professional) -> CareRelation:
    """Lift a block. The professional is not authorised again by this alone."""
    require_patient(actor, patient)
    with transaction.atomic():
        relation = _relation(patient, professional)
        if relation.status == CareRelationStatus.BLOCKED:
            relation.status, relation.since = CareRelationStatus.REVOKED, timezone.now()
            relation.save(update_fields=["status", "since"])
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.ACCESS_CHANGE,
            detail=f"déblocage — {professional.display_name}, RPPS {professional.rpps}",
        )
    return relation


# --- Emergency access -----------------------------------------------------------------------------


def emergency_refusal(*, actor: User, patient: Patient, samu: bool) -> str:
    """Why ``actor`` (a verified professional) may not declare an emergency access to
    ``patient``'s DMP, in the user's words; "" when they may. Asked by the emergency page
    before it offers the form, and by ``emergency_declare``."""
    professional = actor.professional
    if samu and not professional.is_regulation_doctor:
        return str(_("L'accès en régulation est réservé aux médecins régulateurs du SAMU."))
    if not patient.is_open:
        return str(_("Ce DMP n'est pas accessible."))
    if CareRelation.objects.filter(
        patient=patient, professional=professional, status=CareRelationStatus.BLOCKED
    ).exists():
        return str(_("Le patient vous a bloqué : aucun accès n'est possible."))
    if samu and patient.opposes_samu:
        return str(_("Le patient s'est opposé à l'accès à son DMP par le SAMU."))
    if not samu and patient.opposes_bris_de_glace:
        return str(_("Le patient s'est opposé à l'accès à son DMP en urgence (bris de glace)."))
    return ""


def emergency_declare(
    *, actor: User, patient: Patient, samu: bool, reason: str, reason_text: str = ""
) -> EmergencyAccess:
    """Bris de glace (or SAMU regulation): 4 hours of access, masked entries stay masked.

    Who may: a verified professional (SAMU: a regulation doctor). Refused (AccessRefused) when
    the patient opposed it, blocked the professional, or the DMP is not open. The patient and
    the médecin traitant are told.
    """
    if not actor.is_verified_professional:
        raise AccessDenied("Only a verified professional declares an emergency.")
    professional = actor.professional
    refusal = emergency_refusal(actor=actor, patient=patient, samu=samu)
    if refusal:
        raise AccessRefused(refusal)
    if reason == "other" and not reason_text.strip():
        raise ValidationError(_("Précisez le motif de l'urgence."), code="reason_text")
    mode = AccessMode.SAMU if samu else AccessMode.EMERGENCY
    now = timezone.now()
    with transaction.atomic():
        emergency = EmergencyAccess.objects.create(
            patient=patient,
            professional=professional,
            mode=mode,
            reason=reason,
            reason_text=reason_text.strip()[:500],
            started_at=now,
            expires_at=now + EMERGENCY_DURATION,
        )
        access.dmp_list(patient=patient, user=actor)
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.EMERGENCY_START,
            mode=mode,
            detail=" — ".join(
                part for part in (str(EmergencyReason(reason).label), reason_text.strip()) if part
            )[:300],
        )
        notify(
            recipient=patient.user,
            patient=patient,
            kind=NotificationKind.EMERGENCY,
            professional=professional,
            emergency=emergency,
        )
        if patient.medecin_traitant and patient.medecin_traitant.pk != professional.pk:
            notify(
                recipient=patient.medecin_traitant.user,
                patient=patient,
                kind=NotificationKind.EMERGENCY,
                professional=professional,
                emergency=emergency,
            )
    return emergency
