"""``manage.py purge_closed_dmps``: erase closed DMPs whose retention has passed.

Closed 10 years ago, or early erasure requested more than the legal delay ago. Idempotent
(purged DMPs are tombstones and are skipped); ``--dry-run`` lists what each purge would erase
(entries by kind, stored files and bytes, rows by model, access events whose free texts would
be erased) and erases nothing. Run it daily (cron). What a purge erases and keeps:
``records.services.purge``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from identity.models import Patient
from records.services.purge import PurgeReport, dmp_purge


def describe(report: PurgeReport) -> list[str]:
    """The report's counts, one line each, for an operator."""
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(report.entries.items()))
    size = "" if report.bytes is None else f", {report.bytes} bytes"
    return [
        f"  entries: {report.entry_count}" + (f" ({kinds})" if kinds else ""),
        f"  stored files: {report.files}{size}",
        *(f"  rows {label}: {count}" for label, count in report.rows.items()),
        f"  access events whose details are erased: {report.events_erased}",
    ]


class Command(BaseCommand):
    help = "Supprime les DMP fermés dont la durée de conservation est écoulée (--dry-run : liste)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be erased, erase nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        due = Patient.objects.due_for_purge(timezone.now()).order_by("closed_at", "pk")
        count = 0
        # The ids first: each purge commits on its own while the list stays what it was.
        for pk in list(due.values_list("pk", flat=True)):
            patient = Patient.objects.get(pk=pk)
            reason = "early erasure" if patient.erasure_due_at else "retention over"
            try:
                report = dmp_purge(patient=patient, dry_run=dry_run)
            except ValidationError:  # reopened meanwhile: not due any more
                self.stdout.write(f"skipped DMP {patient.public_id} (no longer due)")
                continue
            verb = "would purge" if dry_run else "purged"
            self.stdout.write(f"{verb} DMP {patient.public_id} ({reason})")
            for line in describe(report):
                self.stdout.write(line)
            count += 1
        verb = "would be purged" if dry_run else "purged"
        self.stdout.write(self.style.SUCCESS(f"{count} DMP(s) {verb}."))
