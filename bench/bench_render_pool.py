"""What drawing in a render worker costs: the same render in process and through the pool.

    .venv/bin/python bench/bench_render_pool.py [--rounds N] [--reps N]

Previews and viewer images are drawn in worker processes (``imaging/render_pool.py``) so that
a render can be killed at its time limit. This measures the price: per render, the same file
already open, ``render_thumbnail_png`` called here against ``RenderPool.render`` of the same
call (descriptor passed to a warm worker, PNG sent back), in interleaved rounds, medians
(QUALITY.md §6: only same-run ratios count). Cases: a 512² CT as a 256 px preview and at
full size (the viewer; the largest PNG to send back), and a 2048² image as a preview.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imaging.dicom import render_thumbnail_png  # noqa: E402
from imaging.render_pool import RenderPool  # noqa: E402
from tests.imaging import dicom_factory as F  # noqa: E402


def in_process(path: Path, size: int, reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        with open(path, "rb") as fh:
            render_thumbnail_png(fh, size=size)
    return (time.perf_counter() - start) / reps


def in_worker(pool: RenderPool, path: Path, size: int, reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        with open(path, "rb") as fh:
            pool.render(render_thumbnail_png, fh.fileno(), timeout=30, size=size)
    return (time.perf_counter() - start) / reps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-pool-"))
    ct = F.write(folder / "ct512.dcm", F.ct_slice(512, 512))
    big = F.write(folder / "big2048.dcm", F.ct_slice(2048, 2048, seed=1))
    cases = [("ct512 → 256 px", ct, 256), ("ct512 → 512 px", ct, 512), ("2048² → 256 px", big, 256)]
    pool = RenderPool(1)
    for _name, path, size in cases:  # warm: worker started, imports and caches filled
        in_process(path, size, 3)
        in_worker(pool, path, size, 3)
    ours: dict[str, list[float]] = {name: [] for name, _p, _s in cases}
    pooled: dict[str, list[float]] = {name: [] for name, _p, _s in cases}
    for round_ in range(args.rounds):
        for name, path, size in cases:
            first, second = (in_process, in_worker) if round_ % 2 else (in_worker, in_process)
            for measure in (first, second):
                if measure is in_process:
                    ours[name].append(in_process(path, size, args.reps))
                else:
                    pooled[name].append(in_worker(pool, path, size, args.reps))
    pool.close()
    print(f"{args.rounds} interleaved rounds × {args.reps} renders, medians")
    print(f"{'case':<18}{'in process':>12}{'in a worker':>13}{'ratio':>8}{'overhead':>11}")
    for name, _path, _size in cases:
        here, there = statistics.median(ours[name]), statistics.median(pooled[name])
        print(
            f"{name:<18}{here * 1e3:>9.2f} ms{there * 1e3:>10.2f} ms{there / here:>8.2f}"
            f"{(there - here) * 1e3:>8.2f} ms"
        )


if __name__ == "__main__":
    main()
