from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from dmp_portal import views

# One door: the admin login is allauth's (rate limits, second factor), never Django's own form.
# AdminSite has no setting for its login view: allauth's documented way is to replace the bound
# method, which mypy refuses on principle (method-assign).
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "DMP Portal — administration"
admin.site.site_title = "DMP Portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("sante/", views.health, name="health"),
    path("", include("identity.urls")),
    path("", include("records.urls")),
    path("", include("imaging.urls")),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The texts of the scripts (upload progress…), in the reader's language.
    path("i18n/js/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
]

handler403 = "dmp_portal.views.permission_denied"
handler404 = "dmp_portal.views.page_not_found"
handler500 = "dmp_portal.views.server_error"
