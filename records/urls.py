from __future__ import annotations

from django.urls import path

from records import views

app_name = "records"

_PRO = "pro/dmp/<uuid:public_id>/"

urlpatterns = [
    path(f"{_PRO}documents/", views.timeline_pro, name="timeline_pro"),
    path(f"{_PRO}biologie/nouveau/", views.lab_report_new, name="lab_report_new"),
    path(f"{_PRO}biologie/tendance/<str:analyte_code>/", views.trend_pro, name="trend_pro"),
    path(f"{_PRO}comptes-rendus/nouveau/", views.report_new, name="report_new"),
    path(f"{_PRO}allergies/nouveau/", views.allergy_new, name="allergy_new"),
    path(f"{_PRO}allergies/carte/", views.allergy_card_pro, name="allergy_card_pro"),
    path("mon-dmp/documents/", views.timeline_patient, name="timeline_patient"),
    path("mon-dmp/allergies/carte/", views.allergy_card_patient, name="allergy_card_patient"),
    path(
        "mon-dmp/biologie/tendance/<str:analyte_code>/",
        views.trend_patient,
        name="trend_patient",
    ),
    path("document/<uuid:entry_id>/", views.entry_detail, name="entry_detail"),
    path("document/<uuid:entry_id>/pdf/", views.report_pdf, name="report_pdf"),
    path("document/<uuid:entry_id>/masquer/", views.entry_mask, name="entry_mask"),
    path("document/<uuid:entry_id>/annoncer/", views.entry_announce, name="entry_announce"),
    path(
        "document/<uuid:entry_id>/nouvelle-version/",
        views.entry_new_version,
        name="entry_new_version",
    ),
]
