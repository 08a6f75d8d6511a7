"""``manage.py purge_closed_dmps``: erase closed DMPs whose retention has passed.

Closed 10 years ago, or early erasure requested more than the legal delay ago. Idempotent
(purged DMPs are tombstones and are skipped); ``--dry-run`` only lists. Run it daily (cron).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from identity.models import Patient
from records.services.lifecycle import dmp_purge


class Command(BaseCommand):
    help = "Supprime les DMP fermés dont la durée de conservation est écoulée (--dry-run : liste)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List without erasing.")

    def handle(self, *args: Any, **options: Any) -> None:
        due = Patient.objects.due_for_purge(timezone.now()).order_by("closed_at")
        count = 0
        for patient in due.iterator():
            reason = "early erasure" if patient.erasure_due_at else "retention over"
            if options["dry_run"]:
                self.stdout.write(f"would purge DMP {patient.insc} ({reason})")
            else:
                dmp_purge(patient=patient)
                self.stdout.write(f"purged DMP {patient.insc} ({reason})")
            count += 1
        verb = "would be purged" if options["dry_run"] else "purged"
        self.stdout.write(self.style.SUCCESS(f"{count} DMP(s) {verb}."))
