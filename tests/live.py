"""Real servers on loopback for the tests and benchmarks that need real HTTP: start a process on
a free port, wait until it answers, log in through the real pages (password, then TOTP), stop
it. Shared by tests/dmp_portal/test_embedded_concurrency.py, tests/dmp_portal/test_production
.py and bench/bench_http.py."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answers on port {port}") from None
            time.sleep(0.1)


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without the portal's variables, plus ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DMP_", "DJANGO_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"}
    }
    env.update(overrides)
    return env


def manage(*args: str, env: Mapping[str, str], timeout: float = 300) -> str:
    """``manage.py`` in a subprocess; returns its output, raises with it on failure."""
    result = subprocess.run(  # noqa: S603 - our interpreter, our manage.py
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


@contextmanager
def server(command: Sequence[str], *, port: int, env: Mapping[str, str]) -> Iterator[str]:
    """Run ``command`` (a server listening on ``port``) until the block ends; yields its URL."""
    process = subprocess.Popen(  # noqa: S603 - our own server command, loopback only
        list(command),
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def gunicorn(port: int, *, workers: int = 2, threads: int = 1) -> list[str]:
    return [
        str(Path(PYTHON).parent / "gunicorn"),
        "dmp_portal.wsgi:application",
        # The deployment's settings file (README): its worker hook warms the CDA validator up
        # when the ANS material is configured, and does nothing otherwise.
        "--config=python:dmp_portal.gunicorn_conf",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--timeout=60",
        "--log-level=warning",
    ]


def login(
    base_url: str, email: str, password: str, totp: Callable[[], str] | None
) -> requests.Session:
    """Log in through the real pages: the login form, then the TOTP form if asked. ``totp``
    gives the current code, asked for at the last moment and once more if the 30-second
    window turned meanwhile (the portal accepts no code of another window)."""
    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=30)
    token = _CSRF.search(page.text)
    assert token, page.text[:500]
    response = session.post(
        f"{base_url}/accounts/login/",
        data={"login": email, "password": password, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=30,
    )
    for _attempt in range(2):
        if not response.url.endswith("/accounts/2fa/authenticate/"):
            break
        assert totp is not None, "this account asks for a second factor"
        token = _CSRF.search(response.text)
        assert token, response.text[:500]
        response = session.post(
            response.url,
            data={"code": totp(), "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": response.url},
            timeout=30,
        )
    assert response.status_code == 200, response.text[:500]
    assert "/accounts/" not in response.url, f"login refused: {response.url}"
    return session


_HOP_BY_HOP = {
    "connection",
    "expect",  # answered by this proxy (100 Continue); the body is forwarded whole
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


def _dechunked(stream: Any) -> bytes:
    """A request body sent with ``Transfer-Encoding: chunked`` (botocore's uploads)."""
    body = bytearray()
    while size := int(stream.readline().split(b";")[0].strip() or b"0", 16):
        body += stream.read(size)
        stream.readline()
    while stream.readline().strip():  # trailers
        pass
    return bytes(body)


class RoundRobinProxy:
    """A small HTTP proxy on loopback that sends each request to the next backend in turn (no
    stickiness of any kind), as a load balancer in front of several web servers would; it
    counts the requests each backend served and the body bytes it sent back (``sent``).
    ``with RoundRobinProxy([...]) as proxy:``."""

    def __init__(self, backends: Sequence[str], port: int | None = None) -> None:
        import http.client
        import http.server
        import itertools
        import threading
        from urllib.parse import urlsplit

        self.port = port or free_port()
        self.served: dict[str, int] = {backend: 0 for backend in backends}
        self.sent: dict[str, int] = {backend: 0 for backend in backends}
        turn = itertools.cycle([urlsplit(backend) for backend in backends])
        lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                with lock:
                    target = next(turn)
                    proxy.served[f"http://{target.netloc}"] += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    body = _dechunked(self.rfile)  # forwarded with its length
                headers = {
                    key: value
                    for key, value in self.headers.items()
                    if key.lower() not in _HOP_BY_HOP
                }
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                finally:
                    upstream.close()
                with lock:
                    proxy.sent[f"http://{target.netloc}"] += len(payload)
                self.send_response(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                length = answer.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RoundRobinProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
