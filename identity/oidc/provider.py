"""The OpenID Connect provider class the portal registers instead of allauth's
(``SOCIALACCOUNT_PROVIDERS["openid_connect"]["provider_class"]``): allauth then builds its URLs
from this package (``identity.oidc.urls``)."""

from __future__ import annotations

import secrets
from typing import Any

from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from django.http import HttpRequest, HttpResponse

from identity.oidc.views import VerifyingOIDCAdapter

NONCE_STATE_KEY = "dmp_nonce"


# allauth ships no type hints (no py.typed): its base class is Any to mypy.
class SanteConnectProvider(OpenIDConnectProvider):  # type: ignore[misc]
    oauth2_adapter_class = VerifyingOIDCAdapter

    def redirect(
        self,
        request: HttpRequest,
        process: Any,
        next_url: str | None = None,
        data: Any = None,
        **kwargs: Any,
    ) -> HttpResponse:
        """Send the user to the provider with a fresh nonce (kept in the login's state, checked
        against the ID token by ``records.sso``) and the configured ``acr_values``, whatever the
        request asked for."""
        nonce = secrets.token_urlsafe(32)
        auth_params = dict(kwargs.pop("auth_params", None) or self.get_auth_params())
        auth_params["nonce"] = nonce
        acr = self.app.settings.get("acr")
        if acr:
            auth_params["acr_values"] = acr
        kwargs[NONCE_STATE_KEY] = nonce
        response: HttpResponse = super().redirect(
            request, process, next_url, data, auth_params=auth_params, **kwargs
        )
        return response


provider_classes = [SanteConnectProvider]
