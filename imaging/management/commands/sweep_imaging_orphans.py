"""``manage.py sweep_imaging_orphans``: remove abandoned staged uploads and storage objects
without rows, images and reports' PDFs (after a grace period), and enqueue previews left
pending. Schedule it hourly; with ``--previews-only`` (cheap: no storage walk), every few
minutes where a task worker runs, so that a killed worker's previews are made again soon."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from imaging.sweeper import orphans_sweep, previews_requeue


class Command(BaseCommand):
    help = (
        "Supprime les dépôts d'imagerie abandonnés et les fichiers stockés sans ligne en base "
        "(après un délai de grâce), et relance les aperçus restés en attente."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--grace-hours",
            type=float,
            default=24.0,
            help="Âge minimal (heures) d'un fichier avant suppression (défaut : 24).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Compter sans rien supprimer ni relancer."
        )
        parser.add_argument(
            "--previews-only",
            action="store_true",
            help="Seulement relancer les aperçus perdus (une tâche interrompue).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["previews_only"]:
            count = previews_requeue(dry_run=options["dry_run"])
            self.stdout.write(f"Aperçus relancés : {count}.")
            return
        grace = max(0, int(options["grace_hours"] * 3600))
        report = orphans_sweep(grace_seconds=grace, dry_run=options["dry_run"])
        verb = "à supprimer" if options["dry_run"] else "supprimé(s)"
        self.stdout.write(
            f"Dépôts en attente {verb} : {report.staged_removed} ; fichiers examinés : "
            f"{report.objects_checked}, orphelins {verb} : {report.objects_removed} ; "
            f"aperçus relancés : {report.previews_requeued}."
        )
