""" "Télécharger mon DMP": asking for the archive, building it, handing it over once, sweeping.

Who may ask: the patient for their own DMP, or a professional with normal access to it (for a
patient who asks; an emergency access does not export). Whoever asks, the archive holds what
the PATIENT may see (``access.entries_seen_by_patient``): what is still hidden from the patient
stays out, masked entries are in. Every request, build and download is an access event, in
the patient's history.
"""

from __future__ import annotations

import datetime
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone, translation

from identity.errors import AccessDenied
from identity.models import User
from records import access, trail
from records.exports import EXPORT_LIFETIME, IN_PROGRESS, DmpExport, ExportStatus
from records.fhir.resources import patient_resource
from records.models import AccessAction, AccessMode, NotificationKind
from records.portability import SECTIONS, ArchiveWriter
from records.portability_entries import CHUNK_ROWS, EntryWriter, archive_entries
from records.services.care import notify

logger = logging.getLogger(__name__)

# How often the progress shown to the requester is written (documents): a few UPDATEs per
# archive, not one per document.
PROGRESS_EVERY = 100
EXPORT_PREFIX = "exports/"


def _enqueue(export_id: int) -> None:
    from records.tasks import export_build_task

    try:
        export_build_task.enqueue(export_id=export_id)
    except Exception:  # the row is committed; the request page says it is waiting
        logger.exception("records: export not enqueued")


def export_request(
    *, actor: User, dmp: access.DmpAccess, request: HttpRequest | None = None
) -> DmpExport:
    """Ask for the archive of ``dmp`` (as the funnel returned it for ``actor``).

    A second request while one is in preparation returns that one. Raises AccessDenied for
    an emergency access or a DMP that is not open.
    """
    if dmp.mode not in (AccessMode.PATIENT, AccessMode.NORMAL):
        raise AccessDenied("an emergency access does not export the DMP")
    if not dmp.patient.is_open:
        raise AccessDenied("closed DMP")
    running = _running(dmp, actor)
    if running is not None:
        return running
    try:
        with transaction.atomic():
            export = DmpExport.objects.create(
                patient=dmp.patient,
                requested_by=actor,
                language=translation.get_language() or settings.LANGUAGE_CODE,
            )
            trail.record_access(
                actor=actor,
                patient=dmp.patient,
                action=AccessAction.EXPORT,
                mode=dmp.mode,
                detail="archive demandée",
                request=request,
            )
            transaction.on_commit(partial(_enqueue, export.pk))
    except IntegrityError:  # a concurrent request won the race: return its export
        running = _running(dmp, actor)
        if running is None:
            raise
        return running
    return export


def _running(dmp: access.DmpAccess, actor: User) -> DmpExport | None:
    return (
        access.exports_for(actor)
        .filter(patient=dmp.patient, status__in=IN_PROGRESS)
        .select_related("patient")
        .first()
    )


# --- Building -------------------------------------------------------------------------------


@contextmanager
def _scratch() -> Iterator[IO[bytes]]:
    """A temporary file on local disk for the ZIP, always removed."""
    handle, path = tempfile.mkstemp(prefix="dmp-export-", suffix=".zip")
    try:
        with os.fdopen(handle, "w+b") as target:
            yield target
    finally:
        os.unlink(path)


def _claim(export_id: int) -> DmpExport | None:
    claimed = DmpExport.objects.filter(pk=export_id, status=ExportStatus.PENDING).update(
        status=ExportStatus.RUNNING
    )
    if not claimed:
        return None
    return DmpExport.objects.select_related("patient", "requested_by").get(pk=export_id)


def export_build(*, export_id: int) -> str:
    """Build the archive of one pending export (the task's body; idempotent: an export no
    longer pending is left alone). A failure leaves no archive and a clear status."""
    export = _claim(export_id)
    if export is None:
        return "skipped"
    try:
        with translation.override(export.language or settings.LANGUAGE_CODE):
            key, size, count = _build(export)
    except Exception as error:  # any failure: nothing kept, the requester told so
        logger.exception("records: export failed")
        DmpExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED,
            error=type(error).__name__[:300],
            finished_at=timezone.now(),
        )
        return "failed"
    now = timezone.now()
    try:
        with transaction.atomic():
            DmpExport.objects.filter(pk=export.pk).update(
                status=ExportStatus.READY,
                file=key,
                size=size,
                done=count,
                total=count,
                finished_at=now,
                expires_at=now + EXPORT_LIFETIME,
            )
            notify(
                recipient=export.requested_by,
                patient=export.patient,
                kind=NotificationKind.EXPORT_READY,
            )
    except Exception:
        _delete_quietly(key)
        DmpExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, error="database", finished_at=timezone.now()
        )
        raise
    return "ready"


def _build(export: DmpExport) -> tuple[str, int, int]:
    patient = export.patient
    entries = access.entries_seen_by_patient(patient)
    total = entries.count()
    DmpExport.objects.filter(pk=export.pk).update(total=total)
    # The build reads the whole DMP as the patient sees it: traced before any of it is read.
    trail.record_access(
        actor=export.requested_by,
        patient=patient,
        action=AccessAction.EXPORT,
        mode=AccessMode.PATIENT if export.requested_by_id == patient.user_id else AccessMode.NORMAL,
        detail=f"archive préparée : {total} documents",
    )

    def progress(done: int) -> None:
        if done % PROGRESS_EVERY == 0:
            DmpExport.objects.filter(pk=export.pk).update(done=done)

    with _scratch() as target:
        archive = ArchiveWriter(target, patient, progress)
        try:
            archive.fhir(patient_resource(patient))
            writer = EntryWriter(archive)
            own = [kind for section in SECTIONS for kind in section.kinds]
            for entry in archive_entries(entries.exclude(kind__in=own)).iterator(
                chunk_size=CHUNK_ROWS
            ):
                writer.write(entry)
            for section in SECTIONS:
                section.write(archive, entries.filter(kind__in=section.kinds))
            archive.finish(requested_by=str(export.requested_by), now=timezone.now())
        except BaseException:
            archive.close_quietly()
            raise
        size = target.tell()
        target.seek(0)
        key = default_storage.save(f"{EXPORT_PREFIX}{export.public_id.hex}.zip", File(target))
    return key, size, archive.done


def _delete_quietly(key: str) -> None:
    try:
        default_storage.delete(key)
    except Exception:  # any backend error: the sweeper deletes it at expiry
        logger.warning("records: could not delete an export archive; left to the sweeper")


# --- Handing it over once -------------------------------------------------------------------


@dataclass
class Handover:
    """An archive being sent: its file, and what to do once sent (or not)."""

    export: DmpExport
    file: IO[bytes]


def export_download_start(
    *, actor: User, export: DmpExport, request: HttpRequest | None = None
) -> Handover | None:
    """Claim a ready archive for sending (once: a concurrent second download gets None, as
    does an expired or already downloaded one). Traced before the first byte is sent."""
    now = timezone.now()
    with transaction.atomic():
        claimed = DmpExport.objects.filter(
            pk=export.pk, requested_by=actor, status=ExportStatus.READY, expires_at__gt=now
        ).update(status=ExportStatus.SENDING)
        if not claimed:
            return None
        trail.record_access(
            actor=actor,
            patient=export.patient,
            action=AccessAction.EXPORT,
            detail="archive téléchargée",
            request=request,
        )
    try:
        handle = default_storage.open(export.file, "rb")
    except OSError:
        DmpExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, error="missing", file=""
        )
        return None
    return Handover(export=export, file=handle)


def export_download_end(*, export: DmpExport, complete: bool) -> None:
    """After sending: a complete download deletes the archive; an interrupted one leaves the
    link usable again until it expires."""
    if not complete:
        DmpExport.objects.filter(pk=export.pk, status=ExportStatus.SENDING).update(
            status=ExportStatus.READY
        )
        return
    DmpExport.objects.filter(pk=export.pk).update(status=ExportStatus.DOWNLOADED, file="")
    _delete_quietly(export.file)


# An archive still in preparation after this long lost its worker: failed, asked again.
STALE_AFTER = EXPORT_LIFETIME / 4


def exports_sweep(*, now: datetime.datetime | None = None) -> int:
    """Delete the archives past their expiry (and mark them expired), mark as failed those
    whose preparation was lost (a worker killed); the count of archives deleted."""
    at = now or timezone.now()
    DmpExport.objects.filter(status__in=IN_PROGRESS, created_at__lte=at - STALE_AFTER).update(
        status=ExportStatus.FAILED, error="lost", finished_at=at
    )
    due = list(
        DmpExport.objects.filter(
            status__in=(ExportStatus.READY, ExportStatus.SENDING), expires_at__lte=at
        ).values_list("pk", "file")
    )
    for pk, key in due:
        if key:
            _delete_quietly(key)
        DmpExport.objects.filter(pk=pk).update(status=ExportStatus.EXPIRED, file="")
    return len(due) + _orphans_sweep(at)


def _orphans_sweep(at: datetime.datetime) -> int:
    """Archives in storage that no export names (a worker killed between writing the file
    and recording it), older than the preparation's grace period."""
    try:
        _dirs, names = default_storage.listdir(EXPORT_PREFIX.rstrip("/"))
    except (OSError, NotImplementedError):
        return 0
    keys = {f"{EXPORT_PREFIX}{name}" for name in names}
    named = set(DmpExport.objects.filter(file__in=keys).values_list("file", flat=True))
    swept = 0
    for key in sorted(keys - named):
        try:
            old = default_storage.get_modified_time(key) <= at - STALE_AFTER
        except (OSError, NotImplementedError):
            old = False
        if old:
            _delete_quietly(key)
            swept += 1
    return swept


__all__ = [
    "export_build",
    "export_download_end",
    "export_download_start",
    "export_request",
    "exports_sweep",
]
