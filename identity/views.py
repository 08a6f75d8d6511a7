"""Account pages of identity: the patient's choice of second factor. Signup and login are
allauth's (with ``identity.forms.ProfessionalSignupForm``); the DMP's pages are in records."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from identity import services
from identity.auth import AuthenticatedHttpRequest, patient_required, sensitive_action


@patient_required
@sensitive_action
@require_POST
def email_code_login(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient turns the e-mail code second factor on or off (re-authentication first)."""
    enabled = request.POST.get("enabled") == "1"
    services.patient_email_code_set(user=request.user, enabled=enabled)
    if enabled:
        messages.success(
            request,
            _("À chaque connexion, un code vous sera envoyé par e-mail après le mot de passe."),
        )
    else:
        messages.info(request, _("Le code par e-mail à la connexion est désactivé."))
    return redirect("records:my_settings")
