"""Derived images: the preview of each instance, the thumbnail of each series (made by the
background task), and the viewer's renders (cached)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from imaging.dicom import DicomRejected, render_thumbnail_png
from imaging.models import Instance, PreviewStatus, Series
from imaging.storage import delete_quietly, random_key

logger = logging.getLogger(__name__)

PREVIEW_SIZE = 256
RENDER_CACHE_SECONDS = 3600


def enqueue_previews(instance_ids: list[int]) -> None:
    """Hand the previews of committed instances to the task backend (never raises)."""
    from imaging.tasks import make_previews

    try:
        make_previews.enqueue(instance_ids=instance_ids)
    except Exception:  # the rows are committed; the sweeper re-enqueues what stays pending
        logger.exception("imaging: previews not enqueued")


PREVIEW_CHUNK = 25  # previews recorded per transaction


def previews_make(*, instance_ids: Sequence[int]) -> dict[str, int]:
    """Make the preview of each pending instance, then the thumbnail of their series.

    Run by the background task. A file whose image cannot be rendered keeps its row and
    becomes "aperçu indisponible"; a storage error leaves it pending (retried by the
    sweeper). Idempotent: what is already made is skipped. Previews are rendered and stored
    first, then recorded 25 per transaction (a preview whose row update fails is deleted).
    """
    counts = {"ready": 0, "unavailable": 0, "pending": 0}
    pending = list(
        Instance.objects.filter(pk__in=instance_ids, preview_status=PreviewStatus.PENDING).only(
            "pk", "series_id", "file"
        )
    )
    for start in range(0, len(pending), PREVIEW_CHUNK):
        chunk = pending[start : start + PREVIEW_CHUNK]
        made = [(instance, *_preview_one(instance)) for instance in chunk]
        for status in _record_previews(made):
            counts[status] += 1
    series_ids = {instance.series_id for instance in pending}
    for series in Series.objects.filter(pk__in=series_ids, thumbnail=""):
        series_thumbnail_make(series=series)
    return counts


def _preview_one(instance: Instance) -> tuple[str, str | None]:
    """(status, stored preview name) for one instance; nothing is recorded here."""
    try:
        with default_storage.open(instance.file.name or "", "rb") as fh:
            png = render_thumbnail_png(fh, size=PREVIEW_SIZE)
        return PreviewStatus.READY, default_storage.save(random_key(".png"), ContentFile(png))
    except DicomRejected as refused:
        logger.info("imaging: preview unavailable for instance %s: %s", instance.pk, refused.code)
        return PreviewStatus.UNAVAILABLE, None
    except Exception:  # storage read or write failure: left pending, retried by the sweeper
        logger.warning("imaging: preview of instance %s postponed (storage)", instance.pk)
        return PreviewStatus.PENDING, None


def _record_previews(made: list[tuple[Instance, str, str | None]]) -> list[str]:
    statuses: list[str] = []
    unused: list[str] = []
    try:
        with transaction.atomic():
            for instance, status, name in made:
                if status == PreviewStatus.PENDING:
                    statuses.append(status)
                    continue
                updated = Instance.objects.filter(
                    pk=instance.pk, preview_status=PreviewStatus.PENDING
                ).update(preview=name or "", preview_status=status)
                if not updated and name:  # made meanwhile by another worker
                    unused.append(name)
                statuses.append(status if updated else PreviewStatus.PENDING)
    except BaseException:
        unused = [name for _instance, _status, name in made if name]
        raise
    finally:
        for name in unused:
            delete_quietly(name)
    return statuses


def series_thumbnail_make(*, series: Series) -> str:
    """The series' thumbnail: the preview of its middle ready instance (a copy, so that each
    stored object has exactly one row). Unavailable when no instance can be previewed."""
    previews = list(
        series.instances.filter(preview_status=PreviewStatus.READY)
        .order_by("instance_number", "pk")
        .values_list("preview", flat=True)
    )
    if not previews:
        if not series.instances.filter(preview_status=PreviewStatus.PENDING).exists():
            Series.objects.filter(pk=series.pk, thumbnail="").update(
                thumbnail_status=PreviewStatus.UNAVAILABLE
            )
            return PreviewStatus.UNAVAILABLE
        return PreviewStatus.PENDING
    try:
        with default_storage.open(previews[len(previews) // 2], "rb") as fh:
            data = fh.read()
        name = default_storage.save(random_key(".png"), ContentFile(data))
    except Exception:  # storage failure: made at the next preview task for this series
        logger.warning("imaging: thumbnail of series %s postponed (storage)", series.pk)
        return PreviewStatus.PENDING
    if not Series.objects.filter(pk=series.pk, thumbnail="").update(
        thumbnail=name, thumbnail_status=PreviewStatus.READY
    ):
        delete_quietly(name)
    return PreviewStatus.READY


def instance_render(
    *, instance: Instance, frame: int | None, window: tuple[float, float] | None, size: int
) -> bytes:
    """PNG of one frame at a window, bounded in size, cached (key: row id and content hash,
    never a patient identifier). Never larger than the image itself: the browser enlarges.
    Raises DicomRejected when the image cannot be rendered."""
    size = min(size, max(instance.rows, instance.columns, 16))
    shown = "file" if window is None else f"{window[0]:g}_{window[1]:g}"
    key = f"imaging:render:{instance.pk}:{instance.sha256[:16]}:{frame}:{shown}:{size}"
    cached = cache.get(key)
    if cached is not None:
        return bytes(cached)
    with default_storage.open(instance.file.name or "", "rb") as fh:
        png = render_thumbnail_png(fh, frame=frame, size=size, window=window)
    cache.set(key, png, RENDER_CACHE_SECONDS)
    return png
