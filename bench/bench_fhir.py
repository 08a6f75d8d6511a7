"""FHIR API benchmark: the API against the pages it stands beside, in one run, interleaved.

    .venv/bin/python bench/bench_fhir.py [--rounds N] [--entries N] [--postgres URL]

A fresh portal (SQLite in a temporary folder, or a temporary database on ``--postgres``),
migrated, the cast made through the real services, a DMP of ``--entries`` reports (default
1 000). In interleaved rounds (medians printed, QUALITY.md §6; in each, a read is timed as the
mean of ten requests, a deposit once), through the whole Django stack in process (middleware,
session or token, funnel, trail), the server's time only (responses are checked outside it):

- ``search``: ``GET /fhir/DocumentReference?patient=…&_count=50`` with a bearer token, vs
  ``timeline``: the professional's HTML timeline of the same DMP (50 rows) — target ≤ 1.2;
  query counts of both at 10 and at ``--entries`` entries (constant);
- ``deposit``: ``POST /fhir/DocumentReference`` with a one-page PDF inline vs ``form``: the
  web form's multipart POST of the same PDF — target ≤ 1.2.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import datetime
import json
import logging
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="bench_fhir_"))
atexit.register(shutil.rmtree, WORK, True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (e.g. postgres://postgres@127.0.0.1:5432/postgres): a "
        "temporary database is created there and dropped afterwards",
    )
    return parser.parse_args()


ARGS = _arguments()
(WORK / "var").mkdir()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmp_portal.settings")
os.environ["DMP_EMBEDDED"] = "1"
os.environ["DMP_VAR_DIR"] = str(WORK / "var")
os.environ["DMP_API_RATE_PER_MINUTE"] = "1000000"
os.environ.pop("DMP_S3_BUCKET", None)
os.environ.pop("DATABASE_URL", None)
BENCH_DB = f"bench_fhir_{os.getpid()}"
if ARGS.postgres:
    import psycopg

    with psycopg.connect(ARGS.postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {BENCH_DB}")  # our own name: digits only added
    os.environ["DATABASE_URL"] = ARGS.postgres.rsplit("/", 1)[0] + "/" + BENCH_DB

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from oauth2_provider.models import AccessToken, Application, set_token_value  # noqa: E402

from records.services.content import report_deposit  # noqa: E402
from records.services.lifecycle import PatientTraits  # noqa: E402
from tests.cast import make_patient, make_professional, make_user  # noqa: E402
from tests.records.helpers import pdf_bytes  # noqa: E402

PDF = pdf_bytes("Compte rendu", lines=20)


def cast() -> tuple[Any, Any, Any, str]:
    call_command("migrate", verbosity=0)
    admin = make_user("admin@bench.example", staff=True)
    doctor = make_professional("doctor@bench.example", verifier=admin, last_name="Martin")
    big = make_patient(opened_by=doctor, medecin_traitant=True)
    small = make_patient(
        opened_by=doctor,
        medecin_traitant=True,
        nir="1 78 02 69 123 789 03",
        traits=PatientTraits(
            birth_name="LEROY", first_names="Bob", sex="M", birth_date=datetime.date(1978, 2, 3)
        ),
        email="bob@bench.example",
    )
    software = Application.objects.create(
        name="Bench",
        user=admin,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://bench.example/cb",
    )
    raw = secrets.token_urlsafe(30)
    token = AccessToken(
        user=doctor.user,
        application=software,
        scope="user/*.cruds",
        expires=timezone.now() + datetime.timedelta(hours=1),
    )
    set_token_value(token, raw)
    token.save()
    return doctor, small, big, raw


def fill(doctor: Any, patient: Any, count: int) -> None:
    today = timezone.localdate()
    for n in range(count):
        report_deposit(
            actor=doctor.user,
            patient=patient,
            document_type="11488-4",
            title=f"Consultation {n}",
            act_date=today - datetime.timedelta(days=n % 3000),
            body="Patient vu en consultation. Examen clinique sans particularité.",
        )


def timed(call: Any) -> tuple[float, int, Any]:
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = call()
        elapsed = time.perf_counter() - start
    return elapsed, len(queries), response


def _one_time(step: Any, read: bool) -> float:
    """A read: the mean of ten requests; a deposit: one."""
    count = 10 if read else 1
    return sum(timed(step)[0] for _ in range(count)) / count


def main() -> None:
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    doctor, small, big, token = cast()
    print(f"portal ready in {WORK}; {ARGS.entries} reports in one DMP, 10 in another…")
    fill(doctor, small, 10)
    fill(doctor, big, ARGS.entries)
    web = Client(HTTP_HOST="localhost")
    web.force_login(doctor.user)
    api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")

    def search(patient: Any) -> Any:
        response = api.get("/fhir/DocumentReference", {"patient": str(patient.public_id)})
        assert response.status_code == 200
        return response  # its entries are counted once, outside the timed calls (server time)

    for patient in (small, big):
        entries = search(patient).json()["entry"]
        assert len(entries) == min(50, 10 if patient is small else ARGS.entries)

    def timeline(patient: Any) -> Any:
        response = web.get(f"/pro/dmp/{patient.public_id}/documents/")
        assert response.status_code == 200
        return response

    def deposit_api() -> Any:
        body = {
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
            "subject": {"reference": f"Patient/{small.public_id}"},
            "description": "CR (API)",
            "context": {"period": {"start": timezone.localdate().isoformat()}},
            "content": [
                {
                    "attachment": {
                        "contentType": "application/pdf",
                        "data": base64.b64encode(PDF).decode(),
                    }
                }
            ],
        }
        response = api.post(
            "/fhir/DocumentReference", json.dumps(body), content_type="application/fhir+json"
        )
        assert response.status_code == 201, response.content[:300]
        return response

    def deposit_form() -> Any:
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = web.post(
            f"/pro/dmp/{small.public_id}/comptes-rendus/nouveau/",
            {
                "document_type": "11488-4",
                "title": "CR (formulaire)",
                "act_date": timezone.localdate().isoformat(),
                "body": "",
                "pdf": SimpleUploadedFile("cr.pdf", PDF, content_type="application/pdf"),
                "submission_key": str(uuid.uuid4()),
            },
        )
        assert response.status_code in (302, 303), response.status_code
        return response

    counts = {
        "search (10 entries)": timed(lambda: search(small))[1],
        f"search ({ARGS.entries} entries)": timed(lambda: search(big))[1],
        "timeline (10 entries)": timed(lambda: timeline(small))[1],
        f"timeline ({ARGS.entries} entries)": timed(lambda: timeline(big))[1],
    }
    times: dict[str, list[float]] = {k: [] for k in ("search", "timeline", "api", "form")}
    steps = {
        "search": lambda: search(big),
        "timeline": lambda: timeline(big),
        "api": deposit_api,
        "form": deposit_form,
    }
    for number in range(ARGS.rounds):
        order = list(steps) if number % 2 == 0 else list(reversed(steps))
        for name in order:
            times[name].append(_one_time(steps[name], name in ("search", "timeline")))
    from records.models import Entry

    for title in ("CR (API)", "CR (formulaire)"):  # both deposits really happened
        assert Entry.objects.filter(title=title).count() == ARGS.rounds, title
    med = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"database: {connection.vendor}; {ARGS.rounds} interleaved rounds, medians")
    for name, count in counts.items():
        print(f"  queries, {name}: {count}")
    print(f"  search 50 DocumentReference: {med['search']:.1f} ms")
    print(f"  HTML timeline, 50 rows:      {med['timeline']:.1f} ms")
    print(f"  ratio search / timeline:     {med['search'] / med['timeline']:.2f} (target ≤ 1.2)")
    print(f"  deposit through the API:     {med['api']:.1f} ms")
    print(f"  deposit through the form:    {med['form']:.1f} ms")
    print(f"  ratio API / form:            {med['api'] / med['form']:.2f} (target ≤ 1.2)")


if __name__ == "__main__":
    try:
        main()
    finally:
        if ARGS.postgres:
            connection.close()
            import psycopg

            with psycopg.connect(ARGS.postgres, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
