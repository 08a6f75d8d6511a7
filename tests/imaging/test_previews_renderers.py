"""Renderers that fail the way a codec can, for the preview fault tests. No tests here.

They stand in for ``render_thumbnail_png`` (same call: an open file, keyword arguments) and
run inside the render workers: separate processes that import this module by name, without
Django. Keep it free of Django, of the models and of the test fixtures.
"""

from __future__ import annotations

import os
import signal
import time
from typing import IO, Any

from imaging.dicom import DicomRejected

SLEEP_SECONDS = 20  # far past any limit the tests set


def raises_runtime_error(_source: IO[bytes], **_options: Any) -> bytes:
    raise RuntimeError("codec bug for DUPONT^ALICE")  # the message never reaches the log


def exhausts_memory(_source: IO[bytes], **_options: Any) -> bytes:
    return bytes(bytearray(1 << 50))  # a real MemoryError: 1 PiB cannot be allocated


def recurses(source: IO[bytes], **options: Any) -> bytes:
    return recurses(source, **options)  # a real RecursionError


def sleeps(_source: IO[bytes], **_options: Any) -> bytes:
    time.sleep(SLEEP_SECONDS)  # a decoder that hangs
    return b""


def crashes(_source: IO[bytes], **_options: Any) -> bytes:
    os.kill(os.getpid(), signal.SIGSEGV)  # what a crashing C codec does to its process
    return b""


def rejects(_source: IO[bytes], **_options: Any) -> bytes:
    raise DicomRejected("decode_failed")


def pid(_source: IO[bytes], **_options: Any) -> bytes:
    """Which process rendered: to show that workers live across renders."""
    return str(os.getpid()).encode()


def first_bytes(source: IO[bytes], **options: Any) -> bytes:
    """What the worker reads through the descriptor it was given, and the options."""
    return source.read(8) + repr(sorted(options.items())).encode()


def hog(source: Any, **_options: Any) -> bytes:
    """Needs 2 GiB, as a decoder expanding a hostile file would."""
    return bytes(bytearray(2 << 30)[:8])
