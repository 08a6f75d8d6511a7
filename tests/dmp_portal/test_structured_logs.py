"""One JSON line per request, with its request id, and never the NIR, a name, an INS-C or
clinical content; the request id is on the access events the request wrote."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from dmp_portal.logs import JsonFormatter
from identity.models import Patient, Professional
from records.models import AccessAction, AccessEvent
from tests.cast import ALICE_NIR
from tests.records.conftest import logged_in
from tests.records.helpers import report

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "dmp.request"
    ]


def test_one_json_line_per_request_with_its_id_and_nothing_clinical(
    alice: Patient, doctor: Professional, caplog: pytest.LogCaptureFixture
) -> None:
    report(doctor, alice, title="Compte rendu confidentiel", body="Tumeur maligne du pancréas")
    client = logged_in(doctor.user)
    url = reverse("records:timeline_pro", args=[alice.public_id])
    caplog.set_level(logging.INFO, logger="dmp.request")
    caplog.clear()

    response = client.get(url, {"auteur": "Martin"}, HTTP_X_REQUEST_ID="proxy-req-0001")
    missing = client.get(reverse("records:timeline_pro", args=[doctor.public_id]))

    assert response.status_code == 200
    assert missing.status_code == 404
    lines = _lines(caplog)
    assert len(lines) == 2
    line = lines[0]
    assert line["request_id"] == "proxy-req-0001" == response["X-Request-ID"]
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["route"] == "/pro/dmp/<uuid:public_id>/documents/"
    assert line["view"] == "records:timeline_pro"
    assert line["user_id"] == doctor.user.pk
    assert isinstance(line["duration_ms"], float)
    # A request id made here when the proxy sent none (or a malformed one).
    assert lines[1]["status"] == 404
    assert len(str(lines[1]["request_id"])) == 32 == len(missing["X-Request-ID"])

    # The access event of that read carries the same id: a log line and the trail meet.
    event = AccessEvent.objects.filter(action=AccessAction.TIMELINE_VIEW).latest("id")
    assert event.request_id == "proxy-req-0001"

    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    nir_digits = ALICE_NIR.replace(" ", "")
    for secret in (
        nir_digits,
        alice.insc,
        str(alice.public_id),  # the path is not logged, the URL pattern is
        "Dupont",
        "DUPONT",
        "Alice",
        "Compte rendu confidentiel",
        "Tumeur",
        "Martin",  # the query string is not logged either
    ):
        assert secret not in text, secret


def test_a_forged_request_id_is_replaced(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dmp.request")
    response = client.get(reverse("health"), HTTP_X_REQUEST_ID='x"}\n{"forged": 1')
    assert response["X-Request-ID"] != 'x"}\n{"forged": 1'
    (line,) = _lines(caplog)
    assert line["request_id"] == response["X-Request-ID"]
    assert "forged" not in line


def test_production_logs_are_json_lines() -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DMP_", "DJANGO_"))}
    clean.pop("DATABASE_URL", None)
    production = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "dmp_portal.settings",
        "SECRET_KEY": "k" * 60,
        "ALLOWED_HOSTS": "dmp.example",
        "DMP_TRAIL_SIGNING_KEY": "5e" * 32,
    }
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('dmp.request').info('request', extra={'request_id': 'r-12345678'})"
    )
    result = subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=production,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (line,) = result.stderr.splitlines()
    assert json.loads(line)["request_id"] == "r-12345678"
    bad = subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**production, "DMP_LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "DMP_LOG_FORMAT must be json or plain" in bad.stderr
