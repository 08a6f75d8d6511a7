"""The structure a professional acts for, chosen after a Pro Santé Connect login that named
several (records.sso keeps it in the session; every access event then names it)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from identity.auth import AuthenticatedHttpRequest, professional_required
from records import sso


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def structure_choose(request: AuthenticatedHttpRequest) -> HttpResponse:
    choices = request.session.get(sso.STRUCTURE_CHOICES_SESSION_KEY) or []
    error = ""
    if request.method == "POST":
        try:
            index = int(request.POST.get("structure", ""))
        except ValueError:
            index = -1
        if sso.structure_choose(request, index):
            return redirect("home")
        error = _("Choisissez l'une des structures proposées.")
    status = 400 if error else 200
    return render(
        request,
        "records/structure_choose.html",
        {
            "choices": list(enumerate(choices)),
            "error": error,
            "current": request.session.get(sso.STRUCTURE_SESSION_KEY),
        },
        status=status,
    )
