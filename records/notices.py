"""What a notification says and where it leads, written when it is read, in the reader's
language, from the facts the notification stores (``records.models.Notification``)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from records.models import AccessMode, Notification, NotificationKind


def _who(notification: Notification) -> str:
    professional = notification.professional
    if professional is None:
        return _("Un professionnel")
    return f"{professional.display_name} ({professional.title})"


def _emergency_text(notification: Notification) -> str:
    emergency = notification.emergency
    who = _who(notification)
    samu = emergency is not None and emergency.mode == AccessMode.SAMU
    patient = notification.patient
    if patient is not None and patient.user_id != notification.recipient_id:
        # The médecin traitant is told about their patient.
        if samu:
            return _("Accès en régulation SAMU au DMP de %(patient)s par %(who)s.") % {
                "patient": patient.display_name,
                "who": who,
            }
        return _("Accès en urgence (bris de glace) au DMP de %(patient)s par %(who)s.") % {
            "patient": patient.display_name,
            "who": who,
        }
    if emergency is None:
        return _("%(who)s a accédé à votre DMP en urgence.") % {"who": who}
    facts = {
        "who": who,
        "when": formats.date_format(timezone.localtime(emergency.started_at), "DATETIME_FORMAT"),
        "reason": emergency.get_reason_display()
        + (f" — {emergency.reason_text}" if emergency.reason_text else ""),
    }
    if samu:
        return (
            _(
                "%(who)s a accédé à votre DMP en régulation SAMU le %(when)s, pour 4 heures. "
                "Motif : %(reason)s."
            )
            % facts
        )
    return (
        _(
            "%(who)s a accédé à votre DMP en urgence (bris de glace) le %(when)s, pour 4 "
            "heures. Motif : %(reason)s."
        )
        % facts
    )


def text(notification: Notification) -> str:
    """The notification as a sentence in the active language."""
    kind = notification.kind
    if notification.message:  # written before notifications stored facts
        return notification.message
    if kind == NotificationKind.EMERGENCY:
        return _emergency_text(notification)
    if kind == NotificationKind.FIRST_ACCESS:
        return _("%(who)s a consulté votre DMP pour la première fois.") % {
            "who": _who(notification)
        }
    if kind == NotificationKind.ACCESS:
        return _("%(who)s a consulté votre DMP.") % {"who": _who(notification)}
    if kind == NotificationKind.AUTHORISED:
        return _(
            "%(who)s a attesté votre consentement lors d'une consultation et a désormais accès "
            "à votre DMP. Vous pouvez retirer cette autorisation à tout moment."
        ) % {"who": _who(notification)}
    if kind == NotificationKind.REMINDER:
        return _(
            "Un nouveau document a été déposé dans votre DMP. Il vous sera présenté lors d'une "
            "consultation, ou deviendra visible au plus tard un mois après son dépôt."
        )
    if kind == NotificationKind.EXPORT_READY:
        patient = notification.patient
        if patient is not None and patient.user_id != notification.recipient_id:
            return _(
                "L'archive du DMP de %(patient)s est prête (24 heures, un téléchargement)."
            ) % {"patient": patient.display_name}
        return _(
            "L'archive de votre DMP est prête : téléchargez-la dans les 24 heures (le lien "
            "fonctionne une fois)."
        )
    if notification.entry is not None:
        return _("Un nouveau document est disponible dans votre DMP : %(title)s.") % {
            "title": notification.entry.title
        }
    return _("Un nouveau document est disponible dans votre DMP.")


def link(notification: Notification) -> str | None:
    """Where the notification leads its reader: the document, or the accesses it tells of."""
    kind = notification.kind
    patient = notification.patient
    if kind == NotificationKind.NEW_DOCUMENT and notification.entry is not None:
        return reverse("records:entry_detail", args=[notification.entry.public_id])
    if kind == NotificationKind.REMINDER:
        return None
    if kind == NotificationKind.EXPORT_READY:
        if patient is not None and patient.user_id != notification.recipient_id:
            return reverse("records:patient_home", args=[patient.public_id])
        return reverse("records:my_export")
    if patient is not None and patient.user_id != notification.recipient_id:
        return reverse("records:patient_home", args=[patient.public_id])
    query = {"who": notification.professional.rpps} if notification.professional else {}
    if kind == NotificationKind.EMERGENCY:
        query["mode"] = (
            notification.emergency.mode if notification.emergency else AccessMode.EMERGENCY
        )
    url = reverse("records:my_history")
    return f"{url}?{urlencode(query)}" if query else url
