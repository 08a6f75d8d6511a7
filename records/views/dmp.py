"""The DMP's own pages: opening a DMP, finding a patient, the opening letter, patient
activation, the patient's DMP home and settings, closing and reopening. Views are thin: the
first line asks the funnel (``records.access``), then a service does the work."""

from __future__ import annotations

import datetime

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identity.auth import (
    AuthenticatedHttpRequest,
    has_second_factor,
    patient_required,
    professional_required,
    sensitive_action,
)
from identity.errors import AccessDenied
from identity.models import ActivationCode, DmpStatus, Patient, User
from records import access
from records.forms.dmp import (
    ActivationCodeForm,
    AttestConsentForm,
    DmpCloseForm,
    DmpOpenForm,
    InscSearchForm,
    MedecinTraitantForm,
    NotificationsForm,
    OppositionsForm,
    PatientAccountForm,
    ReopenForm,
    TraitsSearchForm,
)
from records.models import AccessAction, AccessMode
from records.services import lifecycle, synthesis
from records.services.care import (
    notification_preference_of,
    notification_preference_set,
    read_traced,
)
from records.views import notices
from records.views.nav import dmp_nav
from records.views.targets import target_token

_ACTIVATION_SESSION_KEY = "dmp_activation"
_ACTIVATION_SESSION_TTL = 15 * 60


def _letter_response(request: HttpRequest, patient: Patient, code: str) -> HttpResponse:
    """The printable opening letter. The code exists in clear only in this response."""
    response = render(
        request,
        "records/dmp_letter.html",
        {
            "patient": patient,
            "code": code,
            "expires_on": timezone.localdate() + lifecycle.ACTIVATION_CODE_VALIDITY,
            "activation_url": request.build_absolute_uri(reverse("records:activation")),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


# --- Professionals -----------------------------------------------------------------------------


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def dmp_open(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Open a patient's DMP with their consent; prints the letter with the activation code."""
    actor = request.user
    form = DmpOpenForm(request.POST or None, actor=actor)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = lifecycle.dmp_open(
                actor=actor,
                traits=form.traits(),
                nir=data["nir"],
                consent_given=data["consent"],
                opposes_bris_de_glace=data["opposes_bris_de_glace"],
                opposes_samu=data["opposes_samu"],
                actor_is_medecin_traitant=data.get("medecin_traitant", False),
            )
        except ValidationError as error:
            form.add_error("nir", error)
        else:
            if result.created and result.activation_code:
                messages.success(
                    request, _("Le DMP est ouvert. Imprimez le courrier et remettez-le au patient.")
                )
                return _letter_response(request, result.patient, result.activation_code)
            messages.info(
                request,
                _("Ce patient a déjà un DMP : aucun doublon n'a été créé."),
            )
            return _existing_dmp_redirect(request, result.patient)
    return render(
        request,
        "records/dmp_open.html",
        {"form": form, "consent_text": lifecycle.CONSENT_TEXT_OPENING},
    )


def _existing_dmp_redirect(request: AuthenticatedHttpRequest, patient: Patient) -> HttpResponse:
    """After "open" found an existing DMP: its page if readable, else what a search shows."""
    if access.dmp_access(request.user, patient) is not None:
        return redirect("records:patient_home", public_id=patient.public_id)
    return _search_page(request, access.dmp_lookup(request.user, patient.insc, request=request))


def _search_page(
    request: AuthenticatedHttpRequest,
    found: access.DmpLookup | None,
    by_insc: InscSearchForm | None = None,
    by_traits: TraitsSearchForm | None = None,
) -> HttpResponse:
    state = found.state if found else None
    insc = found.patient.insc if found and found.patient else None
    return render(
        request,
        "records/patient_search.html",
        {
            "by_insc": by_insc or InscSearchForm(),
            "by_traits": by_traits or TraitsSearchForm(),
            "state": state,
            "found": found.patient if found and state == "readable" else None,
            "reopen_form": ReopenForm(initial={"insc": insc}) if state == "closed" else None,
            "attest_form": AttestConsentForm(initial={"insc": insc})
            if state == "no_access"
            else None,
            # The emergency links name the DMP by a token of this session, not its INS-C.
            "emergency_target": target_token(request, insc)
            if state == "no_access" and insc
            else None,
            "is_regulation_doctor": request.user.professional.is_regulation_doctor,
        },
        status=400 if request.method == "POST" and found is None else 200,
    )


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def patient_search(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Find a DMP by INS-C, or by first names + date of birth + NIR (the carte Vitale; the
    INS-C is computed). A POST: neither the NIR nor the INS-C lands in a URL, the server's
    access log or the browser's history."""
    if request.method == "GET":
        return _search_page(request, None)
    by_insc = InscSearchForm(request.POST if request.POST.get("by") == "insc" else None)
    by_traits = TraitsSearchForm(request.POST if request.POST.get("by") == "card" else None)
    insc = None
    if by_insc.is_bound and by_insc.is_valid():
        insc = by_insc.cleaned_data["insc"]
    elif by_traits.is_bound and by_traits.is_valid():
        insc = by_traits.insc()
    found = access.dmp_lookup(request.user, insc, request=request) if insc else None
    return _search_page(request, found, by_insc, by_traits)


@never_cache
@professional_required
@require_GET
def patient_home(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """A professional's view of one DMP (404 when out of scope, like a missing one)."""
    dmp = access.dmp_for(request.user, public_id)
    patient = dmp.patient
    since = synthesis.last_access_at(request.user, patient)  # before this read is traced
    read_traced(actor=request.user, dmp=dmp, action=AccessAction.DMP_VIEW, request=request)
    return render(
        request,
        "records/patient_home.html",
        {
            **dmp_nav(dmp),
            "mode": dmp.mode,
            "synthesis": synthesis.synthesis_for(request.user, patient, since=since),
            "has_account": patient.user_id is not None,
            "is_medecin_traitant": patient.medecin_traitant is not None
            and patient.medecin_traitant.user_id == request.user.pk,
        },
    )


@never_cache
@professional_required
@sensitive_action
@require_POST
def letter_reissue(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Print a new opening letter (new code; the previous ones stop working). The code opens
    the patient's account, hence the DMP: fresh re-authentication first."""
    dmp = access.dmp_for(request.user, public_id)
    patient = dmp.patient
    if patient.user_id is not None:
        messages.info(request, _("Le patient a déjà activé son compte : aucun code à réémettre."))
        return redirect("records:patient_home", public_id=patient.public_id)
    code = lifecycle.activation_code_issue(actor=request.user, patient=patient)
    read_traced(actor=request.user, dmp=dmp, action=AccessAction.LETTER_PRINT, request=request)
    return _letter_response(request, patient, code)


@professional_required
@sensitive_action
@require_POST
def dmp_reopen_by_professional(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Reopen a closed DMP found by INS-C, recording the patient's consent. Everyone
    authorised before reads it again, and so does the actor: fresh re-authentication first."""
    form = ReopenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Le consentement du patient est nécessaire."))
        return redirect(reverse("records:patient_search"))
    found = access.dmp_lookup(
        request.user, form.cleaned_data["insc"], request=request, purpose="réouverture"
    )
    if found.state != "closed" or found.patient is None:
        return redirect(reverse("records:patient_search"))
    patient = found.patient
    lifecycle.dmp_reopen(actor=request.user, patient=patient, consent_given=True)
    messages.success(request, _("Le DMP est rouvert."))
    return redirect("records:patient_home", public_id=patient.public_id)


# --- Patient activation ------------------------------------------------------------------------


def _activation_keys(request: HttpRequest, birth_date: datetime.date) -> dict[str, str]:
    # allauth's reading of the client address, so that its proxy settings apply here too.
    address = get_account_adapter(request).get_client_ip(request)
    return {
        "address": f"dmp:activation:address:{address}",
        "birth_date": f"dmp:activation:birth:{birth_date.isoformat()}",
        "everyone": "dmp:activation:everyone",
    }


def _count(key: str) -> int:
    """One more in the fixed window of ``key`` on the configured cache (shared by workers)."""
    window = settings.DMP_ACTIVATION_WINDOW
    cache.add(key, 0, timeout=window)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def _activation_limited(keys: dict[str, str]) -> bool:
    """Whether to refuse this attempt. The client address counts every attempt. A wrong code
    matches no row on which to count failures, so a guess spread over many addresses is
    stopped by counting failures per date of birth (the target's) and over everyone."""
    limits = settings.DMP_ACTIVATION_LIMITS
    attempts = _count(keys["address"])
    failures = cache.get_many([keys["birth_date"], keys["everyone"]])
    return (
        attempts > limits["address"]
        or failures.get(keys["birth_date"], 0) >= limits["birth_date"]
        or failures.get(keys["everyone"], 0) >= limits["everyone"]
    )


@never_cache
@require_http_methods(["GET", "POST"])
def activation(request: HttpRequest) -> HttpResponse:
    """Step 1: the code from the opening letter and the date of birth."""
    if request.user.is_authenticated:
        return redirect("home")
    form = ActivationCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        keys = _activation_keys(request, form.cleaned_data["birth_date"])
        if _activation_limited(keys):
            # One answer whichever limit it is: it must not tell what the guesser hit.
            form.add_error(None, _("Trop d'essais. Réessayez dans un quart d'heure."))
            response = render(request, "records/activation_code.html", {"form": form}, status=429)
            response["Retry-After"] = str(settings.DMP_ACTIVATION_WINDOW)
            return response
        try:
            code = lifecycle.activation_code_check(
                code=form.cleaned_data["code"], birth_date=form.cleaned_data["birth_date"]
            )
        except lifecycle.ActivationError as error:
            _count(keys["birth_date"])
            _count(keys["everyone"])
            form.add_error(None, error.message)
        else:
            request.session.cycle_key()
            request.session[_ACTIVATION_SESSION_KEY] = {
                "id": code.pk,
                "at": int(timezone.now().timestamp()),
            }
            return redirect("records:activation_account")
    return render(request, "records/activation_code.html", {"form": form})


def _pending_activation(request: HttpRequest) -> ActivationCode | None:
    pending = request.session.get(_ACTIVATION_SESSION_KEY)
    if not pending or timezone.now().timestamp() - pending["at"] > _ACTIVATION_SESSION_TTL:
        return None
    return lifecycle.activation_code_pending(pending["id"])


@never_cache
@require_http_methods(["GET", "POST"])
def activation_account(request: HttpRequest) -> HttpResponse:
    """Step 2: e-mail and password; then the patient is logged in and offered a second factor."""
    activation_code = _pending_activation(request)
    if activation_code is None:
        messages.error(request, _("Recommencez l'activation avec votre code."))
        return redirect("records:activation")
    form = PatientAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = lifecycle.patient_account_create(
                activation=activation_code,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except lifecycle.ActivationError as error:
            form.add_error(None, error.message)
        except ValidationError as error:
            form.add_error("email", error)
        else:
            request.session.pop(_ACTIVATION_SESSION_KEY, None)
            _record_email(request, user)
            login(request, user, backend="identity.backends.AuthenticationBackend")
            messages.success(
                request,
                _(
                    "Votre compte est activé. Protégez-le par un second facteur : une "
                    "application d'authentification sur votre téléphone."
                ),
            )
            return redirect("records:activation_done")
    return render(
        request,
        "records/activation_account.html",
        {"form": form, "patient": activation_code.patient},
    )


def _record_email(request: HttpRequest, user: User) -> None:
    """The patient's e-mail, unverified until they follow the link allauth sends."""
    address = EmailAddress.objects.add_email(request, user, user.email, confirm=True)
    address.primary = True
    address.save(update_fields=["primary"])


@patient_required
@require_GET
def activation_done(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "records/activation_done.html")


# --- The patient's own DMP --------------------------------------------------------------------


@never_cache
@patient_required
@require_GET
def my_dmp(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's DMP home (later issues add the timeline, allergies, images, history)."""
    try:
        dmp = access.own_dmp(request.user)
    except Http404:  # no DMP of their own, but one they speak for: the family page
        if access.represented_by(request.user).exists():
            return redirect("records:family")
        raise
    patient = dmp.patient
    read_traced(actor=request.user, dmp=dmp, action=AccessAction.DMP_VIEW, request=request)
    transitions = patient.transitions.select_related("actor").order_by("-at", "-pk")[:20]
    notifications = notices.latest_for(request.user, 10, dmp)
    return render(
        request,
        "records/my_dmp.html",
        {
            "patient": patient,
            "synthesis": synthesis.synthesis_for(request.user, patient)
            if patient.is_open
            else None,
            "transitions": transitions,
            "notifications": notifications,
            "closed": not patient.is_open,
            # The archive and closing the DMP are the patient's own acts, never of someone
            # speaking for them (the services refuse them): not offered.
            "own": dmp.mode == AccessMode.PATIENT,
            "may_act": dmp.may_act,  # not a read-only proxy
        },
    )


@never_cache
@patient_required
@sensitive_action
@require_http_methods(["GET", "POST"])
def my_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Emergency-access oppositions and médecin traitant (re-authentication to change)."""
    dmp = access.own_dmp(request.user)
    if not dmp.may_act:  # a page that only writes: refused to a read-only proxy (403)
        raise AccessDenied("a read-only proxy does not change the settings")
    patient = dmp.patient
    if not patient.is_open:
        return redirect("records:my_dmp")
    if request.method == "GET":
        read_traced(
            actor=request.user,
            dmp=dmp,
            action=AccessAction.DMP_VIEW,
            detail="paramètres",
            request=request,
        )
    oppositions = OppositionsForm(
        request.POST if request.POST.get("form") == "oppositions" else None,
        initial={
            "opposes_bris_de_glace": patient.opposes_bris_de_glace,
            "opposes_samu": patient.opposes_samu,
        },
    )
    traitant = MedecinTraitantForm(
        request.POST if request.POST.get("form") == "traitant" else None,
        initial={"rpps": patient.medecin_traitant.rpps if patient.medecin_traitant else ""},
    )
    notifications = _notifications_form(request, patient)
    if notifications is not None and notifications.is_bound and notifications.is_valid():
        notification_preference_set(
            actor=request.user, patient=patient, **notifications.cleaned_data
        )
        messages.success(request, _("Vos choix de notification sont enregistrés."))
        return redirect("records:my_settings")
    if oppositions.is_bound and oppositions.is_valid():
        lifecycle.oppositions_set(
            actor=request.user,
            patient=patient,
            bris_de_glace=oppositions.cleaned_data["opposes_bris_de_glace"],
            samu=oppositions.cleaned_data["opposes_samu"],
        )
        messages.success(request, _("Vos choix d'accès en urgence sont enregistrés."))
        return redirect("records:my_settings")
    if traitant.is_bound and traitant.is_valid():
        lifecycle.medecin_traitant_set(
            actor=request.user,
            patient=patient,
            professional=traitant.cleaned_data["rpps"],
        )
        messages.success(request, _("Votre médecin traitant est enregistré."))
        return redirect("records:my_settings")
    return render(
        request,
        "records/my_settings.html",
        {
            "patient": patient,
            "oppositions": oppositions,
            "traitant": traitant,
            "notifications": notifications,
            "has_app": has_second_factor(request.user, request.session),
        },
    )


def _notifications_form(
    request: AuthenticatedHttpRequest, patient: Patient
) -> NotificationsForm | None:
    """The patient's own notification choices (someone acting for them sets the patient's: the
    notifications they read for them follow it). None when the patient has no account: nothing
    is notified, nothing to choose (a POST of it is refused)."""
    bound = request.POST if request.POST.get("form") == "notifications" else None
    if patient.user is None:
        if bound is not None:
            raise AccessDenied("no account of their own: nothing is notified")
        return None
    preference = notification_preference_of(patient.user)
    return NotificationsForm(
        bound,
        initial={
            "accesses": preference.accesses,
            "by_email": preference.by_email,
            "in_portal": preference.in_portal,
        },
    )


@never_cache
@patient_required
@sensitive_action
@require_http_methods(["GET", "POST"])
def my_dmp_close(request: AuthenticatedHttpRequest) -> HttpResponse:
    dmp = access.own_dmp(request.user)
    if dmp.on_behalf:  # closing is the patient's own act (the service refuses it too)
        raise AccessDenied("the patient alone closes their DMP")
    patient = dmp.patient
    if not patient.is_open:
        return redirect("records:my_dmp")
    form = DmpCloseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        lifecycle.dmp_close(
            actor=request.user,
            patient=patient,
            early_erasure=form.cleaned_data["early_erasure"],
        )
        messages.success(request, _("Votre DMP est fermé."))
        return redirect("records:my_dmp")
    return render(request, "records/my_dmp_close.html", {"form": form, "patient": patient})


@patient_required
@sensitive_action
@require_http_methods(["GET", "POST"])
def my_dmp_reopen(request: AuthenticatedHttpRequest) -> HttpResponse:
    patient = access.own_dmp(request.user).patient
    if patient.dmp_status != DmpStatus.CLOSED:
        return redirect("records:my_dmp")
    if request.method == "POST":
        lifecycle.dmp_reopen(actor=request.user, patient=patient)
        messages.success(request, _("Votre DMP est rouvert."))
        return redirect("records:my_dmp")
    return render(request, "records/my_dmp_reopen.html", {"patient": patient})
