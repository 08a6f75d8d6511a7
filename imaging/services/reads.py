"""Traced reads of imaging data: a study's page, its images, a DICOM download. Each writes
its access event (through ``records.services.care.read_traced``) before anything is served."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache
from django.http import HttpRequest

from identity.models import Patient, User
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
    _traced_once("images", actor=actor, study=study, request=request)


def dicomweb_read_traced(
    *, actor: User, studies: Iterable[ImagingStudy], request: HttpRequest | None
) -> None:
    """Trace a viewer's DICOMweb reads of studies (metadata, files, frames, renders): one
    ENTRY_VIEW event per user × study per 10 minutes, however many requests a viewer makes."""
    for study in studies:
        _traced_once("dicomweb", actor=actor, study=study, request=request)


def dicomweb_search_traced(
    *, actor: User, patients: Iterable[Patient], request: HttpRequest | None
) -> None:
    """Trace a DICOMweb search (QIDO-RS): one TIMELINE_VIEW event per DMP it answered from."""
    for patient in {patient.pk: patient for patient in patients}.values():
        read_traced(
            actor=actor,
            dmp=dmp_of(actor, patient),
            action=AccessAction.TIMELINE_VIEW,
            request=request,
            detail="DICOMweb (recherche d'examens d'imagerie)",
        )


# What a windowed read writes: (action, detail), by kind of read.
_WINDOWED = {
    "images": (AccessAction.THUMBNAIL, "images de l'examen"),
    "dicomweb": (AccessAction.ENTRY_VIEW, "DICOMweb"),
}


def _traced_once(
    kind: str, *, actor: User, study: ImagingStudy, request: HttpRequest | None
) -> None:
    """One event per user × study × ``kind`` per window; raises (and forgets the window) if
    it cannot be written, so that nothing is served untraced."""
    key = f"imaging:traced:{kind}:{getattr(actor, 'pk', 0)}:{study.entry_id}"
    if not cache.add(key, 1, IMAGE_TRACE_WINDOW):
        return
    action, detail = _WINDOWED[kind]
    try:
        read_traced(
            actor=actor,
            dmp=dmp_of(actor, study.entry.patient),
            action=action,
            entry=study.entry,
            request=request,
            detail=detail,
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
    cache.add(
        f"imaging:traced:images:{getattr(actor, 'pk', 0)}:{study.entry_id}", 1, IMAGE_TRACE_WINDOW
    )
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
