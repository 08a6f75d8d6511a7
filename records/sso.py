"""Logins through Pro Santé Connect (professionals) and FranceConnect (patients): who an identity
provider's answer may log in, and the trace of every refusal.

Professionals are matched by the RPPS the provider vouches for, never by e-mail; the structure
they act for (FINESS/SIRET) is kept in the session and written on every access event
(``trail.acting_structure``). A patient's FranceConnect identity is linked to the DMP account
only by the patient, once signed in with password and second factor, and only when its civil
identity agrees with the DMP's traits; it then logs in that account (second factor still asked).
Every refusal is an access event (``login_refused``) and a clear page; nothing is linked.

The cryptographic checks (signature, issuer, audience, expiry) are allauth's and
``identity.oidc``'s; the nonce and the ``acr`` are checked here, where the login's state is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from allauth.account.internal.flows.login import get_authentication_records
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from identity.auth import SECOND_FACTOR_SESSION_KEY
from identity.models import Patient, Professional, User
from identity.oidc.claims import (
    acr_satisfies,
    civil_identity,
    merged_claims,
    rpps_from_claims,
    structures_from_claims,
)
from identity.oidc.provider import NONCE_STATE_KEY
from records import trail
from records.models import AccessAction

PSC = "psc"
FRANCECONNECT = "franceconnect"
STRUCTURE_SESSION_KEY = "dmp_acting_structure"
# The structures to choose from, when Pro Santé Connect names several: until one is chosen,
# every page leads to records:structure_choose.
STRUCTURE_CHOICES_SESSION_KEY = "dmp_structure_choices"

REFUSALS = {
    "provider": _(
        "Le fournisseur d'identité n'a pas confirmé votre identité (réponse invalide, expirée "
        "ou déjà utilisée). Aucune connexion n'a été faite : recommencez depuis la page de "
        "connexion."
    ),
    "nonce": _(
        "Cette réponse du fournisseur d'identité ne correspond pas à votre demande de "
        "connexion (rejouée ?). Recommencez depuis la page de connexion."
    ),
    "acr": _(
        "Le niveau d'authentification obtenu est insuffisant pour accéder à des données de "
        "santé. Reconnectez-vous avec votre carte CPS ou l'application e-CPS."
    ),
    "unknown_rpps": _(
        "Aucun compte professionnel vérifié ne correspond à votre numéro RPPS. Créez votre "
        "compte sur le portail (il sera vérifié par un administrateur), puis reconnectez-vous "
        "avec Pro Santé Connect."
    ),
    "other_account": _(
        "Cette identité Pro Santé Connect est déjà liée à un autre compte. Rien n'a été modifié."
    ),
    "fc_not_linked": _(
        "Cette identité FranceConnect n'est liée à aucun DMP. Connectez-vous une première fois "
        "avec votre mot de passe et votre second facteur, puis liez FranceConnect depuis vos "
        "paramètres."
    ),
    "fc_not_proven": _(
        "Pour lier FranceConnect, connectez-vous d'abord à votre DMP avec votre mot de passe et "
        "votre second facteur."
    ),
    "fc_identity": _(
        "L'identité transmise par FranceConnect ne correspond pas à celle de votre DMP (nom, "
        "prénom, date de naissance ou sexe). Rien n'a été lié ; contactez votre médecin si "
        "votre identité doit être corrigée."
    ),
}


def _refuse(
    request: HttpRequest,
    reason: str,
    provider_id: str,
    *,
    actor: User | None = None,
    patient: Patient | None = None,
) -> ImmediateHttpResponse:
    """Trace the refusal, then give the exception whose response is the refusal page."""
    trail.record_access(
        actor=actor,
        patient=patient,
        action=AccessAction.LOGIN_REFUSED,
        detail=f"{provider_id}: {reason}",
        request=request,
    )
    response = render(
        request, "records/login_refused.html", {"message": REFUSALS[reason]}, status=403
    )
    return ImmediateHttpResponse(response)


# allauth ships no type hints (no py.typed): its base class is Any to mypy.
class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        """No account is ever created from an identity provider's answer."""
        return False

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        provider_id = str(sociallogin.account.provider)
        extra = sociallogin.account.extra_data or {}
        id_token = extra.get("id_token") or {}
        nonce = sociallogin.state.get(NONCE_STATE_KEY)
        if not nonce or id_token.get("nonce") != nonce:
            raise _refuse(request, "nonce", provider_id)
        app = self.get_provider(request, provider_id).app
        required = app.settings.get("acr", "eidas1")
        if not acr_satisfies(id_token.get("acr"), required, settings.DMP_OIDC_ACR_LEVELS):
            raise _refuse(request, "acr", provider_id)
        claims = merged_claims(extra)
        match: Callable[[HttpRequest, SocialLogin, dict[str, Any]], None] = (
            _match_professional if provider_id == PSC else _match_patient
        )
        match(request, sociallogin, claims)

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Exception | None = None,
        extra_context: Any = None,
    ) -> None:
        """A bad signature, audience or issuer, an expired token, an unknown or replayed state,
        a provider's error: traced, and the same clear page."""
        raise _refuse(request, "provider", str(getattr(provider, "sub_id", "oidc")))


def _match_professional(
    request: HttpRequest, sociallogin: SocialLogin, claims: dict[str, Any]
) -> None:
    rpps = rpps_from_claims(claims)
    professional = (
        Professional.objects.select_related("user").filter(rpps=rpps).first() if rpps else None
    )
    if professional is None or not professional.user.is_active:
        raise _refuse(request, "unknown_rpps", PSC)
    if sociallogin.is_existing:
        if sociallogin.user.pk != professional.user_id:
            raise _refuse(request, "other_account", PSC, actor=professional.user)
        return
    if request.user.is_authenticated and request.user.pk != professional.user_id:
        raise _refuse(request, "other_account", PSC, actor=professional.user)
    sociallogin.connect(request, professional.user)


def _match_patient(request: HttpRequest, sociallogin: SocialLogin, claims: dict[str, Any]) -> None:
    if sociallogin.is_existing:
        user = sociallogin.user
    elif request.user.is_authenticated and request.user.is_patient:
        user = request.user
        if not _proved_second_factor(request, user):
            raise _refuse(request, "fc_not_proven", FRANCECONNECT, actor=user)
    else:
        raise _refuse(request, "fc_not_linked", FRANCECONNECT)
    patient = Patient.objects.filter(user=user).first()
    if patient is None or not _same_person(patient, claims):
        raise _refuse(request, "fc_identity", FRANCECONNECT, actor=user, patient=patient)
    if not sociallogin.is_existing:
        sociallogin.connect(request, user)


def _proved_second_factor(request: HttpRequest, user: User) -> bool:
    """Signed in this session with a second factor (TOTP, passkey, or the e-mailed code)."""
    return any(
        record.get("method") in {"mfa", "code"}
        for record in get_authentication_records(request, user)
    )


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(letters.replace("-", " ").replace("'", " ").upper().split())


def _same_person(patient: Patient, claims: dict[str, Any]) -> bool:
    """FranceConnect's identity agrees with the DMP's traits: birth date and sex, birth or used
    name, and first given name among the first names (accents and case aside)."""
    identity = civil_identity(claims)
    if identity.birth_date is None or identity.birth_date != patient.birth_date:
        return False
    if identity.sex and patient.sex and identity.sex != patient.sex:
        return False
    family = _folded(identity.family_name)
    if not family or family not in {_folded(patient.birth_name), _folded(patient.used_name)}:
        return False
    given = _folded(identity.given_names).split()
    return bool(given) and given[0] in _folded(patient.first_names).split()


def on_user_logged_in(sender: object, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """After a Pro Santé Connect login: the card (or e-CPS) was the second factor, and the
    structure the professional acts for is kept for the session: the one the provider names,
    or, when it names several, the one the professional chooses next."""
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is None or sociallogin.account.provider != PSC:
        return
    request.session[SECOND_FACTOR_SESSION_KEY] = user.pk
    structures = structures_from_claims(merged_claims(sociallogin.account.extra_data or {}))
    if len(structures) == 1:
        request.session[STRUCTURE_SESSION_KEY] = structures[0].label
    elif structures:
        request.session[STRUCTURE_CHOICES_SESSION_KEY] = [s.label for s in structures]


def structure_choose(request: HttpRequest, index: int) -> bool:
    """The professional picks one of the structures of their login (by its position); False
    when there is no such choice."""
    choices = request.session.get(STRUCTURE_CHOICES_SESSION_KEY) or []
    if not 0 <= index < len(choices):
        return False
    request.session[STRUCTURE_SESSION_KEY] = choices[index]
    del request.session[STRUCTURE_CHOICES_SESSION_KEY]
    return True


class ActingStructureMiddleware:
    """Every access event of a request names the structure kept in the session, if any; while a
    structure remains to be chosen, every page leads to the choice."""

    _ALLOWED_PREFIXES = ("/accounts/", "/i18n/", "/static/", "/favicon")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        if session.get(STRUCTURE_CHOICES_SESSION_KEY) and not request.path.startswith(
            self._ALLOWED_PREFIXES
        ):
            choose = reverse("records:structure_choose")
            if request.path != choose:
                return HttpResponseRedirect(choose)
        token = trail.acting_structure.set(session.get(STRUCTURE_SESSION_KEY))
        try:
            return self.get_response(request)
        finally:
            trail.acting_structure.reset(token)
