"""``manage.py checkpoint_access_log``: sign the access trail's head and append it to the
checkpoint file (``DMP_TRAIL_CHECKPOINT_DIR``), every few minutes from cron.

What was rewritten after the latest checkpoint cannot be told from the real trail (whoever can
write the table can re-hash it); the checkpoints bound that window. A few rows are read, not the
whole chain (``verify_access_log`` walks it). Exit status 1, and nothing written, when the head
disagrees with the trail or with the latest checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from records.trail import TrailBroken, checkpoint_path, checkpoint_publish, key_id


@contextmanager
def checkpoint_errors() -> Iterator[None]:
    """What the checkpoint functions raise, as the commands' one-line error (exit status 1)."""
    try:
        yield
    except TrailBroken as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(
            f"The checkpoint file {checkpoint_path()} cannot be read or written: {error}"
        ) from None


class Command(BaseCommand):
    help = "Signe un point de contrôle de la tête de la traçabilité des accès."

    def handle(self, *args: Any, **options: Any) -> None:
        with checkpoint_errors():
            checkpoint = checkpoint_publish()
        self.stdout.write(
            f"Checkpoint #{checkpoint.seq} signed (key {key_id()}) in {checkpoint_path()}."
        )
