"""OAuth 2.0 as a software sees it: authorization code with PKCE through the portal's own login
and its second factor, short-lived tokens stored hashed, rotated refresh tokens whose reuse
revokes the family, and the user taking the access back on "Applications autorisées"."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import AccessToken, Application, RefreshToken

from identity.models import Patient, Professional
from tests.cast import PASSWORD, totp_code
from tests.records.fhir.conftest import APP_NAME, REDIRECT_URI, Api

pytestmark = pytest.mark.django_db

SCOPE = "user/Patient.rs user/DocumentReference.rs"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _authorize_url(software: Application, challenge: str, method: str = "S256") -> str:
    return (
        f"/o/authorize/?response_type=code&client_id={software.client_id}"
        f"&redirect_uri={REDIRECT_URI}&scope={SCOPE.replace(' ', '+')}&state=xyz"
        f"&code_challenge={challenge}&code_challenge_method={method}"
    )


def _code(client: Client, software: Application, challenge: str, email: str) -> str:
    """The whole browser side: the portal's login, its second factor, the approval page."""
    url = _authorize_url(software, challenge)
    first = client.get(url)
    assert first.status_code == 302 and first["Location"].startswith(reverse("account_login"))
    login = client.post(first["Location"], {"login": email, "password": PASSWORD})
    assert login["Location"] == reverse("mfa_authenticate")
    back = client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    assert back.status_code == 302
    page = client.get(back["Location"])
    assert page.status_code == 200
    assert APP_NAME in page.content.decode()
    form = page.context["form"].initial
    approved = client.post(url, {**{k: v for k, v in form.items() if v is not None}, "allow": "1"})
    assert approved.status_code == 302, approved.content[:500]
    location = urlparse(approved["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def _token(client: Client, **data: str) -> Any:
    return client.post("/o/token/", data)


@pytest.fixture
def tokens(client: Client, software: Application, doctor: Professional) -> dict[str, Any]:
    verifier, challenge = _pkce()
    code = _code(client, software, challenge, doctor.user.email)
    response = _token(
        Client(),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        client_id=software.client_id,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_code_flow_with_pkce_through_the_portal_login_gives_a_short_token(
    tokens: dict[str, Any], alice: Patient
) -> None:
    assert tokens["token_type"] == "Bearer"
    assert 0 < tokens["expires_in"] <= 3600
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    response = Api(tokens["access_token"]).get(f"Patient/{alice.public_id}")
    assert response.status_code == 200


def test_tokens_are_stored_hashed(tokens: dict[str, Any]) -> None:
    access = AccessToken.objects.get()
    refresh = RefreshToken.objects.get()
    assert access.token == refresh.token == ""
    assert access.token_checksum == hashlib.sha256(tokens["access_token"].encode()).hexdigest()
    for raw in (tokens["access_token"], tokens["refresh_token"]):
        for row in (access, refresh):
            assert raw not in str(row.__dict__)


def test_without_pkce_or_with_plain_pkce_no_code(
    client: Client, software: Application, doctor: Professional
) -> None:
    client.force_login(doctor.user)
    for url in (
        _authorize_url(software, "x" * 43)
        .replace("&code_challenge=" + "x" * 43, "")
        .replace("&code_challenge_method=S256", ""),
        _authorize_url(software, "x" * 43, method="plain"),
    ):
        response = client.get(url)
        assert response.status_code in (200, 302, 400)
        assert "code=" not in response.get("Location", "")


def test_a_code_without_its_verifier_gives_no_token(
    client: Client, software: Application, doctor: Professional
) -> None:
    _verifier, challenge = _pkce()
    code = _code(client, software, challenge, doctor.user.email)
    response = _token(
        Client(),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        client_id=software.client_id,
        code_verifier=secrets.token_urlsafe(48),
    )
    assert response.status_code == 400
    assert AccessToken.objects.count() == 0


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(
    tokens: dict[str, Any], software: Application, alice: Patient
) -> None:
    refreshed = _token(
        Client(),
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=software.client_id,
    )
    assert refreshed.status_code == 200, refreshed.content
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert Api(new["access_token"]).get(f"Patient/{alice.public_id}").status_code == 200
    replay = _token(
        Client(),
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=software.client_id,
    )
    assert replay.status_code == 400
    # The stolen-token signal: the whole family is revoked, the new tokens too.
    assert Api(new["access_token"]).get(f"Patient/{alice.public_id}").status_code == 401
    again = _token(
        Client(),
        grant_type="refresh_token",
        refresh_token=new["refresh_token"],
        client_id=software.client_id,
    )
    assert again.status_code == 400


def test_the_user_revokes_the_software_from_authorised_applications(
    tokens: dict[str, Any], doctor: Professional, alice: Patient, software: Application
) -> None:
    page = Client()
    page.force_login(doctor.user)
    listed = page.get("/mon-compte/applications/")
    assert listed.status_code == 200
    assert APP_NAME in listed.content.decode()
    assert "user/DocumentReference.rs" in listed.content.decode()
    done = page.post("/mon-compte/applications/", {"application": software.pk})
    assert done.status_code == 302
    assert Api(tokens["access_token"]).get(f"Patient/{alice.public_id}").status_code == 401
    refused = _token(
        Client(),
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=software.client_id,
    )
    assert refused.status_code == 400
    assert APP_NAME not in page.get("/mon-compte/applications/").content.decode()


def test_revoking_touches_only_ones_own_tokens(
    tokens: dict[str, Any], stranger_doctor: Professional, software: Application, alice: Patient
) -> None:
    other = Client()
    other.force_login(stranger_doctor.user)
    other.post("/mon-compte/applications/", {"application": software.pk})
    assert Api(tokens["access_token"]).get(f"Patient/{alice.public_id}").status_code == 200


def test_authorised_applications_page_in_english(
    tokens: dict[str, Any], doctor: Professional
) -> None:
    page = Client()
    page.force_login(doctor.user)
    body = page.get("/mon-compte/applications/", headers={"Accept-Language": "en"}).content
    assert b"Authorised applications" in body
    assert b"Withdraw access" in body


@pytest.mark.parametrize("applications", [1, 5])
def test_authorised_applications_page_query_count_is_constant(
    doctor: Professional, administrator: Any, django_assert_num_queries: Any, applications: int
) -> None:
    from tests.records.fhir.conftest import mint_token

    for n in range(applications):
        software = Application.objects.create(
            name=f"Logiciel {n}",
            user=administrator,
            client_type=Application.CLIENT_PUBLIC,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=REDIRECT_URI,
        )
        mint_token(doctor.user, software, "user/*.rs")
    page = Client()
    page.force_login(doctor.user)
    page.get("/mon-compte/applications/")
    # The session, its user, the live access tokens, the unrevoked refresh tokens, the
    # applications' names.
    with django_assert_num_queries(5):
        response = page.get("/mon-compte/applications/")
    assert response.content.decode().count("Retirer l") == applications
