"""Claims and misbehaviours of the test provider, per signed-in user (``PROFILES``)."""

from __future__ import annotations

import base64
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from oauth2_provider.oauth2_validators import OAuth2Validator

# username -> {"claims": {...}, "scenario": "..."}: filled by the login-as view, read by the
# token and userinfo endpoints (same process).
PROFILES: dict[str, dict[str, Any]] = {}
# Not the provider's key: what signs a forged ID token.
_FORGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _profile(request: Any) -> dict[str, Any]:
    return PROFILES.get(request.user.username, {})


class ScenarioValidator(OAuth2Validator):
    oidc_claim_scope = None  # every claim, whatever the scopes (as PSC's scope_all)

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        return dict(_profile(request).get("claims", {}))

    def get_id_token_dictionary(
        self, token: Any, token_handler: Any, request: Any
    ) -> tuple[dict[str, Any], Any]:
        claims, expiration = super().get_id_token_dictionary(token, token_handler, request)
        scenario = _profile(request).get("scenario")
        now = int(time.time())
        if scenario == "wrong_audience":
            claims["aud"] = "another-portal"
        elif scenario == "expired":
            claims["iat"], claims["exp"] = now - 1200, now - 600
        elif scenario == "other_nonce":
            claims["nonce"] = "the-nonce-of-another-login"
        return claims, expiration

    def finalize_id_token(
        self, id_token: dict[str, Any], token: Any, token_handler: Any, request: Any
    ) -> str:
        serialized: str = super().finalize_id_token(id_token, token, token_handler, request)
        if _profile(request).get("scenario") == "bad_signature":
            header, payload, _signature = serialized.split(".")
            forged = _FORGER.sign(
                f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            serialized = f"{header}.{payload}.{_b64(forged)}"
        return serialized
