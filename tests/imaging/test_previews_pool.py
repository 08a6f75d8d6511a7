"""The render workers (``imaging.render_pool``) on their own: renders are drawn in processes
that live across renders, a render past its limit kills its worker and the next render gets
a new one, a crash or an exception is reported by class, a full pool postpones instead of
queueing past the limit."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imaging import render_pool
from imaging.dicom import DicomRejected, render_thumbnail_png
from imaging.render_pool import RenderFailed, RenderPool, RenderPostponed, worker_file

from . import dicom_factory as F
from . import test_previews_renderers as R

MARGIN = 2.0  # seconds: killing a worker and answering


@pytest.fixture
def pool() -> Iterator[RenderPool]:
    made = RenderPool(2)
    yield made
    made.close()


@pytest.fixture
def ct(tmp_path: Path) -> Path:
    return F.write(tmp_path / "ct.dcm", F.ct_slice(64, 64))


def _pid(pool: RenderPool, path: Path, timeout: float = 10) -> int:
    with open(path, "rb") as fh:
        return int(pool.render(R.pid, fh.fileno(), timeout=timeout))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_real_renderer_draws_the_same_image_in_a_worker(pool: RenderPool, ct: Path) -> None:
    with open(ct, "rb") as fh:
        drawn = pool.render(render_thumbnail_png, fh.fileno(), timeout=10, size=32)
    assert drawn == render_thumbnail_png(ct, size=32)


def test_workers_live_across_renders(pool: RenderPool, ct: Path) -> None:
    first = _pid(pool, ct)
    assert first != os.getpid()
    assert {_pid(pool, ct) for _ in range(5)} == {first}  # not a process per file


def test_the_worker_reads_the_descriptor_it_is_given_with_the_options(
    pool: RenderPool, ct: Path
) -> None:
    with open(ct, "rb") as fh:
        fh.read(100)  # the caller's position does not matter
        got = pool.render(R.first_bytes, fh.fileno(), timeout=10, size=7, frame=None)
    assert got == ct.read_bytes()[:8] + repr([("frame", None), ("size", 7)]).encode()
    with worker_file(io.BytesIO(b"in memory, no descriptor")) as fd:
        assert pool.render(R.first_bytes, fd, timeout=10) == b"in memor[]"


def test_a_render_past_its_limit_kills_its_worker_and_the_next_gets_another(
    pool: RenderPool, ct: Path
) -> None:
    before = _pid(pool, ct)
    started = time.monotonic()
    with open(ct, "rb") as fh, pytest.raises(RenderFailed) as failed:
        pool.render(R.sleeps, fh.fileno(), timeout=0.5)
    assert failed.value.reason == "timeout"
    assert time.monotonic() - started < 0.5 + MARGIN
    assert not _alive(before)  # the hung worker is gone, not left running
    assert _pid(pool, ct) not in {before, os.getpid()}


@pytest.mark.parametrize(
    ("renderer", "reason"),
    [
        (R.raises_runtime_error, "RuntimeError"),
        (R.exhausts_memory, "MemoryError"),
        (R.recurses, "RecursionError"),
        (R.crashes, "worker died"),
    ],
)
def test_a_failing_render_is_reported_by_class_and_its_worker_replaced(
    pool: RenderPool, ct: Path, renderer: render_pool.Renderer, reason: str
) -> None:
    before = _pid(pool, ct)
    with open(ct, "rb") as fh, pytest.raises(RenderFailed) as failed:
        pool.render(renderer, fh.fileno(), timeout=10)
    assert failed.value.reason == reason
    assert str(failed.value) == reason  # never the exception's message
    after = _pid(pool, ct)
    assert after != before and not _alive(before)


def test_a_refusal_comes_back_as_it_was_raised_and_keeps_the_worker(
    pool: RenderPool, ct: Path
) -> None:
    before = _pid(pool, ct)
    with open(ct, "rb") as fh, pytest.raises(DicomRejected) as refused:
        pool.render(R.rejects, fh.fileno(), timeout=10)
    assert refused.value.code == "decode_failed"
    assert _pid(pool, ct) == before


def test_a_full_pool_postpones_within_the_limit(ct: Path) -> None:
    one = RenderPool(1)
    _pid(one, ct)  # started: what is timed below is the wait, not the start-up
    hung = threading.Thread(target=_hang, args=(one, ct), daemon=True)
    hung.start()
    time.sleep(0.3)  # the only worker is now busy
    started = time.monotonic()
    with pytest.raises(RenderPostponed):
        _pid(one, ct, timeout=0.5)
    assert time.monotonic() - started < 0.5 + MARGIN
    hung.join()
    assert _pid(one, ct) > 0  # free again once the hung render was stopped
    one.close()


def _hang(pool: RenderPool, path: Path, timeout: float = 1.5) -> None:
    with open(path, "rb") as fh, pytest.raises(RenderFailed):
        pool.render(R.sleeps, fh.fileno(), timeout=timeout)


def test_a_render_cut_short_by_the_wait_for_a_worker_is_postponed_not_failed(ct: Path) -> None:
    """The file did not get its full limit: nothing says it would not render."""
    one = RenderPool(1)
    _pid(one, ct)
    hung = threading.Thread(target=_hang, args=(one, ct, 0.6), daemon=True)
    hung.start()
    time.sleep(0.2)
    with open(ct, "rb") as fh, pytest.raises(RenderPostponed):
        one.render(R.sleeps, fh.fileno(), timeout=1.0)  # gets the worker at ~0.6 s
    hung.join()
    one.close()


def test_a_worker_is_replaced_after_its_quota_of_renders(
    pool: RenderPool, ct: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render_pool, "JOBS_PER_WORKER", 2)
    first, again, third = (_pid(pool, ct) for _ in range(3))
    assert first == again != third


def test_a_worker_killed_while_idle_is_replaced(pool: RenderPool, ct: Path) -> None:
    before = _pid(pool, ct)
    os.kill(before, 9)
    time.sleep(0.2)
    assert _pid(pool, ct) != before


def test_the_shared_pool_is_one_per_process() -> None:
    assert render_pool.shared_pool(2) is render_pool.shared_pool(2)


def test_a_render_past_its_memory_limit_fails_and_the_worker_is_replaced(ct: Path) -> None:
    capped = RenderPool(1, memory=512 << 20)
    try:
        first = _pid(capped, ct)
        with open(ct, "rb") as fh, pytest.raises(RenderFailed) as failed:
            capped.render(R.hog, fh.fileno(), timeout=10)
        assert failed.value.reason == "MemoryError"
        assert _pid(capped, ct) != first  # a fresh worker; the caller lived on
        with open(ct, "rb") as fh:  # and renders go on within the limit
            drawn = capped.render(render_thumbnail_png, fh.fileno(), timeout=10, size=32)
        assert drawn == render_thumbnail_png(ct, size=32)
    finally:
        capped.close()
