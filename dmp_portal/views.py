"""Project-level pages: home (by role), health check, error pages."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: what the signed-in user can do, by role."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "dmp_portal/home_anonymous.html")
    if user.is_staff:
        template = "dmp_portal/home_administrator.html"
    elif user.is_professional:
        template = "dmp_portal/home_professional.html"
    else:
        return redirect("records:my_dmp")
    return render(request, template)


@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """Liveness and database reachability, for load balancers. Holds no patient data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request's context processors: the error may come from the database.
    return HttpResponse(loader.render_to_string("500.html"), status=500)
