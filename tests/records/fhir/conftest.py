"""The FHIR API's cast: a registered software, tokens minted as the toolkit mints them (only
their checksum stored), a client that sends them, and the FHIR validator of every answer."""

from __future__ import annotations

import datetime
import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from oauth2_provider.models import AccessToken, Application, set_token_value

from identity.models import User

REDIRECT_URI = "https://logiciel.example/retour"
APP_NAME = "Logiciel du cabinet"


@pytest.fixture
def software(administrator: User) -> Application:
    return Application.objects.create(
        name=APP_NAME,
        user=administrator,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
        skip_authorization=False,
    )


def mint_token(user: User, application: Application, scope: str, seconds: int = 900) -> str:
    raw = secrets.token_urlsafe(30)
    token = AccessToken(
        user=user,
        application=application,
        scope=scope,
        expires=timezone.now() + datetime.timedelta(seconds=seconds),
    )
    set_token_value(token, raw)
    token.save()
    return raw


PRO_SCOPES = "user/*.cruds"
PATIENT_SCOPES = "patient/*.rs"


@pytest.fixture
def token_for(software: Application) -> Callable[..., str]:
    def make(user: User, scope: str | None = None, seconds: int = 900) -> str:
        default = PATIENT_SCOPES if user.is_patient else PRO_SCOPES
        return mint_token(user, software, scope or default, seconds)

    return make


class Api:
    """A test client speaking to /fhir/ with a bearer token."""

    def __init__(self, token: str | None, language: str = "fr") -> None:
        self.client = Client()
        self.headers: dict[str, str] = {"Accept-Language": language}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/fhir/{path}", params, headers=self.headers)

    def post(self, path: str, body: Any, content_type: str = "application/fhir+json") -> Any:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.client.post(
            f"/fhir/{path}", data, content_type=content_type, headers=self.headers
        )


def validate(resource: dict[str, Any]) -> Any:
    """The resource checked as FHIR by fhir.resources (R4B models: R4's resources used here
    are unchanged in R4B), bundles' entries included."""
    model = get_fhir_model_class(resource["resourceType"])
    parsed = model.model_validate(resource)
    for entry in resource.get("entry", []):
        if "resource" in entry:
            validate(entry["resource"])
    return parsed


def outcome_text(response: Any) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    validate(body)
    return str(body["issue"][0]["diagnostics"])
