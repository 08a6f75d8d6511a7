"""Role gates: unverified professionals and administrators reach no clinical page."""

from __future__ import annotations

import html
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from identity.models import Patient, Professional, User
from tests.cast import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.dmp_portal.urls_for_tests")]


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get("/test/clinical/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_verified_professional_reaches_clinical_pages(client: Client, doctor: Professional) -> None:
    client.force_login(doctor.user)
    assert client.get("/test/clinical/").status_code == 200
    assert client.get("/test/patient/").status_code == 403


def test_unverified_professional_logs_in_but_reaches_no_clinical_page(
    client: Client, unverified_doctor: Professional
) -> None:
    client.force_login(unverified_doctor.user)
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert "en attente de vérification" in home.content.decode()
    forbidden = client.get("/test/clinical/")
    assert forbidden.status_code == 403
    assert "Accès refusé" in forbidden.content.decode()


def test_superuser_administrator_gets_no_clinical_access(
    client: Client, administrator: User
) -> None:
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(administrator, "JBSWY3DPEHPK3PXP")
    assert administrator.is_superuser
    client.force_login(administrator)
    assert client.get("/test/clinical/").status_code == 403
    assert client.get("/test/patient/").status_code == 403


def test_patient_pages_are_for_patients(client: Client, patient_user: User) -> None:
    client.force_login(patient_user)
    assert client.get("/test/patient/").status_code == 200
    assert client.get("/test/clinical/").status_code == 403


def test_sensitive_action_requires_a_fresh_reauthentication(
    client: Client, doctor: Professional, settings: object
) -> None:
    client.force_login(doctor.user)  # no recorded authentication: as if it were long ago
    assert client.get("/test/sensitive/").status_code == 200  # reading the form is fine
    response = client.post("/test/sensitive/")
    assert response.status_code == 302
    assert "reauthenticate" in response["Location"]
    # A wrong password does not; the right one replays the suspended POST.
    wrong = client.post(response["Location"], {"password": "not-it"})
    assert wrong.content != b"done POST"
    reauth = client.post(response["Location"], {"password": PASSWORD})
    assert reauth.content == b"done POST"
    assert client.post("/test/sensitive/").content == b"done POST"  # fresh for a while


def test_idle_session_expires(client: Client, alice: Patient) -> None:
    client.force_login(alice.user)
    assert client.get(reverse("records:my_dmp")).status_code == 200
    session = client.session
    session["dmp_last_seen"] = int(time.time()) - 29 * 60
    session.save()
    assert client.get(reverse("records:my_dmp")).status_code == 200  # 29 min: still in
    session = client.session
    session["dmp_last_seen"] = int(time.time()) - 31 * 60
    session.save()
    response = client.get(reverse("records:my_dmp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_the_activity_stamp_is_written_at_most_once_a_minute(
    client: Client, alice: Patient
) -> None:
    """A page read within the minute leaves the session unwritten (no UPDATE on every page);
    after a minute the stamp moves, so the idle timeout counts from the last minute's page."""
    client.force_login(alice.user)
    url = reverse("records:my_dmp")
    assert client.get(url).status_code == 200  # the first page writes the stamps
    stamped = client.session["dmp_last_seen"]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    session_writes = [
        q["sql"]
        for q in queries.captured_queries
        if "django_session" in q["sql"] and not q["sql"].lstrip().startswith("SELECT")
    ]
    assert session_writes == []
    assert client.session["dmp_last_seen"] == stamped
    session = client.session
    session["dmp_last_seen"] = int(time.time()) - 90
    session.save()
    before = int(time.time())
    assert client.get(url).status_code == 200
    assert client.session["dmp_last_seen"] >= before


def test_the_login_page_says_the_session_expired(client: Client, alice: Patient) -> None:
    client.force_login(alice.user)
    client.get(reverse("records:my_dmp"))
    session = client.session
    session["dmp_last_seen"] = int(time.time()) - 31 * 60
    session.save()
    response = client.get(reverse("records:my_history"), follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))
    assert "Your session expired" in response.content.decode()


def test_a_session_gone_from_the_server_is_said_expired(client: Client, alice: Patient) -> None:
    from django.contrib.sessions.models import Session

    client.force_login(alice.user)
    assert client.get(reverse("records:my_dmp")).status_code == 200
    Session.objects.all().delete()  # its lifetime ended while the page stayed open
    response = client.get(reverse("records:my_history"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))
    assert "Votre session a expiré" in html.unescape(response.content.decode())
    # Said once: a visitor who never logged in, or the next page, is not told.
    again = client.get(reverse("account_login"))
    assert "Votre session a expiré" not in html.unescape(again.content.decode())
    assert "expiré" not in Client().get(reverse("account_login")).content.decode()
