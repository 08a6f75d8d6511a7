"""What a load balancer and an operator rely on: health and readiness answer GET and HEAD,
readiness names the backend that fails, static files are served with DEBUG off (compressed,
hashed, cached), SQLite is configured for concurrent use."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from dmp_portal import views
from dmp_portal.env import env_database

pytestmark = pytest.mark.django_db

STATIC_SOURCE = Path(__file__).resolve().parents[2] / "static"


@pytest.mark.parametrize("name", ["health", "readiness"])
def test_health_urls_answer_get_and_head(client: Client, name: str) -> None:
    got = client.get(reverse(name))
    assert got.status_code == 200
    assert json.loads(got.content)["status"] == "ok"
    head = client.head(reverse(name))
    assert head.status_code == 200
    assert head.content == b""
    assert client.post(reverse(name)).status_code == 405


def test_readiness_checks_database_cache_and_storage(client: Client) -> None:
    body = json.loads(client.get(reverse("readiness")).content)
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "storage": "ok"},
    }


class _BrokenStorage:
    def exists(self, name: str) -> bool:
        raise OSError("bucket unreachable")


class _ForgetfulCache:
    def set(self, *args: Any, **kwargs: Any) -> None:
        pass

    def get(self, *args: Any, **kwargs: Any) -> None:
        return None

    def delete(self, *args: Any, **kwargs: Any) -> None:
        pass


def test_readiness_names_the_backend_that_fails(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(views, "default_storage", _BrokenStorage())
    monkeypatch.setattr(views, "cache", _ForgetfulCache())
    response = client.get(reverse("readiness"))
    assert response.status_code == 503
    assert json.loads(response.content) == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "error", "storage": "error"},
    }
    # The reason is logged for the operator, never sent to the prober.
    assert "bucket unreachable" not in response.content.decode()
    assert "readiness check failed: storage" in caplog.text
    assert client.head(reverse("readiness")).status_code == 503


def test_health_is_not_redirected_to_https(client: Client, settings: Any) -> None:
    # A load balancer probes over plain HTTP inside the network; pages still go to HTTPS.
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("health")).status_code == 200
    assert client.get(reverse("readiness")).status_code == 200
    assert client.get(reverse("home")).status_code == 301


def test_static_files_are_served_with_debug_off(settings: Any) -> None:
    # The embedded default with DJANGO_DEBUG=0: CSS from the source folders, no collectstatic.
    assert settings.DEBUG is False
    css = next((STATIC_SOURCE / "css").glob("*.css"))
    response = Client().get(f"/static/css/{css.name}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"".join(response) == css.read_bytes()  # type: ignore[arg-type]


def test_production_static_files_are_hashed_compressed_and_cached(
    settings: Any, tmp_path: Path
) -> None:
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((settings.STATIC_ROOT / "staticfiles.json").read_text())
    css = next(name for name in manifest["paths"] if name.endswith(".css"))
    hashed = manifest["paths"][css]
    assert hashed != css  # a content hash in the name
    assert (settings.STATIC_ROOT / f"{hashed}.gz").exists()

    client = Client()  # a new client: the middleware reads STATIC_ROOT when it starts
    response = client.get(f"/static/{hashed}", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"]
    body = gzip.decompress(b"".join(response))  # type: ignore[arg-type]
    assert body == (settings.STATIC_ROOT / hashed).read_bytes()


def test_sqlite_is_configured_for_concurrent_use(tmp_path: Path) -> None:
    config = env_database("DATABASE_URL", str(tmp_path / "db.sqlite3"), environ={})
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] >= 10
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    from_url = env_database(
        "DATABASE_URL", "x", environ={"DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    )
    assert from_url["OPTIONS"] == config["OPTIONS"]


def test_the_test_database_runs_the_same_options() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 10_000


def test_bench_baseline_page_is_off_unless_asked(
    client: Client, settings: Any, django_assert_num_queries: Any
) -> None:
    assert client.get(reverse("bench_fortunes")).status_code == 404
    settings.DMP_BENCH_PAGES = True
    with django_assert_num_queries(1):  # the 13 rows; an anonymous request reads no session
        response = client.get(reverse("bench_fortunes"))
    assert response.status_code == 200
    assert response.content.decode().count("<tr><td>") == 13
