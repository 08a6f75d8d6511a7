"""``manage.py compile_translations``: .po → .mo without GNU gettext.

Django's own ``compilemessages`` needs the ``msgfmt`` program, which a fresh machine with only
Python does not have; polib (pure Python) writes the same .mo files.
"""

from __future__ import annotations

from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Compile les catalogues de traduction du projet (.po → .mo) sans gettext."
    requires_system_checks: list[str] = []  # no database needed, even on a fresh clone

    def handle(self, *args: Any, **options: Any) -> None:
        compiled = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
                catalogue = polib.pofile(str(po_path))
                catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
                compiled += 1
                self.stdout.write(f"{po_path} ({catalogue.percent_translated()} % traduit)")
        if not compiled:
            raise CommandError("No .po file found under LOCALE_PATHS.")
