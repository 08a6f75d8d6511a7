"""The user's "Applications autorisées": the software that holds a token of theirs, and the
button that takes it back."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from identity.auth import AuthenticatedHttpRequest
from records.api_auth import application_revoke, authorised_applications


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def my_applications(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET lists the applications; POST ``application=<id>`` revokes one (own tokens only)."""
    if request.method == "POST":
        try:
            application_id = int(request.POST.get("application", ""))
        except ValueError:
            return HttpResponseBadRequest(_("Application inconnue."))
        if application_revoke(actor=request.user, application_id=application_id):
            messages.success(request, _("L'accès de cette application a été retiré."))
        return redirect("records:my_applications")
    return render(
        request,
        "records/my_applications.html",
        {"applications": authorised_applications(request.user)},
    )
