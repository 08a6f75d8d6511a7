"""The session store (identity.sessions): Django's database sessions, their read on every
request kept compiled. What a user sees must not change: their own session, and none once it
has expired or been deleted on the server, also after the statement was kept."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from identity.models import Patient, Professional

pytestmark = pytest.mark.django_db


def _signed_in(client: Client) -> bool:
    response = client.get(reverse("records:patient_search"))
    if response.status_code == 302:
        assert reverse("account_login") in response["Location"]
        return False
    assert response.status_code == 200
    return True


def test_it_is_the_session_engine() -> None:
    assert settings.SESSION_ENGINE == "identity.sessions"


def test_each_browser_reads_its_own_session(doctor: Professional, alice: Patient) -> None:
    martin, patient = Client(), Client()
    martin.force_login(doctor.user)
    patient.force_login(alice.user)
    for _ in range(3):  # the statement is kept after the first read: the same answers
        body = martin.get(reverse("records:patient_search")).content.decode()
        assert f'<span class="who">{doctor.user}</span>' in body
        body = patient.get(reverse("records:my_dmp")).content.decode()
        assert f'<span class="who">{alice.user}</span>' in body


def test_an_expired_session_is_no_longer_read(doctor: Professional) -> None:
    client = Client()
    client.force_login(doctor.user)
    assert _signed_in(client) and _signed_in(client)  # read twice: the statement is kept
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert not _signed_in(client)  # the time is this request's, not the kept statement's


def test_a_deleted_session_is_no_longer_read(doctor: Professional) -> None:
    client = Client()
    client.force_login(doctor.user)
    assert _signed_in(client) and _signed_in(client)
    Session.objects.filter(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value).delete()
    assert not _signed_in(client)


@pytest.mark.parametrize("cookie", ["", "short", "x" * 40, "a" * 32 + "'; --", "é" * 32])
def test_a_wrong_cookie_is_an_anonymous_visitor(doctor: Professional, cookie: str) -> None:
    client = Client()
    client.force_login(doctor.user)
    assert _signed_in(client)
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert not _signed_in(client)
