from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dmp_portal.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restaure une sauvegarde de dmp_backup dans une base migrée et vide, un stockage vide "
        "et un dossier de points de contrôle vide. Vérifiez ensuite avec verify_access_log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="a folder written by dmp_backup")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backup_restore(options["folder"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored from {options['folder']}: {summary.rows} rows "
                f"({summary.events} access events), {summary.files} files, "
                f"{summary.bytes} bytes. Now run: manage.py verify_access_log"
            )
        )
