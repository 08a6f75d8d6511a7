"""Benchmark: who-sees-what pages at 1 % and at 100 % of the population (QUALITY.md §6).

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432, user postgres)::

    .venv/bin/python bench/bench_access.py [--rounds 7] [--repeat 5] [--skip-populate]
                                           [--max-seconds 900]

1. Unless ``--skip-populate``: creates the databases ``dmp_bench_1pct`` and ``dmp_bench_full``
   when missing (through the ``postgres`` database), migrates them (``manage.py migrate`` with
   ``DATABASE_URL`` pointing at each, ``DMP_EMBEDDED=1``) and fills the empty ones with
   ``manage.py populate_bench --scale 0.01`` / ``--scale 1.0`` (a few minutes for the full one;
   once: a database holding patients is left as it is).
2. Then, in ONE process, interleaved rounds (a warm-up round first, not counted). Each round
   visits both databases (order alternating from round to round) and, in each, both
   professionals (``typical@bench.example``: 3 DMPs; ``heavy@bench.example``: 5 000 DMPs at
   full scale, 500 at 1 %), and measures for each, ``--repeat`` times in a row (operations of
   a few milliseconds need many samples on a shared machine):

   a. ``timeline``: ``records:timeline_pro`` of the big patient (1 000 entries, page 1 of 50,
      ``?tout=on``: the whole DMP, not just the last two years) as that professional;
   b. ``entry``: ``records:entry_detail`` of the big patient's newest entry that both read;
   c. ``history``: ``records:my_history`` (50 events a page) as the big patient;
   d. ``authorise`` / ``revoke``: ``records.services.care_authorise`` then ``care_revoke`` of
      a professional on the big patient, as the patient (reason PATIENT). The professional is
      ``fresh.typical@bench.example`` (3 DMPs) in the typical user's turn and
      ``fresh.heavy@bench.example`` (as many DMPs as the heavy one) in the heavy user's turn:
      the cost of an access change must not depend on what the professional already holds.

   e. ``patients`` / ``recent``: the professional's home, "Mes patients" (page 1, sorted by
      name / by last access, most recent first): 25 rows for the heavy professional, 3 for
      the typical one;
   f. ``patients3`` / ``recent3``: the same pages cut to 3 rows for both (``PAGE_SIZE``
      set in-process around the call): the same page, so heavy ÷ typical measures what
      holding 5 000 DMPs costs, not 22 more rows to render.

   Time is ``time.perf_counter()`` around the test client's call (server time: the client runs
   the whole Django stack in-process, no network); queries are counted with
   ``CaptureQueriesContext``.

Tricks, so that the run measures the pages and nothing else:

* one process, two databases: switching is ``connection.close()`` then
  ``connection.settings_dict["NAME"] = …`` (the next query opens a connection to the other
  database, opened before anything is timed; the content-type cache is cleared, its ids
  belonging to one database, then filled again in one query, as in a warm worker);
  connections are kept (``CONN_MAX_AGE=None``) so that no measured request pays a
  reconnection;
* logins are ``Client.force_login`` (one client per database and user); the designated
  accounts hold a TOTP authenticator (populate_bench), so the second-factor check passes as
  for a real session;
* the session's "last seen" stamp is moved a day ahead: the idle-timeout middleware then
  never writes the session during a measured request (in real use it writes it at most once a
  minute per session: a constant, not a function of the population).

Prints the medians per (database, user, operation), the query counts, and the ratios of
QUALITY.md §6 with PASS/FAIL: full ÷ 1 % ≤ 1.15 (each operation, each user), heavy ÷ typical
≤ 1.10 (each operation, each database), query counts equal across databases and users. Absolute
times and the machine are printed for information. Events written by the benchmark go into
the benchmark databases.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DATABASES = {"1pct": ("dmp_bench_1pct", 0.01), "full": ("dmp_bench_full", 1.0)}
USERS = ("typical", "heavy")
OPERATIONS = (
    "timeline",
    "entry",
    "history",
    "authorise",
    "revoke",
    "patients",
    "recent",
    "patients3",
    "recent3",
)
EQUAL_ROWS = 3  # patients3 / recent3: pages of the typical professional's 3 DMPs, for both
FULL_OVER_1PCT = 1.15
HEAVY_OVER_TYPICAL = 1.10
TIMELINE_QUERY = "?tout=on"
MAX_ROUNDS = 50
HEAVY_DMPS = [0]  # --heavy-dmps: 0 lets populate_bench choose (min(5 000, patients / 2))
MAX_REPEAT = 20


def _url(name: str) -> str:
    return f"{SERVER}/{name}"


def _env(name: str) -> dict[str, str]:
    # Each database signs its own trail: heads of one checked against another's would fail.
    checkpoints = REPO_ROOT / "var" / "bench-checkpoints" / name
    return {
        **os.environ,
        "DATABASE_URL": _url(name),
        "DMP_EMBEDDED": "1",
        "DMP_TRAIL_CHECKPOINT_DIR": str(checkpoints),
    }


def _manage(name: str, *args: str) -> None:
    command = [sys.executable, str(REPO_ROOT / "manage.py"), *args, "--skip-checks"]
    print(f"    $ DATABASE_URL=…/{name} manage.py {' '.join(args)}", flush=True)
    subprocess.run(command, env=_env(name), cwd=REPO_ROOT, check=True, timeout=3600)  # noqa: S603


def prepare(name: str, scale: float) -> None:
    """Create, migrate and (when empty) populate one benchmark database."""
    import psycopg

    with psycopg.connect(_url("postgres"), autocommit=True) as server:
        exists = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            print(f"==> creating database {name}", flush=True)
            server.execute(f'CREATE DATABASE "{name}"')
    _manage(name, "migrate", "--noinput", "-v", "0")
    with psycopg.connect(_url(name)) as database:
        row = database.execute("SELECT COUNT(*) FROM identity_patient").fetchone()
    if row and row[0]:
        print(f"==> {name}: {row[0]:,} patients already, not populated again", flush=True)
        return
    started = time.perf_counter()
    heavy = ("--heavy-dmps", str(HEAVY_DMPS[0])) if HEAVY_DMPS[0] else ()
    _manage(name, "populate_bench", "--scale", str(scale), *heavy)
    print(f"==> {name} populated in {time.perf_counter() - started:.0f} s", flush=True)


# --- In-process measurement ---------------------------------------------------------------------


def setup_django() -> None:
    os.environ["DATABASE_URL"] = _url(DATABASES["1pct"][0])
    os.environ["DMP_EMBEDDED"] = "1"
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmp_portal.settings")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()


@dataclass
class Subjects:
    """One database's actors, fetched once after switching to it."""

    patient: Any
    patient_user: Any
    professionals: dict[str, Any]  # typical / heavy: the users who read the timeline
    changed: dict[str, Any]  # typical / heavy: the professional authorised then revoked
    clients: dict[str, Any]  # typical / heavy / patient


def switch_to(name: str) -> None:
    """Point the default connection at another database of the same server."""
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name
    connection.settings_dict["CONN_MAX_AGE"] = None
    connection.ensure_connection()
    # Content-type ids belong to one database: forget them, then load them all at once (a
    # long-running worker has them cached; no measured request should pay for it).
    ContentType.objects.clear_cache()
    ContentType.objects.get_for_models(*apps.get_models())


def _client(user: Any) -> Any:
    from django.test import Client

    from dmp_portal import middleware

    client = Client()
    client.force_login(user)
    session = client.session
    stamp = int(time.time()) + 86_400
    session[middleware._STARTED] = stamp
    session[middleware._LAST_SEEN] = stamp
    session.save()
    return client


def load_subjects() -> Subjects:
    from identity.models import Patient, Professional

    patient = Patient.objects.select_related("user").get(user__email="big.patient@bench.example")

    def pro(email: str) -> Any:
        return Professional.objects.select_related("user").get(user__email=email)

    professionals = {user: pro(f"{user}@bench.example").user for user in USERS}
    changed = {user: pro(f"fresh.{user}@bench.example") for user in USERS}
    clients = {user: _client(professionals[user]) for user in USERS}
    clients["patient"] = _client(patient.user)
    return Subjects(patient, patient.user, professionals, changed, clients)


def timeline_url(patient: Any) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("records:timeline_pro", args=[patient.public_id]) + TIMELINE_QUERY
    except NoReverseMatch:
        print(
            "WARNING: records:timeline_pro does not resolve; measuring records:patient_home "
            "instead (the DMP's home page, not the timeline).",
            flush=True,
        )
        return reverse("records:patient_home", args=[patient.public_id])


def entry_url(subjects: Subjects) -> str:
    """The big patient's newest entry that both professionals read (the same for both)."""
    from django.urls import reverse

    from records import access

    readable = access.entries_for(subjects.professionals["typical"], subjects.patient).filter(
        pk__in=access.entries_for(subjects.professionals["heavy"], subjects.patient).values("pk")
    )
    entry = readable.order_by("-act_date", "-pk").first()
    if entry is None:
        raise SystemExit("no entry of the big patient is readable by both professionals")
    return reverse("records:entry_detail", args=[entry.public_id])


Measure = Callable[[], Any]


def measured(action: Measure) -> tuple[float, int, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - started
    return elapsed, len(queries.captured_queries), result


def _get(client: Any, url: str) -> Measure:
    def call() -> Any:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: the benchmark stops.")
        return response

    return call


def _in_pages_of(rows: int, action: Measure) -> Measure:
    """``action`` with "Mes patients" showing ``rows`` rows a page: both professionals then
    see pages of the same size, and what remains of heavy ÷ typical is the number of DMPs
    held (the default page shows 25 rows to the heavy one, 3 to the typical one)."""
    from records.services import patients

    def call() -> Any:
        size, patients.PAGE_SIZE = patients.PAGE_SIZE, rows
        try:
            return action()
        finally:
            patients.PAGE_SIZE = size

    return call


def operations(subjects: Subjects, user: str, urls: dict[str, str]) -> dict[str, Measure]:
    from records.models import AuthorisationReason
    from records.services.care import care_authorise, care_revoke

    changed = subjects.changed[user]
    return {
        "patients": _get(subjects.clients[user], urls["patients"]),
        "recent": _get(subjects.clients[user], urls["recent"]),
        "patients3": _in_pages_of(EQUAL_ROWS, _get(subjects.clients[user], urls["patients"])),
        "recent3": _in_pages_of(EQUAL_ROWS, _get(subjects.clients[user], urls["recent"])),
        "timeline": _get(subjects.clients[user], urls["timeline"]),
        "entry": _get(subjects.clients[user], urls["entry"]),
        "history": _get(subjects.clients["patient"], urls["history"]),
        "authorise": lambda: care_authorise(
            actor=subjects.patient_user,
            patient=subjects.patient,
            professional=changed,
            reason=AuthorisationReason.PATIENT,
        ),
        "revoke": lambda: care_revoke(
            actor=subjects.patient_user, patient=subjects.patient, professional=changed
        ),
    }


Samples = dict[tuple[str, str, str], list[tuple[float, int]]]


def run_rounds(rounds: int, repeat: int, max_seconds: float) -> tuple[Samples, int]:
    from django.urls import reverse

    subjects: dict[str, Subjects] = {}
    urls: dict[str, dict[str, str]] = {}
    for db, (name, _scale) in DATABASES.items():
        switch_to(name)
        subjects[db] = load_subjects()
        urls[db] = {
            "timeline": timeline_url(subjects[db].patient),
            "entry": entry_url(subjects[db]),
            "history": reverse("records:my_history"),
            "patients": reverse("home"),
            "recent": reverse("home") + "?tri=-acces",
        }
    samples: Samples = defaultdict(list)
    started = time.perf_counter()
    done = 0
    for number in range(rounds + 1):  # round 0 warms up: not counted
        order = list(DATABASES) if number % 2 == 0 else list(reversed(DATABASES))
        users = USERS if number % 2 == 0 else tuple(reversed(USERS))
        for db in order:
            switch_to(DATABASES[db][0])
            for user in users:
                steps = operations(subjects[db], user, urls[db])
                for _ in range(repeat):  # the four in order: authorise, then revoke, …
                    for operation, action in steps.items():
                        elapsed, count, _result = measured(action)
                        if number:
                            samples[(db, user, operation)].append((elapsed, count))
        done = number
        print(f"    round {number}{' (warm-up)' if not number else ''} done", flush=True)
        if time.perf_counter() - started > max_seconds:
            print(f"WARNING: stopped after {number} rounds (--max-seconds {max_seconds:.0f}).")
            break
    return samples, done


# --- Report --------------------------------------------------------------------------------------


def median_ms(values: list[tuple[float, int]]) -> float:
    return statistics.median(v[0] for v in values) * 1000


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(samples: Samples) -> bool:
    ok = True
    print("\nMedians (ms) and query counts per (database, user, operation):")
    print(
        f"  {'operation':<10} {'user':<8} {'1 % p50':>9} {'full p50':>9} {'queries 1 % / full':>20}"
    )
    for operation in OPERATIONS:
        for user in USERS:
            small, full = samples[("1pct", user, operation)], samples[("full", user, operation)]
            counts = f"{_counts(small)} / {_counts(full)}"
            print(
                f"  {operation:<10} {user:<8} {median_ms(small):9.2f} {median_ms(full):9.2f} "
                f"{counts:>20}"
            )
    print(f"\nfull ÷ 1 % (target ≤ {FULL_OVER_1PCT}):")
    for operation in OPERATIONS:
        for user in USERS:
            ratio = median_ms(samples[("full", user, operation)]) / median_ms(
                samples[("1pct", user, operation)]
            )
            ok &= ratio <= FULL_OVER_1PCT
            print(f"  {operation:<10} {user:<8} {ratio:6.3f}  {verdict(ratio <= FULL_OVER_1PCT)}")
    print(f"\nheavy ÷ typical (target ≤ {HEAVY_OVER_TYPICAL}):")
    for operation in OPERATIONS:
        for db in DATABASES:
            ratio = median_ms(samples[(db, "heavy", operation)]) / median_ms(
                samples[(db, "typical", operation)]
            )
            ok &= ratio <= HEAVY_OVER_TYPICAL
            print(f"  {operation:<10} {db:<8} {ratio:6.3f}  {verdict(ratio <= HEAVY_OVER_TYPICAL)}")
    print("\nQuery counts equal across databases and users (and rounds):")
    for operation in OPERATIONS:
        seen = sorted(
            {c for db in DATABASES for u in USERS for _t, c in samples[(db, u, operation)]}
        )
        ok &= len(seen) == 1
        print(f"  {operation:<10} {seen}  {verdict(len(seen) == 1)}")
    return ok


def _counts(values: list[tuple[float, int]]) -> str:
    counts = sorted({count for _elapsed, count in values})
    return "/".join(str(count) for count in counts)


def machine() -> None:
    from django.db import connection

    model = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        sizes = []
        for name, _scale in DATABASES.values():
            cursor.execute("SELECT pg_size_pretty(pg_database_size(%s))", [name])
            sizes.append(f"{name} {cursor.fetchone()[0]}")
    import django

    print(
        f"\nMachine: {os.cpu_count()} CPUs ({model}), {_memory()}, PostgreSQL {version}, "
        f"Python {platform.python_version()}, Django {django.get_version()}; "
        f"load average {os.getloadavg()[0]:.2f}; {', '.join(sizes)}"
    )


def _memory() -> str:
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        kib = int(meminfo.readline().split()[1])
    return f"{kib / 1024 / 1024:.0f} GiB RAM"


def population() -> None:
    from django.db import connection

    tables = ("identity_patient", "identity_professional", "records_entry", "records_accessevent")
    for db, (name, _scale) in DATABASES.items():
        switch_to(name)
        with connection.cursor() as cursor:
            counts = []
            for table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (constant names)
                counts.append(f"{table.split('_', 1)[1]} {cursor.fetchone()[0]:,}")
        print(f"  {db:<5} {name}: {', '.join(counts)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=5, help="measurements of each operation per round"
    )
    parser.add_argument("--skip-populate", action="store_true")
    parser.add_argument("--max-seconds", type=float, default=900, help="bound the measurement")
    parser.add_argument(
        "--databases",
        default="",
        help="NAME:SCALE,NAME:SCALE instead of dmp_bench_1pct:0.01,dmp_bench_full:1.0 "
        "(the smaller first), e.g. to measure the heavy professional at 5 000 DMPs on a "
        "smaller population with --heavy-dmps 5000",
    )
    parser.add_argument("--heavy-dmps", type=int, default=0, help="passed to populate_bench")
    options = parser.parse_args()
    if options.databases:
        (small, small_scale), (big, big_scale) = (
            pair.split(":") for pair in options.databases.split(",")
        )
        DATABASES["1pct"] = (small, float(small_scale))
        DATABASES["full"] = (big, float(big_scale))
    HEAVY_DMPS[0] = options.heavy_dmps
    rounds = max(1, min(options.rounds, MAX_ROUNDS))
    repeat = max(1, min(options.repeat, MAX_REPEAT))
    if not options.skip_populate:
        for name, scale in DATABASES.values():
            prepare(name, scale)
    setup_django()
    print("Population:")
    population()
    print(f"==> {rounds} rounds (+1 warm-up) × {repeat} measurements, interleaved", flush=True)
    samples, done = run_rounds(rounds, repeat, options.max_seconds)
    if not done:
        print("No measured round.")
        return 1
    ok = report(samples)
    machine()
    print(f"\nOverall: {verdict(ok)} ({done} rounds)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
