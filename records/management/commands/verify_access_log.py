"""``manage.py verify_access_log``: walk the hash chain of the access trail.

Exit status 0 when intact; 1 with the first broken link otherwise (tampered, deleted or
re-ordered event, or free texts that do not match their commitment). Events whose texts a
purge erased are checked by their links and commitment only.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from records.models import AccessChainHead
from records.trail import verify_chain


class Command(BaseCommand):
    help = "Vérifie la chaîne de hachage de la traçabilité des accès."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, broken = verify_chain()
        head = AccessChainHead.objects.filter(pk=1).first()
        if broken is not None:
            raise CommandError(
                f"Broken link at event #{broken.seq} (id {broken.pk}, "
                f"{broken.at:%Y-%m-%d %H:%M:%S}) after {checked} valid events: the event, its "
                "details or its link to the previous one was altered, or an event is missing."
            )
        if head is not None and (head.seq != checked or (checked and head.digest == "0" * 64)):
            raise CommandError(
                f"Chain head says {head.seq} events but {checked} were found: events are missing "
                "at the end of the trail."
            )
        self.stdout.write(self.style.SUCCESS(f"Access trail intact: {checked} events verified."))
