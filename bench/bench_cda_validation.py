"""Benchmark: the deposit-time validation of CDA documents with the ANS's material
(``records.cda.ans``): what the first deposit of a process pays (compiling each schematron)
and what every deposit pays afterwards (schema + header schematron, + CR-BIO for a lab report).

Usage (from the repository root, the material in ``var/ans-cda`` or ``$DMP_ANS_CDA_DIR``)::

    DMP_EMBEDDED=1 .venv/bin/python bench/bench_cda_validation.py DOC.xml [DOC.xml…] [--rounds 20]

The documents are CDA files as the portal produces them (``Télécharger en CDA R2`` on a report
and on a lab report). One process; compile times are one-off (each is measured once, cold);
validation times are medians over ``--rounds`` rounds, printed with the minimum and maximum.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dmp_portal.settings")
os.environ.setdefault("DMP_EMBEDDED", "1")


def main() -> None:
    import django

    django.setup()
    from lxml import etree

    from records.cda import ans
    from records.cda.read import _conformant

    parser = argparse.ArgumentParser()
    parser.add_argument("documents", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=20)
    options = parser.parse_args()
    base = ans.material()
    if base is None:
        sys.exit("ANS material absent (DMP_ANS_CDA_DIR)")
    for schematron in (ans.HEADER, ans.CR_BIO):
        start = time.perf_counter()
        ans._executable(base, schematron)
        print(f"compile {schematron}: {time.perf_counter() - start:.2f} s (once per process)")
    for path in options.documents:
        root = etree.fromstring(path.read_bytes())
        times = []
        for _ in range(options.rounds):
            start = time.perf_counter()
            _conformant(root)
            times.append((time.perf_counter() - start) * 1000)
        print(
            f"validate {path.name} ({path.stat().st_size} bytes): median "
            f"{statistics.median(times):.1f} ms (min {min(times):.1f}, max {max(times):.1f}, "
            f"{options.rounds} rounds)"
        )


if __name__ == "__main__":
    main()
