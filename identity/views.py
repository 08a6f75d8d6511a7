"""Account pages of identity: the patient's choice of second factor, and what the administration
did to one's own account. Signup and login are allauth's (with
``identity.forms.ProfessionalSignupForm``); the DMP's pages are in records."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from identity import account_recovery, services
from identity.auth import AuthenticatedHttpRequest, patient_required, sensitive_action
from identity.errors import AccessDenied


@patient_required
@sensitive_action
@require_POST
def email_code_login(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient turns the e-mail code second factor on or off (re-authentication first)."""
    enabled = request.POST.get("enabled") == "1"
    try:
        services.patient_email_code_set(user=request.user, enabled=enabled)
    except AccessDenied:
        messages.error(
            request,
            _(
                "Le code par e-mail est votre seul second facteur : activez d'abord une "
                "application d'authentification ou une clé d'accès."
            ),
        )
        return redirect("records:my_settings")
    if enabled:
        messages.success(
            request,
            _("À chaque connexion, un code vous sera envoyé par e-mail après le mot de passe."),
        )
    else:
        messages.info(request, _("Le code par e-mail à la connexion est désactivé."))
    return redirect("records:my_settings")


@never_cache
@login_required
@require_GET
def my_account_events(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every act of the administration on the signed-in user's own account (reset link sent,
    second factor reset, verification, deactivation), with who and why."""
    events = account_recovery.account_events_for(request.user)[:200]
    return render(request, "identity/account_events.html", {"events": events})
