"""Default profession × document-type matrix (editable afterwards in admin).

Médecins, sages-femmes, chirurgiens-dentistes and biologistes read every type. Others do not
read what lies outside their practice: a pharmacist reads no operative or psychiatric note, a
masseur-kinésithérapeute no psychiatric note nor genetic result, …
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

PSYCHIATRY = ["68599-0", "83901-9"]
GENETICS = ["51969-4"]
SURGERY = ["34874-8", "77436-4", "34749-2"]
PATHOLOGY = ["60568-3"]
OBSTETRICS = ["15508-5"]

DENIED = {
    "pharmacien": SURGERY + PSYCHIATRY + GENETICS + PATHOLOGY + OBSTETRICS,
    "infirmier": PSYCHIATRY[1:] + GENETICS,
    "masseur_kinesitherapeute": PSYCHIATRY + GENETICS + PATHOLOGY + OBSTETRICS,
    "manipulateur_radio": PSYCHIATRY + GENETICS + OBSTETRICS,
    "pedicure_podologue": PSYCHIATRY + GENETICS + PATHOLOGY + OBSTETRICS + SURGERY[1:],
    "orthophoniste": PSYCHIATRY[:1] + GENETICS + PATHOLOGY + OBSTETRICS + SURGERY,
    "orthoptiste": PSYCHIATRY + GENETICS + PATHOLOGY + OBSTETRICS + SURGERY,
    "ergotherapeute": PSYCHIATRY[:1] + GENETICS + PATHOLOGY + OBSTETRICS,
    "psychomotricien": GENETICS + PATHOLOGY + OBSTETRICS + SURGERY,
    "dieteticien": PSYCHIATRY + GENETICS + PATHOLOGY + OBSTETRICS + SURGERY,
    "audioprothesiste": PSYCHIATRY + GENETICS + PATHOLOGY + OBSTETRICS + SURGERY,
    "opticien_lunetier": PSYCHIATRY + GENETICS + PATHOLOGY + OBSTETRICS + SURGERY,
}


def forwards(apps: Any, schema_editor: Any) -> None:
    rule = apps.get_model("records", "ProfessionDocumentRule")
    rule.objects.bulk_create(
        [
            rule(profession=profession, document_type=code)
            for profession, codes in DENIED.items()
            for code in codes
        ],
        ignore_conflicts=True,
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    apps.get_model("records", "ProfessionDocumentRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("records", "0002_entries_access")]
    operations = [migrations.RunPython(forwards, backwards)]
