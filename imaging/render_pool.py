"""Render workers: a few long-lived processes that draw previews and viewer images, each
render under a time limit.

Why processes: a thread cannot be stopped in Python, so a decoder that loops on a hostile
file would hold its web or task worker for ever, and one that crashes the interpreter (a C
codec's segfault) would take it down. Here a render past its limit gets its worker killed
and replaced, a worker that dies is replaced, and the caller gets :class:`RenderFailed`
either way. The workers live across renders (never a process per file: starting Python with
numpy and pydicom costs ~0.5 s, QUALITY.md §6); one is retired after an unexpected exception
(its state is suspect after a MemoryError) and after ``JOBS_PER_WORKER`` renders (it keeps
the peak memory of the largest image it drew).

Workers are forked from multiprocessing's fork server, which imports the DICOM core once, so
a new worker is ready in milliseconds, and holds no Django state, thread or connection
(forking the web process itself could deadlock on a lock another thread holds). The caller
opens the file, through the storage backend where its errors belong, and the worker receives
the open descriptor: it reads only what it draws (one frame of a multi-frame file) and no
bytes are copied between processes. Like any child of a fork server, a new worker imports
the server's main module first: ``manage.py``, gunicorn's and pytest's scripts keep their
work under ``if __name__ == "__main__"``, and a script that uses this pool must too.

Framework-free (no Django import): the fork server and the workers import this module.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import recv_handle, send_handle
from typing import IO, Any, cast

from imaging.dicom import DicomRejected

Renderer = Callable[..., bytes]  # renderer(open binary file, **options) -> PNG bytes

JOBS_PER_WORKER = 500
PRELOAD = ["imaging.render_pool", "imaging.dicom"]


class RenderFailed(Exception):
    """This file cannot be drawn: the renderer raised (``reason`` is the exception's class
    name, never its message, which may quote the file), ran past its limit ("timeout"), or
    its worker died. Final: the same file will fail the same way."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RenderPostponed(Exception):
    """No worker took the render within its limit (all busy), or none could be started.
    Nothing is wrong with the file: try again later."""


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    jobs: int = 0

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class RenderPool:
    """At most ``size`` renders at a time, each in a worker process, each within a limit."""

    def __init__(self, size: int, memory: int | None = None) -> None:
        self.size = size
        self.memory = memory  # bytes of data memory a worker may hold (None: unbounded)
        self.pid = os.getpid()
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)

    def render(self, renderer: Renderer, fd: int, *, timeout: float, **options: Any) -> bytes:
        """``renderer(file, **options)`` in a worker, on a file given by its descriptor.

        ``renderer`` must be a module-level function (the worker imports it by name).
        ``timeout`` bounds the wait for a free worker plus the render; starting a worker does
        not count (it is ours, not the file's). Raises :class:`DicomRejected` as the renderer
        did, :class:`RenderFailed` when the render raised anything else, killed its worker or
        ran past ``timeout``, :class:`RenderPostponed` when no worker could take it in time,
        or when the render, left less than ``timeout`` by that wait, was cut short.
        """
        job = pickle.dumps((renderer, options))  # a job that cannot be sent is the caller's bug
        queued_until = time.monotonic() + timeout
        queued = not self._slots.acquire(blocking=False)
        if queued and not self._slots.acquire(timeout=timeout):
            raise RenderPostponed("every render worker is busy")
        try:
            worker = self._checkout()
            deadline = queued_until if queued else time.monotonic() + timeout
            try:
                reply = self._run(worker, job, fd, deadline)
            except RenderFailed as failed:
                worker.stop()
                if queued and failed.reason == "timeout":
                    raise RenderPostponed("cut short by the wait for a worker") from None
                raise
            except BaseException:
                worker.stop()
                raise
            self._checkin(worker, retire=reply[0] == "failed")
        finally:
            self._slots.release()
        return _outcome(reply)

    def close(self) -> None:
        """Stop the idle workers (busy ones stop when their render ends or times out)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def _checkout(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                worker.stop()  # died while idle (killed from outside): replaced
        try:
            ours, theirs = self._context.Pipe(duplex=True)  # a socketpair: descriptors can pass
            process = self._context.Process(
                target=_serve, args=(theirs, self.memory), name="dmp-render", daemon=True
            )
            process.start()
        except OSError as exc:  # no more processes or descriptors: not the file's fault
            raise RenderPostponed("cannot start a render worker") from exc
        theirs.close()
        return _Worker(process, ours)

    def _checkin(self, worker: _Worker, *, retire: bool) -> None:
        worker.jobs += 1
        if retire or worker.jobs >= JOBS_PER_WORKER:
            worker.stop()
            return
        with self._lock:
            self._idle.append(worker)

    @staticmethod
    def _run(worker: _Worker, job: bytes, fd: int, deadline: float) -> tuple[str, Any]:
        try:
            worker.conn.send_bytes(job)
            send_handle(worker.conn, fd, worker.process.pid or 0)  # the pid is for Windows
        except OSError as exc:  # it died between two renders: not the file's fault
            raise RenderPostponed("render worker gone") from exc
        if not worker.conn.poll(max(deadline - time.monotonic(), 0)):
            raise RenderFailed("timeout")
        try:
            reply: tuple[str, Any] = worker.conn.recv()
        except (EOFError, OSError):
            raise RenderFailed("worker died") from None
        return reply


def _outcome(reply: tuple[str, Any]) -> bytes:
    status, value = reply
    if status == "rejected":
        raise DicomRejected(value)
    if status == "failed":
        raise RenderFailed(value)
    return cast(bytes, value)


@contextlib.contextmanager
def worker_file(source: IO[bytes]) -> Iterator[int]:
    """A descriptor of ``source`` that a worker can read: its own when it has one (a local
    file, a backend's spooled download), else a temporary copy."""
    try:
        fd = source.fileno()
    except (AttributeError, OSError, ValueError):  # in memory (io.UnsupportedOperation)
        with tempfile.TemporaryFile() as spool:
            shutil.copyfileobj(source, spool)
            spool.flush()
            yield spool.fileno()
        return
    yield fd


# ------------------------------------------------------------------ inside the workers


def _serve(conn: Connection, memory: int | None = None) -> None:
    """A worker's life: one render at a time until its pool closes the connection.

    ``memory`` caps the worker's data memory (heap and anonymous mappings, RLIMIT_DATA): a
    file whose decode would need more gets a MemoryError ("failed": aperçu indisponible)
    and the worker is replaced, instead of the machine swapping."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server; it stops us
    if memory is not None:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    while True:
        try:
            job = conn.recv_bytes()
            fd = recv_handle(conn)
        except (EOFError, OSError):
            return
        reply = _render_one(job, fd)
        try:
            conn.send(reply)
        except OSError:  # the pool gave up on us (timeout) or went away
            return
        if reply[0] == "failed":
            return


def _render_one(job: bytes, fd: int) -> tuple[str, Any]:
    try:
        with os.fdopen(fd, "rb") as source:
            source.seek(0)  # the descriptor shares its offset with the caller's file
            renderer, options = pickle.loads(job)  # noqa: S301 - from our own pool
            return "ok", renderer(source, **options)
    except DicomRejected as refused:
        return "rejected", refused.code
    except BaseException as exc:  # anything else, MemoryError and RecursionError included
        return "failed", type(exc).__name__


# ------------------------------------------------------------------------ the shared pool

_shared: RenderPool | None = None
_shared_lock = threading.Lock()


def shared_pool(size: int, memory: int | None = None) -> RenderPool:
    """This process's pool, made at first use (``size`` and ``memory`` are read then)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.pid != os.getpid():  # inherited by a fork: not ours
            _shared = RenderPool(size, memory)
        return _shared
