"""Writes on accounts and professionals. Keyword-only ``entity_verb(*, actor, …)`` functions.

The DMP's lifecycle (opening, activation, closing, purge) is traced, so it lives in
``records.services.lifecycle`` and ``records.services.purge``; the purge calls
``patient_account_erase`` here.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from identity.account_recovery import account_event_record, tell_owner
from identity.auth import has_second_factor
from identity.errors import AccessDenied
from identity.models import (
    AccountEvent,
    AccountEventKind,
    MfaResetRequest,
    Professional,
    Role,
    User,
    VerificationStatus,
)
from identity.rpps import validate_rpps


def professional_register(
    *, user: User, rpps: str, profession: str, specialty: str = ""
) -> Professional:
    """Attach a professional profile (pending verification) to a new account.

    Called by the signup form inside its transaction. Raises ValidationError on a bad RPPS.
    """
    with transaction.atomic():
        user.role = Role.PROFESSIONAL
        user.save(update_fields=["role"])
        return Professional.objects.create(
            user=user,
            rpps=validate_rpps(rpps),
            profession=profession,
            specialty=specialty if profession == "medecin" else "",
        )


def professional_verify(*, actor: User, professional: Professional) -> Professional:
    """Mark a professional verified (traced on their account page). Only an administrator
    (staff) may; raises AccessDenied."""
    if not (actor.is_active and actor.is_staff):
        raise AccessDenied("Only an administrator verifies professionals.")
    with transaction.atomic():
        professional.verification_status = VerificationStatus.VERIFIED
        professional.verified_at = timezone.now()
        professional.verified_by = actor
        professional.save(update_fields=["verification_status", "verified_at", "verified_by"])
        account_event_record(account=professional.user, actor=actor, kind=AccountEventKind.VERIFIED)
        # What the waiting page promises ("Vous serez prévenu par e-mail"), once committed.
        tell_owner(
            professional.user,
            _("Votre profil de professionnel de santé est vérifié"),
            _(
                "Un administrateur a vérifié votre numéro RPPS et votre profession. Vous "
                "pouvez désormais accéder aux DMP des patients qui vous y autorisent : "
                "connectez-vous au portail DMP."
            ),
        )
    return professional


def professional_reject(*, actor: User, professional: Professional) -> Professional:
    """Refuse (or withdraw) a professional's verification: they keep logging in, see no data."""
    if not (actor.is_active and actor.is_staff):
        raise AccessDenied("Only an administrator verifies professionals.")
    with transaction.atomic():
        professional.verification_status = VerificationStatus.REJECTED
        professional.verified_at = None
        professional.verified_by = actor
        professional.save(update_fields=["verification_status", "verified_at", "verified_by"])
        account_event_record(account=professional.user, actor=actor, kind=AccountEventKind.REJECTED)
        tell_owner(
            professional.user,
            _("Votre profil de professionnel de santé n'est pas vérifié"),
            _(
                "Un administrateur n'a pas pu vérifier votre numéro RPPS ou votre profession "
                "(ou a retiré cette vérification) : vous n'accédez à aucun dossier de patient. "
                "Vérifiez les informations de votre profil et contactez le support du portail."
            ),
        )
    return professional


def patient_email_code_set(*, user: User, enabled: bool) -> User:
    """A patient chooses the e-mail code second factor (or drops it, only when an authenticator
    app or a passkey remains: a patient always keeps a second factor). AccessDenied otherwise."""
    if not user.is_patient:
        raise AccessDenied("Only patients use the e-mail code second factor.")
    if not enabled and not has_second_factor(user):
        raise AccessDenied("The e-mail code is the patient's only second factor.")
    user.email_code_login = enabled
    user.save(update_fields=["email_code_login"])
    return user


def patient_account_erase(*, user: User) -> User:
    """Anonymise the account of a patient whose DMP is purged: it never logs in again and
    holds no name, e-mail address, password or second factor.

    Who may: ``records.services.purge.dmp_purge`` only (PermissionError for a non-patient
    account). The row stays, anonymous and inactive: the access trail's chain covers the id of
    the account that acted, and deleting the account would null it. Its open sessions end at
    their next request: they are bound to the password hash, which changes, and an inactive
    account is refused.
    """
    if not user.is_patient:
        raise PermissionError("Only a patient's account is erased with their DMP.")
    with transaction.atomic():
        EmailAddress.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
        # What administrators typed about the account (a reset's reason) goes with it.
        AccountEvent.objects.filter(account=user).update(reason="")
        MfaResetRequest.objects.filter(account=user).update(reason="")
        user.email = f"compte-supprime-{user.public_id}@dmp.invalid"
        user.first_name = user.last_name = ""
        user.set_unusable_password()
        user.is_active = user.email_code_login = False
        user.save(
            update_fields=[
                "email",
                "first_name",
                "last_name",
                "password",
                "is_active",
                "email_code_login",
            ]
        )
    return user
