"""Private storage of imaging files: random keys, writes, quiet deletes.

Keys say nothing (no patient identifier, no DICOM UID, no uploaded name); a file whose row
is not committed is deleted at once, or left to ``manage.py sweep_imaging_orphans``.
"""

from __future__ import annotations

import logging
import secrets
import tempfile

from django.core.files import File
from django.core.files.storage import default_storage

from imaging.dicom import copy_sanitized
from imaging.ingest import Candidate

logger = logging.getLogger(__name__)


def random_key(suffix: str) -> str:
    """A storage key that says nothing: no patient, no UID, no uploaded name."""
    token = secrets.token_hex(16)
    return f"imaging/{token[:2]}/{token}{suffix}"


def store(candidate: Candidate) -> str:
    """Write the file's bytes (preamble zeroed when it was not) under a random key."""
    key = random_key(".dcm")
    with open(candidate.path, "rb") as source:
        if not candidate.info.preamble_was_nonzero:
            return default_storage.save(key, File(source))
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as buffer:
            if copy_sanitized(source, buffer) != candidate.info.sha256:
                raise OSError("file changed since it was validated")
            buffer.seek(0)
            return default_storage.save(key, File(buffer))


def delete_quietly(name: str) -> None:
    """Best effort: what cannot be deleted now is an orphan for the sweeper."""
    try:
        default_storage.delete(name)
    except Exception:  # any backend error (OSError, botocore…): the sweeper retries later
        logger.warning("imaging: could not delete a storage object; left to the sweeper")
