"""Background tasks of the records app (Django's tasks framework; see ``imaging.tasks``).

The embedded default runs them at once, after the request's rows are committed; in
production ``manage.py db_worker`` runs them off the request path.
"""

from __future__ import annotations

from django.tasks import task

from records.services import export


@task
def export_build_task(*, export_id: int) -> str:
    """Build one "Télécharger mon DMP" archive (idempotent: only a pending export is built)."""
    return export.export_build(export_id=export_id)
