"""The request's user is loaded with the professional profile in one query, and nothing of
Django's checks after it changes: inactive accounts, a changed password, a deleted user."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory
from django.urls import reverse

from identity.backends import AuthenticationBackend
from identity.models import Patient, Professional, User

pytestmark = pytest.mark.django_db


def test_the_backend_is_the_first_and_the_one_logins_record(
    doctor: Professional, client: Client
) -> None:
    client.force_login(doctor.user)
    session = client.session
    assert session[auth.BACKEND_SESSION_KEY] == "identity.backends.AuthenticationBackend"


def test_the_professional_comes_with_the_user(
    doctor: Professional, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        user = AuthenticationBackend().get_user(doctor.user.pk)
        assert user is not None
        assert user.professional.rpps == doctor.rpps
        assert user.is_verified_professional


def test_a_patient_has_no_professional_and_asks_no_query_for_it(
    alice: Patient, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        user = AuthenticationBackend().get_user(alice.user_id)
        assert user is not None
        assert getattr(user, "professional", None) is None
        assert not user.is_verified_professional


def test_inactive_or_missing_users_are_nobody(doctor: Professional) -> None:
    backend = AuthenticationBackend()
    assert backend.get_user(10**9) is None
    User.objects.filter(pk=doctor.user.pk).update(is_active=False)
    assert backend.get_user(doctor.user.pk) is None


def test_a_changed_password_still_ends_the_other_sessions(doctor: Professional) -> None:
    client = Client()
    client.force_login(doctor.user)
    request = RequestFactory().get("/")
    request.session = client.session
    assert auth.get_user(request).pk == doctor.user.pk
    doctor.user.set_password("another-long-password-2026")
    doctor.user.save(update_fields=["password"])
    request.session = client.session
    assert isinstance(auth.get_user(request), AnonymousUser)


def test_a_professional_page_costs_two_queries_before_the_view(
    doctor: Professional, django_assert_num_queries: Any
) -> None:
    client = Client()
    client.force_login(doctor.user)
    url = reverse("records:patient_search")
    client.get(url)  # warm the session
    # session, user with the professional; the search page without a query asks nothing more
    with django_assert_num_queries(2):
        assert client.get(url).status_code == 200


def test_the_kept_statement_gives_each_user_their_own(doctor: Professional, alice: Patient) -> None:
    """The user's statement is kept compiled (identity.prepared) after its first run: each
    call still finds the user asked for, and nobody for an id that is no user's."""
    backend = AuthenticationBackend()
    for _ in range(2):
        found = backend.get_user(doctor.user.pk)
        assert found is not None and found.professional.rpps == doctor.rpps
        found = backend.get_user(alice.user_id)
        assert found is not None and found.email == alice.user.email
        assert getattr(found, "professional", None) is None
        assert backend.get_user(str(alice.user_id)) == alice.user  # as a session may hold it
    for wrong in (None, "", "abc", 10**9):
        assert backend.get_user(wrong) is None
