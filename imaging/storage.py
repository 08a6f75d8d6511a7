"""Private storage of imaging files: random keys, writes, quiet deletes.

Keys say nothing (no patient identifier, no DICOM UID, no uploaded name); a file whose row
is not committed is deleted at once, or left to ``manage.py sweep_imaging_orphans``.
"""

from __future__ import annotations

import io
import logging
import secrets
import tempfile
from typing import IO, Any

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


# Bytes fetched per ranged request: a DICOM header and one frame's items in a few requests.
RANGE_BLOCK = 256 * 1024


class _RangedObject(io.RawIOBase):
    """A seekable, read-only view of an S3 object: every read is a ranged GET of the bytes
    asked (the buffer around it reads ahead ``RANGE_BLOCK``), never the whole object."""

    def __init__(self, obj: Any, size: int) -> None:
        super().__init__()
        self._obj, self._size, self._pos = obj, size, 0
        self.fetched = 0  # bytes transferred so far

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        length = min(len(buffer), self._size - self._pos)
        if length <= 0:
            return 0
        end = self._pos + length - 1
        data = self._obj.get(Range=f"bytes={self._pos}-{end}")["Body"].read()
        buffer[: len(data)] = data
        self._pos += len(data)
        self.fetched += len(data)
        return len(data)


def open_ranged(name: str) -> IO[bytes]:
    """The stored file ``name`` for reading a few parts of it (a header, one frame): by
    ranged requests on S3, the file itself on a local disk."""
    storage: Any = default_storage
    bucket = getattr(storage, "bucket", None)
    if bucket is None or not hasattr(storage, "_normalize_name"):
        return default_storage.open(name, "rb")
    obj = bucket.Object(storage._normalize_name(name))
    raw = _RangedObject(obj, int(obj.content_length))
    return io.BufferedReader(raw, buffer_size=RANGE_BLOCK)
