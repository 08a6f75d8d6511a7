"""The kinds of the profil médical: problems and antécédents, treatments, vaccinations,
measures, and the patient's wishes.

Each is one row pointing at its ``Entry`` (common metadata, visibility, versions and the trail
live there), like the lab reports and allergies of ``records/content.py``. Reference lists
(CIM-10, vaccines, measures) are in ``records/profile_reference.py``; writes in
``records/services/profile.py``; reads come through ``records.access``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from records import profile_reference
from records.models import Entry

__all__ = [
    "HistoryKind",
    "Measure",
    "OrganDonation",
    "PatientDocument",
    "PatientDocumentCategory",
    "Problem",
    "ProblemStatus",
    "Treatment",
    "Vaccination",
    "Wishes",
]


class ProblemStatus(models.TextChoices):
    ACTIVE = "active", _("Actif")
    RESOLVED = "resolved", _("Résolu")


class HistoryKind(models.TextChoices):
    MEDICAL = "medical", _("Médical")
    SURGICAL = "surgical", _("Chirurgical")
    FAMILY = "family", _("Familial")


class Problem(models.Model):
    """A problem or antécédent: a listed CIM-10 code, or free text (then marked uncoded)."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="problem")
    label = models.CharField(_("libellé"), max_length=200)
    cim10_code = models.CharField(_("code CIM-10"), max_length=8, blank=True)
    status = models.CharField(
        _("statut"), max_length=10, choices=ProblemStatus.choices, default=ProblemStatus.ACTIVE
    )
    history = models.CharField(
        _("antécédent"), max_length=10, choices=HistoryKind.choices, default=HistoryKind.MEDICAL
    )
    onset_date = models.DateField(_("début"), null=True, blank=True)
    end_date = models.DateField(_("fin"), null=True, blank=True)

    class Meta:
        verbose_name = _("problème ou antécédent")
        verbose_name_plural = _("problèmes et antécédents")

    def __str__(self) -> str:
        return self.label

    @property
    def coded(self) -> bool:
        return bool(self.cim10_code)


class Treatment(models.Model):
    """A treatment: a stopped one stays in the history (a new version with its end date)."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="treatment")
    medicine = models.CharField(_("médicament"), max_length=200)
    atc_code = models.CharField(_("code ATC"), max_length=7, blank=True)
    dose = models.CharField(_("dose"), max_length=100, blank=True)
    frequency = models.CharField(_("fréquence"), max_length=100, blank=True)
    start_date = models.DateField(_("début"))
    end_date = models.DateField(_("fin"), null=True, blank=True)
    prescriber = models.CharField(_("prescripteur"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("traitement")
        verbose_name_plural = _("traitements")

    def __str__(self) -> str:
        return self.medicine


class Vaccination(models.Model):
    """One vaccination received; ``diseases`` are copied from the vaccine list (``a|b``)."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="vaccination")
    vaccine_code = models.CharField(_("vaccin (code)"), max_length=40)
    vaccine_label = models.CharField(_("vaccin"), max_length=200)
    diseases = models.CharField(_("maladies couvertes"), max_length=300)
    given_on = models.DateField(_("date"))
    dose_number = models.PositiveSmallIntegerField(_("numéro de dose"), null=True, blank=True)
    lot = models.CharField(_("lot"), max_length=40, blank=True)
    administered_by = models.CharField(_("administré par"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("vaccination")
        verbose_name_plural = _("vaccinations")

    def __str__(self) -> str:
        return f"{self.vaccine_label} ({self.given_on:%d/%m/%Y})"

    @property
    def disease_list(self) -> tuple[str, ...]:
        return tuple(self.diseases.split("|")) if self.diseases else ()


class Measure(models.Model):
    """A measure (UCUM unit): blood pressure is a systolic (``value``) / diastolic pair."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="measure")
    kind = models.CharField(
        _("mesure"), max_length=20, choices=[(m.key, m.label) for m in profile_reference.MEASURES]
    )
    value = models.DecimalField(_("valeur"), max_digits=8, decimal_places=2)
    value2 = models.DecimalField(_("diastolique"), max_digits=8, decimal_places=2, null=True)
    unit = models.CharField(_("unité (UCUM)"), max_length=20)
    measured_on = models.DateField(_("date de la mesure"))

    class Meta:
        verbose_name = _("mesure")
        verbose_name_plural = _("mesures")
        indexes = [models.Index(fields=["kind", "measured_on"], name="records_measure_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.display_value}"

    @property
    def type(self) -> profile_reference.MeasureType | None:
        return profile_reference.measure_type(self.kind)

    @property
    def display_value(self) -> str:
        """ "72,5 kg", "132/84 mmHg" (decimal comma, the measure's precision)."""
        kind = self.type
        decimals = kind.decimals if kind else 2

        def fr(number: Decimal) -> str:
            return format(number.quantize(Decimal(1).scaleb(-decimals)), "f").replace(".", ",")

        text = fr(self.value) if self.value2 is None else f"{fr(self.value)}/{fr(self.value2)}"
        return f"{text} {kind.unit_label if kind else self.unit}"


class OrganDonation(models.TextChoices):
    UNKNOWN = "unknown", _("Non précisée")
    CONSENTS = "consents", _("Favorable au don d'organes")
    REFUSES = "refuses", _("Opposé(e) au don (inscrit(e) au registre national des refus)")


class Wishes(models.Model):
    """The patient's wishes, entered by the patient; a change is a new version."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="wishes")
    directives = models.CharField(
        _("directives anticipées : où elles sont conservées"), max_length=500, blank=True
    )
    directives_date = models.DateField(_("directives anticipées : date"), null=True, blank=True)
    trusted_name = models.CharField(_("personne de confiance"), max_length=200, blank=True)
    trusted_relation = models.CharField(_("lien"), max_length=100, blank=True)
    trusted_contact = models.CharField(_("coordonnées"), max_length=200, blank=True)
    organ_donation = models.CharField(
        _("don d'organes"),
        max_length=10,
        choices=OrganDonation.choices,
        default=OrganDonation.UNKNOWN,
    )
    emergency_contacts = models.CharField(
        _("personnes à prévenir en cas d'urgence"), max_length=1000, blank=True
    )

    class Meta:
        verbose_name = _("volontés du patient")
        verbose_name_plural = _("volontés des patients")

    def __str__(self) -> str:
        return str(self.entry.title) if self.entry_id else "volontés"


class PatientDocumentCategory(models.TextChoices):
    PRESCRIPTION = "prescription", _("Ordonnance")
    REPORT = "report", _("Compte rendu ou courrier")
    RESULT = "result", _("Résultat d'examen")
    CERTIFICATE = "certificate", _("Certificat")
    DIRECTIVES = "directives", _("Directives anticipées")
    OTHER = "other", _("Autre document")


class PatientDocument(models.Model):
    """A file the patient added (PDF, JPEG or PNG, judged by its content), kept in private
    storage under a random key; shown everywhere as added by the patient."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="patient_document")
    category = models.CharField(_("type"), max_length=20, choices=PatientDocumentCategory.choices)
    file = models.FileField(_("fichier"), max_length=200)
    content_type = models.CharField(_("format"), max_length=40)
    file_sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    file_size = models.PositiveIntegerField(_("taille (octets)"))

    class Meta:
        verbose_name = _("document ajouté par le patient")
        verbose_name_plural = _("documents ajoutés par les patients")

    def __str__(self) -> str:
        return str(self.entry.title) if self.entry_id else "document"
