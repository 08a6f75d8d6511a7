"""``manage.py seed_demo``: the demo accounts (and, as later parts land, their records).

Idempotent: running it twice leaves the same data.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from identity.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, seed_accounts
from imaging.demo import seed_imaging
from records.demo import seed_records
from records.demo_dmps import seed_access, seed_patients
from records.demo_family import seed_family

_NO_MAIL = "django.core.mail.backends.dummy.EmailBackend"


class Command(BaseCommand):
    help = "Crée ou met à jour les comptes de démonstration (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo's notifications would print dozens of e-mails on the console: not sent.
        with override_settings(MAILERS={"default": {"BACKEND": _NO_MAIL}}):
            accounts = seed_accounts()
            patients = seed_patients(accounts)
            seed_access(accounts, patients)
            seed_records(patients, accounts)
            seed_imaging(patients, accounts)
            seed_family(accounts, patients)
        # The professionals' and family's accounts, and the patients' own.
        total = len(accounts) + sum(1 for patient in patients.values() if patient.user_id)
        self.stdout.write(
            self.style.SUCCESS(
                f"Démonstration prête : {total} comptes, {len(patients)} patients — "
                f"mot de passe "
                f"{DEMO_PASSWORD}, secret TOTP {DEMO_TOTP_SECRET}."
            )
        )
