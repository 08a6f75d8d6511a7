"""Every act of a professional that changes who has access wants a fresh re-authentication:
attesting the patient's consent, reopening a closed DMP, reissuing the opening letter (its
code opens the patient's account). A session logged in an hour ago is sent to confirm its
password first; allauth then replays the POST, which does the act."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from identity.models import ActivationCode, Patient, Professional
from records.models import CareRelation
from records.services import lifecycle
from records.services.lifecycle import PatientTraits
from tests.cast import PASSWORD, fresh_login, make_patient

pytestmark = pytest.mark.django_db

Act = tuple[str, dict[str, str], Callable[[], bool]]


def _attest(alice: Patient, stranger: Professional, doctor: Professional) -> Act:
    return (
        reverse("records:attest_consent"),
        {"insc": alice.insc, "consent": "on"},
        lambda: CareRelation.objects.filter(professional=stranger).exists(),
    )


def _reopen(alice: Patient, stranger: Professional, doctor: Professional) -> Act:
    lifecycle.dmp_close(actor=alice.user, patient=alice)  # type: ignore[arg-type]

    def reopened() -> bool:
        alice.refresh_from_db()
        return alice.is_open

    return (
        reverse("records:dmp_reopen_by_professional"),
        {"insc": alice.insc, "consent": "on"},
        reopened,
    )


def _reissue(alice: Patient, stranger: Professional, doctor: Professional) -> Act:
    # A DMP whose patient has not activated an account yet, read by the stranger (authorised).
    patient = make_patient(
        opened_by=stranger,
        nir="1 78 02 69 123 789 03",
        traits=PatientTraits(
            birth_name="LEROY", first_names="Bob", sex="M", birth_date=datetime.date(1978, 2, 3)
        ),
    )
    codes = ActivationCode.objects.filter(patient=patient)
    before = codes.count()
    return (
        reverse("records:letter_reissue", args=[patient.public_id]),
        {},
        lambda: codes.count() > before,
    )


@pytest.mark.parametrize("make_act", [_attest, _reopen, _reissue])
def test_an_old_login_must_confirm_its_password_before_the_act(
    alice: Patient, stranger_doctor: Professional, doctor: Professional, make_act: Any
) -> None:
    url, data, done = make_act(alice, stranger_doctor, doctor)
    client = Client()
    client.force_login(stranger_doctor.user)  # logged in long ago: no recent confirmation
    response = client.post(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert not done()
    # Confirming the password replays the suspended POST, which acts.
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code in {200, 302}
    assert done()


def test_after_confirming_out_of_scope_is_still_404(
    alice: Patient, stranger_doctor: Professional
) -> None:
    client = Client()
    fresh_login(client, stranger_doctor.user)
    response = client.post(reverse("records:letter_reissue", args=[alice.public_id]))
    assert response.status_code == 404
