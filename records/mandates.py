"""Who speaks for a patient: one model for legal representatives, tutors and proxies.

A ``Mandate`` links a patient's DMP to another account (the holder), which then reaches that
DMP through the same funnel (``records.access``) as the patient, narrowed:

* a legal representative of a minor, or a tutor (tutelle), is recorded by a professional
  with its basis (text and kind of proof) and acts for the patient (authorise, block, mask,
  see the history), except for what is kept from them: entries flagged invisible to the
  representatives and the minor's secret consultations (CSP L1111-5);
* a proxy (aidant) is granted by an adult patient for at most one year: read-only or acting,
  limited to some kinds of entries. A proxy never grants further.

At 18 the representatives' mandates end by themselves (``end_majority_mandates``).
Imported at the bottom of ``records.models`` so Django sees it.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PROXY_MAX_DAYS = 366  # "at most one year away"


class MandateKind(models.TextChoices):
    REPRESENTATIVE = "representative", _("Représentant légal d'un mineur")
    TUTOR = "tutor", _("Tuteur (tutelle)")
    PROXY = "proxy", _("Aidant (procuration)")


class MandateProof(models.TextChoices):
    FAMILY_BOOK = "family_book", _("Livret de famille")
    BIRTH_CERTIFICATE = "birth_certificate", _("Acte de naissance")
    JUDGEMENT = "judgement", _("Jugement (tutelle, autorité parentale)")
    PATIENT_CHOICE = "patient_choice", _("Choix du patient")
    OTHER = "other", _("Autre pièce")


class MandateEnd(models.TextChoices):
    REVOKED = "revoked", _("Révoqué")
    MAJORITY = "majority", _("Majorité du patient")
    EXPIRED = "expired", _("Arrivé à échéance")


class MandateQuerySet(models.QuerySet["Mandate"]):
    def active(self, today: datetime.date | None = None) -> MandateQuerySet:
        """The mandates in force today: not ended, started, and not past their end date."""
        today = today or timezone.localdate()
        return self.filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=today),
            ended_at__isnull=True,
            starts_on__lte=today,
        )

    def review_pending(self) -> MandateQuerySet:
        """Ended at the patient's majority and not yet reviewed by the young adult."""
        return self.filter(ended_reason=MandateEnd.MAJORITY, reviewed_at__isnull=True)


class Mandate(models.Model):
    """A person who speaks for a patient ("représentation")."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "identity.Patient", on_delete=models.CASCADE, related_name="mandates"
    )
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mandates_held"
    )
    kind = models.CharField(_("qualité"), max_length=20, choices=MandateKind.choices)
    basis = models.CharField(_("fondement"), max_length=300, blank=True)
    proof = models.CharField(
        _("pièce justificative"), max_length=20, choices=MandateProof.choices, blank=True
    )
    read_only = models.BooleanField(_("lecture seule"), default=False)
    # The entry kinds a proxy reads, as ",kind,kind,"; empty: every kind (representatives).
    kinds = models.CharField(_("natures de documents"), max_length=200, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", null=True
    )
    granted_at = models.DateTimeField(default=timezone.now)
    starts_on = models.DateField(_("à partir du"), default=timezone.localdate)
    ends_on = models.DateField(_("jusqu'au"), null=True, blank=True)
    ended_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    ended_reason = models.CharField(
        _("motif de fin"), max_length=20, choices=MandateEnd.choices, blank=True
    )
    # At 18: when the young adult reviewed what this former representative could see. Until
    # then every login of theirs leads to the review (``records.family``).
    reviewed_at = models.DateTimeField(_("revu le"), null=True, blank=True)

    objects = MandateQuerySet.as_manager()

    class Meta:
        verbose_name = _("représentation")
        verbose_name_plural = _("représentations")
        indexes = [models.Index(fields=["holder", "patient"], name="records_mandate_holder")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.holder}"

    @property
    def is_representative(self) -> bool:
        """A legal representative or a tutor: the rules of secrecy apply to them."""
        return self.kind in (MandateKind.REPRESENTATIVE, MandateKind.TUTOR)

    @property
    def kind_list(self) -> list[str]:
        return [k for k in self.kinds.split(",") if k]

    @property
    def may_act(self) -> bool:
        return not self.read_only
