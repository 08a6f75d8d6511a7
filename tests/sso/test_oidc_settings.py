"""DMP_PSC_* / DMP_FC_*: off by default, and a bad value stops start-up with its name."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from dmp_portal.env import PSC_SCOPES, env_oidc_app


def _app(**environ: str) -> list[dict[str, object]]:
    return env_oidc_app("DMP_PSC", "psc", "Pro Santé Connect", PSC_SCOPES, environ=environ)


def test_off_without_an_issuer() -> None:
    assert _app() == []
    assert _app(DMP_PSC_CLIENT_ID="x") == []


def test_an_issuer_gives_one_app_asking_the_level() -> None:
    (app,) = _app(
        DMP_PSC_ISSUER="https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/",
        DMP_PSC_CLIENT_ID="portail-dmp",
        DMP_PSC_CLIENT_SECRET="secret",
        DMP_PSC_ACR="eidas2",
    )
    assert app["provider_id"] == "psc"
    settings = app["settings"]
    assert isinstance(settings, dict)
    assert settings["server_url"] == "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet"
    assert settings["acr"] == "eidas2"
    assert settings["scope"] == ["openid", "scope_all"]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DMP_PSC_ISSUER": "https://psc.example"}, "DMP_PSC_CLIENT_ID"),
        (
            {"DMP_PSC_ISSUER": "https://psc.example", "DMP_PSC_CLIENT_ID": "x"},
            "DMP_PSC_CLIENT_SECRET",
        ),
        ({"DMP_PSC_ISSUER": "ftp://psc.example"}, "https://"),
        (
            {
                "DMP_PSC_ISSUER": "https://psc.example",
                "DMP_PSC_CLIENT_ID": "x",
                "DMP_PSC_CLIENT_SECRET": "y",
                "DMP_PSC_ACR": "eidas0",
            },
            "DMP_PSC_ACR",
        ),
    ],
)
def test_bad_values_stop_start_up(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        _app(**environ)
