"""Writes about who speaks for a patient (``records.mandates``): keyword-only, one transaction,
each traced on the patient's trail (the patient sees it in their history).

* ``representative_add``: a professional with normal access records a legal representative of
  a minor (one or two), or a tutor (tutelle) of an adult, with its basis;
* ``proxy_grant`` / ``mandate_revoke``: an adult patient gives another account a scoped,
  expiring access (at most one year) and takes it back. Only the patient grants: a proxy
  never grants further, and a representative does not create proxies for the child (the
  people speaking for a minor are those a professional recorded, with their basis);
* ``majority_end``: at 18 the representatives' mandates end (idempotent, daily command), and
  the young adult without an account gets an activation code for the letter.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity.errors import AccessDenied
from identity.models import Patient, Role, User
from records import access, facts, trail
from records.family import is_minor, majority_date
from records.mandates import PROXY_MAX_DAYS, Mandate, MandateEnd, MandateKind, MandateProof
from records.models import AccessAction, AccessMode, EntryKind
from records.services.lifecycle import activation_code_issue

MAX_REPRESENTATIVES = 2


def _holder(email: str, patient: Patient) -> User:
    """The existing patient-role account named by ``email``; ValidationError otherwise."""
    holder = User.objects.filter(
        email__iexact=(email or "").strip(), is_active=True, role=Role.PATIENT
    ).first()
    if holder is None:
        raise ValidationError(
            _("Aucun compte patient actif n'a cette adresse e-mail."), code="no_account"
        )
    if holder.pk == patient.user_id:
        raise ValidationError(
            _("Le patient ne peut pas être son propre représentant."), code="self"
        )
    return holder


def representative_add(
    *, actor: User, patient: Patient, email: str, kind: str, basis: str, proof: str
) -> Mandate:
    """A professional in normal access records a legal representative (minor) or a tutor."""
    held = access.dmp_access(actor, patient)
    if held is None or held.mode != AccessMode.NORMAL or not patient.is_open:
        raise AccessDenied("normal access to an open DMP is needed to record a representative")
    if kind not in (MandateKind.REPRESENTATIVE, MandateKind.TUTOR):
        raise ValidationError(_("Qualité inconnue."), code="kind")
    if kind == MandateKind.REPRESENTATIVE and not is_minor(patient.birth_date):
        raise ValidationError(
            _("Le patient est majeur : un représentant légal n'est possible que pour un mineur."),
            code="adult",
        )
    if kind == MandateKind.TUTOR and is_minor(patient.birth_date):
        raise ValidationError(_("La tutelle concerne un patient majeur."), code="minor")
    basis = (basis or "").strip()
    if not basis:
        raise ValidationError(_("Indiquez le fondement de la représentation."), code="basis")
    if proof not in MandateProof.values:
        raise ValidationError(_("Indiquez la pièce justificative."), code="proof")
    holder = _holder(email, patient)
    with transaction.atomic():
        current = (
            Mandate.objects.active()
            .select_for_update()
            .filter(patient=patient, kind__in=(MandateKind.REPRESENTATIVE, MandateKind.TUTOR))
        )
        if any(m.holder_id == holder.pk for m in current):
            raise ValidationError(_("Ce compte représente déjà ce patient."), code="duplicate")
        if len(current) >= MAX_REPRESENTATIVES:
            raise ValidationError(_("Deux représentants au plus."), code="too_many")
        mandate = Mandate.objects.create(
            patient=patient,
            holder=holder,
            kind=kind,
            basis=basis[:300],
            proof=proof,
            granted_by=actor,
        )
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.ACCESS_CHANGE,
            detail=facts.encode(facts.REPRESENTATIVE_ADDED, holder=str(holder)[:100], kind=kind),
        )
    return mandate


def proxy_grant(
    *,
    actor: User,
    patient: Patient,
    email: str,
    read_only: bool,
    kinds: Iterable[str],
    ends_on: datetime.date | None,
) -> Mandate:
    """The adult patient gives another account a scoped access until ``ends_on`` (≤ 1 year).

    Only the patient themself: a proxy or a representative acting for them is refused.
    """
    if not (actor.is_patient and patient.user_id == actor.pk and patient.is_open):
        raise AccessDenied("only the patient grants a proxy on their open DMP")
    if is_minor(patient.birth_date):
        raise ValidationError(
            _("Un mineur ne donne pas de procuration : ses représentants légaux agissent."),
            code="minor",
        )
    today = timezone.localdate()
    if ends_on is None or ends_on <= today:
        raise ValidationError(_("Choisissez une date de fin à venir."), code="ends_on")
    if ends_on > today + datetime.timedelta(days=PROXY_MAX_DAYS):
        raise ValidationError(_("Une procuration dure un an au plus."), code="too_long")
    chosen = sorted(set(kinds))
    if not chosen or any(k not in EntryKind.values for k in chosen):
        raise ValidationError(_("Choisissez au moins une nature de documents."), code="kinds")
    holder = _holder(email, patient)
    with transaction.atomic():
        mandate = Mandate.objects.create(
            patient=patient,
            holder=holder,
            kind=MandateKind.PROXY,
            basis="",
            proof=MandateProof.PATIENT_CHOICE,
            read_only=read_only,
            kinds="," + ",".join(chosen) + ",",
            granted_by=actor,
            ends_on=ends_on,
        )
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.ACCESS_CHANGE,
            detail=facts.encode(
                facts.PROXY_GIVEN, holder=str(holder)[:100], until=ends_on.isoformat()
            ),
        )
    return mandate


def mandate_revoke(*, actor: User, mandate: Mandate) -> Mandate:
    """The patient takes back a proxy, or a holder gives up their own mandate."""
    patient = mandate.patient
    if not (patient.user_id == actor.pk and mandate.kind == MandateKind.PROXY) and (
        mandate.holder_id != actor.pk
    ):
        raise AccessDenied("only the patient revokes a proxy, or the holder gives it up")
    with transaction.atomic():
        locked = Mandate.objects.select_for_update().get(pk=mandate.pk)
        if locked.ended_at is None:
            locked.ended_at = timezone.now()
            locked.ended_reason = MandateEnd.REVOKED
            locked.save(update_fields=["ended_at", "ended_reason"])
            trail.record_access(
                actor=actor,
                patient=patient,
                action=AccessAction.ACCESS_CHANGE,
                detail=facts.encode(facts.MANDATE_ENDED, holder=str(locked.holder)[:100]),
            )
    return locked


@dataclass(frozen=True)
class Majority:
    """A patient who came of age today: how many mandates ended, their letter's code."""

    patient: Patient
    ended: int
    activation_code: str | None  # None when they already have an account


def majority_end(*, today: datetime.date | None = None) -> list[Majority]:
    """End the representatives' mandates of every patient aged 18 by ``today``.

    Idempotent: a mandate already ended is left alone, and a code is issued only when
    mandates end in this run. Each patient in their own transaction.
    """
    today = today or timezone.localdate()
    latest_birth = datetime.date(today.year - 18, 12, 31)
    candidates = (
        Mandate.objects.filter(
            ended_at__isnull=True,
            kind=MandateKind.REPRESENTATIVE,
            patient__birth_date__lte=latest_birth,
        )
        .values_list("patient_id", flat=True)
        .distinct()
    )
    done: list[Majority] = []
    for patient in Patient.objects.filter(pk__in=list(candidates)).order_by("pk"):
        if patient.birth_date is None or majority_date(patient.birth_date) > today:
            continue
        with transaction.atomic():
            ended = Mandate.objects.filter(
                patient=patient, kind=MandateKind.REPRESENTATIVE, ended_at__isnull=True
            ).update(ended_at=timezone.now(), ended_reason=MandateEnd.MAJORITY)
            if not ended:
                continue
            trail.record_access(
                actor=None,
                patient=patient,
                action=AccessAction.ACCESS_CHANGE,
                detail=facts.encode(facts.MAJORITY_ENDED),
            )
            code = None
            if patient.user_id is None and patient.is_open:
                code = activation_code_issue(actor=None, patient=patient)
        done.append(Majority(patient=patient, ended=ended, activation_code=code))
    return done


def majority_review_done(*, actor: User, dmp: access.DmpAccess) -> int:
    """The young adult has reviewed what their former representatives could see: their logins
    no longer lead to the review. Only the patient themself (not someone acting for them);
    returns how many mandates were marked (0 when already done)."""
    if dmp.mode != AccessMode.PATIENT or dmp.patient.user_id != actor.pk:
        raise AccessDenied("only the patient reviews what their representatives could see")
    with transaction.atomic():
        done = (
            Mandate.objects.review_pending()
            .filter(patient=dmp.patient)
            .update(reviewed_at=timezone.now())
        )
        if done:
            trail.record_access(
                actor=actor,
                patient=dmp.patient,
                action=AccessAction.ACCESS_CHANGE,
                detail=facts.encode(facts.MAJORITY_REVIEWED),
            )
    return done
