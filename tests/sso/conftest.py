"""A real OpenID Connect provider on loopback (tests/oidc_provider), and the portal configured
against it the way production is: through the DMP_PSC_* / DMP_FC_* variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client

from dmp_portal.env import FRANCECONNECT_SCOPES, PSC_SCOPES, env_oidc_app

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = {
    "psc": ("dmp-portal-psc", "psc-secret-" + "s" * 30),
    "franceconnect": ("dmp-portal-fc", "fc-secret-" + "s" * 30),
}


@dataclass(frozen=True)
class Provider:
    base: str  # http://127.0.0.1:<port>

    @property
    def issuer(self) -> str:
        return f"{self.base}/o"


def _port() -> int:
    # Ports 8131-8139 belong to this branch; one per xdist worker.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return 8131 + int(worker.removeprefix("gw") or 0) % 9


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    port = _port()
    workdir = tmp_path_factory.mktemp("oidc-provider")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    provider = Provider(f"http://127.0.0.1:{port}")
    clients = [
        {
            "client_id": client_id,
            "secret": secret,
            "redirect_uri": f"http://testserver/accounts/oidc/{provider_id}/login/callback/",
        }
        for provider_id, (client_id, secret) in CLIENTS.items()
    ]
    env = {
        **os.environ,
        "PROVIDER_DB": str(workdir / "provider.sqlite3"),
        "PROVIDER_RSA_KEY": pem,
        "PROVIDER_ISSUER": provider.issuer,
        "PROVIDER_CLIENTS": json.dumps(clients),
    }
    log = (workdir / "provider.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - fixed interpreter and module
        [sys.executable, "-m", "tests.oidc_provider.serve", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_up(provider, process, workdir / "provider.log")
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_until_up(provider: Provider, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test OIDC provider stopped:\n{log.read_text()}")
        try:
            url = f"{provider.issuer}/.well-known/openid-configuration"
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the test OIDC provider did not start:\n{log.read_text()}")


@pytest.fixture
def sso(settings: Any, oidc_provider: Provider) -> Provider:
    """The portal configured for both providers, as DMP_PSC_* and DMP_FC_* would."""
    environ = {
        "DMP_PSC_ISSUER": oidc_provider.issuer,
        "DMP_PSC_CLIENT_ID": CLIENTS["psc"][0],
        "DMP_PSC_CLIENT_SECRET": CLIENTS["psc"][1],
        "DMP_FC_ISSUER": oidc_provider.issuer,
        "DMP_FC_CLIENT_ID": CLIENTS["franceconnect"][0],
        "DMP_FC_CLIENT_SECRET": CLIENTS["franceconnect"][1],
    }
    apps = [
        *env_oidc_app("DMP_PSC", "psc", "Pro Santé Connect", PSC_SCOPES, environ=environ),
        *env_oidc_app(
            "DMP_FC", "franceconnect", "FranceConnect", FRANCECONNECT_SCOPES, environ=environ
        ),
    ]
    providers = dict(settings.SOCIALACCOUNT_PROVIDERS)
    providers["openid_connect"] = {**providers["openid_connect"], "APPS": apps}
    settings.SOCIALACCOUNT_PROVIDERS = providers
    return oidc_provider


@dataclass
class Journey:
    """One round trip through the provider: where it sent the browser back, and the answer."""

    callback: str
    response: Any


def provider_login(
    client: Client,
    provider: Provider,
    provider_id: str,
    *,
    username: str,
    claims: dict[str, Any],
    scenario: str = "",
    process: str = "login",
) -> Journey:
    """The browser's journey: the portal's login button, the provider (signed in as a person
    with these claims), back to the portal's callback with the code."""
    start = client.post(f"/accounts/oidc/{provider_id}/login/", {"process": process})
    assert start.status_code == 302, start.content[:300]
    authorize = start["Location"]
    assert authorize.startswith(provider.issuer), authorize
    browser = requests.Session()
    browser.trust_env = False
    signed_in = browser.post(
        f"{provider.base}/login-as/",
        json={"username": username, "claims": claims, "scenario": scenario},
        timeout=10,
    )
    assert signed_in.status_code == 204
    back = browser.get(authorize, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text[:300]
    callback = urlsplit(back.headers["Location"])
    assert callback.netloc == "testserver", back.headers["Location"]
    path = f"{callback.path}?{callback.query}"
    return Journey(path, client.get(path))
