"""Background tasks of the imaging app (Django's tasks framework).

The embedded default runs them at once (``ImmediateBackend``, after the upload's rows are
committed); in production a real backend and worker run them off the request path, so that
an upload of a large study answers without waiting for its previews.
"""

from __future__ import annotations

from django.tasks import task

from imaging import previews


@task
def make_previews(*, instance_ids: list[int]) -> dict[str, int]:
    """Previews of these instances and thumbnails of their series (idempotent)."""
    return previews.previews_make(instance_ids=instance_ids)
