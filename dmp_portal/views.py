"""Project-level pages: home (by role), health check, error pages."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.http import require_GET

from identity.errors import REFUSAL_REASONS
from records.forms.dmp import MyPatientsForm
from records.services.patients import my_patients_page


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: what the signed-in user can do, by role."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "dmp_portal/home_anonymous.html")
    if user.is_staff:
        return render(request, "dmp_portal/home_administrator.html")
    if user.is_professional:
        return _home_professional(request)
    return redirect("records:my_dmp")


def _home_professional(request: HttpRequest) -> HttpResponse:
    """The professional's home: "Mes patients" (the DMPs they may read, what is new)."""
    filters = MyPatientsForm(request.GET or None)
    if filters.is_bound:
        filters.is_valid()  # a wrong value is shown with its error; the others still apply
    data: dict[str, Any] = getattr(filters, "cleaned_data", {})
    page = my_patients_page(
        request.user,  # type: ignore[arg-type]
        query=data.get("q") or "",
        sort=data.get("tri") or "",
        page=data.get("page") or 1,
    )
    return render(
        request, "dmp_portal/home_professional.html", {"filters": filters, "patients": page}
    )


@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """Liveness and database reachability, for load balancers. Holds no patient data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403, telling the user what is actually the case (an emergency access that only reads,
    a page of the other side, an administrator's account without clinical access)."""
    return render(request, "403.html", {"refusal": _refusal(request, exception)}, status=403)


def _refusal(request: HttpRequest, exception: Exception | None) -> str:
    reason = getattr(exception, "reason", "")
    if reason in REFUSAL_REASONS:
        return str(reason)
    user = request.user
    if not user.is_authenticated:
        return ""
    if user.is_staff or getattr(user, "is_administrator", False):
        return "administrator"
    if getattr(user, "is_patient", False):
        return "patient"
    if getattr(user, "is_professional", False):
        verified = getattr(user, "is_verified_professional", False)
        return "professional" if verified else "unverified"
    return ""


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request's context processors: the error may come from the database.
    return HttpResponse(loader.render_to_string("500.html"), status=500)
