"""The HTTP side of an upload: byte caps while the body streams in, and the staging area.

* the byte caps of an imaging upload (per request, per file), enforced while the body streams
  in by the portal's one upload cap (``records.uploads.CappedUploadHandler``);
* The staging area keeps validated files while the uploader decides about an identity
  mismatch: in the private storage (S3 in production: every web server sees them, the
  confirmation may reach any of them), under ``imaging-staging/<token>/``, a random token
  that only the uploader's session knows; confirmation, cancellation, expiry (30 minutes) or
  the sweeper removes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from imaging.ingest import GIB, MIB, IdentityMismatch, Inspection, Refusal
from records.uploads import CappedUploadHandler, install_capped_upload

MAX_REQUEST_BYTES = 2 * GIB
MAX_FILE_BYTES = 512 * MIB
STAGING_TTL = 30 * 60
MAX_STAGED_PER_SESSION = 3
STAGED_KEY = "dmp_imaging_staged"
RESULTS_KEY = "dmp_imaging_results"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
STAGING_PREFIX = "imaging-staging"  # in the private storage, apart from the stored files

logger = logging.getLogger(__name__)


def max_request_bytes() -> int:
    return int(getattr(settings, "DMP_IMAGING_MAX_UPLOAD_BYTES", MAX_REQUEST_BYTES))


def max_file_bytes() -> int:
    return int(getattr(settings, "DMP_IMAGING_MAX_FILE_BYTES", MAX_FILE_BYTES))


def install_upload_handlers(request: Any) -> CappedUploadHandler:
    """Before the body is read: the portal's one upload cap, with the imaging limits, then
    files on disk only (``records.uploads``)."""
    return install_capped_upload(
        request, max_request=max_request_bytes(), max_file=max_file_bytes(), on_disk=True
    )


# ------------------------------------------------------------------------- staging


class StagingFailed(Exception):
    """The private storage could not keep (or give back) the staged files: nothing is left."""


def _staged_key(token: str, filename: str) -> str:
    return f"{STAGING_PREFIX}/{token}/{filename}"


@dataclass(frozen=True)
class Staged:
    token: str
    patient_id: str
    report_id: str | None
    created: float
    files: list[tuple[str, str]]  # (display name, file name under the token's prefix)
    mismatches: list[dict[str, Any]]  # what the confirmation page shows
    refused: list[dict[str, str]]  # files refused by validation, reported after the decision
    # A minor's DMP: the new studies kept from the representatives, or secret (as chosen).
    flags: dict[str, bool] = field(default_factory=dict)

    @contextlib.contextmanager
    def local_copies(self) -> Iterator[list[tuple[str, Path]]]:
        """The staged files copied from the storage to a private temporary directory (the
        import judges them again there), removed afterwards. Raises :class:`StagingFailed`
        when the storage cannot give them (the staged upload is kept: try again)."""
        with tempfile.TemporaryDirectory(dir=settings.FILE_UPLOAD_TEMP_DIR) as workdir:
            paths = []
            try:
                for index, (name, filename) in enumerate(self.files):
                    path = Path(workdir) / f"{index}.dcm"
                    key = _staged_key(self.token, filename)
                    with default_storage.open(key, "rb") as src, path.open("wb") as copy:
                        shutil.copyfileobj(src, copy, 1 << 20)
                    paths.append((name, path))
            except Exception as exc:  # any backend error (OSError, botocore…)
                raise StagingFailed from exc
            yield paths


def _mismatch_rows(mismatches: list[IdentityMismatch]) -> list[dict[str, Any]]:
    return [
        {
            "name": m.identity.name_display,
            "birth_date": m.identity.birth_date_display,
            "sex": m.identity.sex,
            "patient_id": m.identity.patient_id,
            "problems": list(m.problems),
            "files": m.files,
        }
        for m in mismatches
    ]


def stage(
    session: Any,
    *,
    patient_id: str,
    report_id: str | None,
    inspection: Inspection,
    mismatches: list[IdentityMismatch],
    refused: list[dict[str, str]],
    flags: dict[str, bool] | None = None,
) -> Staged:
    """Keep the validated files of ``inspection`` (as uploaded) in the private storage until
    the uploader decides. Raises :class:`StagingFailed` (nothing kept) when the storage
    fails."""
    token = secrets.token_urlsafe(24)
    files = []
    try:
        for index, candidate in enumerate(inspection.candidates):
            filename = f"{index}.dcm"
            with open(candidate.path, "rb") as source:
                saved = default_storage.save(_staged_key(token, filename), File(source))
            if saved != _staged_key(token, filename):  # never with a fresh random token
                default_storage.delete(saved)
                raise OSError("staged name taken")
            files.append((candidate.name, filename))
    except Exception as exc:  # any backend error (OSError, botocore…): nothing left behind
        _remove(token, [filename for _name, filename in files] + [f"{len(files)}.dcm"])
        raise StagingFailed from exc
    rows = _mismatch_rows(mismatches)
    flags = {name: bool(value) for name, value in (flags or {}).items()}
    staged = Staged(token, patient_id, report_id, time.time(), files, rows, refused, flags)
    entries = dict(session.get(STAGED_KEY, {}))
    excess = max(len(entries) - (MAX_STAGED_PER_SESSION - 1), 0)
    for old in sorted(entries, key=lambda t: entries[t]["created"])[:excess]:
        _remove(old, [filename for _name, filename in entries[old]["files"]])
        entries.pop(old)
    entries[token] = {
        "patient": patient_id,
        "report": report_id,
        "created": staged.created,
        "files": files,
        "mismatches": rows,
        "refused": refused,
        "flags": flags,
    }
    session[STAGED_KEY] = entries
    return staged


def staged_upload(session: Any, token: str, patient_id: str) -> Staged | None:
    """The staged upload of this session for this patient, or None (unknown, expired: its
    files are removed)."""
    if not _TOKEN.fullmatch(token or ""):
        return None
    entry = session.get(STAGED_KEY, {}).get(token)
    if entry is None or entry["patient"] != patient_id:
        return None
    if time.time() - entry["created"] > STAGING_TTL:
        discard(session, token)
        return None
    files = [(str(name), str(filename)) for name, filename in entry["files"]]
    return Staged(
        token,
        entry["patient"],
        entry["report"],
        entry["created"],
        files,
        list(entry.get("mismatches", [])),
        list(entry.get("refused", [])),
        {str(name): bool(value) for name, value in entry.get("flags", {}).items()},
    )


def discard(session: Any, token: str) -> None:
    """Forget a staged upload and delete its files."""
    entries = dict(session.get(STAGED_KEY, {}))
    entry = entries.pop(token, None)
    if entry is not None:
        session[STAGED_KEY] = entries
        _remove(token, [filename for _name, filename in entry["files"]])


def _remove(token: str, filenames: list[str]) -> None:
    """Best effort: what cannot be deleted now is removed by the sweeper once expired."""
    if not _TOKEN.fullmatch(token or ""):
        return
    try:
        for filename in filenames:
            default_storage.delete(_staged_key(token, filename))
        _remove_local_directory(f"{STAGING_PREFIX}/{token}")
    except Exception:  # any backend error (OSError, botocore…)
        logger.warning("imaging: a staged upload could not be deleted; left to the sweeper")


def _remove_local_directory(name: str) -> None:
    """On a local disk, the token's directory once empty (an object storage has none)."""
    try:
        path = default_storage.path(name)
    except NotImplementedError:
        return
    with contextlib.suppress(OSError):
        os.rmdir(path)


def sweep_staging(*, older_than: float) -> int:
    """Delete the staged uploads older than ``older_than`` seconds; returns how many."""
    try:
        tokens, _files = default_storage.listdir(STAGING_PREFIX)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    limit = timezone.now() - timedelta(seconds=older_than)
    removed = 0
    for token in tokens:
        if not _TOKEN.fullmatch(token):
            continue
        try:
            _dirs, names = default_storage.listdir(f"{STAGING_PREFIX}/{token}")
            times = [default_storage.get_modified_time(_staged_key(token, n)) for n in names]
        except FileNotFoundError:  # removed meanwhile
            continue
        if times and all(when < limit for when in times):
            _remove(token, names)
            removed += 1
    return removed


# ------------------------------------------------------------------ results (PRG)


def remember_results(session: Any, patient_id: str, rows: list[dict[str, str]]) -> str:
    """Keep an upload's per-file report for the page the upload redirects to."""
    key = secrets.token_urlsafe(12)
    results = dict(session.get(RESULTS_KEY, {}))
    for old in sorted(results, key=lambda k: results[k]["created"])[:-2]:
        results.pop(old)
    results[key] = {"patient": patient_id, "created": time.time(), "rows": rows}
    session[RESULTS_KEY] = results
    return key


def recall_results(session: Any, key: str | None, patient_id: str) -> list[dict[str, str]]:
    found = session.get(RESULTS_KEY, {}).get(key or "")
    if not found or found["patient"] != patient_id:
        return []
    return list(found["rows"])


def refusal_rows(refusals: list[Refusal]) -> list[dict[str, str]]:
    return [{"name": r.name, "status": "refused", "message": r.message} for r in refusals]
