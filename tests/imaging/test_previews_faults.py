"""A preview or a viewer render that fails (QUALITY.md §5): the renderer raises (any exception,
MemoryError and RecursionError included), crashes its process or hangs past the time limit →
the instance keeps its row, its preview ends "aperçu indisponible" (never pending for ever),
the log names the exception class and no patient data, the request returns within the limit,
and the next render works. A preview left pending by a crashed worker is made by the sweeper.

The failing renderers live in ``test_previews_renderers`` (the render workers import them)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional
from imaging import previews
from imaging.models import ImagingStudy, Instance, PreviewStatus, Series
from imaging.render_pool import RenderPool, RenderPostponed
from imaging.sweeper import orphans_sweep

from . import test_previews_renderers as R
from .conftest import ct_series, deposit, logged_in, stored_files, upload

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]

LIMIT = 1  # seconds: DMP_IMAGING_RENDER_TIMEOUT in these tests
MARGIN = 2.5  # seconds over the limit a request may take (killing and replacing a worker)
PATIENT_DATA = ("DUPONT", "ALICE", "IPP-0042", "19850514")

FAILING = {
    "RuntimeError": R.raises_runtime_error,
    "MemoryError": R.exhausts_memory,
    "RecursionError": R.recurses,
}


@pytest.fixture(autouse=True)
def _short_limit(settings: Any) -> None:
    settings.DMP_IMAGING_RENDER_TIMEOUT = LIMIT


@pytest.fixture
def client(doctor: Professional) -> Client:
    return logged_in(doctor.user)


Upload = Callable[[list[bytes]], Any]


@pytest.fixture
def send(client: Client, alice: Patient, django_capture_on_commit_callbacks: Any) -> Upload:
    """Upload files as the doctor; the previews task runs after the commit, as in production
    (the embedded backend runs it at once, inside the request)."""

    def send(files: list[bytes]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return upload(client, alice, files)

    return send


def _use(monkeypatch: pytest.MonkeyPatch, renderer: Callable[..., bytes]) -> None:
    monkeypatch.setattr(previews, "render_thumbnail_png", renderer)


def _statuses() -> set[str]:
    return set(Instance.objects.values_list("preview_status", flat=True))


def _no_patient_data(caplog: pytest.LogCaptureFixture) -> None:
    logged = caplog.text
    assert not [word for word in PATIENT_DATA if word in logged]
    assert "codec bug" not in logged  # the exception's message is not logged, only its class


def _study_pages_say_unavailable(client: Client) -> None:
    series = Series.objects.get()
    study = series.study
    detail = client.get(reverse("imaging:study_detail", args=[study.entry.public_id]))
    assert "aperçu indisponible" in detail.content.decode()
    viewer = client.get(reverse("imaging:series_viewer", args=[series.public_id]))
    assert viewer.status_code == 200 and "aperçu indisponible" in viewer.content.decode()


def _renders_again(send: Upload, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker lives: with the real renderer back, a new upload gets its previews."""
    monkeypatch.undo()
    before = set(Instance.objects.values_list("pk", flat=True))
    assert send(ct_series(2)).status_code == 303
    new = Instance.objects.exclude(pk__in=before)
    assert set(new.values_list("preview_status", flat=True)) == {PreviewStatus.READY}


# ------------------------------------------------------------------ previews (the task)


@pytest.mark.parametrize("error", [*sorted(FAILING), "worker died"])
def test_a_renderer_that_raises_or_crashes_ends_unavailable_and_the_rows_stay(
    error: str,
    client: Client,
    send: Upload,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="imaging")
    _use(monkeypatch, FAILING.get(error, R.crashes))  # a segfault kills the worker process
    assert send(ct_series(2)).status_code == 303
    assert Instance.objects.count() == 2
    assert _statuses() == {PreviewStatus.UNAVAILABLE}
    series = Series.objects.get()
    assert series.thumbnail_status == PreviewStatus.UNAVAILABLE and not series.thumbnail
    assert caplog.text.count(f"failed: {error}") == 2
    _no_patient_data(caplog)
    _study_pages_say_unavailable(client)
    _renders_again(send, monkeypatch)


def test_a_preview_past_the_limit_is_unavailable_and_the_upload_returns(
    client: Client,
    send: Upload,
    study: ImagingStudy,  # the workers are warm: what is timed is the render, not start-up
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="imaging")
    _use(monkeypatch, R.sleeps)
    started = time.monotonic()
    response = send(ct_series(1))
    elapsed = time.monotonic() - started
    assert response.status_code == 303
    assert elapsed < LIMIT + MARGIN, elapsed
    hung = Instance.objects.exclude(series__study=study).get()
    assert hung.preview_status == PreviewStatus.UNAVAILABLE and not hung.preview
    assert "failed: timeout" in caplog.text
    _no_patient_data(caplog)
    _renders_again(send, monkeypatch)


def test_busy_render_workers_leave_previews_pending_for_the_sweeper(
    send: Upload, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def busy(*_args: Any, **_kwargs: Any) -> bytes:
        raise RenderPostponed("every render worker is busy")

    monkeypatch.setattr(RenderPool, "render", busy)
    send(ct_series(2))
    assert _statuses() == {PreviewStatus.PENDING}  # nothing wrong with the files
    assert caplog.text.count("postponed (render workers busy)") == 2
    monkeypatch.undo()
    _crashed_long_ago()
    assert orphans_sweep(grace_seconds=3600).previews_requeued == 2
    assert _statuses() == {PreviewStatus.READY}


def test_a_rejected_render_still_ends_unavailable(
    client: Client, send: Upload, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, R.rejects)
    send(ct_series(2))
    assert _statuses() == {PreviewStatus.UNAVAILABLE}
    _study_pages_say_unavailable(client)


# ------------------------------------------------------------------- on-demand renders


def _render_url(instance: Instance, size: int = 64) -> str:
    return reverse("imaging:instance_render", args=[instance.public_id]) + f"?size={size}"


def _answers_unavailable(client: Client, url: str) -> float:
    """GET ``url``: a 503 saying "aperçu indisponible", not cached; returns the seconds taken."""
    started = time.monotonic()
    response = client.get(url)
    assert response.status_code == 503, url
    assert response.content.decode() == "aperçu indisponible"
    assert "no-store" in response["Cache-Control"]
    return time.monotonic() - started


def _draws(client: Client, instance: Instance) -> None:
    response = client.get(_render_url(instance))
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")


@pytest.mark.parametrize("error", sorted(FAILING))
def test_an_on_demand_render_that_raises_answers_503(
    error: str,
    client: Client,
    study: ImagingStudy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="imaging")
    first, second = Instance.objects.order_by("instance_number")[:2]
    _use(monkeypatch, FAILING[error])
    _answers_unavailable(client, _render_url(first))
    assert f"failed: {error}" in caplog.text
    _no_patient_data(caplog)
    monkeypatch.undo()
    _draws(client, second)


def test_an_on_demand_render_past_the_limit_answers_503_within_the_limit(
    client: Client, study: ImagingStudy, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = Instance.objects.order_by("instance_number")[:2]
    assert client.get(_render_url(second, 32)).status_code == 200  # warm workers
    _use(monkeypatch, R.sleeps)
    elapsed = _answers_unavailable(client, _render_url(first))
    assert elapsed < LIMIT + MARGIN, elapsed
    # The same render asked again is refused at once: a hung file does not hold a worker
    # for every request.
    assert _answers_unavailable(client, _render_url(first)) < LIMIT / 2
    assert _answers_unavailable(client, _render_url(first, 32) + "&wc=40&ww=400") < LIMIT / 2
    monkeypatch.undo()
    _draws(client, second)


def test_a_stored_preview_that_cannot_be_read_answers_503(
    client: Client, study: ImagingStudy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.files.storage import FileSystemStorage

    instance = Instance.objects.first()
    assert instance is not None
    series = instance.series

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError("read error")

    monkeypatch.setattr(FileSystemStorage, "open", broken)
    urls = [
        reverse("imaging:instance_thumbnail", args=[instance.public_id]),
        reverse("imaging:series_thumbnail", args=[series.public_id]),
        _render_url(instance, 48),
    ]
    for url in urls:
        _answers_unavailable(client, url)


# --------------------------------------------------------------------------- sweeper


def _crashed_long_ago() -> None:
    first = Instance.objects.order_by("created_at").first()
    assert first is not None
    Instance.objects.update(created_at=first.created_at.replace(year=2000))


def test_previews_left_pending_by_a_crashed_worker_are_made_by_the_sweeper(
    doctor: Professional, alice: Patient, tmp_path: Path, private_storage: Path
) -> None:
    # The task's worker died before recording anything: rows pending, no preview.
    deposit(doctor.user, alice, ct_series(3), tmp_path / "in", previews=False)
    assert _statuses() == {PreviewStatus.PENDING}
    _crashed_long_ago()
    report = orphans_sweep(grace_seconds=3600)
    assert report.previews_requeued == 3
    assert _statuses() == {PreviewStatus.READY}
    series = Series.objects.get()
    assert series.thumbnail_status == PreviewStatus.READY and series.thumbnail
    assert len(stored_files(private_storage)) == 3 + 3 + 1  # files, previews, thumbnail


def test_a_series_thumbnail_left_pending_by_a_crashed_worker_is_made_by_the_sweeper(
    doctor: Professional, alice: Patient, tmp_path: Path
) -> None:
    deposit(doctor.user, alice, ct_series(2), tmp_path / "in")
    # The worker died after recording the previews, before the series' thumbnail.
    Series.objects.update(thumbnail="", thumbnail_status=PreviewStatus.PENDING)
    _crashed_long_ago()
    assert orphans_sweep(grace_seconds=3600, dry_run=True).thumbnails_settled == 1
    assert Series.objects.get().thumbnail_status == PreviewStatus.PENDING
    assert orphans_sweep(grace_seconds=3600).thumbnails_settled == 1
    series = Series.objects.get()
    assert series.thumbnail_status == PreviewStatus.READY and series.thumbnail


def test_the_sweeper_leaves_young_pending_series_alone(
    doctor: Professional, alice: Patient, tmp_path: Path
) -> None:
    deposit(doctor.user, alice, ct_series(2), tmp_path / "in")
    Series.objects.update(thumbnail="", thumbnail_status=PreviewStatus.PENDING)
    orphans_sweep(grace_seconds=3600)  # the task may still be running: not its business yet
    assert Series.objects.get().thumbnail_status == PreviewStatus.PENDING
