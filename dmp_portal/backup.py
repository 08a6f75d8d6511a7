"""A consistent backup of the portal — database, private files, the trail's signed tree heads
— into one folder, and its restoration into an empty database and storage.

Consistency: the rows are read in one snapshot (PostgreSQL: a REPEATABLE READ, READ ONLY
transaction; SQLite: one transaction); the files are those the snapshot's rows name, copied
after it. Stored files are never rewritten (new names for new content), and a file is written
before the row naming it commits, so every file a snapshot names exists — unless a purge
deleted it since, which stops the backup (run it again). The rows are Django's serialisation
(portable across PostgreSQL and SQLite, primary keys kept, so the trail's leaves verify);
every copied file carries its SHA-256 in ``manifest.json``, checked again at restoration.

Layout of a backup folder: ``manifest.json``, ``database.dmpjson``, ``files/<storage name>``,
``checkpoints/`` (the trail checkpoints folder as it was).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection, models, transaction
from django.utils import timezone

from records.trail import HEADS_FILE

FORMAT = 1
# Rebuilt by `migrate` (content types, permissions) or worthless after a restore (sessions).
EXCLUDED = ["contenttypes", "auth.permission", "sessions"]
_CHUNK = 1024 * 1024
# Django's JSON with exact times (dmp_portal/serializers.py); loaddata knows it by its suffix.
DATABASE_FILE = "database.dmpjson"


class BackupError(Exception):
    """The backup or the restoration cannot be done; the message says why (English: an
    operator's command)."""


@dataclass(frozen=True)
class Summary:
    rows: int
    files: int
    bytes: int
    events: int


def _file_models() -> list[tuple[type[models.Model], list[str]]]:
    found = []
    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
        if fields:
            found.append((model, fields))
    return found


def stored_names() -> list[str]:
    """Every storage name held by a file field of any row."""
    names: set[str] = set()
    for model, fields in _file_models():
        for row in model._base_manager.values_list(*fields).iterator():
            names.update(name for name in row if name)
    return sorted(names)


def _counts() -> dict[str, int]:
    excluded = {"contenttypes", "sessions"}
    return {
        model._meta.label: model._base_manager.count()
        for model in apps.get_models()
        if model._meta.app_label not in excluded and model._meta.label != "auth.Permission"
    }


def _copy(source: Any, target: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def backup_write(folder: Path) -> Summary:
    """Write a backup into ``folder`` (which must not exist yet)."""
    if folder.exists():
        raise BackupError(f"{folder} exists already: a backup goes into a new folder.")
    folder.mkdir(parents=True)
    # Inside a caller's transaction (a test's), that transaction is the snapshot already.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:  # the first statement of the transaction
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with (folder / DATABASE_FILE).open("w", encoding="utf-8") as out:
            call_command(
                "dumpdata", exclude=EXCLUDED, natural_foreign=True, format="dmpjson", stdout=out
            )
        names = stored_names()
        counts = _counts()
    files = []
    for name in names:
        try:
            with default_storage.open(name, "rb") as source:
                sha256, size = _copy(source, folder / "files" / name)
        except FileNotFoundError:
            raise BackupError(
                f"a stored file named by the database is missing ({name}): a purge ran during "
                "the backup? Run it again."
            ) from None
        files.append({"name": name, "sha256": sha256, "size": size})
    checkpoints = Path(settings.DMP_TRAIL_CHECKPOINT_DIR)
    if checkpoints.is_dir():
        shutil.copytree(checkpoints, folder / "checkpoints")
    manifest = {
        "format": FORMAT,
        "created": timezone.now().isoformat(),
        "database": connection.vendor,
        "rows": counts,
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return _summary(manifest)


def _summary(manifest: dict[str, Any]) -> Summary:
    return Summary(
        rows=sum(manifest["rows"].values()),
        files=len(manifest["files"]),
        bytes=sum(item["size"] for item in manifest["files"]),
        events=manifest["rows"].get("records.AccessEvent", 0),
    )


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} holds no readable manifest.json: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}.")
    for item in manifest["files"]:
        path = folder / "files" / item["name"]
        try:
            with path.open("rb") as source:
                digest = hashlib.file_digest(source, "sha256").hexdigest()
        except OSError:
            raise BackupError(f"the backup lacks the file {item['name']}.") from None
        if digest != item["sha256"]:
            raise BackupError(f"the file {item['name']} differs from the one backed up.")
    return manifest


def _require_empty() -> None:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    if user_model._base_manager.exists():
        raise BackupError("the database is not empty (it has accounts): restore into a new one.")
    heads = Path(settings.DMP_TRAIL_CHECKPOINT_DIR) / HEADS_FILE
    if heads.exists() and heads.stat().st_size:
        raise BackupError(f"{heads} is not empty: restore into a new checkpoints folder.")


def backup_restore(folder: Path) -> Summary:
    """Restore the backup in ``folder`` into this (migrated, empty) database and storage:
    the rows, then the files under their own names, then the checkpoints."""
    manifest = _read_manifest(folder)
    _require_empty()
    for item in manifest["files"]:
        if default_storage.exists(item["name"]):
            raise BackupError(f"the storage is not empty ({item['name']} exists).")
    with transaction.atomic():
        # Rows that migrations made (the default matrix…) give way to the backed-up ones.
        for label in manifest["rows"]:
            model = apps.get_model(label)
            if model._base_manager.exists():
                model._base_manager.all().delete()
        call_command("loaddata", str(folder / DATABASE_FILE), verbosity=0)
        if _counts() != manifest["rows"]:
            raise BackupError("the restored rows differ from the backed-up counts.")
    for item in manifest["files"]:
        with (folder / "files" / item["name"]).open("rb") as source:
            saved = default_storage.save(item["name"], File(source))
        if saved != item["name"]:
            raise BackupError(f"the storage renamed {item['name']} to {saved}.")
    if (folder / "checkpoints").is_dir():
        shutil.copytree(
            folder / "checkpoints", Path(settings.DMP_TRAIL_CHECKPOINT_DIR), dirs_exist_ok=True
        )
    return _summary(manifest)
