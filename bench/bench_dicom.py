"""Thumbnail benchmark: imaging/dicom/ against Debian's ``dcmj2pnm`` (dcmtk).

    .venv/bin/python bench/bench_dicom.py [--rounds N] [--quick] [--frames-only]

Builds its inputs in a temporary directory (synthetic CT and large images,
multi-frame files, RLE / JPEG / JPEG 2000 versions, plus small real files that
pydicom ships), then measures in *interleaved* rounds and reports medians
(QUALITY.md §6: these machines drift, only same-run ratios count):

- our warm per-file thumbnail cost, in process (``render_thumbnail_png``), at full
  quality (every pixel area-averaged; JPEG 2000 decoded at a reduced resolution
  level: the product's thumbnails) and decimated (one row and column in ``step``,
  point-sampled: faster, aliased), reported separately;
- dcmj2pnm's per-image cost with process start-up removed: each run on a file
  is paired with a run on a tiny 8 x 8 file with the same options, and the
  difference kept (dcmj2pnm takes one input file per invocation). That pairing
  also removes dcmtk's PNG encode of the 256 px result, so the *equal-work*
  ratio compares it with our render without PNG encode (``render_frame``), at
  full quality: dcmj2pnm reads and interpolates every pixel too;
- one frame of a 200-frame file against one frame of a 20-frame file (native and
  RLE), also in *paired* rounds: each round times both files back to back (order
  alternating) and keeps their ratio, so that the load of a shared machine, which
  drifts over seconds, cancels out; the target is the median of those ratios
  (``--frames-only`` measures just that, quickly);
- validation + thumbnail throughput (``inspect_and_thumbnail``: validation, hash
  and PNG) *in memory* — no HTTP, storage or rows — against a parallel dcmj2pnm
  batch (2 processes, one per file). The real upload path (HTTP, storage, rows,
  previews) against the same dcmtk batch is ``bench/bench_imaging.py``.

Targets: equal work ÷ dcmtk ≤ 1.5 for the 512² CT and ≤ 1.0 for 4096² raw and
RLE; 200-frame ÷ 20-frame ≤ 1.2; throughput ÷ dcmtk batch ≥ 3.5; 4096² JPEG 2000
thumbnail ÷ the same image's uncompressed thumbnail ≤ 3, and the 4096² JPEG 2000
thumbnail ≤ 0.5 s on this machine (informational).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pydicom  # noqa: E402

from imaging.dicom import inspect_and_thumbnail, render_frame, render_thumbnail_png  # noqa: E402
from tests.imaging import dicom_factory as F  # noqa: E402

DCMJ2PNM = shutil.which("dcmj2pnm")
THUMB = 256
PYDICOM_FILES = ["CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "examples_ybr_color.dcm"]


@dataclass
class Case:
    name: str
    path: Path
    frame: int = 0  # 0-based, given to both tools
    dcmtk_ok: bool = True
    options: list[str] = field(default_factory=list)  # dcmj2pnm options
    ours: list[float] = field(default_factory=list)  # seconds per thumbnail (full quality)
    decimated: list[float] = field(default_factory=list)  # seconds per point-sampled thumbnail
    render_only: list[float] = field(default_factory=list)  # full quality, no PNG encode
    dcmtk: list[float] = field(default_factory=list)  # seconds per image, start-up removed


# --------------------------------------------------------------------------- inputs


def build_inputs(folder: Path, quick: bool) -> list[Case]:
    """Write the benchmark files; returns them in a fixed order."""
    big = 2048 if quick else 4096
    frames = 200
    cases = [
        Case("ct512", F.write(folder / "ct512.dcm", F.ct_slice(512, 512))),
        Case("ct512_rle", F.write(folder / "ct512_rle.dcm", F.rle(F.ct_slice(512, 512)))),
        Case("ct512_j2k", F.write(folder / "ct512_j2k.dcm", F.jpeg2000(F.ct_slice(512, 512)))),
        Case("ct512_jpeg8", F.write(folder / "ct512_jpeg8.dcm", _jpeg8_ct())),
        Case(f"big{big}_raw", F.write(folder / "big_raw.dcm", F.ct_slice(big, big, seed=1))),
        Case(f"big{big}_rle", F.write(folder / "big_rle.dcm", F.rle(F.ct_slice(big, big, seed=1)))),
        Case(
            f"big{big}_j2k",
            F.write(folder / "big_j2k.dcm", F.jpeg2000(F.ct_slice(big, big, seed=1))),
        ),
        Case("mf20", F.write(folder / "mf20.dcm", F.multiframe(20, 512, 512)), frame=10),
        Case("mf200", F.write(folder / "mf200.dcm", F.multiframe(frames, 512, 512)), frame=100),
        Case("mf20_rle", F.write(folder / "mf20_rle.dcm", F.rle(F.multiframe(20, 512, 512))), 10),
        Case(
            "mf200_rle",
            F.write(folder / "mf200_rle.dcm", F.rle(F.multiframe(frames, 512, 512))),
            frame=100,
        ),
    ]
    for name in PYDICOM_FILES:  # only files already installed with pydicom
        frames_in_file = int(pydicom.dcmread(F.local_testdata(name)).get("NumberOfFrames", 1) or 1)
        cases.append(Case(name.removesuffix(".dcm"), F.local_testdata(name), frames_in_file // 2))
    return cases


def _jpeg8_ct() -> pydicom.Dataset:
    """The CT slice windowed to 8 bits and stored as JPEG baseline."""
    hu = F.ct_phantom(512, 512)
    grey = np.clip((hu + 160) / 400 * 255, 0, 255).astype(np.uint8)
    return F.jpeg_baseline(F.grey(grey, bits_stored=8, sop_class=F.CT_IMAGE, modality="CT"))


def tiny_file(folder: Path) -> Path:
    """An 8 x 8 image: dcmj2pnm on it costs start-up, parsing and PNG writing only."""
    ds = F.ct_slice(8, 8)
    return F.write(folder / "tiny.dcm", ds)


# ---------------------------------------------------------------------------- dcmtk


def dcmtk_options(case: Case) -> list[str]:
    """Same work as ours: 256 px on the long side, the file's window (else min-max)."""
    ds = pydicom.dcmread(case.path, stop_before_pixels=True)
    tall = int(ds.Rows) > int(ds.Columns)
    options = ["--write-png", "+Syv" if tall else "+Sxv", str(THUMB)]
    if str(ds.get("PhotometricInterpretation", "")).startswith("MONOCHROME"):
        options += ["+Wi", "1"] if "WindowCenter" in ds else ["+Wm"]
    return options


def run_quiet(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - fixed dcmtk binary, our own temp files
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"exit {done.returncode}")
    return elapsed


def dcmtk_per_image(case: Case, tiny: Path, out: Path, reps: int) -> float:
    """Per-image cost with process start-up removed (paired runs, mean difference)."""
    frame = ["+F", str(case.frame + 1)] if case.frame else []
    file_cmd = [str(DCMJ2PNM), *case.options, *frame, str(case.path), str(out)]
    tiny_cmd = [str(DCMJ2PNM), *case.options, str(tiny), str(out)]
    diffs = [run_quiet(file_cmd) - run_quiet(tiny_cmd) for _ in range(reps)]
    return statistics.fmean(diffs)


# ----------------------------------------------------------------------------- ours


def ours_per_file(case: Case, reps: int, *, png: bool = True, decimate: bool = False) -> float:
    draw = render_thumbnail_png if png else render_frame
    start = time.perf_counter()
    for _ in range(reps):
        draw(case.path, frame=case.frame, size=THUMB, decimate=decimate)
    return (time.perf_counter() - start) / reps


def ingest(path: str) -> int:
    """What the upload path does per file: validate, hash, then thumbnail."""
    _info, png = inspect_and_thumbnail(path, size=THUMB)
    assert png is not None
    return len(png)


def _quiet_worker() -> None:
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)


# ------------------------------------------------------------------------ reporting


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def verdict(ratio: float, target: float, higher_is_better: bool = False) -> str:
    if ratio != ratio:  # NaN
        return "n/a"
    met = ratio >= target if higher_is_better else ratio <= target
    return "MET" if met else "NOT MET"


# ---------------------------------------------------------------------------- main


def measure_cases(cases: list[Case], tiny: Path, out: Path, rounds: int) -> None:
    reps_ours = {True: 3, False: 10}
    for number in range(rounds):
        order = cases if number % 2 == 0 else list(reversed(cases))
        for case in order:
            heavy = case.name.startswith("big")
            case.ours.append(ours_per_file(case, reps_ours[heavy]))
            case.decimated.append(ours_per_file(case, reps_ours[heavy], decimate=True))
            case.render_only.append(ours_per_file(case, reps_ours[heavy], png=False))
            if DCMJ2PNM and case.dcmtk_ok:
                case.dcmtk.append(dcmtk_per_image(case, tiny, out, 2 if heavy else 5))
        print(f"  round {number + 1}/{rounds} done", flush=True)


FRAME_PAIRS = ("", "_rle")  # mf200<kind> against mf20<kind>


def measure_frame_pairs(cases: list[Case], rounds: int) -> dict[str, list[float]]:
    """Per-round ratios one frame of mf200 ÷ one frame of mf20, timed back to back."""
    by_name = {c.name: c for c in cases}
    ratios: dict[str, list[float]] = {kind: [] for kind in FRAME_PAIRS}
    for number in range(rounds):
        for kind in FRAME_PAIRS:
            small, large = by_name[f"mf20{kind}"], by_name[f"mf200{kind}"]
            first, second = (small, large) if number % 2 == 0 else (large, small)
            times = {first.name: ours_per_file(first, 5), second.name: ours_per_file(second, 5)}
            ratios[kind].append(times[large.name] / times[small.name])
    return ratios


def report_frame_pairs(cases: list[Case], ratios: dict[str, list[float]]) -> None:
    by_name = {c.name: c for c in cases}
    print(f"\nOne frame of a 200-frame file ÷ one of a 20-frame file ({len(ratios[''])} pairs)")
    for kind in FRAME_PAIRS:
        small, large = by_name[f"mf20{kind}"], by_name[f"mf200{kind}"]
        paired = med(ratios[kind])
        print(
            f"  {'mf200' + kind + ' ÷ mf20' + kind:22s} paired median = {paired:5.2f}  (≤ 1.2)"
            f"  {verdict(paired, 1.2)};  quartiles "
            f"{statistics.quantiles(ratios[kind], n=4)[0]:.2f}–"
            f"{statistics.quantiles(ratios[kind], n=4)[2]:.2f};  "
            f"{ms(med(small.ours)).strip()} vs {ms(med(large.ours)).strip()}"
        )


def measure_throughput(
    folder: Path, rounds: int, files: int
) -> tuple[list[float], list[float], list[float]]:
    """Files per second: ours in 1 process, ours in 2 processes, dcmj2pnm x 2."""
    paths = [
        str(F.write(folder / f"batch_{i:03d}.dcm", F.ct_slice(512, 512, seed=i)))
        for i in range(files)
    ]
    out_dir = folder / "batch_png"
    out_dir.mkdir()
    one, two, dcmtk = [], [], []
    with ProcessPoolExecutor(2, initializer=_quiet_worker) as pool:
        list(pool.map(ingest, paths[:4]))  # warm both workers
        for _ in range(rounds):
            start = time.perf_counter()
            for path in paths:
                ingest(path)
            one.append(files / (time.perf_counter() - start))
            start = time.perf_counter()
            list(pool.map(ingest, paths))
            two.append(files / (time.perf_counter() - start))
            if DCMJ2PNM:
                dcmtk.append(files / dcmtk_batch(paths, out_dir))
    return one, two, dcmtk


def dcmtk_batch(paths: list[str], out_dir: Path) -> float:
    """Wall time for 2 dcmj2pnm processes at a time over ``paths`` (one file each)."""
    pending = list(paths)
    running: list[subprocess.Popen[bytes]] = []
    start = time.perf_counter()
    while pending or running:
        while pending and len(running) < 2:
            path = pending.pop()
            command = [str(DCMJ2PNM), "--write-png", "+Sxv", str(THUMB), "+Wi", "1", path]
            command.append(str(out_dir / (Path(path).stem + ".png")))
            running.append(
                subprocess.Popen(  # noqa: S603 - fixed dcmtk binary, our own temp files
                    command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        running[0].wait()
        running = [p for p in running if p.poll() is None]
    return time.perf_counter() - start


def check_dcmtk(cases: list[Case], tiny: Path, out: Path) -> None:
    """Options per file, and which files dcmtk can decode at all (no JPEG 2000)."""
    for case in cases:
        case.options = dcmtk_options(case)
        try:
            dcmtk_per_image(case, tiny, out, 1)
        except RuntimeError:
            case.dcmtk_ok = False


def report(cases: list[Case], throughput: tuple[list[float], list[float], list[float]]) -> None:
    by_name = {c.name: c for c in cases}
    print("\nPer-file thumbnail (256 px), medians over rounds")
    print("  full = every pixel area-averaged (JPEG 2000: reduced resolution level decoded);")
    print("  decimated = one row/column in step, point-sampled; render = full, no PNG encode;")
    print("  equal work = render ÷ dcmj2pnm per image (its start-up and PNG encode removed)")
    header = f"{'case':24s} {'full+PNG':>11s} {'decimated':>11s} {'render':>11s}"
    print(f"{header} {'dcmj2pnm/img':>14s} {'equal work':>10s}")
    for case in cases:
        theirs = med(case.dcmtk) if case.dcmtk else float("nan")
        ratio = med(case.render_only) / theirs if theirs == theirs and theirs > 0 else float("nan")
        note = "" if case.dcmtk_ok or not DCMJ2PNM else "  (dcmtk cannot decode)"
        theirs_text = ms(theirs) if theirs == theirs else "      n/a"
        print(
            f"{case.name:24s} {ms(med(case.ours))} {ms(med(case.decimated))} "
            f"{ms(med(case.render_only))} {theirs_text:>14s} {ratio:10.2f}{note}"
        )

    print("\nTargets (equal work: our render without PNG ÷ dcmtk's per-image cost)")
    targets = [("ct512", 1.5)] + [
        (c.name, 1.0) for c in cases if c.name.startswith("big") and c.dcmtk_ok
    ]
    for name, target in targets:
        case = by_name[name]
        ratio = med(case.render_only) / med(case.dcmtk) if case.dcmtk else float("nan")
        print(f"  {name:22s} ours ÷ dcmtk   = {ratio:5.2f}  (≤ {target})  {verdict(ratio, target)}")
    for kind in ("", "_rle"):
        ratio = med(by_name[f"mf200{kind}"].ours) / med(by_name[f"mf20{kind}"].ours)
        print(
            f"  {'mf200' + kind + ' ÷ mf20' + kind:22s} one frame      = {ratio:5.2f}  (≤ 1.2)"
            f"  {verdict(ratio, 1.2)}"
        )
    big = next(c.name for c in cases if c.name.endswith("_j2k") and c.name.startswith("big"))
    j2k, raw = med(by_name[big].ours), med(by_name[big.replace("_j2k", "_raw")].ours)
    print(
        f"  {big + ' ÷ raw':22s} thumbnail      = {j2k / raw:5.2f}  (≤ 3)"
        f"  {verdict(j2k / raw, 3.0)}"
    )
    print(
        f"  {big:22s} thumbnail      = {j2k:5.2f} s (≤ 0.5 s, informational)  {verdict(j2k, 0.5)}"
    )
    one, two, dcmtk = throughput
    print("\nValidation + thumbnail throughput in memory, 512² CT (inspect_and_thumbnail;")
    print("no HTTP, storage or rows: the real upload path is bench/bench_imaging.py)")
    print(f"  ours, 1 process      {med(one):8.1f} files/s")
    print(f"  ours, 2 processes    {med(two):8.1f} files/s")
    if dcmtk:
        print(f"  dcmj2pnm, 2 parallel {med(dcmtk):8.1f} files/s (one process per file)")
        for label, values in (("1 process", one), ("2 processes", two)):
            ratio = med(values) / med(dcmtk)
            print(
                f"  ours ({label}) ÷ dcmtk batch = {ratio:5.2f}  (≥ 3.5)"
                f"  {verdict(ratio, 3.5, higher_is_better=True)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2048² instead of 4096², 3 rounds")
    parser.add_argument(
        "--frames-only", action="store_true", help="only 200-frame ÷ 20-frame (paired rounds)"
    )
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    started = time.perf_counter()
    if not DCMJ2PNM:
        print("dcmj2pnm not found (apt-get install -y dcmtk): printing our numbers only.")
    with tempfile.TemporaryDirectory(prefix="bench_dicom_") as tmp:
        folder = Path(tmp)
        print("building inputs...", flush=True)
        cases = build_inputs(folder, args.quick)
        if args.frames_only:
            cases = [c for c in cases if c.name.startswith("mf")]
        tiny, out = tiny_file(folder), folder / "out.png"
        for case in cases:  # warm-up: imports, LUT caches, page cache
            render_thumbnail_png(case.path, frame=case.frame, size=THUMB)
        if DCMJ2PNM:
            check_dcmtk(cases, tiny, out)
        print(f"inputs ready in {time.perf_counter() - started:.1f} s; measuring...", flush=True)
        if args.frames_only:
            for case in cases:
                case.ours = [ours_per_file(case, 5) for _ in range(3)]
            report_frame_pairs(cases, measure_frame_pairs(cases, 5 * rounds))
            return
        measure_cases(cases, tiny, out, rounds)
        pairs = measure_frame_pairs(cases, 3 * rounds)
        throughput = measure_throughput(folder, rounds, files=40)
        report(cases, throughput)
        report_frame_pairs(cases, pairs)
    print(f"\nversions: python {sys.version.split()[0]}, pydicom {pydicom.__version__}")
    if DCMJ2PNM:
        version = subprocess.run(  # noqa: S603
            [DCMJ2PNM, "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        print(f"reference: {version[0] if version else 'dcmj2pnm'}")
    print(f"cpus: {os.cpu_count()}, total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
