"""Pages answer in French (default) and English; headers and cookies as QUALITY.md asks."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional, User


def martin_user() -> User:
    return User.objects.get(email="dr.martin@demo.dmp.example")


pytestmark = pytest.mark.django_db

PUBLIC_PAGES = ["home", "account_login", "account_signup", "account_reset_password"]


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_pages_speak_french_by_default(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    body = response.content.decode()
    assert '<html lang="fr">' in body
    assert "Se connecter" in body or "Connexion" in body


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_pages_speak_english_on_request(client: Client, name: str) -> None:
    response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    body = response.content.decode()
    assert '<html lang="en">' in body
    assert "Skip to content" in body
    assert "Aller au contenu" not in body


def test_language_switcher_posts_and_sticks(client: Client) -> None:
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert "Skip to content" in client.get("/").content.decode()


@pytest.mark.parametrize(
    ("fixture", "french", "english"),
    [
        ("doctor", "Bonjour", "Hello"),
        ("unverified_doctor", "en attente de vérification", "awaiting verification"),
        ("alice", "Mon dossier médical", "My medical record"),
    ],
)
def test_role_home_pages_in_both_languages(
    client: Client, request: pytest.FixtureRequest, fixture: str, french: str, english: str
) -> None:
    user = request.getfixturevalue(fixture)
    client.force_login(user if isinstance(user, User) else user.user)
    assert french in client.get("/", follow=True).content.decode()
    english_page = client.get("/", HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert english in english_page.content.decode()


def test_security_headers(client: Client) -> None:
    response = client.get(reverse("account_login"))
    csp = response["Content-Security-Policy"]
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_no_inline_script_or_style_in_our_pages(client: Client, doctor: Professional) -> None:
    client.force_login(doctor.user)
    for url in ("/", reverse("account_login"), reverse("mfa_index")):
        body = client.get(url).content.decode()
        assert "<script>" not in body
        assert " style=" not in body


def test_missing_page_is_a_french_404(client: Client, settings: object) -> None:
    response = client.get("/nulle-part/")
    assert response.status_code == 404
    assert "Page introuvable" in response.content.decode()


def test_database_down_gives_a_clear_503(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr("dmp_portal.views.render", broken)
    response = client.get("/")
    assert response.status_code == 503
    assert "momentanément indisponible" in response.content.decode()
    assert response["Retry-After"] == "30"


def test_seed_demo_is_idempotent() -> None:
    call_command("seed_demo")
    counts = (User.objects.count(), Professional.objects.count())
    call_command("seed_demo")
    # 10 accounts and Alice and Bob, with the family (records.demo_family): Léa's mother,
    # Alice's husband, Léa's DMP.
    assert (User.objects.count(), Professional.objects.count()) == counts == (12, 7)
    assert Patient.objects.count() == 3
    alice = Patient.objects.get(user__email="alice.dupont@demo.dmp.example")
    assert alice.medecin_traitant == Professional.objects.get(user=martin_user())
    assert alice.opposes_samu and not alice.opposes_bris_de_glace
    martin = User.objects.get(email="dr.martin@demo.dmp.example")
    assert martin.check_password("demo-dmp-2026")
    assert martin.is_verified_professional
    assert not User.objects.get(email="dr.nouveau@demo.dmp.example").is_verified_professional
