from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from oauth2_provider import views as oauth2_views

from dmp_portal import views
from imaging import fhir as imaging_fhir
from records.fhir import urls as records_fhir

# One door: the admin login is allauth's (rate limits, second factor), never Django's own form.
# AdminSite has no setting for its login view: allauth's documented way is to replace the bound
# method, which mypy refuses on principle (method-assign).
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "DMP Portal — administration"
admin.site.site_title = "DMP Portal"
# The lists need the width (professionals, emergency accesses): the app index is one click away.
admin.site.enable_nav_sidebar = False

# OAuth 2.0 for the FHIR API: only the authorization code flow's endpoints and revocation (no
# self-service registration of applications, no device flow: software is registered by an
# administrator in the admin).
oauth2_patterns = [
    path("authorize/", oauth2_views.AuthorizationView.as_view(), name="authorize"),
    path("token/", oauth2_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="revoke-token"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("sante/", views.health, name="health"),
    path("sante/pret/", views.readiness, name="readiness"),
    path("_bench/fortunes/", views.bench_fortunes, name="bench_fortunes"),
    path("", include("identity.urls")),
    path("", include("records.urls")),
    path("", include("imaging.urls")),
    # The FHIR API: the records' resources and imaging's ImagingStudy, one namespace.
    path("fhir/", include((records_fhir.urlpatterns + imaging_fhir.urlpatterns, "fhir"))),
    path("o/", include((oauth2_patterns, "oauth2_provider"))),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The texts of the scripts (upload progress…), in the reader's language.
    path("i18n/js/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
]

handler403 = "dmp_portal.views.permission_denied"
handler404 = "dmp_portal.views.page_not_found"
handler500 = "dmp_portal.views.server_error"
