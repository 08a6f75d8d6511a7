from __future__ import annotations

from django.urls import path, register_converter

from imaging import dicomweb_views as dw
from imaging import ohif, views


class DicomUid:
    """A DICOM UID in a DICOMweb URL (anything else: no route, 404)."""

    regex = r"[0-9]{1,64}(?:\.[0-9]{1,64}){0,32}"

    def to_python(self, value: str) -> str:
        if len(value) > 64:
            raise ValueError("not a UID")
        return value

    def to_url(self, value: str) -> str:
        return value


class FrameList:
    """1-based frame numbers, comma-separated."""

    regex = r"[0-9]{1,6}(?:,[0-9]{1,6}){0,63}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DicomUid, "uid")
register_converter(FrameList, "frames")

STUDY = "dicomweb/studies/<uid:study_uid>"
SERIES = STUDY + "/series/<uid:series_uid>"
INSTANCE = SERIES + "/instances/<uid:sop_uid>"

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
    path(
        "imagerie/etude/<uuid:entry_id>/apercus.json", views.study_previews, name="study_previews"
    ),
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
    # DICOMweb (QIDO-RS, WADO-RS): imaging/dicomweb_views.py
    path("dicomweb/studies", dw.search_studies, name="dicomweb_studies"),
    path(STUDY, dw.retrieve, name="dicomweb_study"),
    path(STUDY + "/metadata", dw.metadata, name="dicomweb_study_metadata"),
    path(STUDY + "/series", dw.search_series, name="dicomweb_series_search"),
    path(SERIES, dw.retrieve, name="dicomweb_series"),
    path(SERIES + "/metadata", dw.metadata, name="dicomweb_series_metadata"),
    path(SERIES + "/thumbnail", dw.series_thumbnail, name="dicomweb_series_thumbnail"),
    path(SERIES + "/instances", dw.search_instances, name="dicomweb_instances_search"),
    path(INSTANCE, dw.retrieve, name="dicomweb_instance"),
    path(INSTANCE + "/metadata", dw.metadata, name="dicomweb_instance_metadata"),
    path(INSTANCE + "/rendered", dw.instance_rendered, name="dicomweb_instance_rendered"),
    path(INSTANCE + "/thumbnail", dw.instance_thumbnail, name="dicomweb_instance_thumbnail"),
    path(INSTANCE + "/frames/<frames:frames>", dw.retrieve_frames, name="dicomweb_frames"),
    path(
        INSTANCE + "/frames/<frames:frames>/rendered",
        dw.frame_rendered,
        name="dicomweb_frame_rendered",
    ),
    # The OHIF viewer on our DICOMweb, when installed (imaging/ohif.py)
    path("ohif/", ohif.viewer, name="ohif"),
    path("ohif/<path:path>", ohif.viewer, name="ohif_file"),
]
