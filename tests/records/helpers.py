"""Build records content through the real services (tests only)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from identity.models import Patient, Professional
from records.models import Entry
from records.pdf import build_text_pdf
from records.services.content import (
    ObservationInput,
    allergy_record,
    lab_report_deposit,
    report_deposit,
)

# The statements a professional's look at a DMP adds to its traced read, for "Mes patients"
# (records.looks.LastLook): on PostgreSQL the upsert is part of the event's own statement
# (records.trail._save_looked), elsewhere a statement of its own.
LAST_LOOK = 0 if connection.vendor == "postgresql" else 1


def at(day: datetime.date, hour: int = 8) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def lab(
    author: Professional,
    patient: Patient,
    rows: list[ObservationInput] | None = None,
    *,
    day: datetime.date | None = None,
    **kwargs: Any,
) -> Entry:
    day = day or days_ago(10)
    rows = rows or [
        ObservationInput("4548-4", "6,1", "%", Decimal("4"), Decimal("6")),
        ObservationInput("2160-0", "80", "µmol/L", Decimal("45"), Decimal("90")),
    ]
    return lab_report_deposit(
        actor=author.user,
        patient=patient,
        laboratory=kwargs.pop("laboratory", "Laboratoire du Parc"),
        specimen_collected_at=at(day),
        reported_at=day,
        observations=rows,
        **kwargs,
    )


def report(
    author: Professional,
    patient: Patient,
    *,
    title: str = "CR de consultation",
    document_type: str = "11488-4",
    day: datetime.date | None = None,
    body: str = "Patiente vue en consultation. Examen normal.",
    **kwargs: Any,
) -> Entry:
    return report_deposit(
        actor=author.user,
        patient=patient,
        document_type=document_type,
        title=title,
        act_date=day or days_ago(5),
        body=body,
        **kwargs,
    )


def allergy(author: Professional, patient: Patient, **kwargs: Any) -> Entry:
    defaults: dict[str, Any] = {
        "substance_code": "atc:J01C",
        "severity": "severe",
        "criticality": "high",
        "verification_status": "confirmed",
        "reactions": "Œdème de Quincke",
    }
    defaults.update(kwargs)
    return allergy_record(actor=author.user, patient=patient, **defaults)


def pdf_bytes(title: str = "Compte rendu", lines: int = 3) -> bytes:
    return build_text_pdf(title, [f"Ligne {i}" for i in range(lines)])
