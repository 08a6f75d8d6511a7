"""Numbers and file names as the reader expects them: a result typed with a point is stored
as the number it is and shown in the reader's format; a PDF's name keeps its letters."""

from __future__ import annotations

import html
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from identity.models import Patient, Professional
from records.models import Observation
from records.services.content import ObservationInput
from tests.records.helpers import lab, pdf_bytes, report

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed", ["6.2", "6,2"])
def test_a_result_typed_either_way_is_shown_the_readers_way(
    client: Client, alice: Patient, doctor: Professional, typed: str
) -> None:
    entry = lab(
        doctor,
        alice,
        [ObservationInput("4548-4", typed, "%", Decimal("4.0"), Decimal("6.0"))],
    )
    stored = Observation.objects.get(lab_report__entry=entry)
    assert stored.value_numeric == Decimal("6.2")
    assert stored.interpretation == "H"  # compared as a number
    client.force_login(doctor.user)
    url = reverse("records:entry_detail", args=[entry.public_id])
    french = html.unescape(client.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode())
    english = html.unescape(client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert "6,2 %" in french and "4,0 – 6,0" in french and "6.2" not in french
    assert "6.2 %" in english and "4.0 – 6.0" in english and "6,2" not in english


def test_censored_and_text_results_keep_their_form(alice: Patient, doctor: Professional) -> None:
    entry = lab(
        doctor,
        alice,
        [ObservationInput("4548-4", "<= 0.5", "%"), ObservationInput("2160-0", "Ininterprétable")],
    )
    rows = Observation.objects.filter(lab_report__entry=entry)
    with translation.override("fr"):
        shown = {o.analyte_code: o.value_display for o in rows}
    assert shown == {"4548-4": "≤ 0,5", "2160-0": "Ininterprétable"}
    with translation.override("en"):
        assert {o.value_display for o in rows} == {"≤ 0.5", "Ininterprétable"}


def test_a_pdf_name_keeps_its_letters(
    client: Client, settings: Any, tmp_path: Path, alice: Patient, doctor: Professional
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    entry = report(
        doctor, alice, title="CR opératoire — cholécystectomie cœlioscopique", pdf=pdf_bytes()
    )
    client.force_login(alice.user)
    response = client.get(reverse("records:report_pdf", args=[entry.public_id]))
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert 'filename="cr-operatoire-cholecystectomie-coelioscopique.pdf"' in disposition
    assert f"filename*=utf-8''{quote('cr-opératoire-cholécystectomie-cœlioscopique.pdf')}" in (
        disposition
    )
