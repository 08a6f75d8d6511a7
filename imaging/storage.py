"""Private storage of imaging files: random keys, writes, quiet deletes.

Keys say nothing (no patient identifier, no DICOM UID, no uploaded name); a file whose row
is not committed is deleted at once, or left to ``manage.py sweep_imaging_orphans``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import secrets
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import default_storage

from imaging.dicom import DicomRejected, copy_sanitized, frame_data
from imaging.ingest import Candidate
from imaging.render_pool import worker_file

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

    def __init__(self, obj: Any, size: int, mirror: IO[bytes] | None = None) -> None:
        super().__init__()
        self._obj, self._size, self._pos = obj, size, 0
        self.fetched = 0  # bytes transferred so far
        self.mirror = mirror  # a file of the object's size: each fetched range is copied there
        self.error: Exception | None = None  # the storage's failure, whoever caught it

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
        try:
            data = self._obj.get(Range=f"bytes={self._pos}-{end}")["Body"].read()
        except Exception as exc:  # any backend error: a parser above may turn it into a refusal
            self.error = exc
            raise
        buffer[: len(data)] = data
        if self.mirror is not None:
            self.mirror.seek(self._pos)
            self.mirror.write(data)
        self._pos += len(data)
        self.fetched += len(data)
        return len(data)


def _ranged_object(name: str) -> Any:
    """The S3 object of ``name`` when the storage reads by range, else None (a local disk)."""
    storage: Any = default_storage
    bucket = getattr(storage, "bucket", None)
    if bucket is None or not hasattr(storage, "_normalize_name"):
        return None
    return bucket.Object(storage._normalize_name(name))


def open_ranged(name: str) -> IO[bytes]:
    """The stored file ``name`` for reading a few parts of it (a header, one frame): by
    ranged requests on S3, the file itself on a local disk."""
    obj = _ranged_object(name)
    if obj is None:
        return default_storage.open(name, "rb")
    raw = _RangedObject(obj, int(obj.content_length))
    return io.BufferedReader(raw, buffer_size=RANGE_BLOCK)


@contextlib.contextmanager
def render_descriptor(name: str, frame: int | None) -> Iterator[int]:
    """A descriptor of the stored file ``name`` that a render worker can read to draw
    ``frame`` (``None``: the middle one).

    On a local disk, the file itself. On S3, never the whole object: the header and the
    frame's bytes are fetched by range (where :func:`imaging.dicom.frame_data` finds them,
    the same bytes the renderer reads) into a sparse temporary file of the object's size,
    the rest left as holes. A file whose frame cannot be located that way (a multi-fragment
    JPEG frame without offset table, a damaged file) is downloaded whole, so that the worker
    renders or refuses it exactly as from a local disk. Any storage error is raised as is.
    """
    obj = _ranged_object(name)
    if obj is None:
        with default_storage.open(name, "rb") as stored, worker_file(stored) as fd:
            yield fd
        return
    with tempfile.TemporaryFile() as sparse:
        size = int(obj.content_length)
        sparse.truncate(size)
        raw = _RangedObject(obj, size, mirror=sparse)
        try:
            frame_data(io.BufferedReader(raw, buffer_size=RANGE_BLOCK), frame)
        except DicomRejected:
            if raw.error is not None:
                raise raw.error from None
            sparse.seek(0)
            obj.download_fileobj(sparse)
        sparse.flush()
        yield sparse.fileno()
