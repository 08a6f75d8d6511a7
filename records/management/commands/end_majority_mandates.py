"""``manage.py end_majority_mandates``: at 18, the legal representatives' access ends by itself.

Daily and idempotent (``0 2 * * * … manage.py end_majority_mandates``): the mandates of the
representatives of every patient aged 18 end (reason: majority); a young adult without an
account of their own gets the opening letter with a new activation code, written as a
printable page to ``--letters-dir`` (private: ``var/private/letters`` by default), to be
posted. The code exists in clear only in that letter. Running it again changes nothing.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from records.services import lifecycle
from records.services.family import majority_end


class Command(BaseCommand):
    help = "Met fin à l'accès des représentants légaux à la majorité et invite le jeune adulte."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", type=datetime.date.fromisoformat, default=None)
        parser.add_argument(
            "--letters-dir", type=Path, default=Path(settings.MEDIA_ROOT) / "letters"
        )
        parser.add_argument("--site", default="https://dmp.example")

    def handle(self, *args: Any, **options: Any) -> None:
        done = majority_end(today=options["today"])
        letters = 0
        for item in done:
            if item.activation_code is None:
                continue
            folder: Path = options["letters_dir"]
            folder.mkdir(parents=True, exist_ok=True)
            with translation.override("fr"):
                page = render_to_string(
                    "records/dmp_letter.html",
                    {
                        "patient": item.patient,
                        "code": item.activation_code,
                        "expires_on": timezone.localdate() + lifecycle.ACTIVATION_CODE_VALIDITY,
                        "activation_url": options["site"] + reverse("records:activation"),
                    },
                )
            path = folder / f"majorite-{item.patient.public_id}.html"
            path.write_text(page, encoding="utf-8")
            path.chmod(0o600)
            letters += 1
        ended = sum(item.ended for item in done)
        self.stdout.write(
            f"{len(done)} patient(s) of age, {ended} mandate(s) ended, {letters} letter(s) written."
        )
