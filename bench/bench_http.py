"""Benchmark: audited pages under gunicorn and a load generator on loopback (QUALITY.md §6).

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432, user postgres; Debian's wrk)::

    .venv/bin/python bench/bench_http.py [--database dmp_bench_http] [--port 8181]
        [--workers 4] [--duration 5] [--rounds 1] [--connections 1,10,50]

1. Creates the database when missing, migrates it, seeds the demo (``seed_demo``, idempotent)
   and tops Alice's DMP up to 50 entries (reports by dr.martin, through the real service), so
   that the timeline's first page has 50 rows; then ``VACUUM ANALYZE``, as autovacuum would.
2. Starts gunicorn (``--workers`` sync workers) on 127.0.0.1:``--port`` with the embedded
   settings on that database, ``DEBUG`` off and ``DMP_BENCH_PAGES=1`` (the Fortunes baseline:
   one query, 13 rows, one small template, through the whole middleware stack).
3. Logs in through the real pages (password, then TOTP): dr.martin and Alice. Checks that every
   page answers 200 with its content (wrk counts a redirect to the login page as a success).
4. A warm-up of 2 s per page at 10 connections, not counted (statements prepared, templates
   loaded in every worker). Then ``--rounds`` rounds; in each, for each number of
   connections, each page in turn for ``--duration`` seconds with wrk (``--latency``, 10 s
   timeout). Medians over rounds.

Prints the issue's table (req/s, p50, p99, errors) and the targets with PASS/FAIL: timeline ÷
Fortunes ≥ 0.20 at 10 connections, the timeline's p99 ÷ p50 ≤ 1.6 at 10 connections, no error
at 50 connections (socket errors, timeouts, non-2xx/3xx). Every timeline, lab report and
history request writes its access event, as in real use. Bounded: at most pages × levels ×
rounds × duration seconds of load, plus set-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.live import clean_env, gunicorn, login, manage, server  # noqa: E402

PASSWORD = "demo-dmp-2026"  # noqa: S105 - the demo accounts of the README
TOTP_SECRET = "JBSWY3DPEHPK3PXP"  # noqa: S105 - the demo second factor of the README
MARTIN = "dr.martin@demo.dmp.example"
ALICE = "alice.dupont@demo.dmp.example"

TOP_UP = """
import datetime, uuid
from identity.models import Patient, User
from records.models import Entry, EntryKind
from records.services.content import report_deposit
martin = User.objects.get(email="dr.martin@demo.dmp.example")
alice = Patient.objects.get(user__email="alice.dupont@demo.dmp.example")
for n in range(max(0, 50 - Entry.objects.filter(patient=alice).count())):
    report_deposit(
        actor=martin, patient=alice, document_type="11488-4",
        title=f"Consultation de suivi {n + 1}", body="Examen clinique sans particularité.",
        act_date=datetime.date.today() - datetime.timedelta(days=3 * n + 1),
        submission_key=uuid.uuid5(uuid.NAMESPACE_URL, f"bench-http:{n}"),
    )
lab = Entry.objects.filter(patient=alice, kind=EntryKind.LAB_REPORT).order_by("-act_date").first()
print(alice.public_id, lab.public_id)
"""


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    who: str  # "martin", "alice" or "" (anonymous)
    marker: str  # a text the page must contain
    levels: tuple[int, ...] | None = None  # None: every level


@dataclass(frozen=True)
class Result:
    rps: float
    p50: float  # ms
    p99: float  # ms
    errors: int


def totp_code() -> str:
    import base64
    import hashlib
    import hmac
    import struct
    import time

    key = base64.b32decode(TOTP_SECRET)
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def ensure_database(name: str) -> str:
    admin = "postgres://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, cookie: str, connections: int, duration: int) -> Result:
    command = [
        "wrk",
        f"--threads={min(connections, 2)}",
        f"--connections={connections}",
        f"--duration={duration}s",
        "--timeout=10s",
        "--latency",
        "--header=Accept-Language: fr",
        url,
    ]
    if cookie:
        command.insert(-1, f"--header=Cookie: {cookie}")
    output = subprocess.run(  # noqa: S603 - Debian's wrk on loopback
        command, capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = 0
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket:
        errors += sum(int(n) for n in socket.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    return Result(rps, p50, p99, errors)


def drain(url: str, seconds: float = 120) -> None:
    """Wait until the workers are idle again: a cell's connections closed by wrk leave their
    requests queued in gunicorn, which would be served during (and charged to) the next cell."""
    import time

    import requests

    deadline = time.monotonic() + seconds
    quick = 0
    while quick < 2 and time.monotonic() < deadline:
        started = time.monotonic()
        requests.get(f"{url}/sante/", timeout=seconds)
        quick = quick + 1 if time.monotonic() - started < 0.5 else 0


def _median(results: list[Result]) -> Result:
    return Result(
        statistics.median(r.rps for r in results),
        statistics.median(r.p50 for r in results),
        statistics.median(r.p99 for r in results),
        sum(r.errors for r in results),
    )


def main() -> int:  # noqa: C901 - a script: set-up, run, report
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="dmp_bench_http")
    parser.add_argument("--port", type=int, default=8181)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--connections", default="1,10,50")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    levels = [int(n) for n in args.connections.split(",")]

    env = clean_env(
        DMP_EMBEDDED="1",
        DJANGO_DEBUG="0",
        DMP_BENCH_PAGES="1",
        DATABASE_URL=ensure_database(args.database),
        DMP_VAR_DIR=str(ROOT / "var" / "bench-http"),
        DMP_LOG_LEVEL="WARNING",
    )
    print("==> migrate, seed_demo, top-up to 50 entries", flush=True)
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", env=env, timeout=900)
    alice_id, lab_id = manage("shell", "-c", TOP_UP, env=env).split()[-2:]
    # The tables as autovacuum keeps them in service: statistics, dead row versions cleared.
    # On a PostgreSQL without it (this machine's), after earlier runs wrote some 80 000 events
    # and updated one "Mes patients" row as often, Alice's history was planned as if her
    # events were a handful (50 ms instead of 2 ms for its query) and the home page's news
    # walked a thousand dead versions of that row (3.8 ms instead of 0.5).
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")

    pages = [
        Page("timeline (50 rows)", f"/pro/dmp/{alice_id}/documents/?tout=on", "martin", "<table"),
        Page("lab report", f"/document/{lab_id}/", "martin", "<table"),
        Page("access history", "/mon-dmp/historique/", "alice", "<table"),
        Page("Fortunes baseline", "/_bench/fortunes/", "", "<td>"),
        Page("professional home", "/", "martin", "<h1", levels=(10,)),
    ]
    with server(gunicorn(args.port, workers=args.workers), port=args.port, env=env) as url:
        cookies = {"": ""}
        for who, email in (("martin", MARTIN), ("alice", ALICE)):
            session = login(url, email, PASSWORD, totp_code)
            cookies[who] = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        import requests

        for page in pages:
            response = requests.get(
                f"{url}{page.path}",
                headers={"Cookie": cookies[page.who]},
                allow_redirects=False,
                timeout=30,
            )
            if response.status_code != 200 or page.marker not in response.text:
                print(f"{page.name}: {response.status_code}, not the page", file=sys.stderr)
                return 1
            if page.name.startswith("timeline"):
                rows = response.text.count('class="doc-title"')
                print(f"    timeline rows on the page: {rows}")
        # Warm-up, not counted: every worker prepares its statements (after a few runs on its
        # connection), loads its templates and translations, as a server in service has.
        for page in pages:
            drain(url)
            wrk(f"{url}{page.path}", cookies[page.who], 10, 2)
        samples: dict[tuple[str, int], list[Result]] = {}
        for number in range(args.rounds):
            print(f"==> round {number + 1}/{args.rounds}", flush=True)
            for level in levels:
                for page in pages:
                    if page.levels is not None and level not in page.levels:
                        continue
                    drain(url)
                    result = wrk(f"{url}{page.path}", cookies[page.who], level, args.duration)
                    samples.setdefault((page.name, level), []).append(result)
                    print(
                        f"    {page.name:<20} c={level:<3} {result.rps:8.1f} req/s "
                        f"p50 {result.p50:7.1f} ms p99 {result.p99:7.1f} ms "
                        f"errors {result.errors}",
                        flush=True,
                    )

    table = {key: _median(value) for key, value in samples.items()}
    print()
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"gunicorn {args.workers} sync workers, PostgreSQL, wrk on loopback, "
        f"{args.duration} s per cell, {args.rounds} round(s), medians"
    )
    print()
    print("| page (dr.martin / Alice) | " + " | ".join(f"{n} connections" for n in levels) + " |")
    print("|---|" + "---|" * len(levels))
    for page in pages:
        cells = []
        for level in levels:
            cell = table.get((page.name, level))
            cells.append(
                "—"
                if cell is None
                else f"{cell.rps:.0f} req/s, p50 {cell.p50:.0f} ms, p99 {cell.p99:.0f} ms"
                + (f", {cell.errors} errors" if cell.errors else "")
            )
        print(f"| {page.name} | " + " | ".join(cells) + " |")
    print()
    failed = False
    timeline = table.get(("timeline (50 rows)", 10))
    fortunes = table.get(("Fortunes baseline", 10))
    if timeline and fortunes:
        ratio = timeline.rps / fortunes.rps
        tail = timeline.p99 / timeline.p50
        failed |= ratio < 0.20 or tail > 1.6
        print(
            f"timeline ÷ Fortunes at 10 connections: {ratio:.3f} (target ≥ 0.20) "
            f"{'PASS' if ratio >= 0.20 else 'FAIL'}"
        )
        print(
            f"timeline p99 ÷ p50 at 10 connections: {tail:.2f} (target ≤ 1.6) "
            f"{'PASS' if tail <= 1.6 else 'FAIL'}"
        )
    if 50 in levels:
        errors = sum(r.errors for (_name, level), r in table.items() if level == 50)
        failed |= errors > 0
        print(f"errors at 50 connections: {errors} (target 0) {'PASS' if errors == 0 else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
