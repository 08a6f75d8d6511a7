"""Benchmark: traced inserts per second at 1, 4 and 16 writers vs plain inserts of the same rows
(QUALITY.md §6: at 16 writers ≥ 0.5 × plain, and no decline from 4 to 16 writers).

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432, user postgres)::

    .venv/bin/python bench/bench_trail.py [--rounds 3] [--seconds 3] [--writers 1,4,16]

Creates the database ``dmp_bench_trail`` when missing and migrates it (``DMP_EMBEDDED=1``,
``DATABASE_URL`` pointing at it). Then, interleaved rounds: for each number of writers, one
measurement of each kind, in alternating order from round to round; each writer is a forked
process with its own connection, all start together (a barrier) and count what they commit in
``--seconds`` seconds.

* ``traced``: ``records.trail.record_access`` in its own transaction, as a read does
  (``care.read_traced``): a professional reads a patient's DMP, with a detail text;
* ``plain``: the same row (same actor, patient, action, texts) saved as a bare
  ``AccessEvent`` in its own transaction: no salt, no commitment, nothing of the trail.

Prints inserts/s (median of the rounds), traced ÷ plain per number of writers, the ratio
16 ÷ 4 writers of the traced inserts, PASS/FAIL against the targets, and, for information, how
fast the sequencer integrates what the run wrote (``log_integrate_all``: leaves/s).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = "dmp_bench_trail"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"


def _prepare() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            db.execute(f'CREATE DATABASE "{DB}"')
    environment = {**os.environ, "DATABASE_URL": URL, "DMP_EMBEDDED": "1"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=environment,
        check=True,
    )


def _setup_django() -> None:
    os.environ["DATABASE_URL"] = URL
    os.environ.setdefault("DMP_EMBEDDED", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmp_portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _cast() -> tuple[int, int]:
    """A professional and a patient (ids), made once."""
    from identity.models import Patient, Professional
    from tests.cast import make_patient, make_professional

    professional = Professional.objects.filter(user__email="bench.trail@test.example").first()
    if professional is None:
        professional = make_professional("bench.trail@test.example")
    patient = Patient.objects.filter(opened_by=professional).first()
    if patient is None:
        patient = make_patient(opened_by=professional)
    return professional.user.pk, patient.pk


def _writer(kind: str, ids: tuple[int, int], seconds: float, barrier: object, out: object) -> None:
    from django.db import connection, transaction

    from identity.models import Patient, User
    from records import trail
    from records.models import AccessAction, AccessEvent

    connection.close()  # the parent's connection is not ours
    user = User.objects.select_related("professional").get(pk=ids[0])
    patient = Patient.objects.get(pk=ids[1])
    professional = user.professional

    def traced() -> None:
        with transaction.atomic():
            trail.record_access(
                actor=user, patient=patient, action=AccessAction.DMP_VIEW, detail="bench"
            )

    def plain() -> None:
        with transaction.atomic():
            AccessEvent(
                actor=user,
                actor_label=str(user)[:200],
                actor_rpps=professional.rpps,
                actor_profession=professional.profession,
                patient=patient,
                patient_insc=patient.insc,
                action=AccessAction.DMP_VIEW,
                detail="bench",
            ).save(force_insert=True)

    insert: Callable[[], None] = traced if kind == "traced" else plain
    insert()  # connection opened, caches warm
    barrier.wait()  # type: ignore[attr-defined]
    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        insert()
        count += 1
    out.put(count)  # type: ignore[attr-defined]
    connection.close()


def _measure(kind: str, writers: int, ids: tuple[int, int], seconds: float) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(writers), context.Queue()
    processes = [
        context.Process(target=_writer, args=(kind, ids, seconds, barrier, out))
        for _ in range(writers)
    ]
    for process in processes:
        process.start()
    total = sum(out.get(timeout=seconds + 120) for _ in processes)
    for process in processes:
        process.join()
    return total / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--writers", default="1,4,16")
    options = parser.parse_args()
    counts = [int(n) for n in options.writers.split(",")]
    _prepare()
    _setup_django()
    from django.db import connection

    from records import trail
    from records.models import AccessEvent

    ids = _cast()
    trail.log_integrate_all()  # what earlier runs left
    rates: dict[tuple[str, int], list[float]] = {}
    for number in range(options.rounds):
        for writers in counts:
            kinds = ("plain", "traced") if (number + writers) % 2 else ("traced", "plain")
            for kind in kinds:
                rate = _measure(kind, writers, ids, options.seconds)
                rates.setdefault((kind, writers), []).append(rate)
                print(f"  round {number + 1} {kind:<6} {writers:>2} writers {rate:9.0f}/s")
    print(f"\n{platform.node()} · {os.cpu_count()} cores · PostgreSQL · {connection.pg_version}")
    print(f"{'writers':>8} {'plain/s':>10} {'traced/s':>10} {'traced÷plain':>13}")
    median = {key: statistics.median(values) for key, values in rates.items()}
    for writers in counts:
        plain, traced = median[("plain", writers)], median[("traced", writers)]
        print(f"{writers:>8} {plain:>10.0f} {traced:>10.0f} {traced / plain:>13.2f}")
    verdicts = []
    if 16 in counts:
        ratio = median[("traced", 16)] / median[("plain", 16)]
        verdicts.append(("traced ÷ plain at 16 writers ≥ 0.5", ratio, ratio >= 0.5))
    if 4 in counts and 16 in counts:
        growth = median[("traced", 16)] / median[("traced", 4)]
        # "No decline", within the ±10 % a shared machine drifts between two measurements.
        verdicts.append(("traced 16 ÷ 4 writers ≥ 0.9 (no decline)", growth, growth >= 0.9))
    for label, value, good in verdicts:
        print(f"{'PASS' if good else 'FAIL'}  {label}: {value:.2f}")
    pending = AccessEvent.objects.filter(leaf_index__isnull=True).count()
    started = time.perf_counter()
    trail.log_integrate_all()
    elapsed = time.perf_counter() - started
    print(
        f"(information) the sequencer integrated {pending} events in {elapsed:.1f} s: "
        f"{pending / elapsed:.0f} leaves/s"
    )
    return 0 if all(good for _label, _value, good in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
