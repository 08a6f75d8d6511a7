"""A minor's imaging studies: the upload form offers the two flags every deposit form offers
on a minor's DMP, and a study kept from the representatives answers them 404 by every URL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from pydicom.uid import generate_uid

from identity.models import Patient, Professional, User
from imaging.models import ImagingStudy, Instance, Series
from tests.cast import make_minor, make_user, without_csrf

from . import dicom_factory as F
from .conftest import alice_identity, logged_in, upload

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]


@pytest.fixture
def parent(db: None) -> User:
    return make_user("bob.parent@test.example", first_name="Bob", last_name="Leroy")


@pytest.fixture
def lea(doctor: Professional, parent: User) -> Patient:
    return make_minor(opened_by=doctor, parents=[parent])


def _lea_ct(study_uid: str, description: str) -> bytes:
    ds = F.ct_slice(32, 32, seed=1)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
    ds.StudyDescription = description
    ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "LEROY^LEA", "20110402", "F"
    ds.PatientID = "IPP-LEA"
    return F.to_bytes(ds)


def _parent_client(parent: User, lea: Patient) -> Client:
    from allauth.mfa.totp.internal.auth import TOTP

    from tests.cast import TOTP_SECRET

    TOTP.activate(parent, TOTP_SECRET)
    client = logged_in(parent)
    assert client.post("/mon-dmp/famille/choisir/", {"dmp": str(lea.public_id)}).status_code == 302
    return client


def test_the_upload_form_offers_the_two_flags_on_a_minors_dmp_only(
    doctor: Professional, lea: Patient, alice: Patient
) -> None:
    client = logged_in(doctor.user)
    minor = client.get(f"/pro/dmp/{lea.public_id}/imagerie/", HTTP_ACCEPT_LANGUAGE="en")
    text = minor.content.decode()
    assert 'name="secret"' in text and 'name="hidden_from_representatives"' in text
    assert "Invisible to the legal representatives" in text
    adult = client.get(f"/pro/dmp/{alice.public_id}/imagerie/").content.decode()
    assert 'name="secret"' not in adult and 'name="hidden_from_representatives"' not in adult


def test_a_secret_study_of_a_minor_is_404_for_her_representative_by_every_url(
    doctor: Professional,
    lea: Patient,
    parent: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = logged_in(doctor.user)
    with django_capture_on_commit_callbacks(execute=True):
        secret = upload(client, lea, [_lea_ct(generate_uid(), "IRM pelvienne")], secret="on")
        shown = upload(client, lea, [_lea_ct(generate_uid(), "Radio poignet")])
    assert secret.status_code == shown.status_code == 303
    kept = ImagingStudy.objects.select_related("entry").get(entry__title="IRM pelvienne")
    assert kept.entry.secret and kept.entry.hidden_from_representatives
    seen = ImagingStudy.objects.select_related("entry").get(entry__title="Radio poignet")
    assert not seen.entry.secret and not seen.entry.hidden_from_representatives
    series, instance = Series.objects.get(study=kept), Instance.objects.get(series__study=kept)
    # The doctor still reaches it; the parent acting for Léa finds it missing everywhere.
    assert client.get(f"/imagerie/etude/{kept.entry.public_id}/").status_code == 200
    parent_client = _parent_client(parent, lea)
    listing = parent_client.get("/mon-dmp/imagerie/").content.decode()
    assert "Radio poignet" in listing and "IRM pelvienne" not in listing
    assert parent_client.get(f"/imagerie/etude/{seen.entry.public_id}/").status_code == 200
    for template, public_id in (
        ("/imagerie/etude/{}/", kept.entry.public_id),
        ("/imagerie/etude/{}/apercus.json", kept.entry.public_id),
        ("/imagerie/serie/{}/", series.public_id),
        ("/imagerie/serie/{}/vignette.png", series.public_id),
        ("/imagerie/instance/{}/vignette.png", instance.public_id),
        ("/imagerie/instance/{}/rendu.png", instance.public_id),
        ("/imagerie/instance/{}/original.dcm", instance.public_id),
    ):
        real = parent_client.get(template.format(public_id))
        missing = parent_client.get(template.format(uuid.uuid4()))
        assert real.status_code == missing.status_code == 404, template
        assert without_csrf(real.content) == without_csrf(missing.content), template
    dicomweb = parent_client.get(f"/dicomweb/studies/{kept.study_instance_uid}/metadata")
    assert dicomweb.status_code == 404
    found = parent_client.get("/dicomweb/studies")
    listed = b"".join(found.streaming_content).decode()
    assert seen.study_instance_uid in listed and kept.study_instance_uid not in listed


def test_a_staged_upload_keeps_the_flags_until_confirmed(
    doctor: Professional, lea: Patient, django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(doctor.user)
    ds = F.ct_slice(32, 32, seed=2)
    alice_identity(ds)  # another identity than Léa's: staged for confirmation
    response = upload(client, lea, [F.to_bytes(ds)], hidden_from_representatives="on")
    assert response.status_code == 303 and "/confirmer/" in response["Location"]
    assert not ImagingStudy.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(response["Location"], {"decision": "confirm"})
    assert done.status_code == 303
    entry = ImagingStudy.objects.select_related("entry").get().entry
    assert entry.hidden_from_representatives and not entry.secret
