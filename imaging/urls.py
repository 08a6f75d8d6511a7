from __future__ import annotations

from django.urls import path

from imaging import views

app_name = "imaging"

urlpatterns = [
    path("pro/dmp/<uuid:public_id>/imagerie/", views.patient_studies, name="patient_studies"),
    path(
        "pro/dmp/<uuid:public_id>/imagerie/confirmer/<str:token>/",
        views.upload_confirm,
        name="upload_confirm",
    ),
    path("mon-dmp/imagerie/", views.my_studies, name="my_studies"),
    path("imagerie/etude/<uuid:entry_id>/", views.study_detail, name="study_detail"),
    path("imagerie/etude/<uuid:entry_id>/compte-rendu/", views.study_report, name="study_report"),
    path("imagerie/serie/<uuid:series_id>/", views.series_viewer, name="series_viewer"),
    path(
        "imagerie/serie/<uuid:series_id>/vignette.png",
        views.series_thumbnail,
        name="series_thumbnail",
    ),
    path(
        "imagerie/instance/<uuid:instance_id>/rendu.png",
        views.instance_render,
        name="instance_render",
    ),
    path(
        "imagerie/instance/<uuid:instance_id>/vignette.png",
        views.instance_thumbnail,
        name="instance_thumbnail",
    ),
    path(
        "imagerie/instance/<uuid:instance_id>/original.dcm",
        views.instance_download,
        name="instance_download",
    ),
]
