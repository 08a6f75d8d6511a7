"""``manage.py release_due_entries``: the schedule of documents invisible to the patient.

14 days after deposit the patient is told a document awaits; 30 days after, it becomes
visible by itself. Idempotent and cheap: safe to run every minute from cron, e.g.
``* * * * * cd /srv/dmp && .venv/bin/python manage.py release_due_entries``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from records.services.entries import entries_release_due


class Command(BaseCommand):
    help = "Prévient le patient (14 j) et rend visibles (30 j) les documents en attente d'annonce."

    def handle(self, *args: Any, **options: Any) -> None:
        reminded, released = entries_release_due()
        self.stdout.write(f"{reminded} reminder(s) sent, {released} document(s) released.")
