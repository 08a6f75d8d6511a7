"""The HTTP side of an upload: byte caps while the body streams in, and the staging area.

* the byte caps of an imaging upload (per request, per file), enforced while the body streams
  in by the portal's one upload cap (``records.uploads.CappedUploadHandler``);
* The staging area keeps validated files while the uploader decides about an identity
  mismatch: a private directory named by a random token that only the uploader's session
  knows; confirmation, cancellation, expiry (30 minutes) or the sweeper removes it.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from imaging.ingest import GIB, MIB, IdentityMismatch, Inspection, Refusal
from records.uploads import CappedUploadHandler, install_capped_upload

MAX_REQUEST_BYTES = 2 * GIB
MAX_FILE_BYTES = 512 * MIB
STAGING_TTL = 30 * 60
MAX_STAGED_PER_SESSION = 3
STAGED_KEY = "dmp_imaging_staged"
RESULTS_KEY = "dmp_imaging_results"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")


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


def staging_root() -> Path:
    configured = getattr(settings, "DMP_IMAGING_STAGING_DIR", None)
    return Path(configured or Path(settings.VAR_DIR) / "imaging-staging")


@dataclass(frozen=True)
class Staged:
    token: str
    patient_id: str
    report_id: str | None
    created: float
    files: list[tuple[str, str]]  # (display name, file name inside the token's directory)
    mismatches: list[dict[str, Any]]  # what the confirmation page shows
    refused: list[dict[str, str]]  # files refused by validation, reported after the decision

    @property
    def directory(self) -> Path:
        return staging_root() / self.token

    def paths(self) -> list[tuple[str, Path]]:
        return [(name, self.directory / filename) for name, filename in self.files]


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
) -> Staged:
    """Keep the validated files of ``inspection`` (as uploaded) until the uploader decides."""
    token = secrets.token_urlsafe(24)
    directory = staging_root() / token
    directory.mkdir(parents=True, mode=0o700)
    files = []
    for index, candidate in enumerate(inspection.candidates):
        filename = f"{index}.dcm"
        shutil.copyfile(candidate.path, directory / filename)
        files.append((candidate.name, filename))
    rows = _mismatch_rows(mismatches)
    staged = Staged(token, patient_id, report_id, time.time(), files, rows, refused)
    entries = dict(session.get(STAGED_KEY, {}))
    excess = max(len(entries) - (MAX_STAGED_PER_SESSION - 1), 0)
    for old in sorted(entries, key=lambda t: entries[t]["created"])[:excess]:
        _remove(old)
        entries.pop(old)
    entries[token] = {
        "patient": patient_id,
        "report": report_id,
        "created": staged.created,
        "files": files,
        "mismatches": rows,
        "refused": refused,
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
    )


def discard(session: Any, token: str) -> None:
    """Forget a staged upload and delete its files."""
    entries = dict(session.get(STAGED_KEY, {}))
    if entries.pop(token, None) is not None:
        session[STAGED_KEY] = entries
    if _TOKEN.fullmatch(token or ""):
        _remove(token)


def _remove(token: str) -> None:
    shutil.rmtree(staging_root() / token, ignore_errors=True)


def sweep_staging(*, older_than: float) -> int:
    """Delete staged directories older than ``older_than`` seconds; returns how many."""
    root = staging_root()
    if not root.is_dir():
        return 0
    removed = 0
    limit = time.time() - older_than
    for directory in root.iterdir():
        if _TOKEN.fullmatch(directory.name) and directory.stat().st_mtime < limit:
            shutil.rmtree(directory, ignore_errors=True)
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
