""" "Télécharger mon DMP" benchmark: the archive of a large DMP, memory and time.

    .venv/bin/python bench/bench_export.py [--entries 1000] [--images 300] [--postgres URL]

A fresh embedded portal (SQLite, or a temporary PostgreSQL database with ``--postgres``, and
local private storage in a temporary folder) gets one DMP of ``--entries`` entries made
through the real services (a third reports with a PDF, a third text reports, a third lab
reports) and one CT study of ``--images`` 512² instances; then the archive is built by the
task's own function (``export_build``), twice:

- ``rss``: wall time and peak extra resident memory (sampled from /proc every 5 ms, above the
  process's size just before), target < 150 MB whatever the DMP's size (QUALITY.md §6);
- ``tracemalloc``: the peak of Python allocations during the build (slower: not timed).

And the SQL queries of a build at 3 and at 30 entries (the same count: constant in the
number of entries).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="bench_export_"))
atexit.register(shutil.rmtree, WORK, True)
TARGET_MB = 150


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL")
    return parser.parse_args()


ARGS = _arguments()
(WORK / "var").mkdir()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmp_portal.settings")
os.environ["DMP_EMBEDDED"] = "1"
os.environ["DMP_VAR_DIR"] = str(WORK / "var")
os.environ.pop("DMP_S3_BUCKET", None)
os.environ.pop("DATABASE_URL", None)
BENCH_DB = f"bench_export_{os.getpid()}"
if ARGS.postgres:
    import psycopg

    with psycopg.connect(ARGS.postgres, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {BENCH_DB}")  # our own name: digits only added
    os.environ["DATABASE_URL"] = ARGS.postgres.rsplit("/", 1)[0] + "/" + BENCH_DB

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # no console output

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from imaging.ingest import inspect_paths  # noqa: E402
from imaging.services.imports import study_import  # noqa: E402
from records.exports import DmpExport  # noqa: E402
from records.services.export import export_build  # noqa: E402
from tests.cast import make_patient, make_professional, make_user  # noqa: E402
from tests.imaging import dicom_factory as F  # noqa: E402
from tests.records.helpers import lab, pdf_bytes, report  # noqa: E402


def _drop_database() -> None:
    if ARGS.postgres:
        connection.close()
        import psycopg

        with psycopg.connect(ARGS.postgres, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples the resident size every 5 ms in a thread; ``extra``: peak above the start."""

    def __init__(self) -> None:
        self.start = _rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def extra(self) -> int:
        return self.peak - self.start


def populate(doctor: Any, patient: Any, entries: int, images: int) -> None:
    big_pdf = pdf_bytes("Compte rendu", lines=400)
    for number in range(entries - (1 if images else 0)):
        kind = number % 3
        if kind == 0:
            report(doctor, patient, title=f"CR {number}", pdf=big_pdf)
        elif kind == 1:
            report(doctor, patient, title=f"Note {number}")
        else:
            lab(doctor, patient)
    if not images:
        return
    folder = WORK / "dicom"
    folder.mkdir()
    study, series = generate_uid(), generate_uid()
    paths = []
    for number in range(images):
        ds = F.ct_slice(512, 512, seed=number)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.InstanceNumber = number + 1
        ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "DUPONT^ALICE", "19850514", "F"
        paths.append(F.write(folder / f"IM{number:04d}.dcm", ds))
    with inspect_paths([(p.name, p) for p in paths]) as inspection:
        study_import(actor=doctor.user, patient=patient, candidates=inspection.candidates)
    shutil.rmtree(folder)


def build(patient: Any) -> tuple[float, int, DmpExport]:
    export = DmpExport.objects.create(patient=patient, requested_by=patient.user)
    start = time.perf_counter()
    assert export_build(export_id=export.pk) == "ready"
    elapsed = time.perf_counter() - start
    export.refresh_from_db()
    return elapsed, export.size or 0, export


def queries(doctor: Any, email: str, nir: str, count: int) -> int:
    from records.services.lifecycle import PatientTraits

    patient = make_patient(
        opened_by=doctor,
        nir=nir,
        traits=PatientTraits(
            birth_name="MARTIN", first_names="Paul", sex="M", birth_date=_date(1970, 1, 1)
        ),
        account=True,
        email=email,
    )
    populate(doctor, patient, count, 0)
    export = DmpExport.objects.create(patient=patient, requested_by=patient.user)
    with CaptureQueriesContext(connection) as captured:
        export_build(export_id=export.pk)
    return len(captured)


def _date(year: int, month: int, day: int) -> Any:
    import datetime

    return datetime.date(year, month, day)


def main() -> None:
    call_command("migrate", verbosity=0)
    admin = make_user("admin@bench.example", staff=True)
    doctor = make_professional("doctor@bench.example", verifier=admin, last_name="Martin")
    patient = make_patient(opened_by=doctor, medecin_traitant=True, account=True)
    started = time.perf_counter()
    populate(doctor, patient, ARGS.entries, ARGS.images)
    print(
        f"DMP: {ARGS.entries} entries ({ARGS.images}-image CT study among them), made in "
        f"{time.perf_counter() - started:.0f} s; database: {connection.vendor}"
    )
    with PeakRss() as rss:
        elapsed, size, export = build(patient)
    print(
        f"rss          : {elapsed:6.1f} s, archive {size / 2**20:7.1f} MB, "
        f"{export.total} documents, peak extra RSS {rss.extra / 2**20:6.1f} MB "
        f"(÷ target {TARGET_MB} MB = {rss.extra / 2**20 / TARGET_MB:.2f})"
    )
    tracemalloc.start()
    build(patient)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"tracemalloc  : peak Python allocations {peak / 2**20:6.1f} MB "
        f"(÷ target {TARGET_MB} MB = {peak / 2**20 / TARGET_MB:.2f}); "
        f"archive ÷ its size in memory: {size / max(peak, 1):.1f}"
    )
    three = queries(doctor, "q3@bench.example", "1 70 01 75 123 456 65", 3)
    thirty = queries(doctor, "q30@bench.example", "1 70 01 75 123 457 64", 30)
    print(
        f"queries      : {three} at 3 entries, {thirty} at 30 (ratio {thirty / three:.2f}; "
        f"{'PASS' if three == thirty else 'FAIL'} constant)"
    )
    verdict = "PASS" if max(rss.extra, peak) < TARGET_MB * 2**20 else "FAIL"
    print(f"memory       : {verdict} (< {TARGET_MB} MB extra)")


if __name__ == "__main__":
    try:
        main()
    finally:
        _drop_database()
