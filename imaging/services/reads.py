"""Traced reads of imaging data: a study's page, its images, a DICOM download. Each writes
its access event (through ``records.services.care.read_traced``) before anything is served."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest

from identity.models import User
from imaging.access import dmp_of
from imaging.models import ImagingStudy, Instance
from imaging.services.imports import IMAGE_TRACE_WINDOW
from records.access import DmpAccess
from records.models import AccessAction
from records.services.care import read_traced


def image_read_traced(*, actor: User, study: ImagingStudy, request: HttpRequest | None) -> None:
    """Trace the read of a study's images (thumbnails, previews, renders) before serving.

    One THUMBNAIL event per user × study per 10 minutes, not one per image: scrolling a
    400-slice series must not write 400 events. Raises (and forgets the window) if the event
    cannot be written, so the image is not served.
    """
    key = f"imaging:traced:{getattr(actor, 'pk', 0)}:{study.entry_id}"
    if not cache.add(key, 1, IMAGE_TRACE_WINDOW):
        return
    try:
        read_traced(
            actor=actor,
            dmp=dmp_of(actor, study.entry.patient),
            action=AccessAction.THUMBNAIL,
            entry=study.entry,
            request=request,
            detail="images de l'examen",
        )
    except BaseException:
        cache.delete(key)
        raise


def study_read_traced(
    *, actor: User, study: ImagingStudy, request: HttpRequest | None, detail: str = ""
) -> DmpAccess:
    """Trace a page view of a study (study page, viewer): one ENTRY_VIEW event. Returns how
    ``actor`` holds the DMP (for the page's navigation and actions)."""
    dmp = dmp_of(actor, study.entry.patient)
    read_traced(
        actor=actor,
        dmp=dmp,
        action=AccessAction.ENTRY_VIEW,
        entry=study.entry,
        request=request,
        detail=detail,
    )
    cache.add(f"imaging:traced:{getattr(actor, 'pk', 0)}:{study.entry_id}", 1, IMAGE_TRACE_WINDOW)
    return dmp


def instance_download_traced(
    *, actor: User, instance: Instance, request: HttpRequest | None
) -> None:
    """Trace the download of an original DICOM file (one DOWNLOAD event per download)."""
    study = instance.series.study
    read_traced(
        actor=actor,
        dmp=dmp_of(actor, study.entry.patient),
        action=AccessAction.DOWNLOAD,
        entry=study.entry,
        request=request,
        detail=f"DICOM original {instance.download_name}",
    )
