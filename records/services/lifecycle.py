"""The DMP's lifecycle: opening with consent, activation codes and the patient's account,
oppositions, médecin traitant, closing, reopening (the purge is in ``records.services.purge``).

Keyword-only ``entity_verb(*, actor, …)`` functions: who may act is checked first, writes go
inside one transaction with their access event.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity.errors import AccessDenied, UserError
from identity.ins import check_nir_against_traits, compute_insc, validate_nir
from identity.models import (
    ActivationCode,
    Consent,
    ConsentKind,
    DmpStatus,
    DmpTransition,
    Patient,
    Profession,
    Professional,
    Role,
    TransitionKind,
    User,
)
from records import access, trail
from records.models import AccessAction, AuthorisationReason, CareRelation, CareRelationStatus
from records.services.care import care_authorise

RETENTION_AFTER_CLOSURE = timedelta(days=3653)  # 10 years
EARLY_ERASURE_DELAY = timedelta(days=30)  # the patient may change their mind within a month
ACTIVATION_CODE_VALIDITY = timedelta(days=30)
ACTIVATION_MAX_FAILED_ATTEMPTS = 5
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed by hand
_CODE_LENGTH = 12

# Shown in the reader's language; the consent stores the text as it was shown.
CONSENT_TEXT_OPENING = _(
    "Le professionnel de santé m'a expliqué ce qu'est le Dossier Médical Personnel (DMP) : "
    "un dossier médical numérique, partagé entre les professionnels de santé que j'autorise, "
    "que je peux consulter à tout moment. Je sais que chaque accès est tracé et visible par "
    "moi, que je peux masquer des documents, bloquer un professionnel, m'opposer à l'accès en "
    "urgence, et fermer mon DMP. J'accepte l'ouverture de mon DMP."
)
CONSENT_TEXT_REOPENING = _(
    "Je demande la réouverture de mon Dossier Médical Personnel, fermé auparavant ; son "
    "contenu archivé redevient consultable selon les mêmes règles qu'avant sa fermeture."
)


class ActivationError(UserError):
    """A wrong, expired, used or exhausted activation code. ``message`` is for the user."""


@dataclass(frozen=True)
class PatientTraits:
    birth_name: str
    first_names: str
    sex: str
    birth_date: datetime.date
    used_name: str = ""
    birth_place_code: str = ""


@dataclass(frozen=True)
class OpeningResult:
    patient: Patient
    created: bool
    activation_code: str | None


def _transition(patient: Patient, kind: str, actor: User | None, **detail: Any) -> None:
    DmpTransition.objects.create(patient=patient, kind=kind, actor=actor, detail=detail)


def _code_digest(code: str) -> str:
    normalised = "".join(ch for ch in code.upper() if ch.isalnum())
    return hmac.new(
        settings.SECRET_KEY.encode(), f"dmp-activation:{normalised}".encode(), hashlib.sha256
    ).hexdigest()


def activation_code_issue(*, actor: User | None, patient: Patient) -> str:
    """Issue a new single-use activation code (older unused ones are revoked).

    Returns the code in clear, to print once; only its keyed hash is stored.
    """
    now = timezone.now()
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    with transaction.atomic():
        patient.activation_codes.filter(used_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
        ActivationCode.objects.create(
            patient=patient,
            code_digest=_code_digest(code),
            created_at=now,
            expires_at=now + ACTIVATION_CODE_VALIDITY,
        )
        _transition(patient, TransitionKind.ACTIVATION_CODE_ISSUED, actor)
    return "-".join(code[i : i + 4] for i in range(0, _CODE_LENGTH, 4))


def dmp_open(
    *,
    actor: User,
    traits: PatientTraits,
    nir: str,
    consent_given: bool,
    opposes_bris_de_glace: bool = False,
    opposes_samu: bool = False,
    actor_is_medecin_traitant: bool = False,
) -> OpeningResult:
    """Open a DMP during a consultation, with the patient's explicit consent.

    Who may: a verified professional (AccessDenied otherwise). The NIR is checked and used
    only to compute the INS-C; it is never stored. If a DMP with that INS-C exists, nothing is
    created and the existing one is returned (``created=False``); the database's unique
    constraint settles two professionals opening the same patient at the same moment.
    Raises ValidationError on a bad NIR or NIR/traits incoherence.
    """
    if not actor.is_verified_professional:
        raise AccessDenied("Only a verified professional opens a DMP.")
    if not consent_given:
        raise ValidationError(
            _("Le consentement explicite du patient est nécessaire pour ouvrir son DMP."),
            code="consent_missing",
        )
    professional = actor.professional
    normalised_nir = validate_nir(nir)
    check_nir_against_traits(normalised_nir, sex=traits.sex, birth_date=traits.birth_date)
    insc = compute_insc(traits.first_names, traits.birth_date, normalised_nir)
    del normalised_nir, nir  # used once, kept nowhere

    existing = Patient.objects.filter(insc=insc).first()
    if existing is not None:
        return OpeningResult(patient=existing, created=False, activation_code=None)
    try:
        with transaction.atomic():
            patient = Patient.objects.create(
                insc=insc,
                birth_name=traits.birth_name,
                first_names=traits.first_names,
                used_name=traits.used_name,
                sex=traits.sex,
                birth_date=traits.birth_date,
                birth_place_code=traits.birth_place_code,
                opened_by=professional,
                opposes_bris_de_glace=opposes_bris_de_glace,
                opposes_samu=opposes_samu,
                medecin_traitant=professional if actor_is_medecin_traitant else None,
            )
            Consent.objects.create(
                patient=patient,
                kind=ConsentKind.OPENING,
                collected_by=professional,
                text_shown=str(CONSENT_TEXT_OPENING),
            )
            _transition(patient, TransitionKind.OPENED, actor)
            _transition(patient, TransitionKind.CONSENT, actor, consent=ConsentKind.OPENING)
            _transition(
                patient,
                TransitionKind.OPPOSITION_CHANGED,
                actor,
                bris_de_glace=opposes_bris_de_glace,
                samu=opposes_samu,
            )
            if actor_is_medecin_traitant:
                _transition(
                    patient,
                    TransitionKind.MEDECIN_TRAITANT_CHANGED,
                    actor,
                    rpps=professional.rpps,
                )
            trail.record_access(actor=actor, patient=patient, action=AccessAction.DMP_OPEN)
            care_authorise(
                actor=actor,
                patient=patient,
                professional=professional,
                reason=AuthorisationReason.OPENED,
            )
            code = activation_code_issue(actor=actor, patient=patient)
    except IntegrityError:
        # Another professional opened the same patient a moment ago: use theirs.
        existing = Patient.objects.filter(insc=insc).first()
        if existing is None:
            raise
        return OpeningResult(patient=existing, created=False, activation_code=None)
    return OpeningResult(patient=patient, created=True, activation_code=code)


def activation_code_check(*, code: str, birth_date: datetime.date) -> ActivationCode:
    """Find the live activation code matching ``code`` and the patient's date of birth.

    A wrong date of birth counts as a failed attempt on that code; after
    ``ACTIVATION_MAX_FAILED_ATTEMPTS`` the code is dead. Raises ActivationError.
    """
    now = timezone.now()
    wrong = _("Code d'activation ou date de naissance incorrects. Vérifiez le courrier remis.")
    with transaction.atomic():
        activation = (
            ActivationCode.objects.select_for_update()
            .select_related("patient")
            .filter(code_digest=_code_digest(code))
            .first()
        )
        if activation is None:
            raise ActivationError(str(wrong))
        if activation.used_at or activation.revoked_at:
            raise ActivationError(
                str(
                    _(
                        "Ce code d'activation a déjà été utilisé ou remplacé. Demandez un "
                        "nouveau courrier à votre professionnel de santé."
                    )
                )
            )
        if activation.expires_at <= now:
            raise ActivationError(
                str(
                    _(
                        "Ce code d'activation a expiré (validité : 30 jours). Demandez un "
                        "nouveau courrier à votre professionnel de santé."
                    )
                )
            )
        if activation.failed_attempts >= ACTIVATION_MAX_FAILED_ATTEMPTS:
            raise ActivationError(
                str(
                    _(
                        "Trop d'essais infructueux avec ce code : il est bloqué. Demandez un "
                        "nouveau courrier à votre professionnel de santé."
                    )
                )
            )
        patient = activation.patient
        matches = patient.birth_date == birth_date and patient.is_open and not patient.user_id
        if not matches:
            activation.failed_attempts += 1
            activation.save(update_fields=["failed_attempts"])
    # Raised outside the transaction so that the failed attempt stays counted.
    if not matches:
        raise ActivationError(str(wrong))
    return activation


def activation_code_pending(code_id: int) -> ActivationCode | None:
    """The activation code a visitor checked a moment ago (its id kept in their session, for
    the account step), with its patient; None if it is gone."""
    return ActivationCode.objects.select_related("patient").filter(pk=code_id).first()


def patient_account_create(*, activation: ActivationCode, email: str, password: str) -> User:
    """Create the patient's account from a checked activation code, and use the code up.

    Raises ActivationError if the code was used meanwhile; ValidationError if the e-mail is
    taken.
    """
    with transaction.atomic():
        locked = ActivationCode.objects.select_for_update().get(pk=activation.pk)
        if locked.used_at or locked.revoked_at:
            raise ActivationError(str(_("Ce code d'activation a déjà été utilisé.")))
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                _("Un compte existe déjà avec cette adresse e-mail."), code="email_taken"
            )
        patient = Patient.objects.select_for_update().get(pk=locked.patient_id)
        if patient.user_id:
            raise ActivationError(str(_("Ce DMP a déjà un compte patient.")))
        user = User.objects.create_user(
            email,
            password,
            role=Role.PATIENT,
            first_name=patient.first_names.split(" ")[0].title(),
            last_name=(patient.used_name or patient.birth_name).title(),
        )
        patient.user = user
        patient.save(update_fields=["user"])
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
        _transition(patient, TransitionKind.ACCOUNT_ACTIVATED, user)
        trail.record_access(actor=user, patient=patient, action=AccessAction.ACCOUNT_ACTIVATE)
    return user


def _require_patient_actor(actor: User, patient: Patient) -> None:
    if not (actor.is_patient and patient.user_id == actor.pk):
        raise AccessDenied("Only the patient may do this on their own DMP.")


def oppositions_set(*, actor: User, patient: Patient, bris_de_glace: bool, samu: bool) -> Patient:
    """The patient changes their emergency-access oppositions."""
    _require_patient_actor(actor, patient)
    with transaction.atomic():
        patient.opposes_bris_de_glace, patient.opposes_samu = bris_de_glace, samu
        patient.save(update_fields=["opposes_bris_de_glace", "opposes_samu"])
        _transition(
            patient,
            TransitionKind.OPPOSITION_CHANGED,
            actor,
            bris_de_glace=bris_de_glace,
            samu=samu,
        )
        trail.record_access(
            actor=actor, patient=patient, action=AccessAction.DMP_UPDATE, detail="oppositions"
        )
    return patient


def medecin_traitant_set(
    *, actor: User, patient: Patient, professional: Professional | None
) -> Patient:
    """The patient names (or removes) their médecin traitant: a verified médecin."""
    _require_patient_actor(actor, patient)
    if professional is not None and not (
        professional.is_verified and professional.profession == Profession.MEDECIN
    ):
        raise ValidationError(
            _("Le médecin traitant doit être un médecin dont le profil est vérifié."),
            code="not_a_doctor",
        )
    with transaction.atomic():
        patient.medecin_traitant = professional
        patient.save(update_fields=["medecin_traitant"])
        if professional is not None:
            # The médecin traitant cannot be blocked: naming one lifts a former block.
            CareRelation.objects.filter(
                patient=patient, professional=professional, status=CareRelationStatus.BLOCKED
            ).update(status=CareRelationStatus.REVOKED, since=timezone.now())
        access.masked_entries_resync(patient=patient)
        if professional is not None:
            access.dmp_list(patient=patient, user=professional.user)
        _transition(
            patient,
            TransitionKind.MEDECIN_TRAITANT_CHANGED,
            actor,
            rpps=professional.rpps if professional else "",
        )
        trail.record_access(
            actor=actor, patient=patient, action=AccessAction.DMP_UPDATE, detail="médecin traitant"
        )
    return patient


def dmp_close(*, actor: User, patient: Patient, early_erasure: bool = False) -> Patient:
    """The patient closes their DMP: nobody reads it any more; kept 10 years, then purged.

    With ``early_erasure`` the patient asks for erasure after the legal delay instead.
    """
    _require_patient_actor(actor, patient)
    if not patient.is_open:
        raise ValidationError(_("Ce DMP est déjà fermé."), code="already_closed")
    now = timezone.now()
    with transaction.atomic():
        patient.dmp_status = DmpStatus.CLOSED
        patient.closed_at = now
        patient.purge_after = now + RETENTION_AFTER_CLOSURE
        fields = ["dmp_status", "closed_at", "purge_after"]
        if early_erasure:
            patient.erasure_requested_at = now
            patient.erasure_due_at = now + EARLY_ERASURE_DELAY
            fields += ["erasure_requested_at", "erasure_due_at"]
        patient.save(update_fields=fields)
        _transition(patient, TransitionKind.CLOSED, actor)
        if early_erasure:
            _transition(patient, TransitionKind.ERASURE_REQUESTED, actor)
        trail.record_access(actor=actor, patient=patient, action=AccessAction.DMP_CLOSE)
    return patient


def dmp_reopen(*, actor: User, patient: Patient, consent_given: bool = False) -> Patient:
    """Reopen a closed DMP: everything archived becomes readable again under the same rules.

    Who may: the patient themself, or a verified professional who records the patient's
    consent (``consent_given``).
    """
    if patient.dmp_status != DmpStatus.CLOSED:
        raise ValidationError(_("Seul un DMP fermé peut être rouvert."), code="not_closed")
    by_professional = not actor.is_patient
    if by_professional:
        if not actor.is_verified_professional:
            raise AccessDenied("Only the patient or a verified professional reopens a DMP.")
        if not consent_given:
            raise ValidationError(
                _("Le consentement du patient est nécessaire pour rouvrir son DMP."),
                code="consent_missing",
            )
    else:
        _require_patient_actor(actor, patient)
    with transaction.atomic():
        patient.dmp_status = DmpStatus.OPEN
        patient.closed_at = patient.purge_after = None
        patient.erasure_requested_at = patient.erasure_due_at = None
        patient.save(
            update_fields=[
                "dmp_status",
                "closed_at",
                "purge_after",
                "erasure_requested_at",
                "erasure_due_at",
            ]
        )
        if by_professional:
            Consent.objects.create(
                patient=patient,
                kind=ConsentKind.REOPENING,
                collected_by=actor.professional,
                text_shown=str(CONSENT_TEXT_REOPENING),
            )
            _transition(patient, TransitionKind.CONSENT, actor, consent=ConsentKind.REOPENING)
            care_authorise(
                actor=actor,
                patient=patient,
                professional=actor.professional,
                reason=AuthorisationReason.CONSULTATION,
            )
        _transition(patient, TransitionKind.REOPENED, actor)
        trail.record_access(actor=actor, patient=patient, action=AccessAction.DMP_REOPEN)
    return patient
