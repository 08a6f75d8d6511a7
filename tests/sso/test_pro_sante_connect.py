"""Pro Santé Connect against a real OpenID Connect provider on loopback: the professional is
matched by RPPS, the card counts as the second factor, the structure is on every access event;
every doubtful answer is refused with a clear page, traced, and nothing is linked."""

from __future__ import annotations

import html
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from identity.models import Patient, Professional, User
from records.models import AccessAction, AccessEvent
from tests.sso.conftest import Journey, Provider, provider_login

pytestmark = pytest.mark.django_db

LILAS = "Clinique des Lilas (FINESS 750000001)"


def psc_claims(
    professional: Professional | None = None,
    *,
    rpps: str = "",
    acr: str = "eidas1",
    email: str = "",
    structures: tuple[tuple[str, str], ...] = (("750000001", "Clinique des Lilas"),),
) -> dict[str, Any]:
    """Claims as Pro Santé Connect sends them (IDNPS = 8 + RPPS, activities with FINESS)."""
    number = rpps or (professional.rpps if professional else "")
    claims: dict[str, Any] = {
        "acr": acr,
        "SubjectNameID": f"8{number}",
        "preferred_username": f"8{number}",
        "given_name": "MARIE",
        "family_name": "CURIE",
        "SubjectRefPro": {
            "exercices": [
                {
                    "codeProfession": "10",
                    "activities": [
                        {"numeroFinessSite": finess, "raisonSocialeSite": name}
                        for finess, name in structures
                    ],
                }
            ]
        },
    }
    if email:
        claims["email"] = email
    return claims


def _refused(journey: Journey, client: Client, reason: str, message: str) -> None:
    """A refusal: the clear page, nobody signed in, nothing linked, one traced event."""
    response = journey.response
    assert response.status_code == 403
    assert message in html.unescape(response.content.decode())
    assert "_auth_user_id" not in client.session
    assert not SocialAccount.objects.exists()
    event = AccessEvent.objects.filter(action=AccessAction.LOGIN_REFUSED).get()
    assert event.detail == f"psc: {reason}"


def test_a_known_rpps_logs_in_without_another_factor_and_acts_for_its_structure(
    client: Client, sso: Provider, doctor: Professional, alice: Patient
) -> None:
    journey = provider_login(client, sso, "psc", username="card-1", claims=psc_claims(doctor))

    assert journey.response.status_code == 302
    assert journey.response["Location"] == "/"
    assert int(client.session["_auth_user_id"]) == doctor.user.pk
    account = SocialAccount.objects.get()
    assert (account.provider, account.user_id) == ("psc", doctor.user.pk)
    # The card was the second factor: patient pages open at once (no TOTP asked).
    page = client.get(f"/pro/dmp/{alice.public_id}/")
    assert page.status_code == 200
    event = AccessEvent.objects.filter(actor=doctor.user).latest("id")
    assert event.actor_structure == LILAS
    # The patient sees who, and for which structure.
    patient = Client()
    patient.force_login(alice.user)
    history = patient.get("/mon-dmp/historique/").content.decode()
    assert f"{doctor.user}, {LILAS}" in history


def test_the_second_login_uses_the_link_made_by_the_first(
    client: Client, sso: Provider, doctor: Professional
) -> None:
    provider_login(client, sso, "psc", username="card-1", claims=psc_claims(doctor))
    client.post("/accounts/logout/")
    again = provider_login(client, sso, "psc", username="card-1", claims=psc_claims(doctor))
    assert again.response.status_code == 302
    assert int(client.session["_auth_user_id"]) == doctor.user.pk
    assert SocialAccount.objects.count() == 1


def test_an_unknown_rpps_is_refused(client: Client, sso: Provider, doctor: Professional) -> None:
    journey = provider_login(
        client, sso, "psc", username="card-2", claims=psc_claims(rpps="10000000009")
    )
    _refused(journey, client, "unknown_rpps", "Aucun compte professionnel vérifié")


def test_an_email_claim_naming_another_account_links_nothing(
    client: Client, sso: Provider, doctor: Professional
) -> None:
    """Matching is by RPPS only: an e-mail claim equal to a portal account's changes nothing."""
    claims = psc_claims(rpps="10000000009", email=doctor.user.email)
    journey = provider_login(client, sso, "psc", username="card-3", claims=claims)
    _refused(journey, client, "unknown_rpps", "Aucun compte professionnel vérifié")
    assert EmailAddress.objects.filter(email=doctor.user.email).count() == 1


def test_an_authentication_level_below_the_required_one_is_refused(
    client: Client, settings: Any, sso: Provider, doctor: Professional
) -> None:
    providers = settings.SOCIALACCOUNT_PROVIDERS
    for app in providers["openid_connect"]["APPS"]:
        app["settings"]["acr"] = "eidas2"
    settings.SOCIALACCOUNT_PROVIDERS = providers
    start = client.post("/accounts/oidc/psc/login/", {"process": "login"})
    assert "acr_values=eidas2" in start["Location"]  # asked for …
    journey = provider_login(client, sso, "psc", username="card-4", claims=psc_claims(doctor))
    _refused(journey, client, "acr", "niveau d'authentification obtenu est insuffisant")


def test_a_login_without_acr_is_refused(
    client: Client, sso: Provider, doctor: Professional
) -> None:
    claims = psc_claims(doctor)
    del claims["acr"]
    journey = provider_login(client, sso, "psc", username="card-5", claims=claims)
    _refused(journey, client, "acr", "niveau d'authentification obtenu est insuffisant")


@pytest.mark.parametrize("scenario", ["bad_signature", "wrong_audience", "expired"])
def test_an_id_token_the_portal_cannot_trust_is_refused(
    client: Client, sso: Provider, doctor: Professional, scenario: str
) -> None:
    journey = provider_login(
        client,
        sso,
        "psc",
        username=f"card-{scenario}",
        claims=psc_claims(doctor),
        scenario=scenario,
    )
    _refused(journey, client, "provider", "n'a pas confirmé votre identité")


def test_an_id_token_with_another_logins_nonce_is_refused(
    client: Client, sso: Provider, doctor: Professional
) -> None:
    journey = provider_login(
        client, sso, "psc", username="card-6", claims=psc_claims(doctor), scenario="other_nonce"
    )
    _refused(journey, client, "nonce", "ne correspond pas à votre demande de connexion")


def test_a_replayed_callback_is_refused(
    client: Client, sso: Provider, doctor: Professional
) -> None:
    journey = provider_login(client, sso, "psc", username="card-7", claims=psc_claims(doctor))
    assert journey.response.status_code == 302
    client.post("/accounts/logout/")
    replay = client.get(journey.callback)
    assert replay.status_code == 403
    assert "n'a pas confirmé votre identité" in html.unescape(replay.content.decode())
    assert "_auth_user_id" not in client.session
    event = AccessEvent.objects.filter(action=AccessAction.LOGIN_REFUSED).get()
    assert event.detail == "psc: provider"


def test_without_configuration_the_provider_is_off(client: Client, doctor: Professional) -> None:
    assert client.post("/accounts/oidc/psc/login/", {"process": "login"}).status_code == 404


def test_an_unverified_account_is_never_created(
    client: Client, sso: Provider, unverified_doctor: Professional
) -> None:
    """A pending professional may log in (as with a password) but reads nothing; no account
    is created for anyone."""
    users = User.objects.count()
    journey = provider_login(
        client, sso, "psc", username="card-8", claims=psc_claims(unverified_doctor)
    )
    assert journey.response.status_code == 302
    assert User.objects.count() == users


def test_the_refusal_page_speaks_english_too(
    client: Client, sso: Provider, doctor: Professional
) -> None:
    client.cookies["django_language"] = "en"
    journey = provider_login(
        client, sso, "psc", username="card-9", claims=psc_claims(rpps="10000000009")
    )
    _refused(journey, client, "unknown_rpps", "No verified professional account matches")


def test_with_several_structures_the_professional_chooses_one_before_anything_else(
    client: Client, sso: Provider, doctor: Professional, alice: Patient
) -> None:
    claims = psc_claims(
        doctor, structures=(("750000001", "Clinique des Lilas"), ("130000002", "CHU Nord"))
    )
    journey = provider_login(client, sso, "psc", username="card-10", claims=claims)
    assert journey.response.status_code == 302
    blocked = client.get(f"/pro/dmp/{alice.public_id}/")
    assert blocked.status_code == 302
    assert blocked["Location"] == "/pro/structure/"
    page = client.get("/pro/structure/").content.decode()
    assert "CHU Nord (FINESS 130000002)" in page and LILAS in page
    assert client.post("/pro/structure/", {"structure": "7"}).status_code == 400
    assert client.post("/pro/structure/", {"structure": "1"}).status_code == 302
    assert client.get(f"/pro/dmp/{alice.public_id}/").status_code == 200
    event = AccessEvent.objects.filter(actor=doctor.user).latest("id")
    assert event.actor_structure == "CHU Nord (FINESS 130000002)"


def test_the_login_page_offers_both_providers_once_configured(
    client: Client, sso: Provider
) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert "Pro Santé Connect" in page and "FranceConnect" in page


def test_the_structure_page_in_english_at_a_constant_query_count(
    client: Client, doctor: Professional, django_assert_num_queries: Any
) -> None:
    client.force_login(doctor.user)
    client.cookies["django_language"] = "en"
    client.get("/pro/structure/")  # warm the session
    # 1 session, 2 user with the professional profile (verified?, one join); nothing else:
    # the choices are in the session.
    with django_assert_num_queries(2):
        page = client.get("/pro/structure/")
    assert "No structure to choose" in html.unescape(page.content.decode())
