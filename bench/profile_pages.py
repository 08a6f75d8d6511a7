"""Where an audited page's server time goes: the timeline, a lab report, the access history.

Usage (from the repository root, after ``bench/bench_http.py`` has set its database up)::

    .venv/bin/python bench/profile_pages.py [--database dmp_bench_http] [--requests 30]

In one process, Django's test client (the whole middleware stack, no network) logs in through
the real pages (password, then TOTP) as dr.martin and as Alice, then requests each page
``--requests`` times and prints, per request, the milliseconds spent in each part: the
funnel's fetch (``dmp_for`` / ``entry_for`` / ``own_dmp``: query building and SQL), the traced
read (``read_traced``, of which the trail's ``record_access``), the template rendering, and
the rest (middleware: session, user, second factor, timeouts, logs; the page's own queries).
Last, the one-query Fortunes page (``DMP_BENCH_PAGES``) as the baseline, and each page's
ratio to it (the ratio ``bench_http.py`` measures, without the network and wrk).
Also the number of SQL statements and PostgreSQL's planning time for the page's SELECTs, as
if each were planned afresh (EXPLAIN): a lab report's entry query, 25 joins with the scope's
EXISTS pulled up, plans in tens of milliseconds while it runs in one. The portal prepares a
statement repeated on a connection (``DATABASE_PREPARE_THRESHOLD``), so after its first
requests on a connection that planning is no longer paid (the warm-up covers it). For
information: absolute times drift with the machine's load; compare parts within one run.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PARTS: dict[str, float] = collections.defaultdict(float)
LABELS = ("funnel", "read_traced", "  of which record_access", "template")


def _timed(module: Any, name: str, label: str) -> None:
    original: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            PARTS[label] += time.perf_counter() - started

    setattr(module, name, wrapper)


def _counting(statements: list[tuple[str, Any]]) -> Callable[..., Any]:
    def wrapper(execute: Callable[..., Any], sql: str, params: Any, *rest: Any) -> Any:
        statements.append((sql, params))
        return execute(sql, params, *rest)

    return wrapper


def _planning_ms(statements: list[tuple[str, Any]]) -> float:
    """PostgreSQL's planning time of the SELECTs (EXPLAIN SUMMARY: planned, not run)."""
    from django.db import connection

    total = 0.0
    with connection.cursor() as cursor:
        for sql, params in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (SUMMARY) {sql}", params)
            for (line,) in cursor.fetchall():
                if line.startswith("Planning Time:"):
                    total += float(line.split()[2])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="dmp_bench_http")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="dmp_portal.settings",
        DMP_EMBEDDED="1",
        DMP_LOG_LEVEL="WARNING",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
        DMP_BENCH_PAGES="1",
    )
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from identity.models import Patient
    from records import access, trail
    from records.models import Entry
    from records.services import care
    from records.views import access as access_views
    from records.views import documents
    from tests.cast import totp_code

    for module, name in ((access, "dmp_for"), (access, "entry_for"), (access, "own_dmp")):
        _timed(module, name, "funnel")
    _timed(care, "read_traced", "read_traced")
    _timed(trail, "record_access", "  of which record_access")
    _timed(documents, "render", "template")
    _timed(access_views, "render", "template")

    alice = Patient.objects.get(user__email="alice.dupont@demo.dmp.example")
    lab = Entry.objects.filter(patient=alice, kind="lab_report").order_by("-act_date").first()
    assert lab is not None, "run bench/bench_http.py once first (it seeds the database)"
    pages = [
        ("timeline (50 rows)", "dr.martin", f"/pro/dmp/{alice.public_id}/documents/?tout=on"),
        ("lab report", "dr.martin", f"/document/{lab.public_id}/"),
        ("access history", "alice.dupont", "/mon-dmp/historique/"),
        ("Fortunes baseline", "", "/_bench/fortunes/"),
    ]
    clients = {}
    for who in ("dr.martin", "alice.dupont"):
        client = Client(HTTP_HOST="127.0.0.1")
        client.post(
            "/accounts/login/",
            {"login": f"{who}@demo.dmp.example", "password": "demo-dmp-2026"},
        )
        client.post("/accounts/2fa/authenticate/", {"code": totp_code()})
        clients[who] = client
    print(f"ms per request, {args.requests} requests each, in-process (no network)")
    totals: dict[str, float] = {}
    for name, who, url in pages:
        client = clients[who] if who else Client(HTTP_HOST="127.0.0.1")
        for _ in range(8):  # warm-up: prepared after 2, PostgreSQL's generic plan after 5 more
            assert client.get(url).status_code == 200, f"{name}: not 200"
        statements: list[tuple[str, Any]] = []
        with connection.execute_wrapper(_counting(statements)):
            client.get(url)
        PARTS.clear()
        PARTS.update(dict.fromkeys(LABELS, 0.0))
        started = time.perf_counter()
        for _ in range(args.requests):
            client.get(url)
        total = (time.perf_counter() - started) * 1000 / args.requests
        totals[name] = total
        parts = {label: value * 1000 / args.requests for label, value in PARTS.items()}
        rest = total - sum(v for k, v in parts.items() if not k.startswith(" "))
        shown = ", ".join(f"{label.strip()} {value:.1f}" for label, value in parts.items())
        print(
            f"{name:<20} total {total:6.1f} | {shown}, rest {rest:.1f} "
            f"| {len(statements)} statements, planned in {_planning_ms(statements):.1f} ms"
        )
    baseline = totals["Fortunes baseline"]
    print(
        "Fortunes ÷ page, in-process (bench_http.py's ratio without network and load generator): "
        + ", ".join(f"{name} {baseline / total:.3f}" for name, total in totals.items() if total)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
