"""Faults (QUALITY.md §5): storage and database failures during an upload leave no orphan
(no file without a row, no row without a file); reads keep working; the sweeper removes what
a crash left behind; a retry stores exactly what is missing."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from identity.models import Patient, Professional
from imaging.models import ImagingStudy, Instance, PreviewStatus
from imaging.storage import random_key
from imaging.sweeper import orphans_sweep
from records.pdf import build_text_pdf
from records.services.content import report_deposit

from .conftest import Census, ct_series, deposit, logged_in, stored_files, upload

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]


@pytest.fixture
def client(doctor: Professional) -> Client:
    return logged_in(doctor.user)


def _rows_match_files(root: Path) -> None:
    """No file without a row, no row without a file."""
    names = {str(p.relative_to(root)) for p in stored_files(root)}
    referenced = set(Instance.objects.values_list("file", flat=True))
    referenced |= set(Instance.objects.exclude(preview="").values_list("preview", flat=True))
    from imaging.models import Series

    referenced |= set(Series.objects.exclude(thumbnail="").values_list("thumbnail", flat=True))
    assert names == referenced


def _failing_save(after: int, error: BaseException) -> Any:
    calls = {"n": 0}
    original = FileSystemStorage._save

    def save(self: FileSystemStorage, name: str, content: Any) -> str:
        calls["n"] += 1
        if calls["n"] > after:
            raise error
        return original(self, name, content)

    return save


def test_storage_down_clean_french_error_no_row_reads_keep_working(
    client: Client,
    alice: Patient,
    study: ImagingStudy,
    private_storage: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = Census.take(private_storage)
    monkeypatch.setattr(FileSystemStorage, "_save", _failing_save(0, OSError(28, "disk full")))
    response = upload(client, alice, ct_series(3))
    assert response.status_code == 400
    text = response.content.decode()
    assert "stockage des images est momentanément indisponible" in text
    assert Census.take(private_storage) == before
    # Reads keep working while writes fail.
    series = study.series.get()
    instance = series.instances.first()
    assert instance is not None
    assert client.get(reverse("imaging:series_viewer", args=[series.public_id])).status_code == 200
    render = client.get(reverse("imaging:instance_render", args=[instance.public_id]))
    assert render.status_code == 200 and render.content.startswith(b"\x89PNG")
    _rows_match_files(private_storage)


def test_storage_failing_midway_keeps_the_first_files_and_stops(
    client: Client, alice: Patient, private_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FileSystemStorage, "_save", _failing_save(2, OSError("S3 500")))
    response = upload(client, alice, ct_series(5))
    page = client.get(response["Location"])
    assert Instance.objects.count() == 2
    assert page.content.decode().count("momentanément indisponible") == 3
    _rows_match_files(private_storage)
    monkeypatch.undo()


def test_retry_after_a_failure_stores_exactly_the_missing_files(
    client: Client, alice: Patient, private_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = ct_series(5)
    monkeypatch.setattr(FileSystemStorage, "_save", _failing_save(2, OSError("timeout")))
    upload(client, alice, files)
    monkeypatch.undo()
    upload(client, alice, files)
    assert Instance.objects.count() == 5 and ImagingStudy.objects.count() == 1
    assert len(stored_files(private_storage)) == 5
    _rows_match_files(private_storage)


def _flaky_create(monkeypatch: pytest.MonkeyPatch, fails: Any) -> None:
    calls = {"n": 0}
    create = Instance.objects.create

    def flaky(**kwargs: Any) -> Instance:
        calls["n"] += 1
        if fails(calls["n"]):
            raise OperationalError("server closed the connection unexpectedly")
        return create(**kwargs)

    monkeypatch.setattr(Instance.objects, "create", flaky)


def test_database_failing_between_file_and_row_deletes_the_file(
    client: Client, alice: Patient, private_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging.services import imports

    monkeypatch.setattr(imports, "IMPORT_CHUNK", 2)  # rows of 2 files per transaction
    _flaky_create(monkeypatch, lambda n: n >= 3)  # the database goes away after 2 rows
    response = upload(client, alice, ct_series(5))
    page = client.get(response["Location"])
    assert Instance.objects.count() == 2
    assert page.content.decode().count("base de données est momentanément indisponible") == 3
    _rows_match_files(private_storage)


def test_a_transient_database_error_is_retried_file_by_file(
    client: Client, alice: Patient, private_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _flaky_create(monkeypatch, lambda n: n == 2)  # the batch fails once
    upload(client, alice, ct_series(3))
    assert Instance.objects.count() == 3 and ImagingStudy.objects.count() == 1
    _rows_match_files(private_storage)


def test_a_failure_creating_the_first_row_leaves_no_entry(
    client: Client, alice: Patient, private_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_kwargs: Any) -> Instance:
        raise OperationalError("gone")

    monkeypatch.setattr(Instance.objects, "create", broken)
    response = upload(client, alice, ct_series(2))
    assert response.status_code == 400
    assert Census.take(private_storage).entries == 0 and stored_files(private_storage) == []


def test_a_preview_storage_error_leaves_it_pending_then_the_sweeper_retries(
    doctor: Professional, alice: Patient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        FileSystemStorage, "open", lambda *a, **k: (_ for _ in ()).throw(OSError("read error"))
    )
    deposit(doctor.user, alice, ct_series(2), tmp_path / "in")
    assert set(Instance.objects.values_list("preview_status", flat=True)) == {"pending"}
    monkeypatch.undo()
    Instance.objects.update(created_at=Instance.objects.first().created_at.replace(year=2000))  # type: ignore[union-attr]
    report = orphans_sweep(grace_seconds=3600)
    assert report.previews_requeued == 2
    assert set(Instance.objects.values_list("preview_status", flat=True)) == {PreviewStatus.READY}


# ------------------------------------------------------------------------- sweeper


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_sweeper_removes_old_orphans_and_keeps_the_rest(
    study: ImagingStudy, private_storage: Path, staging_dir: Path
) -> None:
    kept = stored_files(private_storage)
    old_orphan = default_storage.save(random_key(".dcm"), io.BytesIO(b"x"))
    young_orphan = default_storage.save(random_key(".dcm"), io.BytesIO(b"y"))
    _age(private_storage / old_orphan, 2 * 86400)
    for path in kept:
        _age(path, 2 * 86400)  # referenced files are never removed, whatever their age
    old_staged = staging_dir / ("a" * 32)
    old_staged.mkdir(parents=True)
    (old_staged / "0.dcm").write_bytes(b"x")
    _age(old_staged / "0.dcm", 2 * 86400)
    young_staged = staging_dir / ("b" * 32)
    young_staged.mkdir()
    (young_staged / "0.dcm").write_bytes(b"y")
    out = io.StringIO()
    call_command("sweep_imaging_orphans", "--grace-hours", "24", stdout=out)
    assert "orphelins supprimé(s) : 1" in out.getvalue()
    remaining = stored_files(private_storage)
    assert private_storage / old_orphan not in remaining
    assert private_storage / young_orphan in remaining
    assert set(kept) <= set(remaining)
    assert not old_staged.exists() and young_staged.exists()


def test_sweeper_dry_run_removes_nothing(study: ImagingStudy, private_storage: Path) -> None:
    orphan = default_storage.save(random_key(".png"), io.BytesIO(b"x"))
    _age(private_storage / orphan, 2 * 86400)
    report = orphans_sweep(grace_seconds=3600, dry_run=True)
    assert report.objects_removed == 1 and (private_storage / orphan).exists()
    assert report.objects_checked == len(stored_files(private_storage))


def test_sweeper_removes_orphan_report_pdfs_and_nothing_else(
    private_storage: Path, doctor: Professional, alice: Patient
) -> None:
    entry = report_deposit(
        actor=doctor.user,
        patient=alice,
        document_type="11488-4",
        title="CR",
        act_date=timezone.localdate(),
        pdf=build_text_pdf("CR", ["ligne"]),
    )
    referenced = private_storage / entry.report.pdf.name
    orphan = default_storage.save("dmp/reports/ab/abcdef.pdf", io.BytesIO(b"%PDF"))
    elsewhere = default_storage.save("exports/ab/abcdef.zip", io.BytesIO(b"PK"))
    for path in (referenced, private_storage / orphan, private_storage / elsewhere):
        _age(path, 10 * 86400)
    assert orphans_sweep(grace_seconds=3600).objects_removed == 1
    assert referenced.exists() and (private_storage / elsewhere).exists()
    assert not (private_storage / orphan).exists()
