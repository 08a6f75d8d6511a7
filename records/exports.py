""" "Télécharger mon DMP": one request for an archive of what the patient may see.

The archive (an IHE XDM portable media, a FHIR Bundle, the original files and an offline
index) is built by a background task (``records.tasks.export_build``) into private storage
under a random key; it may be downloaded once, within ``EXPORT_LIFETIME``, by whoever asked
(the patient, or a professional for the patient), then it is deleted (``manage.py
sweep_exports`` deletes what was never fetched). Writes are in ``records/services/export.py``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

EXPORT_LIFETIME = timedelta(hours=24)


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("En attente")
    RUNNING = "running", _("En préparation")
    READY = "ready", _("Prête à télécharger")
    SENDING = "sending", _("Téléchargement en cours")
    DOWNLOADED = "downloaded", _("Téléchargée")
    EXPIRED = "expired", _("Expirée")
    FAILED = "failed", _("Échec")


IN_PROGRESS = (ExportStatus.PENDING, ExportStatus.RUNNING)


class DmpExport(models.Model):
    """One archive asked for a DMP. ``done`` of ``total`` documents written so far; ``file``:
    the archive's storage key once ready (blank before, and again once deleted)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("identity.Patient", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    # The requester's language when they asked: the archive's index and README are in it.
    language = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("export du DMP")
        verbose_name_plural = _("exports du DMP")
        constraints = [
            # One archive in preparation per requester and DMP: a second request while one
            # runs gets the running one (the race settled here, not by a read-then-write).
            models.UniqueConstraint(
                fields=["patient", "requested_by"],
                condition=Q(status__in=["pending", "running"]),
                name="records_export_one_running",
            )
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="records_export_due")]

    def __str__(self) -> str:
        return f"export {self.status} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @property
    def downloadable(self) -> bool:
        return (
            self.status == ExportStatus.READY
            and self.expires_at is not None
            and self.expires_at > timezone.now()
        )

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0
