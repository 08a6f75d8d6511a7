"""Benchmark: INS-C computations per second on one core.

Usage (from the repository root)::

    .venv/bin/python bench/bench_ins.py [--calls 200000] [--rounds 5]

Inputs are the shared test vectors (``../shared/data/insc_test_vectors.csv`` or
``$DMP_SHARED_DIR/data/insc_test_vectors.csv``) when present, else generated data: valid
13-character NIRs (pre-validated strings, as an importer holds them) and YYMMDD strings.
Three scenarios, median of the rounds, loop overhead included:

* warm names: the ~2 000 first names of the file cycled (cache hits, the realistic case);
* distinct names: every call has a first name never seen before (cache misses);
* mixed: 90 % of the calls draw from the file's names, 10 % bring a never-seen name;
* date objects: warm names, ``datetime.date`` birth dates instead of YYMMDD strings.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import gc
import os
import random
import statistics
import string
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from identity.ins import compute_insc, nir_key, normalize_first_names  # noqa: E402

Row = tuple[str, str | datetime.date, str]


def vectors_path() -> Path:
    """Where the shared test vectors live (DMP_SHARED_DIR wins)."""
    shared = os.environ.get("DMP_SHARED_DIR")
    base = Path(shared) if shared else REPO_ROOT.parent / "shared"
    return base / "data" / "insc_test_vectors.csv"


def load_rows(rng: random.Random) -> tuple[list[Row], str]:
    """(first name, YYMMDD, NIR13) rows from the CSV, or 2 000 generated ones."""
    path = vectors_path()
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=";")
            rows: list[Row] = [
                (row["prenom"], row["date_naissance_aammjj"], row["nir13"]) for row in reader
            ]
        return rows, f"{len(rows)} rows of {path}"
    generated: list[Row] = []
    for _ in range(2000):
        year, month, day = rng.randrange(100), rng.randrange(1, 13), rng.randrange(1, 29)
        nir13 = (
            f"{rng.choice('12')}{year:02d}{month:02d}{rng.randrange(1, 96):02d}"
            f"{rng.randrange(1000):03d}{rng.randrange(1, 1000):03d}"
        )
        nir_key(nir13)  # make sure the generator only yields valid NIRs
        generated.append((random_name(rng), f"{year:02d}{month:02d}{day:02d}", nir13))
    return generated, "2000 generated rows (test vectors not found)"


def random_name(rng: random.Random) -> str:
    """A plausible upper-case first name, sometimes compound."""
    length = rng.randint(3, 9)
    name = "".join(rng.choice(string.ascii_uppercase) for _ in range(length))
    if rng.random() < 0.2:
        name += rng.choice([" ", "-"]) + random_name(rng)
    return name


def to_date(yymmdd: str | datetime.date) -> datetime.date:
    """A real date for a YYMMDD string (lunar days clamped), for the date-object scenario."""
    if isinstance(yymmdd, datetime.date):
        return yymmdd
    year = 1900 + int(yymmdd[:2])
    month = min(max(int(yymmdd[2:4]), 1), 12)
    day = min(max(int(yymmdd[4:]), 1), 28)
    return datetime.date(year, month, day)


def timed(calls: Sequence[Row], before: Callable[[], None] | None = None) -> float:
    """Calls per second for one pass over ``calls``."""
    if before is not None:
        before()
    insc = compute_insc
    gc.disable()
    try:
        start = time.perf_counter()
        for first_names, birth_date, nir in calls:
            insc(first_names, birth_date, nir)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return len(calls) / elapsed


def run(name: str, rounds: int, make_calls: Callable[[int], Sequence[Row]], cold: bool) -> None:
    """Median of ``rounds`` timed passes; cold: name cache cleared before each pass."""
    before = normalize_first_names.cache_clear if cold else None
    results = []
    for index in range(rounds):
        calls = make_calls(index)
        if not cold:
            timed(calls[:50_000])  # warm the caches
        results.append(timed(calls, before))
    median = statistics.median(results)
    spread = ", ".join(f"{value / 1000:.0f}k" for value in results)
    print(f"{name:<40} {median:>12,.0f} calls/s   (rounds: {spread})")


def pin_to_one_core() -> str:
    """Pin the process to a single CPU where the OS allows it."""
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned"


def main() -> None:
    """Parse the arguments and run the three scenarios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (median reported)")
    args = parser.parse_args()
    calls, rounds = args.calls, args.rounds

    rng = random.Random(20091030)  # benchmark data, not security
    rows, source = load_rows(rng)
    print(f"compute_insc benchmark: {source}; {calls:,} calls x {rounds} rounds; ", end="")
    print(f"{pin_to_one_core()}; Python {sys.version.split()[0]}")

    warm = [rows[i % len(rows)] for i in range(calls)]
    dated = [(name, to_date(date6), nir) for name, date6, nir in warm]

    # Distinct names: every call a new name, every round new names (no cache hits at all).
    seen: set[str] = set()
    distinct_rounds: list[list[Row]] = []
    for _ in range(rounds):
        batch: list[Row] = []
        for index in range(calls):
            name = random_name(rng)
            while name in seen:
                name = random_name(rng)
            seen.add(name)
            _, date6, nir = rows[index % len(rows)]
            batch.append((name, date6, nir))
        distinct_rounds.append(batch)

    mixed_rounds = [
        [
            distinct[index] if index % 10 == 9 else rows[rng.randrange(len(rows))]
            for index in range(calls)
        ]
        for distinct in distinct_rounds
    ]

    run("warm names, YYMMDD strings", rounds, lambda _: warm, cold=False)
    run("all-distinct names, YYMMDD strings", rounds, distinct_rounds.__getitem__, cold=True)
    run("mixed 90 % known / 10 % new names", rounds, mixed_rounds.__getitem__, cold=True)
    run("warm names, datetime.date objects", rounds, lambda _: dated, cold=False)


if __name__ == "__main__":
    main()
