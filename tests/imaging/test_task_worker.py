"""Previews off the request path: the database task backend (django-tasks-db) and its worker
(``manage.py db_worker``). The upload answers once the files are stored and checked; the worker
makes the previews; a worker killed in the middle of a series loses nothing and redoes
nothing (the sweeper enqueues what it left, and only that)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.tasks.base import TaskResultStatus
from django.test import Client
from django.urls import reverse
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from identity.models import Patient, Professional
from imaging import previews
from imaging.models import ImagingStudy, Instance, PreviewStatus, Series
from imaging.previews import previews_make
from imaging.sweeper import previews_requeue

from .conftest import ct_series, deposit, stored_files, upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def database_tasks(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    # The worker runs in this process: leave pytest's signal handlers alone.
    monkeypatch.setattr(Worker, "configure_signals", lambda self: None)


def run_worker() -> None:
    """``manage.py db_worker --batch``: every queued task, then exit."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)


def statuses() -> set[str]:
    return set(Instance.objects.values_list("preview_status", flat=True))


def previews_stored(root: Path) -> list[Path]:
    return [path for path in stored_files(root) if path.suffix == ".png"]


def test_upload_answers_before_previews_then_the_worker_makes_them(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    client = Client()
    client.force_login(doctor.user)
    response = upload(client, alice, ct_series(3))
    assert response.status_code == 303
    # Stored and checked: three rows and three files; no preview yet, one task queued.
    assert Instance.objects.count() == 3 and statuses() == {PreviewStatus.PENDING}
    assert previews_stored(private_storage) == []
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1
    study = ImagingStudy.objects.get()
    page = client.get(reverse("imaging:study_detail", args=[study.entry.public_id]))
    assert "aperçu en préparation" in page.content.decode()

    run_worker()
    assert statuses() == {PreviewStatus.READY}
    assert len(previews_stored(private_storage)) == 4  # three previews, one series thumbnail
    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL
    page = client.get(reverse("imaging:study_detail", args=[study.entry.public_id]))
    assert reverse("imaging:series_thumbnail", args=[Series.objects.get().public_id]) in (
        page.content.decode()
    )


def test_a_worker_killed_mid_series_is_retried_nothing_lost_nothing_twice(
    doctor: Professional,
    alice: Patient,
    tmp_path: Path,
    private_storage: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.DMP_IMAGING_PREVIEW_RETRY_SECONDS = 60
    deposit(doctor.user, alice, ct_series(30), tmp_path / "in", previews=False)
    ids = sorted(Instance.objects.values_list("pk", flat=True))
    task = DBTaskResult.objects.get()  # enqueued by the import, once its rows were committed
    assert task.args_kwargs["kwargs"]["instance_ids"] == ids
    # A worker claims the task, records the first 25 previews (one transaction), and is
    # killed while drawing the 26th: its task stays "running" for ever, 5 stay pending.
    task.claim("killed-worker")
    drawn = previews._preview_one

    def killed_at_26th(instance: Instance) -> Any:
        if instance.pk == ids[25]:
            raise KeyboardInterrupt("SIGKILL")
        return drawn(instance)

    monkeypatch.setattr(previews, "_preview_one", killed_at_26th)
    with pytest.raises(KeyboardInterrupt):
        previews_make(instance_ids=ids)
    monkeypatch.setattr(previews, "_preview_one", drawn)
    assert Instance.objects.filter(preview_status=PreviewStatus.PENDING).count() == 5
    made_before = dict(Instance.objects.filter(pk__in=ids[:25]).values_list("pk", "preview"))
    assert len(previews_stored(private_storage)) == 25
    # While the task may still be alive, the sweeper leaves its instances alone.
    Instance.objects.update(created_at=task.started_at - timedelta(hours=1))
    assert previews_requeue() == 0
    # Past the delay, the task is taken for dead: only what it left is enqueued again.
    DBTaskResult.objects.filter(pk=task.pk).update(started_at=task.started_at - timedelta(hours=1))
    assert previews_requeue() == 5
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1
    run_worker()
    assert statuses() == {PreviewStatus.READY}
    kept = dict(Instance.objects.filter(pk__in=ids[:25]).values_list("pk", "preview"))
    assert kept == made_before  # the first 25 were not redone
    names = set(Instance.objects.values_list("preview", flat=True))
    assert len(names) == 30  # one preview each
    # Every stored PNG belongs to a row: 30 previews and the series thumbnail, nothing twice.
    assert len(previews_stored(private_storage)) == 31
    assert Series.objects.get().thumbnail_status == PreviewStatus.READY
    assert previews_requeue() == 0


def test_the_sweeper_command_requeues_previews_only(
    doctor: Professional, alice: Patient, tmp_path: Path, settings: Any
) -> None:
    settings.DMP_IMAGING_PREVIEW_RETRY_SECONDS = 60
    deposit(doctor.user, alice, ct_series(2), tmp_path / "in", previews=False)
    long_ago = Instance.objects.get(instance_number=1).created_at.replace(year=2000)
    Instance.objects.update(created_at=long_ago)
    # Its task was taken by a worker that died long ago.
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING, started_at=long_ago)
    from io import StringIO

    out = StringIO()
    call_command("sweep_imaging_orphans", "--previews-only", stdout=out)
    assert "Aperçus relancés : 2." in out.getvalue()
    run_worker()
    assert statuses() == {PreviewStatus.READY}


def test_the_study_page_learns_of_each_thumbnail_as_it_arrives(
    doctor: Professional, alice: Patient, django_assert_num_queries: Any
) -> None:
    client = Client()
    client.force_login(doctor.user)
    from pydicom.uid import generate_uid

    same_study = generate_uid()
    upload(client, alice, ct_series(2, study_uid=same_study) + ct_series(1, study_uid=same_study))
    study = ImagingStudy.objects.get()
    url = reverse("imaging:study_previews", args=[study.entry.public_id])
    page = client.get(reverse("imaging:study_detail", args=[study.entry.public_id])).content
    assert url.encode() in page and b"imaging_study.js" in page
    before = client.get(url).json()
    assert before["pending"] is True
    assert [s["state"] for s in before["series"]] == ["pending", "pending"]
    assert all(s["thumbnail"] is None for s in before["series"])
    run_worker()
    # session, user with its profile (one join), study; all series in one
    with django_assert_num_queries(4):
        after = client.get(url).json()
    assert after["pending"] is False
    for series in after["series"]:
        assert series["state"] == "ready"
        assert client.get(series["thumbnail"]).content.startswith(b"\x89PNG")


def test_previews_state_of_another_study_is_missing(
    stranger_doctor: Professional, doctor: Professional, alice: Patient, tmp_path: Path
) -> None:
    study = deposit(doctor.user, alice, ct_series(1), tmp_path / "in")
    assert study is not None
    client = Client()
    client.force_login(stranger_doctor.user)
    url = reverse("imaging:study_previews", args=[study.entry.public_id])
    assert client.get(url).status_code == 404
