"""``manage.py sweep_exports``: delete the "Télécharger mon DMP" archives past their 24 hours
(never downloaded, or a download interrupted), archives no export names, and mark as failed
the preparations a killed worker lost. Schedule it hourly (next to sweep_imaging_orphans)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from records.services.export import exports_sweep


class Command(BaseCommand):
    help = "Supprime les archives « Télécharger mon DMP » expirées ou orphelines."

    def handle(self, *args: Any, **options: Any) -> None:
        count = exports_sweep()
        self.stdout.write(f"Archives supprimées : {count}.")
