"""Hostile query strings on every list and search page: never a 500 (QUALITY.md §2)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional

pytestmark = pytest.mark.django_db

HOSTILE = [
    "99999999999999999999999",
    "-1",
    "abc",
    "\x00",
    "1e9",
    "2**64",
    "<script>",
    "é" * 300,
    # Valid dates at the ends of Python's range: made aware and moved to UTC they overflow.
    "0001-01-01",
    "9999-12-31",
]
KEYS = ["page", "start", "end", "du", "au", "type", "auteur", "mode", "who", "tout", "q"]


def test_list_pages_survive_hostile_parameters(alice: Patient, doctor: Professional) -> None:
    patient = Client(raise_request_exception=False)
    patient.force_login(alice.user)
    professional = Client(raise_request_exception=False)
    professional.force_login(doctor.user)
    pages = [
        (patient, reverse("records:my_history")),
        (patient, reverse("records:my_history_csv")),
        (patient, reverse("records:my_access")),
        (patient, reverse("records:timeline_patient")),
        (patient, reverse("imaging:my_studies")),
        (professional, reverse("records:timeline_pro", args=[alice.public_id])),
        (professional, reverse("imaging:patient_studies", args=[alice.public_id])),
    ]
    failures = [
        (url, key, value[:20], status)
        for client, url in pages
        for value in HOSTILE
        for key in KEYS
        if (status := _status(client, url, {key: value})) >= 500
    ]
    assert failures == []


def _status(client: Client, url: str, query: dict[str, str]) -> int:
    """The status, counting an exception while streaming the body (the CSV export) as a
    500: the download would break half-way."""
    response = client.get(url, query)
    if response.streaming:
        try:
            b"".join(response.streaming_content)  # type: ignore[attr-defined]
        except Exception:  # any failure while streaming is the finding
            return 500
    return response.status_code


def test_search_survives_hostile_identifiers(alice: Patient, doctor: Professional) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(doctor.user)
    search = reverse("records:patient_search")
    for value in [*HOSTILE, "1" * 40, "0" * 22]:
        assert client.get(search, {"insc": value}).status_code == 200
        assert (
            client.get(search, {"nir": value, "birth_date": value, "first_names": value})
        ).status_code == 200
        trend = reverse(
            "records:trend_pro", args=[alice.public_id, value[:20].strip("\x00/") or "x"]
        )
        assert client.get(trend).status_code < 500
