"""allauth's OpenID Connect login and callback views, with an adapter that always verifies the
ID token's signature against the provider's published keys."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404, HttpRequest, HttpResponse


class VerifyingOIDCAdapter(OpenIDConnectOAuth2Adapter):  # type: ignore[misc]
    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict[str, Any]:
        """allauth skips the signature when the token came from the token endpoint over TLS
        (which OpenID Connect allows); a health record does not: a token signed by anyone but
        the provider's key is refused (``OAuth2Error``), as are a wrong issuer or audience and
        an expired token."""
        data: dict[str, Any] = jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )
        return data


def _adapter_view(view_class: Any, request: HttpRequest, provider_id: str) -> HttpResponse:
    try:
        view = view_class.adapter_view(VerifyingOIDCAdapter(request, provider_id))
        response: HttpResponse = view(request)
    except SocialApp.DoesNotExist:  # the provider is not configured
        raise Http404 from None
    return response


def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    return _adapter_view(OAuth2LoginView, request, provider_id)


def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    return _adapter_view(OAuth2CallbackView, request, provider_id)
