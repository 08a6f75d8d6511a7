"""``manage.py sequence_access_log``: the trail's sequencer, every minute from cron.

Integrates the access events written since the last run into the trail's Merkle tree, in
batches, signs each new tree head (Ed25519 under ``DMP_TRAIL_SIGNING_KEY``), appends it to the
file of signed heads outside the database (``DMP_TRAIL_CHECKPOINT_DIR``), and creates the
events table's partitions of the coming months (PostgreSQL). Until an event is integrated the
patient already sees it in their history; only its inclusion proof waits. A few rows of the tree
are checked before anything is signed (the whole tree: ``verify_access_log``). Exit status 1, and
nothing signed, when the stored tree or heads disagree with what was signed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from records.trail import (
    INTEGRATE_BATCH,
    TrailBroken,
    heads_path,
    key_id,
    log_integrate_all,
    partitions_ensure,
)


@contextmanager
def trail_errors() -> Iterator[None]:
    """What the sequencer and the checker raise, as the commands' one-line error (status 1)."""
    try:
        yield
    except TrailBroken as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(
            f"The file of signed tree heads {heads_path()} cannot be read or written: {error}"
        ) from None


class Command(BaseCommand):
    help = (
        "Intègre les nouveaux événements d'accès à l'arbre de Merkle de la traçabilité et signe "
        "sa tête."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", type=int, default=INTEGRATE_BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            partitions_ensure()
        except DatabaseError as error:  # e.g. rows of that month already in the default one
            # The events still land (in the default partition): sequence them all the same.
            self.stderr.write(f"The coming months' partitions could not be created: {error}")
        with trail_errors():
            head = log_integrate_all(max(1, options["batch"]))
        size = head.size if head else 0
        self.stdout.write(
            f"Tree head of {size} leaves signed (key {key_id()}), anchored in {heads_path()}."
        )
