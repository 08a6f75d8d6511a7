"""A test URLconf: the project's URLs plus pages guarded by the role decorators."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from dmp_portal.urls import urlpatterns as project_urlpatterns
from identity.auth import patient_required, professional_required, sensitive_action


@professional_required
def clinical_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("clinical")


@patient_required
def patient_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("patient")


@professional_required
@sensitive_action
def sensitive_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"done {request.method}")


urlpatterns = [
    path("test/clinical/", clinical_page),
    path("test/patient/", patient_page),
    path("test/sensitive/", sensitive_page),
    *project_urlpatterns,
]
