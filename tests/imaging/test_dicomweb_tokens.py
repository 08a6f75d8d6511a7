"""DICOMweb with the FHIR API's OAuth tokens: a viewer holding a token reads the images its
scopes cover, every event names the software, and a token that does not cover imaging, a
stranger's token or a forged one get nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from oauth2_provider.models import Application

from identity.models import Patient, Professional, User
from imaging.models import ImagingStudy
from records.models import AccessEvent
from tests.records.fhir.conftest import APP_NAME, REDIRECT_URI, mint_token

from .test_dicomweb import body, urls

pytestmark = pytest.mark.django_db


@pytest.fixture
def software(administrator: User) -> Application:
    return Application.objects.create(
        name=APP_NAME,
        user=administrator,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
    )


def _get(url: str, token: str) -> Any:
    return Client().get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_token_reads_the_study_and_the_events_name_the_software(
    doctor: Professional, alice: Patient, study: ImagingStudy, software: Application
) -> None:
    token = mint_token(doctor.user, software, "user/ImagingStudy.rs")
    before = AccessEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = _get(f"{urls(study)['study']}/metadata", token)
    assert response.status_code == 200
    assert body(response).startswith(b"[")
    events = AccessEvent.objects.filter(id__gt=before, patient=alice)
    assert events.exists()
    assert set(events.values_list("application", flat=True)) == {APP_NAME}
    assert set(events.values_list("actor_id", flat=True)) == {doctor.user.pk}


def test_a_token_without_imaging_in_its_scopes_is_refused(
    doctor: Professional, study: ImagingStudy, software: Application
) -> None:
    token = mint_token(doctor.user, software, "user/DocumentReference.rs")
    before = AccessEvent.objects.count()
    response = _get(urls(study)["instance"], token)
    assert response.status_code == 403
    assert AccessEvent.objects.count() == before  # nothing read, nothing traced


def test_a_strangers_token_finds_the_study_missing(
    stranger_doctor: Professional, study: ImagingStudy, software: Application
) -> None:
    token = mint_token(stranger_doctor.user, software, "user/ImagingStudy.rs")
    missing = urls(study)["instance"].rsplit("/", 1)[0] + "/1.2.3.4.5"
    out_of_scope = _get(urls(study)["instance"], token)
    assert out_of_scope.status_code == 404
    assert body(out_of_scope) == body(_get(missing, token))


def test_a_forged_or_expired_token_is_unauthorised(
    doctor: Professional, study: ImagingStudy, software: Application
) -> None:
    expired = mint_token(doctor.user, software, "user/ImagingStudy.rs", seconds=-60)
    for token in ("forged-token", expired):
        response = _get(urls(study)["instance"], token)
        assert response.status_code == 401
        assert "invalid_token" in response["WWW-Authenticate"]
