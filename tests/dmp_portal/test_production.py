"""The production settings, booted from the pinned requirements against real services
(tests/services.py: PostgreSQL, Redis, moto's S3 server) under gunicorn, behind a TLS proxy's
X-Forwarded-Proto. Every documented production variable is set as ``.env.example`` documents
it."""

from __future__ import annotations

import re
import time

import pytest
import redis
import requests

from tests.live import free_port, gunicorn, manage, server
from tests.services import BUCKET, s3_client

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_production_settings_boot_against_real_services(
    production_env: dict[str, str], redis_url: str, s3_url: str
) -> None:
    env = production_env
    manage("migrate", "--noinput", env=env)
    manage("collectstatic", "--noinput", env=env)
    manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    # The storage writes to the bucket, under the prefix.
    manage(
        "shell",
        "-c",
        "from django.core.files.base import ContentFile; "
        "from django.core.files.storage import default_storage; "
        "default_storage.save('probe/boot.txt', ContentFile(b'ok'))",
        env=env,
    )
    keys = [item["Key"] for item in s3_client(s3_url).list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["dmp/probe/boot.txt"]

    port = free_port()
    with server(gunicorn(port, workers=2), port=port, env=env) as url:
        ready = requests.get(f"{url}/sante/pret/", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "cache": "ok", "storage": "ok"}
        assert requests.head(f"{url}/sante/", timeout=30).status_code == 200

        # Behind the TLS proxy: pages answer once the proxy says the request came over HTTPS;
        # without it they redirect to HTTPS.
        https = {"X-Forwarded-Proto": "https"}
        plain = requests.get(f"{url}/accounts/login/", allow_redirects=False, timeout=30)
        assert plain.status_code == 301
        assert plain.headers["Location"].startswith("https://")
        login = requests.get(f"{url}/accounts/login/", headers=https, timeout=30)
        assert login.status_code == 200
        assert "Secure" in login.headers["Set-Cookie"]
        # Static files: hashed, compressed, served by the portal itself.
        css = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', login.text)
        assert css, "no hashed stylesheet in the page"
        sheet = requests.get(
            f"{url}{css.group(1)}", headers={**https, "Accept-Encoding": "gzip"}, timeout=30
        )
        assert sheet.status_code == 200
        assert sheet.headers["Content-Encoding"] == "gzip"

        # Rate limits live in Redis, shared by both workers: failed logins leave counters there.
        client = redis.Redis.from_url(redis_url)
        before = client.dbsize()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token
        # The cookies are Secure: the client would not send them over loopback HTTP itself.
        cookie = f"csrftoken={login.cookies['csrftoken']}"
        statuses = [
            requests.post(
                f"{url}/accounts/login/",
                data={
                    "login": "nobody@example.org",
                    "password": "wrong-password-123",
                    "csrfmiddlewaretoken": token.group(1),
                },
                headers={**https, "Cookie": cookie, "Referer": "https://127.0.0.1/accounts/"},
                allow_redirects=False,
                timeout=30,
            ).status_code
            for _ in range(2)
        ]
        assert statuses == [200, 200]  # the form again, with its error
        deadline = time.monotonic() + 5
        while client.dbsize() <= before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.dbsize() > before
        assert any(b"rl:" in key or b"ratelimit" in key for key in client.keys("*")), client.keys(
            "*"
        )
