"""Imaging studies of a DMP: Study → Series → Instance, grouped by DICOM UID.

An ``ImagingStudy`` is the kind-specific row of one DMP ``Entry`` (kind ``imaging_study``), so it
obeys exactly the same access rules (decided in ``records/access.py``, applied through
``imaging/access.py``). Files live in the private default storage under random keys: no patient
identifier and no DICOM UID in any storage path. Writes are in ``imaging/services/``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PreviewStatus(models.TextChoices):
    PENDING = "pending", _("Aperçu en préparation")
    READY = "ready", _("Aperçu prêt")
    UNAVAILABLE = "unavailable", _("Aperçu indisponible")


class ImagingStudy(models.Model):
    """One DICOM study (Study Instance UID) in one DMP; unique per patient."""

    entry = models.OneToOneField(
        "records.Entry", on_delete=models.CASCADE, related_name="imaging_study"
    )
    # Denormalised from the entry so that the Study Instance UID is unique per patient.
    patient = models.ForeignKey("identity.Patient", on_delete=models.CASCADE, related_name="+")
    study_instance_uid = models.CharField(_("UID de l'étude"), max_length=64)
    study_date = models.DateField(_("date de l'examen"), null=True, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    accession_number = models.CharField(_("numéro d'accession"), max_length=64, blank=True)
    modalities = models.JSONField(_("modalités"), default=list, blank=True)
    report = models.ForeignKey(
        "records.Entry",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="imaging_reports_of",
        verbose_name=_("compte rendu d'imagerie"),
    )
    # The DICOM identity as found in the first file, and whether the uploader confirmed it
    # although it differs from the DMP's (never attached silently).
    dicom_identity = models.JSONField(_("identité DICOM"), default=dict, blank=True)
    identity_mismatch_confirmed = models.BooleanField(
        _("écart d'identité confirmé par le déposant"), default=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("examen d'imagerie")
        verbose_name_plural = _("examens d'imagerie")
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "study_instance_uid"], name="imaging_study_uid_per_patient"
            )
        ]

    def __str__(self) -> str:
        return self.description or str(_("Examen d'imagerie"))

    @property
    def modality_label(self) -> str:
        return ", ".join(self.modalities)


class Series(models.Model):
    """One series (Series Instance UID) of a study, with its thumbnail."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study = models.ForeignKey(ImagingStudy, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(_("UID de la série"), max_length=64)
    number = models.IntegerField(_("numéro"), null=True, blank=True)
    modality = models.CharField(_("modalité"), max_length=16, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    body_part = models.CharField(_("région anatomique"), max_length=64, blank=True)
    thumbnail = models.FileField(_("vignette"), max_length=200, blank=True)
    thumbnail_status = models.CharField(
        max_length=12, choices=PreviewStatus.choices, default=PreviewStatus.PENDING
    )

    class Meta:
        verbose_name = _("série")
        verbose_name_plural = _("séries")
        ordering = ["number", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "series_instance_uid"], name="imaging_series_uid_per_study"
            )
        ]

    def __str__(self) -> str:
        return self.description or f"{self.modality} {self.number or ''}".strip()


class Instance(models.Model):
    """One stored DICOM file (SOP Instance UID). ``file`` holds the bytes as stored: the
    preamble zeroed when it was not (``original_sha256`` is the hash of the upload)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(_("UID de l'instance"), max_length=64)
    sop_class_uid = models.CharField(_("classe SOP"), max_length=64)
    transfer_syntax = models.CharField(_("syntaxe de transfert"), max_length=64)
    instance_number = models.IntegerField(_("numéro d'instance"), null=True, blank=True)
    rows = models.PositiveIntegerField(_("lignes"))
    columns = models.PositiveIntegerField(_("colonnes"))
    frames = models.PositiveIntegerField(_("images"), default=1)
    pixel_spacing = models.JSONField(_("taille du pixel (mm)"), null=True, blank=True)
    slice_thickness = models.FloatField(_("épaisseur de coupe (mm)"), null=True, blank=True)
    window_presets = models.JSONField(_("fenêtres"), default=list, blank=True)
    key_tags = models.JSONField(_("attributs DICOM principaux"), default=dict, blank=True)
    file = models.FileField(_("fichier"), max_length=200)
    sha256 = models.CharField(max_length=64)
    original_sha256 = models.CharField(max_length=64)
    preamble_kind = models.CharField(max_length=8, blank=True)
    size = models.PositiveBigIntegerField()
    original_name = models.CharField(_("nom du fichier déposé"), max_length=200, blank=True)
    preview_status = models.CharField(
        max_length=12, choices=PreviewStatus.choices, default=PreviewStatus.PENDING
    )
    preview = models.FileField(_("aperçu"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("instance DICOM")
        verbose_name_plural = _("instances DICOM")
        ordering = ["instance_number", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["series", "sop_instance_uid"], name="imaging_instance_uid_per_series"
            )
        ]
        indexes = [models.Index(fields=["sop_instance_uid"], name="imaging_instance_sop_uid")]

    def __str__(self) -> str:
        return f"{_('Instance')} {self.instance_number or ''}".strip()

    @property
    def download_name(self) -> str:
        """A safe name for the attachment: never the uploaded name, never a UID."""
        return f"image-{self.instance_number or 0}.dcm"

    def presets(self) -> list[dict[str, Any]]:
        return list(self.window_presets or [])
