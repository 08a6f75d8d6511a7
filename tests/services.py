"""Real services for the tests that boot the production settings: a fresh PostgreSQL database,
a Redis server and an S3 API (moto's stand-alone server: no real S3-compatible server installs
from PyPI, Debian or npm here — MinIO and Garage are not packaged, npm's s3rver is a fake like
moto), each started by the tests on loopback and stopped after. Fixtures, imported by the
conftest files of tests/dmp_portal and tests/browser.

Skipped when PostgreSQL or redis-server is missing, unless ``DMP_REQUIRE_SERVICES=1`` (CI)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

from tests.live import PYTHON, ROOT, clean_env, free_port, wait_for_port

BUCKET = "dmp-production-test"


def _unavailable(reason: str) -> None:
    if os.environ.get("DMP_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return "postgres://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    admin = _admin_url()
    name = f"dmp_production_{uuid.uuid4().hex[:10]}"
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL unreachable: {exc}")
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield re.sub(r"/[^/]*$", f"/{name}", admin)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - Debian's redis-server, loopback only
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        cwd=tmp_path_factory.mktemp("redis"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    binary = Path(PYTHON).parent / "moto_server"
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our venv's moto_server, loopback only
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "1"},
    )
    try:
        wait_for_port(port, process)
        url = f"http://127.0.0.1:{port}"
        s3_client(url).create_bucket(Bucket=BUCKET)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def s3_client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def documented_variables() -> dict[str, str]:
    """The ``NAME=value`` lines of ``.env.example``."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def production_env(
    postgres_url: str, redis_url: str, s3_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    var = tmp_path_factory.mktemp("production-var")
    ours = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,dmp.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://127.0.0.1",
        "DMP_TRAIL_SIGNING_KEY": secrets.token_hex(32),
        "DJANGO_DEBUG": "0",
        "DMP_EMBEDDED": "0",
        "DMP_BEHIND_PROXY": "1",
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "DMP_S3_BUCKET": BUCKET,
        "DMP_S3_ENDPOINT_URL": s3_url,
        "DMP_S3_REGION": "us-east-1",
        "DMP_S3_ACCESS_KEY_ID": "testing",
        "DMP_S3_SECRET_ACCESS_KEY": "testing",
        "DMP_S3_PREFIX": "dmp",
        "DMP_VAR_DIR": str(var),
        "DMP_TRAIL_CHECKPOINT_DIR": str(var / "checkpoints"),
        "EMAIL_HOST": "smtp.invalid",
        "DMP_LOG_LEVEL": "WARNING",
    }
    # Every variable .env.example documents, with its documented value, then ours.
    return clean_env(**{**documented_variables(), **ours})
