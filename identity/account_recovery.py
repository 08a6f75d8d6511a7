"""What an administrator may do to someone else's account, each act traced and shown to its owner.

Administrators hold no clinical access, and must get none through another account: the admin
sets nobody's password, second factor, e-mail address, role or staff flags. Recovery goes
through the owner's own channel: a password-reset link sent by allauth to the owner's own
verified address; a second-factor reset that one administrator requests and a *second* one
approves, the owner told by e-mail at each step. Every act leaves an ``AccountEvent``, which the
owner reads on their account page (``account_events_for``).

Who may: an active staff account (the admin pages also require the model permission to change
accounts); nobody acts here on their own account (their own channel is the ordinary one).
"""

from __future__ import annotations

import logging

from allauth.account.forms import ResetPasswordForm
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from identity.errors import AccessDenied, UserError
from identity.models import (
    AccountEvent,
    AccountEventKind,
    MfaResetRequest,
    MfaResetStatus,
    User,
)

logger = logging.getLogger(__name__)

REASON_MIN_LENGTH = 10
REASON_MAX_LENGTH = 300


def _require_administrator(actor: User, account: User | None = None) -> None:
    if not (actor.is_active and actor.is_staff):
        raise AccessDenied("Only an administrator acts on accounts.")
    if account is not None and account.pk == actor.pk:
        raise UserError(_("Vous ne pouvez pas faire cette action sur votre propre compte."))


def reason_clean(reason: str, max_length: int = REASON_MAX_LENGTH) -> str:
    """The stated reason of an administrator's act, as one readable line (it is shown to the
    person concerned). UserError when shorter than 10 characters, longer than ``max_length``,
    or holding control or invisible characters."""
    text = " ".join(reason.split())  # newlines, tabs and runs of spaces → one space
    if any(not character.isprintable() for character in text):
        raise UserError(_("Le motif contient des caractères non autorisés."))
    if len(text) < REASON_MIN_LENGTH:
        raise UserError(_("Indiquez le motif (au moins 10 caractères)."))
    if len(text) > max_length:
        raise UserError(
            _("Le motif ne peut pas dépasser %(count)d caractères.") % {"count": max_length}
        )
    return text


def account_event_record(
    *, account: User, actor: User | None, kind: str, reason: str = ""
) -> AccountEvent:
    """Trace one act of the administration on ``account`` (called by the services that act)."""
    return AccountEvent.objects.create(
        account=account,
        actor=actor,
        actor_label=str(actor)[:200] if actor is not None else "",
        kind=kind,
        reason=reason[:REASON_MAX_LENGTH],
    )


def account_events_for(user: User) -> QuerySet[AccountEvent]:
    """What the administration did to ``user``'s own account, newest first."""
    return AccountEvent.objects.filter(account=user).order_by("-at", "-pk")


def tell_owner(account: User, subject: str, message: str) -> None:
    """E-mail the owner at their own address once the act is committed (a mail failure never
    undoes it: the event is on their account page either way)."""
    address = account.email

    def send() -> None:
        try:
            send_mail(
                f"[DMP] {subject}",
                message
                + "\n\n"
                + _(
                    "Si vous n'êtes pas à l'origine de cette démarche, contactez le support du "
                    "portail DMP. La liste des actions de l'administration sur votre compte est "
                    "dans « Suivi du compte »."
                ),
                None,
                [address],
            )
        except OSError:
            logger.warning("account e-mail not sent", extra={"account": account.pk})

    transaction.on_commit(send)


def account_created(*, actor: User, account: User) -> AccountEvent:
    """Trace an account an administrator created in the admin (the add form only)."""
    _require_administrator(actor)
    return account_event_record(account=account, actor=actor, kind=AccountEventKind.CREATED)


def account_password_reset_send(*, actor: User, account: User, request: HttpRequest) -> None:
    """Send allauth's password-reset link to the account's own verified address.

    The administrator never sees or chooses the password. Raises AccessDenied (not an
    administrator), UserError (own account, inactive account, no verified address).
    """
    _require_administrator(actor, account)
    if not account.is_active:
        raise UserError(_("Ce compte est désactivé : réactivez-le d'abord."))
    address = EmailAddress.objects.filter(user=account, verified=True).order_by("-primary").first()
    if address is None:
        raise UserError(_("Ce compte n'a pas d'adresse e-mail vérifiée : aucun lien envoyé."))
    form = ResetPasswordForm(data={"email": address.email})
    if not form.is_valid():  # pragma: no cover - a verified address of an active account
        raise UserError(_("Le lien n'a pas pu être envoyé."))
    with transaction.atomic():
        account_event_record(
            account=account, actor=actor, kind=AccountEventKind.PASSWORD_RESET_SENT
        )
        form.save(request)


def _active_set(*, actor: User, account: User, active: bool) -> AccountEvent:
    _require_administrator(actor, account)
    if account.is_active == active:
        raise UserError(
            _("Ce compte est déjà actif.") if active else _("Ce compte est déjà désactivé.")
        )
    with transaction.atomic():
        account.is_active = active
        account.save(update_fields=["is_active"])
        kind = AccountEventKind.REACTIVATED if active else AccountEventKind.DEACTIVATED
        event = account_event_record(account=account, actor=actor, kind=kind)
        if active:
            subject = _("Votre compte est réactivé")
            message = _("Un administrateur du portail DMP a réactivé votre compte.")
        else:
            subject = _("Votre compte est désactivé")
            message = _("Un administrateur du portail DMP a désactivé votre compte.")
        tell_owner(account, subject, message)
    return event


def account_deactivate(*, actor: User, account: User) -> AccountEvent:
    """Deactivate an account: it logs in no more, its open sessions end at their next request
    (Django refuses an inactive user). The owner is told by e-mail. Raises AccessDenied (not
    an administrator), UserError (own account, already inactive)."""
    return _active_set(actor=actor, account=account, active=False)


def account_reactivate(*, actor: User, account: User) -> AccountEvent:
    """Reactivate a deactivated account; the owner is told by e-mail. (An account erased with
    its DMP has no password nor address left: reactivated, it still cannot log in.)"""
    return _active_set(actor=actor, account=account, active=True)


def mfa_reset_request(*, actor: User, account: User, reason: str) -> MfaResetRequest:
    """Ask for the removal of ``account``'s second factor; nothing is removed until a second
    administrator approves (``mfa_reset_approve``). The owner is told by e-mail now.

    Raises AccessDenied (not an administrator), UserError (own account, no second factor, a
    request already pending, a missing or unreadable reason).
    """
    _require_administrator(actor, account)
    text = reason_clean(reason)
    if not Authenticator.objects.filter(user=account).exists():
        raise UserError(_("Ce compte n'a pas de second facteur à réinitialiser."))
    try:
        with transaction.atomic():
            reset = MfaResetRequest.objects.create(account=account, requested_by=actor, reason=text)
            account_event_record(
                account=account,
                actor=actor,
                kind=AccountEventKind.MFA_RESET_REQUESTED,
                reason=text,
            )
            tell_owner(
                account,
                _("Réinitialisation de votre second facteur demandée"),
                _(
                    "Un administrateur du portail DMP a demandé la suppression du second "
                    "facteur de votre compte (motif : %(reason)s). Elle n'aura lieu qu'après "
                    "l'accord d'un second administrateur."
                )
                % {"reason": text},
            )
    except IntegrityError:  # the database allows one pending request per account
        raise UserError(_("Une demande est déjà en attente pour ce compte.")) from None
    return reset


def _pending(reset: MfaResetRequest) -> MfaResetRequest:
    """The request, re-read under lock: two approvals at once remove the factor once."""
    locked = MfaResetRequest.objects.select_for_update().select_related("account").get(pk=reset.pk)
    if locked.status != MfaResetStatus.PENDING:
        raise UserError(_("Cette demande a déjà été traitée."))
    return locked


def mfa_reset_approve(*, actor: User, reset: MfaResetRequest) -> MfaResetRequest:
    """A second administrator approves: every authenticator of the account (TOTP, recovery
    codes, security keys) is removed, and the owner enrols a new one at their next login.

    The owner's password is untouched, so the administrators still cannot log in as them.
    Raises AccessDenied (not an administrator), UserError (the requester approving, their own
    account, a request already decided).
    """
    _require_administrator(actor)
    with transaction.atomic():
        locked = _pending(reset)
        if locked.requested_by_id == actor.pk:
            raise UserError(
                _("Une réinitialisation doit être approuvée par un autre administrateur.")
            )
        if locked.account_id == actor.pk:
            raise UserError(_("Vous ne pouvez pas faire cette action sur votre propre compte."))
        locked.status = MfaResetStatus.APPROVED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        Authenticator.objects.filter(user_id=locked.account_id).delete()
        account_event_record(
            account=locked.account,
            actor=actor,
            kind=AccountEventKind.MFA_RESET_APPROVED,
            reason=locked.reason,
        )
        tell_owner(
            locked.account,
            _("Le second facteur de votre compte est supprimé"),
            _(
                "Deux administrateurs du portail DMP ont approuvé la suppression du second "
                "facteur de votre compte. À votre prochaine connexion, avec votre mot de passe, "
                "vous en enregistrerez un nouveau."
            ),
        )
    return locked


def mfa_reset_cancel(*, actor: User, reset: MfaResetRequest) -> MfaResetRequest:
    """Cancel a pending request (any administrator, the requester included)."""
    _require_administrator(actor)
    with transaction.atomic():
        locked = _pending(reset)
        locked.status = MfaResetStatus.CANCELLED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        account_event_record(
            account=locked.account, actor=actor, kind=AccountEventKind.MFA_RESET_CANCELLED
        )
        tell_owner(
            locked.account,
            _("Demande de réinitialisation annulée"),
            _("La demande de suppression du second facteur de votre compte est annulée."),
        )
    return locked
