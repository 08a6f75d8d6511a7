"""Settings come from the environment; bad values stop start-up with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from dmp_portal.env import env_bool, env_database, env_int, env_list, env_redis_url
from identity.models import User

ROOT = Path(__file__).resolve().parents[2]


def _settings_in_subprocess(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DMP_", "DJANGO_"))}
    clean.pop("DATABASE_URL", None)
    clean.update(env)
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.DEBUG, settings.SESSION_COOKIE_SECURE, settings.SECURE_HSTS_SECONDS, "
        "settings.DATABASES['default']['ENGINE'])"
    )
    return subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "dmp_portal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_without_secret_key_refuses_to_start() -> None:
    result = _settings_in_subprocess(ALLOWED_HOSTS="dmp.example")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_defaults_are_safe() -> None:
    result = _settings_in_subprocess(
        SECRET_KEY="k" * 60, ALLOWED_HOSTS="dmp.example", DMP_TRAIL_SIGNING_KEY="5e" * 32
    )
    assert result.returncode == 0, result.stderr
    debug, secure_cookie, hsts, engine = result.stdout.split()
    assert debug == "False"
    assert secure_cookie == "True"
    assert int(hsts) >= 31_536_000
    assert engine == "django.db.backends.sqlite3"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_KEY": "short"}, "at least 50 characters"),
        ({"SECRET_KEY": "k" * 60}, "ALLOWED_HOSTS is empty"),
        ({"SECRET_KEY": "k" * 60, "ALLOWED_HOSTS": "x"}, "DMP_TRAIL_SIGNING_KEY is not set"),
        ({"DMP_EMBEDDED": "1", "DMP_TRAIL_SIGNING_KEY": "5e" * 31}, "must be 64 hex digits"),
        ({"DMP_EMBEDDED": "peut-être"}, "is not a boolean"),
        ({"DMP_EMBEDDED": "1", "DATABASE_URL": "mysql://x/y"}, "must start with postgres"),
        ({"DMP_EMBEDDED": "1", "REDIS_URL": "http://x"}, "redis://"),
        ({"DMP_EMBEDDED": "1", "DMP_IDLE_TIMEOUT_PATIENT": "abc"}, "is not an integer"),
        ({"DMP_EMBEDDED": "1", "DMP_LOG_LEVEL": "LOUD"}, "DMP_LOG_LEVEL"),
        ({"DMP_EMBEDDED": "1", "DMP_TASK_BACKEND": "celery"}, "DMP_TASK_BACKEND"),
        (
            {
                "DMP_EMBEDDED": "1",
                "DATABASE_URL": "postgres://u@h:5432/dmp",
                "DATABASE_PREPARE_THRESHOLD": "souvent",
            },
            "DATABASE_PREPARE_THRESHOLD",
        ),
    ],
)
def test_bad_values_fail_at_start_up_with_a_clear_message(
    env: dict[str, str], message: str
) -> None:
    result = _settings_in_subprocess(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_postgres_url_is_parsed() -> None:
    config = env_database(
        "DATABASE_URL", "unused.sqlite3", environ={"DATABASE_URL": "postgres://u:p@h:5433/dmp"}
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["HOST"], config["PORT"]) == ("dmp", "h", 5433)
    with pytest.raises(ImproperlyConfigured, match="names no database"):
        env_database("DATABASE_URL", "x", environ={"DATABASE_URL": "postgres://u@h:5432"})


def test_postgres_statements_are_bound_server_side_and_prepared_when_repeated() -> None:
    def options(**env: str) -> dict[str, object]:
        url = {"DATABASE_URL": "postgres://u@h:5432/dmp"}
        return dict(env_database("DATABASE_URL", "x", environ={**url, **env})["OPTIONS"])

    assert options() == {"server_side_binding": True, "prepare_threshold": 2}
    assert options(DATABASE_PREPARE_THRESHOLD="0")["prepare_threshold"] == 0
    # Behind a transaction pooler that cannot keep prepared statements: none prepared.
    assert options(DATABASE_PREPARE_THRESHOLD="off")["prepare_threshold"] is None
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        options(DATABASE_PREPARE_THRESHOLD="-1")
    sqlite = env_database("DATABASE_URL", "db.sqlite3", environ={})["OPTIONS"]
    assert "server_side_binding" not in sqlite  # the embedded default is unchanged


@pytest.mark.django_db
def test_postgres_plans_a_repeated_page_query_once() -> None:
    """On PostgreSQL a statement the portal repeats is prepared on its connection: planned
    once, not on every request (a lab report's query plans in tens of ms, runs in one)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    for _ in range(3):
        assert not User.objects.filter(email="nobody@dmp.example").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any('FROM "identity_user"' in s and "$1" in s for s in prepared), prepared


def test_typed_helpers() -> None:
    assert env_bool("B", environ={"B": "oui"}) is True
    assert env_bool("B", True, environ={}) is True
    assert env_int("I", 3, environ={"I": "7"}) == 7
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        env_int("I", 3, minimum=10, environ={"I": "7"})
    assert env_list("L", environ={"L": "a.example, b.example,,"}) == ["a.example", "b.example"]
    assert env_redis_url("R", environ={}) is None
    assert (
        env_redis_url("R", environ={"R": "redis://127.0.0.1:6379/0"}) == "redis://127.0.0.1:6379/0"
    )
