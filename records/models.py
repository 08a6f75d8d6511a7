"""Content of the DMP and its trail.

For now: the access trail (every read and write of patient data leaves an AccessEvent,
hash-chained so that tampering shows). Entries (lab results, reports, allergies) come next.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AccessMode(models.TextChoices):
    NORMAL = "normal", _("Normal")
    EMERGENCY = "emergency", _("Bris de glace")
    SAMU = "samu", _("Régulation SAMU")
    PATIENT = "patient", _("Patient")


class AccessAction(models.TextChoices):
    DMP_OPEN = "dmp_open", _("Ouverture du DMP")
    DMP_VIEW = "dmp_view", _("Consultation du DMP")
    DMP_SEARCH_HIT = "dmp_search_hit", _("DMP trouvé par recherche")
    DMP_UPDATE = "dmp_update", _("Modification des paramètres du DMP")
    DMP_CLOSE = "dmp_close", _("Fermeture du DMP")
    DMP_REOPEN = "dmp_reopen", _("Réouverture du DMP")
    LETTER_PRINT = "letter_print", _("Courrier d'ouverture imprimé")
    ACCOUNT_ACTIVATE = "account_activate", _("Activation du compte patient")
    HISTORY_VIEW = "history_view", _("Consultation de l'historique des accès")
    DENIED = "denied", _("Accès refusé")


class AccessEvent(models.Model):
    """One read or write of patient data. Append-only; ``digest`` chains it to the previous one.

    Identity of the actor is copied (RPPS, profession) so the trail stays readable even if the
    professional's profile changes later.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    actor_rpps = models.CharField(max_length=11, blank=True)
    actor_profession = models.CharField(max_length=40, blank=True)
    patient = models.ForeignKey(
        "identity.Patient", on_delete=models.SET_NULL, null=True, related_name="access_events"
    )
    patient_insc = models.CharField(max_length=22, blank=True)
    entry_public_id = models.UUIDField(null=True, blank=True)
    action = models.CharField(max_length=30, choices=AccessAction.choices)
    mode = models.CharField(max_length=20, choices=AccessMode.choices, default=AccessMode.NORMAL)
    detail = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    previous_digest = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("événement d'accès")
        verbose_name_plural = _("événements d'accès")
        indexes = [
            models.Index(fields=["patient", "-at"], name="records_event_patient_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.at:%Y-%m-%d %H:%M}"


class AccessChainHead(models.Model):
    """The single row holding the chain's last sequence number and digest.

    Writers lock it (SELECT … FOR UPDATE) so concurrent writers never fork the chain.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    digest = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("tête de la chaîne d'audit")

    def __str__(self) -> str:
        return f"chain head #{self.seq}"
