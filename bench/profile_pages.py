"""Where an audited page's server time goes: the timeline, a lab report, the access history.

Usage (from the repository root, after ``bench/bench_http.py`` has set its database up)::

    .venv/bin/python bench/profile_pages.py [--database dmp_bench_http] [--requests 30]

In one process, Django's test client (the whole middleware stack, no network) logs in through
the real pages (password, then TOTP) as dr.martin and as Alice, then requests each page
``--requests`` times and prints, per request, the milliseconds spent in each part: the
funnel's fetch (``dmp_for`` / ``entry_for`` / ``own_dmp``: query building and SQL), the traced
read (``read_traced``, of which the trail's ``record_access``), the template rendering, and
the rest (middleware: session, user, second factor, timeouts, logs; the page's own queries).
Also the number of SQL statements and PostgreSQL's planning time for the page's SELECTs (each
planned again on every request: the statements are sent with their values, not prepared; a
lab report's entry query, 25 joins with the scope's EXISTS pulled up, plans in tens of
milliseconds while it runs in one). For information: absolute times drift with the machine's
load; compare parts within one run.
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
    for name, who, url in pages:
        client = clients[who]
        for _ in range(5):  # warm-up
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
        parts = {label: value * 1000 / args.requests for label, value in PARTS.items()}
        rest = total - sum(v for k, v in parts.items() if not k.startswith(" "))
        shown = ", ".join(f"{label.strip()} {value:.1f}" for label, value in parts.items())
        print(
            f"{name:<20} total {total:6.1f} | {shown}, rest {rest:.1f} "
            f"| {len(statements)} statements, planned in {_planning_ms(statements):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
