"""``manage.py sweep_imaging_orphans``'s work: what crashes, abandoned uploads and purges left.

Imaging builds on records, so it also sweeps the reports' PDFs (records cannot import it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q
from django.tasks import task_backends
from django.tasks.base import TaskResultStatus
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from imaging.models import Instance, PreviewStatus, Series
from imaging.previews import enqueue_previews, series_thumbnail_make
from imaging.storage import delete_quietly
from imaging.uploads import sweep_staging
from records.models import PatientDocument, Report
from records.services.content import REPORT_STORAGE_PREFIX

# Where the private storage keeps files that rows point at (``_referenced`` knows the fields).
SWEPT_PREFIXES = ("imaging", REPORT_STORAGE_PREFIX)


@dataclass
class SweepReport:
    staged_removed: int = 0
    objects_checked: int = 0
    objects_removed: int = 0
    previews_requeued: int = 0
    thumbnails_settled: int = 0


def _storage_names(prefix: str) -> list[list[str]]:
    """The keys under ``prefix``, one list per shard directory (bounded memory)."""
    try:
        shards, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return []
    batches = [[f"{prefix}/{name}" for name in files]] if files else []
    for shard in shards:
        try:
            _dirs, names = default_storage.listdir(f"{prefix}/{shard}")
        except FileNotFoundError:  # removed meanwhile
            continue
        batches.append([f"{prefix}/{shard}/{name}" for name in names])
    return batches


def _referenced(names: list[str]) -> set[str]:
    found: set[str] = set()
    found.update(Instance.objects.filter(file__in=names).values_list("file", flat=True))
    found.update(Instance.objects.filter(preview__in=names).values_list("preview", flat=True))
    found.update(Series.objects.filter(thumbnail__in=names).values_list("thumbnail", flat=True))
    pdfs = Report.objects.filter(pdf__in=names).values_list("pdf", flat=True)
    found.update(name for name in pdfs if name)
    # The files patients add are kept under the same prefix.
    found.update(PatientDocument.objects.filter(file__in=names).values_list("file", flat=True))
    return found


def orphans_sweep(*, grace_seconds: int, dry_run: bool = False) -> SweepReport:
    """Remove what a crash or an abandoned upload left behind, older than the grace period.

    Staged uploads nobody confirmed; storage objects under ``imaging/`` and the reports' PDFs
    that no row points at (a worker killed between the file write and the commit, a purge
    whose file deletions failed after its commit); previews still pending (a task lost) are
    enqueued again, and series thumbnails still pending once none of their instances is (a
    task killed between the previews and the thumbnail) are made. Run by ``manage.py
    sweep_imaging_orphans``; safe to run at any time, concurrently with uploads (the grace
    period covers files whose rows are being written).
    """
    report = SweepReport()
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    if not dry_run:
        report.staged_removed = sweep_staging(older_than=grace_seconds)
    for names in (batch for prefix in SWEPT_PREFIXES for batch in _storage_names(prefix)):
        report.objects_checked += len(names)
        for name in sorted(set(names) - _referenced(names)):
            try:
                if default_storage.get_modified_time(name) >= cutoff:
                    continue
            except (OSError, NotImplementedError):
                continue
            report.objects_removed += 1
            if not dry_run:
                delete_quietly(name)
    report.previews_requeued = previews_requeue(dry_run=dry_run)
    report.thumbnails_settled = _thumbnails_sweep(cutoff, dry_run=dry_run)
    return report


PREVIEWS_TASK = "imaging.tasks.make_previews"


def previews_requeue(*, dry_run: bool = False) -> int:
    """Enqueue again the previews a lost task left pending: older than
    ``DMP_IMAGING_PREVIEW_RETRY_SECONDS`` and held by no live task (queued, or started within
    that delay), e.g. a task worker killed in the middle of a series. What it had recorded
    stays (25 previews per transaction); the rest is made once by the new task, as
    ``previews_make`` only takes instances still pending and records each one only if it
    still is."""
    cutoff = timezone.now() - timedelta(seconds=settings.DMP_IMAGING_PREVIEW_RETRY_SECONDS)
    pending = list(
        Instance.objects.filter(
            preview_status=PreviewStatus.PENDING, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:10000]
    )
    held = _held_by_live_tasks(cutoff) if pending else set()
    pending = [pk for pk in pending if pk not in held]
    if not dry_run:
        for start in range(0, len(pending), 200):
            enqueue_previews(pending[start : start + 200])
    return len(pending)


def _held_by_live_tasks(cutoff: datetime) -> set[int]:
    """The instances of preview tasks still queued or running recently in the database task
    backend (none with the immediate backend: its tasks ran in their request)."""
    if not isinstance(task_backends["default"], DatabaseBackend):
        return set()
    live = DBTaskResult.objects.filter(task_path=PREVIEWS_TASK).filter(
        Q(status=TaskResultStatus.READY)
        | Q(status=TaskResultStatus.RUNNING, started_at__gte=cutoff)
    )
    held: set[int] = set()
    for args_kwargs in live.values_list("args_kwargs", flat=True).iterator():
        held.update(int(pk) for pk in (args_kwargs or {}).get("kwargs", {}).get("instance_ids", []))
    return held


def _thumbnails_sweep(cutoff: datetime, *, dry_run: bool) -> int:
    """Make the thumbnails that a lost task left pending (a copy of a preview: cheap), or
    mark them unavailable when no preview of the series could be made."""
    stuck = (
        Series.objects.filter(
            thumbnail="", thumbnail_status=PreviewStatus.PENDING, instances__created_at__lt=cutoff
        )
        .exclude(instances__preview_status=PreviewStatus.PENDING)
        .distinct()
    )
    if dry_run:
        return stuck.count()
    return sum(
        series_thumbnail_make(series=series) != PreviewStatus.PENDING for series in stuck[:1000]
    )
