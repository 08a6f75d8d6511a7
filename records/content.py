"""The kinds of DMP content: lab reports and their observations, reports (comptes rendus),
allergies; and the one-time submission keys that make a deposit idempotent.

Each kind adds one row pointing at its ``Entry`` (common metadata and visibility live there).
``records/models.py`` imports these models so that Django finds them in the ``records`` app.
Writes are in ``records/services/content.py``; reads come through ``records.access``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from records.labs import FLAG_CHOICES, format_number, parse_numeric, parse_result
from records.models import Entry

__all__ = [
    "Allergy",
    "AllergyCategory",
    "AllergyVerification",
    "ClinicalStatus",
    "Criticality",
    "LabReport",
    "Observation",
    "Report",
    "Severity",
    "SubmissionKey",
]

# Stored numbers: up to 12 digits before the decimal point and 6 after (checked on input).
VALUE_DIGITS = 18
VALUE_DECIMALS = 6


def _decimals(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class LabReport(models.Model):
    """A laboratory report (compte rendu d'examens biologiques): where and when."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="lab_report")
    laboratory = models.CharField(_("laboratoire"), max_length=200)
    specimen_collected_at = models.DateTimeField(_("prélèvement le"))
    reported_at = models.DateField(_("date du compte rendu"))

    class Meta:
        verbose_name = _("compte rendu de biologie")
        verbose_name_plural = _("comptes rendus de biologie")

    def __str__(self) -> str:
        return f"{self.laboratory} ({self.specimen_collected_at:%Y-%m-%d})"


class Observation(models.Model):
    """One result of a lab report, with the reference range given WITH this result.

    ``value_text`` keeps the result as typed ("5,40", "< 0,5", "Positif"); ``value_numeric``
    holds the exact number when the result is one (never for censored or textual results).
    """

    lab_report = models.ForeignKey(LabReport, on_delete=models.CASCADE, related_name="observations")
    position = models.PositiveSmallIntegerField(_("rang"))
    analyte_code = models.CharField(_("analyse (LOINC)"), max_length=10)
    analyte_label = models.CharField(_("libellé de l'analyse"), max_length=200)
    value_numeric = models.DecimalField(
        _("valeur numérique"),
        max_digits=VALUE_DIGITS,
        decimal_places=VALUE_DECIMALS,
        null=True,
        blank=True,
    )
    value_text = models.CharField(_("résultat"), max_length=200)
    unit = models.CharField(_("unité (UCUM)"), max_length=40, blank=True)
    ref_low = models.DecimalField(
        _("borne basse"),
        max_digits=VALUE_DIGITS,
        decimal_places=VALUE_DECIMALS,
        null=True,
        blank=True,
    )
    ref_high = models.DecimalField(
        _("borne haute"),
        max_digits=VALUE_DIGITS,
        decimal_places=VALUE_DECIMALS,
        null=True,
        blank=True,
    )
    ref_text = models.CharField(_("valeurs de référence (texte)"), max_length=200, blank=True)
    interpretation = models.CharField(
        _("interprétation"), max_length=2, choices=FLAG_CHOICES, blank=True
    )
    interpretation_computed = models.BooleanField(_("interprétation calculée"), default=False)
    critical = models.BooleanField(_("valeur critique"), default=False)

    class Meta:
        verbose_name = _("résultat de biologie")
        verbose_name_plural = _("résultats de biologie")
        ordering = ["lab_report", "position"]
        indexes = [models.Index(fields=["analyte_code", "lab_report"], name="records_obs_analyte")]
        constraints = [
            models.UniqueConstraint(
                fields=["lab_report", "position"], name="records_observation_position"
            ),
            models.CheckConstraint(
                condition=models.Q(ref_low__isnull=True)
                | models.Q(ref_high__isnull=True)
                | models.Q(ref_low__lte=models.F("ref_high")),
                name="records_observation_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.analyte_label} {self.value_text} {self.unit}".strip()

    @property
    def abnormal(self) -> bool:
        return self.interpretation not in ("", "N")

    def typed_bound(self, value: Decimal | None) -> Decimal | None:
        """A stored bound with the precision the result was typed with (4.000000 → 4,0 for
        a result typed "6,1"), never fewer decimals than the bound itself needs."""
        if value is None:
            return None
        try:
            typed = _decimals(parse_numeric(self.value_text))
        except ValueError:
            typed = 0
        decimals = min(max(_decimals(value.normalize()), typed), VALUE_DECIMALS)
        return value.quantize(Decimal(1).scaleb(-decimals))

    @property
    def value_display(self) -> str:
        """The result in the reader's format: typed "6.2" or "6,2", it reads 6,2 in French and
        6.2 in English, with the precision typed; a censored value keeps its sign ("< 0,5"),
        a text result ("Positif") is shown as typed."""
        try:
            parsed = parse_result(self.value_text)
        except ValueError:
            return self.value_text
        if parsed.numeric is None:
            return self.value_text
        number = format_number(parsed.numeric)
        if parsed.comparator:
            return f"{_COMPARATOR_SIGNS.get(parsed.comparator, parsed.comparator)} {number}"
        return number

    @property
    def range_display(self) -> str:
        """The reference range in the reader's format ("3,9 – 5,8" in French, "3.9 – 5.8" in
        English, "≥ 60")."""

        def shown(value: Decimal) -> str:
            return format_number(self.typed_bound(value) or value)

        low, high = self.ref_low, self.ref_high
        if low is not None and high is not None:
            text = f"{shown(low)} – {shown(high)}"
        elif low is not None:
            text = f"≥ {shown(low)}"
        elif high is not None:
            text = f"≤ {shown(high)}"
        else:
            text = ""
        if self.ref_text:
            text = f"{text} ({self.ref_text})" if text else self.ref_text
        return text


_COMPARATOR_SIGNS = {"<=": "≤", ">=": "≥"}


class Report(models.Model):
    """A report (compte rendu): a text body and/or a PDF kept in private storage.

    The PDF's storage key is random: no patient identifier or original file name in it.
    """

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="report")
    body = models.TextField(_("texte"), blank=True)
    pdf = models.FileField(_("PDF"), max_length=200, blank=True, null=True)
    pdf_sha256 = models.CharField(_("empreinte SHA-256 du PDF"), max_length=64, blank=True)
    pdf_pages = models.PositiveIntegerField(_("pages du PDF"), null=True, blank=True)
    pdf_size = models.PositiveIntegerField(_("taille du PDF (octets)"), null=True, blank=True)

    class Meta:
        verbose_name = _("compte rendu")
        verbose_name_plural = _("comptes rendus")

    def __str__(self) -> str:
        return str(self.entry.title) if self.entry_id else "compte rendu"


class AllergyCategory(models.TextChoices):
    MEDICATION = "medication", _("Médicament")
    FOOD = "food", _("Aliment")
    ENVIRONMENT = "environment", _("Environnement")
    BIOLOGIC = "biologic", _("Produit biologique")


class Severity(models.TextChoices):
    MILD = "mild", _("Légère")
    MODERATE = "moderate", _("Modérée")
    SEVERE = "severe", _("Sévère")


class Criticality(models.TextChoices):
    HIGH = "high", _("Élevée")
    LOW = "low", _("Faible")
    UNABLE = "unable-to-assess", _("Impossible à évaluer")


class ClinicalStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")
    RESOLVED = "resolved", _("Résolue")


class AllergyVerification(models.TextChoices):
    UNCONFIRMED = "unconfirmed", _("Non confirmée")
    CONFIRMED = "confirmed", _("Confirmée")
    REFUTED = "refuted", _("Réfutée")


CRITICALITY_ORDER = {Criticality.HIGH: 0, Criticality.UNABLE: 1, Criticality.LOW: 2}
SEVERITY_ORDER: dict[str, int] = {Severity.SEVERE: 0, Severity.MODERATE: 1, Severity.MILD: 2, "": 3}


class Allergy(models.Model):
    """An allergy or intolerance (FHIR AllergyIntolerance's main elements)."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="allergy")
    substance_code = models.CharField(_("substance (code)"), max_length=40, blank=True)
    substance_label = models.CharField(_("substance"), max_length=200)
    category = models.CharField(_("catégorie"), max_length=20, choices=AllergyCategory.choices)
    reactions = models.CharField(_("réactions, manifestations"), max_length=1000, blank=True)
    severity = models.CharField(_("sévérité"), max_length=10, choices=Severity.choices, blank=True)
    criticality = models.CharField(
        _("criticité"), max_length=20, choices=Criticality.choices, default=Criticality.UNABLE
    )
    clinical_status = models.CharField(
        _("statut clinique"),
        max_length=10,
        choices=ClinicalStatus.choices,
        default=ClinicalStatus.ACTIVE,
    )
    verification_status = models.CharField(
        _("vérification"),
        max_length=12,
        choices=AllergyVerification.choices,
        default=AllergyVerification.UNCONFIRMED,
    )
    onset_date = models.DateField(_("date d'apparition"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("allergie ou intolérance")
        verbose_name_plural = _("allergies et intolérances")

    def __str__(self) -> str:
        return self.substance_label


class SubmissionKey(models.Model):
    """A form's one-time key: the same submission (double click, resent POST, retry after a
    timeout) creates one entry only. Unique per actor."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.UUIDField()
    entry = models.ForeignKey(
        Entry, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("clé de soumission")
        verbose_name_plural = _("clés de soumission")
        constraints = [
            models.UniqueConstraint(fields=["actor", "key"], name="records_submission_unique")
        ]

    def __str__(self) -> str:
        return str(self.key)
