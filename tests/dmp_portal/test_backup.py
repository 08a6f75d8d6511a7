"""A backup restored into an empty database and an empty storage holds every entry, every file
and every trail event, and the trail (with its signed checkpoints) still verifies.

The backup is taken here, from the test database; the restoration runs in another process, as
an operator would: ``migrate`` then ``dmp_restore`` on a new SQLite file, a new storage folder
and a new checkpoints folder; then ``verify_access_log`` there."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dmp_portal.backup import stored_names
from identity.models import Patient, Professional
from imaging.models import Instance
from records import access
from records.models import AccessAction, AccessEvent, Entry
from records.services.care import read_traced
from records.trail import log_integrate_all
from tests.imaging.conftest import ct_series, deposit
from tests.live import clean_env, manage
from tests.records.helpers import allergy, lab, pdf_bytes, report

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SUMMARY = """
import hashlib, json
from django.core.files.storage import default_storage
from dmp_portal.backup import stored_names
from records.models import AccessEvent, Entry, TreeHead
def sha(name):
    with default_storage.open(name, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()
print(json.dumps({
    "entries": sorted(str(e) for e in Entry.objects.values_list("public_id", flat=True)),
    "files": {name: sha(name) for name in stored_names()},
    "events": list(
        AccessEvent.objects.order_by("id").values_list("id", "leaf_index", "detail_digest")
    ),
    "heads": list(TreeHead.objects.order_by("size").values_list("size", "root", "signature")),
}))
"""


@pytest.fixture
def storage(settings: Any, tmp_path: Path) -> Path:
    """Private files under tmp_path, never var/private."""
    backend = "django.core.files.storage.FileSystemStorage"
    location = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": backend, "OPTIONS": {"location": location}},
    }
    return location


def _source_summary(storage: Path) -> dict[str, Any]:
    from records.models import TreeHead

    return {
        "entries": sorted(str(e) for e in Entry.objects.values_list("public_id", flat=True)),
        "files": {
            name: hashlib.sha256((storage / name).read_bytes()).hexdigest()
            for name in stored_names()
        },
        "events": [
            list(row)
            for row in AccessEvent.objects.order_by("id").values_list(
                "id", "leaf_index", "detail_digest"
            )
        ],
        "heads": [
            list(row)
            for row in TreeHead.objects.order_by("size").values_list("size", "root", "signature")
        ],
    }


def test_backup_restores_every_entry_file_and_event_and_the_trail_verifies(
    alice: Patient, doctor: Professional, storage: Path, tmp_path: Path, settings: Any
) -> None:
    report(doctor, alice, title="CR opératoire", pdf=pdf_bytes("CR opératoire"))
    lab(doctor, alice)
    allergy(doctor, alice)
    assert deposit(doctor.user, alice, ct_series(2), tmp_path / "in") is not None
    dmp = access.dmp_for(doctor.user, alice.public_id)
    read_traced(actor=doctor.user, dmp=dmp, action=AccessAction.TIMELINE_VIEW)
    log_integrate_all()  # every event in the tree, under a signed head
    source = _source_summary(storage)
    assert len(source["files"]) >= 5  # the PDF, two DICOM files and their previews
    assert Instance.objects.count() == 2

    backup = tmp_path / "backup"
    call_command("dmp_backup", str(backup))
    manifest = json.loads((backup / "manifest.json").read_text())
    assert {item["name"] for item in manifest["files"]} == set(source["files"])
    with pytest.raises(CommandError, match="exists already"):
        call_command("dmp_backup", str(backup))

    # An empty database, storage and checkpoints folder, in another process.
    target = tmp_path / "restored"
    target.mkdir()
    env = clean_env(
        DMP_EMBEDDED="1",
        DMP_VAR_DIR=str(target),
        DMP_TRAIL_CHECKPOINT_DIR=str(target / "checkpoints"),
    )
    manage("migrate", "--noinput", env=env)
    assert "Restored" in manage("dmp_restore", str(backup), env=env)
    restored = json.loads(manage("shell", "-c", SUMMARY, env=env).strip().splitlines()[-1])
    assert restored == source
    assert {
        p.relative_to(target / "private").as_posix()
        for p in (target / "private").rglob("*")
        if p.is_file()
    } == set(source["files"])
    verified = manage("verify_access_log", env=env)
    assert f"{len(source['events'])} leaves verified, {len(source['heads'])} signed" in verified

    # Restoring twice, or into a database that has accounts, is refused.
    with pytest.raises(RuntimeError, match="not empty"):
        manage("dmp_restore", str(backup), env=env)


def test_a_tampered_backup_is_refused(
    alice: Patient, doctor: Professional, storage: Path, tmp_path: Path
) -> None:
    report(doctor, alice, title="CR", pdf=pdf_bytes("CR"))
    backup = tmp_path / "backup"
    call_command("dmp_backup", str(backup))
    (pdf,) = [path for path in (backup / "files").rglob("*") if path.is_file()]
    pdf.write_bytes(pdf.read_bytes() + b"x")
    target = tmp_path / "restored"
    target.mkdir()
    env = clean_env(DMP_EMBEDDED="1", DMP_VAR_DIR=str(target))
    manage("migrate", "--noinput", env=env)
    with pytest.raises(RuntimeError, match="differs from the one backed up"):
        manage("dmp_restore", str(backup), env=env)
    stored = target / "private"
    assert not stored.exists() or not [p for p in stored.rglob("*") if p.is_file()]
