"""A professional corrects a vaccination or a measure (a patient's declaration too): a new
version through the entry's "new version" page, the old one kept, marked "Remplacé", and no
longer counted by the calendar, the charts or the synthèse. A forged correction (another
patient's entry, an entry of another kind, a professional who may not deposit the type) is
refused with nothing stored. And the issue's own example: a pressure of 30/200 is refused as
implausible, in French and in English."""

from __future__ import annotations

import html
import uuid
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from identity.errors import AccessDenied
from identity.models import Patient, Professional
from records.models import AccessEvent, Entry, EntryStatus, ProfessionDocumentRule
from records.profile import Measure, Vaccination
from records.services import profile as services
from tests.records.conftest import logged_in
from tests.records.helpers import days_ago

pytestmark = pytest.mark.django_db

NEW_VERSION = "Déposer une nouvelle version"


def _stored() -> tuple[int, int, int]:
    return Entry.objects.count(), Measure.objects.count(), Vaccination.objects.count()


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _new_version(entry: Entry) -> str:
    return reverse("records:entry_new_version", args=[entry.public_id])


def _detail(entry: Entry) -> str:
    return reverse("records:entry_detail", args=[entry.public_id])


def _declared_weight(alice: Patient, value: str) -> Entry:
    return services.measure_record(
        actor=alice.user,  # type: ignore[arg-type]
        patient=alice,
        kind="weight",
        value=value,
        measured_on=days_ago(5),
    )


def _pressure(doctor: Professional, alice: Patient, systolic: str, diastolic: str) -> Entry:
    return services.measure_record(
        actor=doctor.user,
        patient=alice,
        kind="blood_pressure",
        value=systolic,
        value2=diastolic,
        measured_on=days_ago(1),
    )


def test_dr_martin_corrects_a_vaccination_through_the_pages(
    alice: Patient, doctor: Professional
) -> None:
    wrong = services.vaccination_record(
        actor=doctor.user, patient=alice, vaccine_code="dtp_adult", given_on=days_ago(2), lot="A1"
    )
    client = logged_in(doctor.user)
    assert NEW_VERSION in _page(client, _detail(wrong))
    form = _page(client, _new_version(wrong))
    assert 'value="dtp_adult" selected' in form and 'value="A1"' in form  # the current version
    data = {
        "vaccine_code": "dtp_adult",
        "given_on": days_ago(40).isoformat(),
        "dose_number": "1",
        "lot": "B2",
        "submission_key": str(uuid.uuid4()),
    }
    response = client.post(_new_version(wrong), data)
    assert response.status_code == 302
    wrong.refresh_from_db()
    corrected = Entry.objects.get(replaces=wrong)
    assert wrong.status == EntryStatus.REPLACED and corrected.status == EntryStatus.CURRENT
    assert Vaccination.objects.get(entry=corrected).lot == "B2"
    assert response["Location"] == _detail(corrected)
    old_page = _page(client, _detail(wrong))
    assert "Remplacé" in old_page and NEW_VERSION not in old_page
    # The calendar counts the corrected date only.
    calendar = _page(logged_in(alice.user), reverse("records:my_vaccinations"))  # type: ignore[arg-type]
    assert f"fait le {days_ago(40):%d/%m/%Y}" in calendar
    assert f"fait le {days_ago(2):%d/%m/%Y}" not in calendar


def test_dr_martin_corrects_a_measure_the_patient_declared(
    alice: Patient, doctor: Professional
) -> None:
    typo = _declared_weight(alice, "87,4")
    client = logged_in(doctor.user)
    form = _page(client, _new_version(typo))
    assert 'value="87,4"' in form and 'value="weight" selected' in form
    data = {
        "kind": "weight",
        "value": "78,4",
        "measured_on": days_ago(5).isoformat(),
        "submission_key": str(uuid.uuid4()),
    }
    assert client.post(_new_version(typo), data).status_code == 302
    typo.refresh_from_db()
    corrected = Entry.objects.get(replaces=typo)
    assert typo.status == EntryStatus.REPLACED
    # The new version is the professional's, the declaration kept as it was.
    assert corrected.author == doctor and not corrected.declared_by_patient
    assert typo.declared_by_patient and Measure.objects.get(entry=typo).display_value == "87,4 kg"
    assert "Remplacé" in _page(client, _detail(typo))
    chart = _page(client, reverse("records:measure_pro", args=[alice.public_id, "weight"]))
    assert chart.count('class="value"') == 1 and "78,4 kg" in chart and "87,4 kg" not in chart
    synthesis = _page(client, reverse("records:patient_home", args=[alice.public_id]))
    assert "78,4 kg" in synthesis and "87,4 kg" not in synthesis


def test_a_correction_of_a_blood_pressure_is_checked_like_a_new_one(
    alice: Patient, doctor: Professional
) -> None:
    first = _pressure(doctor, alice, "128", "82")
    client = logged_in(doctor.user)
    before = _stored()
    data = {"kind": "blood_pressure", "value": "30", "value2": "200"}
    data |= {"measured_on": days_ago(1).isoformat(), "submission_key": str(uuid.uuid4())}
    response = client.post(_new_version(first), data)
    assert response.status_code == 400
    assert "30/200 non plausible" in html.unescape(response.content.decode())
    first.refresh_from_db()
    assert first.status == EntryStatus.CURRENT and _stored() == before


def test_a_correction_naming_another_patient_s_entry_or_kind_is_refused(
    alice: Patient, bob: Patient, doctor: Professional, stranger_doctor: Professional
) -> None:
    weight = services.measure_record(
        actor=doctor.user, patient=alice, kind="weight", value="70", measured_on=days_ago(3)
    )
    vaccination = services.vaccination_record(
        actor=doctor.user, patient=alice, vaccine_code="influenza", given_on=days_ago(3)
    )
    bobs = services.measure_record(
        actor=stranger_doctor.user, patient=bob, kind="weight", value="80", measured_on=days_ago(3)
    )
    before = (_stored(), AccessEvent.objects.count())
    bad: list[dict[str, Any]] = [
        {"patient": alice, "replaces": vaccination},  # a measure replacing a vaccination
        {"patient": alice, "replaces": bobs},  # another patient's entry
        {"patient": bob, "replaces": weight},  # written into Bob's DMP, out of scope
    ]
    for kwargs in bad:
        with pytest.raises((ValidationError, AccessDenied)):
            services.measure_record(
                actor=doctor.user, kind="weight", value="71", measured_on=days_ago(1), **kwargs
            )
    with pytest.raises(ValidationError, match="introuvable"):
        services.vaccination_record(
            actor=doctor.user,
            patient=alice,
            vaccine_code="influenza",
            given_on=days_ago(1),
            replaces=weight,
        )
    client = logged_in(doctor.user)
    measure_data = {"kind": "weight", "value": "71", "measured_on": days_ago(1).isoformat()}
    # Bob's entry answers 404, exactly as a missing one; measure fields posted to a
    # vaccination's correction are not a vaccination (400).
    assert client.post(_new_version(bobs), measure_data).status_code == 404
    assert client.post(_new_version(vaccination), measure_data).status_code == 400
    assert (_stored(), AccessEvent.objects.count()) == before
    for entry in (weight, vaccination, bobs):
        entry.refresh_from_db()
        assert entry.status == EntryStatus.CURRENT


def test_who_may_not_deposit_the_type_gets_no_link_and_cannot_correct(
    alice: Patient, pharmacist: Professional, emergency_doctor: Professional
) -> None:
    weight = _declared_weight(alice, "70")
    vaccination = services.vaccination_record(
        actor=alice.user,  # type: ignore[arg-type]
        patient=alice,
        vaccine_code="influenza",
        given_on=days_ago(3),
    )
    data = {"kind": "weight", "value": "71", "measured_on": days_ago(1).isoformat()}
    pharmacy = logged_in(pharmacist.user)
    # Pharmacists vaccinate: the link is theirs while the matrix lets them deposit the type.
    assert NEW_VERSION in _page(pharmacy, _detail(vaccination))
    ProfessionDocumentRule.objects.create(
        profession=pharmacist.profession, document_type=services.MEASURE_DOCUMENT_TYPE
    )
    ProfessionDocumentRule.objects.create(
        profession=pharmacist.profession, document_type=services.VACCINATION_DOCUMENT_TYPE
    )
    before = _stored()
    # A type the matrix refuses is out of their scope: 404, as a missing entry.
    assert pharmacy.get(_detail(weight)).status_code == 404
    assert pharmacy.post(_new_version(weight), data).status_code == 404
    assert pharmacy.post(_new_version(vaccination), {}).status_code == 404
    # An emergency access reads the entry but deposits nothing: no link, 403.
    emergency = logged_in(emergency_doctor.user)
    assert NEW_VERSION not in _page(emergency, _detail(weight))
    assert emergency.post(_new_version(weight), data).status_code == 403
    assert _stored() == before
    weight.refresh_from_db()
    assert weight.status == EntryStatus.CURRENT


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("fr", "Pression artérielle 30/200 non plausible : la systolique doit dépasser"),
        ("en", "Blood pressure 30/200 is implausible: the systolic must be higher"),
    ],
)
def test_a_pressure_of_30_over_200_is_refused_as_implausible(
    alice: Patient, doctor: Professional, language: str, message: str
) -> None:
    with translation.override(language), pytest.raises(ValidationError) as refused:
        _pressure(doctor, alice, "30", "200")
    assert message in " ".join(refused.value.messages)
    client = logged_in(doctor.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    data = {"kind": "blood_pressure", "value": "30", "value2": "200"}
    data |= {"measured_on": days_ago(1).isoformat(), "submission_key": str(uuid.uuid4())}
    response = client.post(reverse("records:measure_new", args=[alice.public_id]), data)
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert not Entry.objects.exists()


@pytest.mark.parametrize("size", [1, 60])
def test_the_correction_pages_have_pinned_query_counts(
    size: int, alice: Patient, doctor: Professional, django_assert_num_queries: Any
) -> None:
    for index in range(size):
        last = services.measure_record(
            actor=doctor.user,
            patient=alice,
            kind="weight",
            value=str(60 + index % 30),
            measured_on=days_ago(1 + index),
        )
    client = logged_in(doctor.user)
    client.get(_detail(last))  # warm the session
    # session, user with the professional, entry + measure + how the DMP is held, event (1)
    with django_assert_num_queries(4):
        assert client.get(_detail(last)).status_code == 200
    # the same, and the event of the form's read
    with django_assert_num_queries(4):
        assert client.get(_new_version(last)).status_code == 200


def test_the_correction_page_in_english(alice: Patient, doctor: Professional) -> None:
    weight = _declared_weight(alice, "70")
    client = logged_in(doctor.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = _page(client, _new_version(weight))
    assert "Correct a measurement" in page and "Corriger" not in page
