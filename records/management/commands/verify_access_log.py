"""``manage.py verify_access_log``: recompute the access trail's Merkle tree from its events and
check it against every signed tree head (in the database and in the file outside it) and the
heads' consistency proofs; then run the sequencer (``sequence_access_log``).

Exit status 0 when intact; 1 naming the first problem otherwise: an event altered (any stored
field), deleted, reordered or inserted into the tree, free texts that do not match their
commitment, a head whose signature is wrong or whose root is not the tree's, two heads not
consistent, or a head of the file that the trail no longer holds (its tail removed and the heads
rewound, or the trail rewritten and re-hashed). Events whose texts a purge erased are checked by
their facts and commitment only. Nothing is signed when the trail is broken.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from records.management.commands.sequence_access_log import trail_errors
from records.trail import heads_path, key_id, log_integrate_all, verify_log


class Command(BaseCommand):
    help = (
        "Vérifie l'arbre de Merkle de la traçabilité des accès et ses têtes signées, puis "
        "intègre les nouveaux événements."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with trail_errors():
            report = verify_log()
        if report.broken is not None:
            raise CommandError(f"{report.broken} ({report.checked} leaves verified before it.)")
        with trail_errors():
            head = log_integrate_all()
        self.stdout.write(
            self.style.SUCCESS(
                f"Access trail intact: {report.checked} leaves verified, {report.heads} signed "
                f"tree heads and {report.anchored} heads of {heads_path()} matched, "
                f"{report.pending} events integrated now. Tree head of "
                f"{head.size if head else 0} leaves signed (key {key_id()})."
            )
        )
