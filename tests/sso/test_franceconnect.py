"""FranceConnect against a real OpenID Connect provider on loopback: linked to a DMP account
only by its patient, signed in with password and second factor, when the civil identity agrees
with the DMP's; then it logs in that account, and the second factor is still asked."""

from __future__ import annotations

import html
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.cache import cache
from django.test import Client

from identity.models import Patient
from records.models import AccessAction, AccessEvent
from tests.cast import fresh_login, totp_code
from tests.sso.conftest import Journey, Provider, provider_login

pytestmark = pytest.mark.django_db


def fc_claims(**changes: str) -> dict[str, Any]:
    """Alice's pivot identity as FranceConnect sends it."""
    claims = {
        "acr": "eidas1",
        "given_name": "Alice Marie",
        "family_name": "DUPONT",
        "birthdate": "1985-05-14",
        "gender": "female",
        "email": "alice.perso@test.example",
    }
    claims.update(changes)
    return claims


def _refused(journey: Journey, reason: str, message: str) -> AccessEvent:
    assert journey.response.status_code == 403
    assert message in html.unescape(journey.response.content.decode())
    assert not SocialAccount.objects.exists()
    event = AccessEvent.objects.filter(action=AccessAction.LOGIN_REFUSED).get()
    assert event.detail == f"franceconnect: {reason}"
    return event


def _link_as_alice(client: Client, sso: Provider, alice: Patient, **changes: str) -> Journey:
    """Alice, signed in with password and TOTP, links a FranceConnect identity."""
    fresh_login(client, alice.user)
    return provider_login(
        client, sso, "franceconnect", username="fc", claims=fc_claims(**changes), process="connect"
    )


def test_the_patient_links_franceconnect_then_logs_in_with_it_and_a_second_factor(
    client: Client, sso: Provider, alice: Patient
) -> None:
    fresh_login(client, alice.user)  # password + TOTP: the proof
    linked = provider_login(
        client, sso, "franceconnect", username="fc-alice", claims=fc_claims(), process="connect"
    )
    assert linked.response.status_code == 302
    account = SocialAccount.objects.get()
    assert (account.provider, account.user_id) == ("franceconnect", alice.user.pk)

    client.post("/accounts/logout/")
    again = provider_login(client, sso, "franceconnect", username="fc-alice", claims=fc_claims())
    assert again.response.status_code == 302
    assert again.response["Location"] == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session  # FranceConnect alone is not enough
    cache.clear()  # allauth refuses a TOTP code twice: forget the one fresh_login used
    done = client.post("/accounts/2fa/authenticate/", {"code": totp_code()})
    assert done.status_code == 302
    assert int(client.session["_auth_user_id"]) == alice.user.pk


def test_an_identity_never_linked_logs_in_nobody(
    client: Client, sso: Provider, alice: Patient
) -> None:
    """Not even with the e-mail address of a patient's account in its claims."""
    journey = provider_login(
        client, sso, "franceconnect", username="fc-x", claims=fc_claims(email=alice.user.email)
    )
    _refused(journey, "fc_not_linked", "n'est liée à aucun DMP")
    assert "_auth_user_id" not in client.session


def test_an_identity_that_contradicts_the_dmp_is_not_linked_and_the_patient_sees_it(
    client: Client, sso: Provider, alice: Patient
) -> None:
    journey = _link_as_alice(client, sso, alice, birthdate="1985-05-15")
    event = _refused(journey, "fc_identity", "ne correspond pas à celle de votre DMP")
    assert event.patient_id == alice.pk
    assert "Connexion refusée" in client.get("/mon-dmp/historique/").content.decode()


@pytest.mark.parametrize(
    "change",
    [{"family_name": "DURAND"}, {"given_name": "Bob"}, {"gender": "male"}, {"birthdate": ""}],
)
def test_every_identity_trait_is_compared(
    client: Client, sso: Provider, alice: Patient, change: dict[str, str]
) -> None:
    journey = _link_as_alice(client, sso, alice, **change)
    _refused(journey, "fc_identity", "ne correspond pas à celle de votre DMP")


def test_accents_and_case_are_not_contradictions(
    client: Client, sso: Provider, alice: Patient
) -> None:
    journey = _link_as_alice(client, sso, alice, family_name="Dupont", given_name="alice")
    assert journey.response.status_code == 302
    assert SocialAccount.objects.get().user_id == alice.user.pk


def test_linking_needs_a_login_with_the_second_factor(
    client: Client, sso: Provider, alice: Patient
) -> None:
    client.force_login(alice.user)  # a session without a recorded second factor
    journey = provider_login(
        client, sso, "franceconnect", username="fc-a", claims=fc_claims(), process="connect"
    )
    _refused(journey, "fc_not_proven", "connectez-vous d'abord à votre DMP")
