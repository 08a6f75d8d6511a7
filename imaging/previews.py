"""Derived images: the preview of each instance, the thumbnail of each series (made by the
background task), and the viewer's renders (cached).

Every drawing happens in a render worker process under ``DMP_IMAGING_RENDER_TIMEOUT``
(``imaging.render_pool``): a file whose render raises, crashes its worker or runs past the
limit ends "aperçu indisponible" and never holds the task or the request longer than that.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from imaging.dicom import DicomRejected, render_thumbnail_png
from imaging.models import Instance, PreviewStatus, Series
from imaging.render_pool import RenderFailed, RenderPostponed, shared_pool
from imaging.storage import delete_quietly, random_key, render_descriptor

logger = logging.getLogger(__name__)

PREVIEW_SIZE = 256
RENDER_CACHE_SECONDS = 3600
# A viewer render that failed is remembered this long: a frame that hangs the decoder would
# otherwise take a worker for the whole time limit at every request for it.
RENDER_FAILED_SECONDS = 600


class Unavailable(Exception):
    """No image now, shown "aperçu indisponible": the render failed or ran past the limit,
    no render worker was free, or the storage could not give the file."""


class _StorageFailed(Exception):
    pass


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

    Run by the background task. A file whose image cannot be rendered (refused, the renderer
    raised, crashed or ran past the time limit) keeps its row and becomes "aperçu
    indisponible"; a storage error or busy render workers leave it pending (retried by the
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
    """(status, stored preview name) for one instance; nothing is recorded here.

    Final unless the storage or the render workers are unavailable (pending, retried by the
    sweeper): a file that was refused, raised, crashed its worker or ran past the limit would
    do the same again.
    """
    try:
        png = _drawn(instance.file.name or "", size=PREVIEW_SIZE)
    except (_StorageFailed, RenderPostponed) as postponed:
        why = "storage" if isinstance(postponed, _StorageFailed) else "render workers busy"
        logger.warning("imaging: preview of instance %s postponed (%s)", instance.pk, why)
        return PreviewStatus.PENDING, None
    except DicomRejected as refused:
        logger.info("imaging: preview unavailable for instance %s: %s", instance.pk, refused.code)
        return PreviewStatus.UNAVAILABLE, None
    except Exception as failure:  # RenderFailed, or a bug here: never pending for ever
        logger.warning("imaging: preview of instance %s failed: %s", instance.pk, _reason(failure))
        return PreviewStatus.UNAVAILABLE, None
    try:
        return PreviewStatus.READY, default_storage.save(random_key(".png"), ContentFile(png))
    except Exception:  # storage write failure: left pending, retried by the sweeper
        logger.warning("imaging: preview of instance %s postponed (storage)", instance.pk)
        return PreviewStatus.PENDING, None


def _drawn(name: str, **options: Any) -> bytes:
    """PNG of the stored file ``name`` drawn by a render worker within the time limit.

    Raises ``_StorageFailed`` when the backend cannot give the file, else what
    ``RenderPool.render`` raises (DicomRejected, RenderFailed, RenderPostponed).
    """
    with contextlib.ExitStack() as opened:
        try:  # on S3, only the header and the frame drawn are fetched (by range)
            fd = opened.enter_context(render_descriptor(name, options.get("frame")))
        except Exception as exc:  # any backend error (OSError, botocore…)
            raise _StorageFailed from exc
        memory = settings.DMP_IMAGING_RENDER_MEMORY_MB << 20
        pool = shared_pool(settings.DMP_IMAGING_RENDER_WORKERS, memory)
        timeout = settings.DMP_IMAGING_RENDER_TIMEOUT
        return pool.render(render_thumbnail_png, fd, timeout=timeout, **options)


def _reason(failure: Exception) -> str:
    """What a log line says of a failure: its class, never its message (which may quote the
    file, hence patient data)."""
    return failure.reason if isinstance(failure, RenderFailed) else type(failure).__name__


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
    *,
    instance: Instance,
    frame: int | None,
    window: tuple[float, float] | None,
    size: int,
    overlays: bool = True,
) -> bytes:
    """PNG of one frame at a window, bounded in size, cached (key: row id and content hash,
    never a patient identifier). Never larger than the image itself: the browser enlarges.

    Raises DicomRejected when the image cannot be rendered, Unavailable when it cannot be
    now (a render that raised or ran past the limit is remembered ``RENDER_FAILED_SECONDS``).
    """
    size = min(size, max(instance.rows, instance.columns, 16))
    shown = "file" if window is None else f"{window[0]:g}_{window[1]:g}"
    image = f"{instance.pk}:{instance.sha256[:16]}:{frame}"
    key = f"imaging:render:{image}:{shown}:{size}:{int(overlays)}"
    # Per frame, whatever the window and size: a frame that hangs the decoder hangs it at
    # every window.
    failed_key = f"imaging:render-failed:{image}"
    cached = cache.get_many([key, failed_key])
    if failed_key in cached:
        raise Unavailable("failed recently")
    if key in cached:
        return bytes(cached[key])
    try:
        png = _drawn(
            instance.file.name or "", frame=frame, size=size, window=window, overlays=overlays
        )
    except (_StorageFailed, RenderPostponed) as postponed:
        raise Unavailable(type(postponed).__name__) from postponed
    except DicomRejected:
        raise
    except Exception as failure:  # RenderFailed, or a bug here: an answer, never a 500
        logger.warning("imaging: render of instance %s failed: %s", instance.pk, _reason(failure))
        cache.set(failed_key, True, RENDER_FAILED_SECONDS)
        raise Unavailable(_reason(failure)) from failure
    cache.set(key, png, RENDER_CACHE_SECONDS)
    return png


def stored_image(name: str) -> bytes:
    """The bytes of a stored preview or thumbnail. Raises Unavailable when the storage fails."""
    try:
        with default_storage.open(name, "rb") as fh:
            return bytes(fh.read())
    except Exception as exc:  # any backend error (OSError, botocore…)
        raise Unavailable("storage") from exc
