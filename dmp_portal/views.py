"""Project-level pages: home (by role), health check, error pages."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.http import require_GET, require_safe

from identity.errors import REFUSAL_REASONS
from records.forms.dmp import MyPatientsForm
from records.services.patients import my_patients_page

logger = logging.getLogger(__name__)


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


@require_safe
def health(request: HttpRequest) -> HttpResponse:
    """Liveness, for load balancers (GET or HEAD): the process answers and reaches the
    database. Holds no patient data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    # Rate limits and used TOTP codes live there: a cache that does not keep a value is down.
    key = f"dmp-readiness-{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    found = cache.get(key)
    cache.delete(key)
    if found != "1":
        raise RuntimeError("the cache did not keep a value")


def _check_storage() -> None:
    # A question the backend must answer (S3: a HEAD on a key that never exists): it proves
    # the endpoint, the bucket and the credentials without writing anything.
    default_storage.exists("dmp-readiness-probe")


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "cache": _check_cache,
    "storage": _check_storage,
}


@require_safe
def readiness(request: HttpRequest) -> HttpResponse:
    """Readiness, for load balancers and orchestrators (GET or HEAD): the database, the cache
    and the private storage each answer. 503 naming the failed parts otherwise (never why:
    the reason goes to the log). Holds no patient data."""
    results: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception:  # any failure of a backend means "not ready", whatever its kind
            logger.exception("readiness check failed: %s", name)
            results[name] = "error"
        else:
            results[name] = "ok"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )


@require_GET
def bench_fortunes(request: HttpRequest) -> HttpResponse:
    """The HTTP benchmark's baseline (bench/bench_http.py): one query, 13 rows, one small
    template, through the whole middleware stack. 404 unless DMP_BENCH_PAGES is set (never in
    production). Holds no patient data."""
    if not settings.DMP_BENCH_PAGES:
        raise Http404
    rows = ContentType.objects.order_by("pk").values_list("pk", "app_label", "model")[:13]
    return render(request, "dmp_portal/bench_fortunes.html", {"rows": rows})


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
