from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dmp_portal.backup import BackupError, backup_write


class Command(BaseCommand):
    help = (
        "Sauvegarde cohérente : base de données (un instantané), fichiers privés qu'elle "
        "référence, points de contrôle de la traçabilité, dans un nouveau dossier."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="a new folder for the backup")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backup_write(options["folder"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {options['folder']}: {summary.rows} rows "
                f"({summary.events} access events), {summary.files} files, "
                f"{summary.bytes} bytes."
            )
        )
