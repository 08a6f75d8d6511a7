"""The profil médical's items: written through the services and pages, each an entry of the
DMP (funnel, trail, versions), and refused with a French message when the input is bad —
nothing stored then."""

from __future__ import annotations

import datetime
import html
import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from identity.errors import AccessDenied
from identity.models import Patient, Professional
from records.models import AccessAction, AccessEvent, Entry, EntryKind, EntryStatus
from records.profile import Measure, Problem, Treatment, Vaccination, Wishes
from records.profile_reference import cim10, cim10_search
from records.services import profile as services
from records.services.content import DuplicateSubmission
from tests.records.conftest import logged_in
from tests.records.helpers import days_ago

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def _events(patient: Patient, action: str) -> int:
    return AccessEvent.objects.filter(patient=patient, action=action).count()


# --- Problems ------------------------------------------------------------------------------------


def test_a_coded_problem_takes_its_label_from_the_list(
    alice: Patient, doctor: Professional
) -> None:
    entry = services.problem_record(actor=doctor.user, patient=alice, cim10_code="e11")
    problem = Problem.objects.get(entry=entry)
    assert (problem.cim10_code, problem.label) == ("E11", "Diabète sucré de type 2")
    assert entry.kind == EntryKind.PROBLEM and entry.author == doctor
    assert AccessEvent.objects.filter(entry_public_id=entry.public_id).count() == 1


def test_a_free_text_problem_is_stored_uncoded(alice: Patient, doctor: Professional) -> None:
    entry = services.problem_record(
        actor=doctor.user, patient=alice, label="Syndrome de Raynaud", history="medical"
    )
    problem = Problem.objects.get(entry=entry)
    assert problem.cim10_code == "" and not problem.coded
    assert "non codé" in entry.summary


def test_the_cim10_list_is_searchable_without_accents() -> None:
    assert [item.code for item in cim10_search("diabete type 2")] == ["E11"]
    assert cim10_search("N18")[0].code == "N18"
    assert cim10_search("kidney")  # the English labels too
    assert cim10_search("   ") == []
    assert cim10("z83.3") is not None and cim10("XYZ") is None


def test_resolving_a_problem_is_a_new_version(alice: Patient, doctor: Professional) -> None:
    first = services.problem_record(actor=doctor.user, patient=alice, cim10_code="K80")
    second = services.problem_record(
        actor=doctor.user,
        patient=alice,
        cim10_code="K80",
        status="resolved",
        history="surgical",
        onset_date=days_ago(100),
        end_date=days_ago(90),
        replaces=first,
    )
    first.refresh_from_db()
    assert first.status == EntryStatus.REPLACED and second.replaces == first


# --- Treatments ----------------------------------------------------------------------------------


def test_a_stopped_treatment_stays_in_the_history(alice: Patient, doctor: Professional) -> None:
    started = services.treatment_record(
        actor=doctor.user,
        patient=alice,
        medicine="Metformine 1000 mg",
        atc_code="a10ba02",
        start_date=days_ago(300),
    )
    stopped = services.treatment_record(
        actor=doctor.user,
        patient=alice,
        medicine="Metformine 1000 mg",
        atc_code="A10BA02",
        start_date=days_ago(300),
        end_date=days_ago(1),
        replaces=started,
    )
    assert Treatment.objects.filter(entry__patient=alice).count() == 2
    assert Treatment.objects.get(entry=stopped).end_date == days_ago(1)
    assert Treatment.objects.get(entry=started).atc_code == "A10BA02"


# --- Bad input: a clear French message, nothing stored ----------------------------------------


def _refused(call: Any, *, message: str, **kwargs: Any) -> None:
    before = (Entry.objects.count(), AccessEvent.objects.count())
    # The services speak the active language; another test may have left English active.
    with translation.override("fr"), pytest.raises(ValidationError) as error:
        call(**kwargs)
    assert message in " ".join(error.value.messages), error.value.messages
    assert (Entry.objects.count(), AccessEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"value": "900"}, "n'est pas plausible"),
        ({"value": "NaN"}, "non finie"),
        ({"value": "Infinity"}, "non finie"),
        ({"value": "abc"}, "n'est pas un nombre"),
        ({"value": "72", "unit": "lb"}, "Unité « lb » inconnue"),
        ({"value": "72", "measured_on": "future"}, "dans le futur"),
        ({"value": "72", "measured_on": "before_birth"}, "précède la naissance"),
        ({"kind": "blood_pressure", "value": "30", "value2": "200"}, "doit dépasser"),
        ({"kind": "blood_pressure", "value": "320", "value2": "90"}, "n'est pas plausible"),
        ({"kind": "blood_pressure", "value": "80", "value2": "120"}, "doit dépasser"),
        ({"kind": "blood_pressure", "value": "120", "value2": ""}, "Pression diastolique"),
        ({"kind": "cholesterol", "value": "1"}, "Mesure inconnue"),
    ],
)
def test_a_bad_measure_is_refused(
    alice: Patient, doctor: Professional, fields: dict[str, Any], message: str
) -> None:
    when = {
        "future": TODAY() + datetime.timedelta(days=1),
        "before_birth": datetime.date(1980, 1, 1),
    }
    fields = {"kind": "weight", "measured_on": TODAY(), **fields}
    fields["measured_on"] = when.get(fields["measured_on"], fields["measured_on"])
    _refused(services.measure_record, message=message, actor=doctor.user, patient=alice, **fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"vaccine_code": "unknown"}, "Vaccin inconnu"),
        ({"given_on": datetime.date(1980, 1, 1)}, "précède la naissance"),
        ({"given_on": "tomorrow"}, "dans le futur"),
        ({"dose_number": 0}, "entre 1 et 10"),
        ({"lot": "A\x00B"}, "caractères de contrôle"),
        ({"lot": "x" * 1_000_000}, "trop long"),
    ],
)
def test_a_bad_vaccination_is_refused(
    alice: Patient, doctor: Professional, fields: dict[str, Any], message: str
) -> None:
    fields = {"vaccine_code": "dtp_adult", "given_on": TODAY(), **fields}
    if fields["given_on"] == "tomorrow":
        fields["given_on"] = TODAY() + datetime.timedelta(days=1)
    _refused(
        services.vaccination_record, message=message, actor=doctor.user, patient=alice, **fields
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"end_date": "before"}, "la fin précède le début"),
        ({"start_date": "future"}, "dans le futur"),
        ({"medicine": ""}, "obligatoire"),
        ({"medicine": "x" * 1_000_000}, "trop long"),
        ({"medicine": "Metformine\x00"}, "caractères de contrôle"),
        ({"atc_code": "metformine"}, "Code ATC invalide"),
    ],
)
def test_a_bad_treatment_is_refused(
    alice: Patient, doctor: Professional, fields: dict[str, Any], message: str
) -> None:
    fields = {"medicine": "Metformine", "start_date": days_ago(10), **fields}
    if fields.get("end_date") == "before":
        fields["end_date"] = days_ago(20)
    if fields["start_date"] == "future":
        fields["start_date"] = TODAY() + datetime.timedelta(days=3)
    _refused(services.treatment_record, message=message, actor=doctor.user, patient=alice, **fields)


def test_a_bad_problem_is_refused(alice: Patient, doctor: Professional) -> None:
    kwargs: dict[str, Any] = {"actor": doctor.user, "patient": alice}
    _refused(services.problem_record, message="absent de la liste", cim10_code="Q99.9", **kwargs)
    _refused(services.problem_record, message="obligatoire", label="  ", **kwargs)
    _refused(services.problem_record, message="valeur inconnue", label="X", status="x", **kwargs)
    _refused(
        services.problem_record,
        message="la fin précède le début",
        label="X",
        onset_date=days_ago(1),
        end_date=days_ago(5),
        **kwargs,
    )


def test_a_patient_may_not_write_a_professional_kind(alice: Patient) -> None:
    with pytest.raises(AccessDenied):
        services.problem_record(actor=alice.user, patient=alice, cim10_code="E11")  # type: ignore[arg-type]
    with pytest.raises(AccessDenied):
        services.treatment_record(
            actor=alice.user,  # type: ignore[arg-type]
            patient=alice,
            medicine="Placebo",
            start_date=days_ago(1),
        )
    assert not Entry.objects.exists()


def test_a_professional_may_not_write_the_patient_s_wishes(
    alice: Patient, doctor: Professional
) -> None:
    with pytest.raises(AccessDenied):
        services.wishes_record(actor=doctor.user, patient=alice, trusted_name="X")
    assert not Wishes.objects.exists()


def test_a_patient_may_not_write_into_another_dmp(alice: Patient, bob: Patient) -> None:
    with pytest.raises(AccessDenied):
        services.measure_record(
            actor=bob.user,  # type: ignore[arg-type]
            patient=alice,
            kind="weight",
            value="70",
            measured_on=TODAY(),
        )
    assert not Measure.objects.exists()


def test_a_double_submission_makes_one_item(alice: Patient) -> None:
    key = uuid.uuid4()
    kwargs: dict[str, Any] = {
        "actor": alice.user,
        "patient": alice,
        "kind": "weight",
        "value": "70,5",
        "measured_on": TODAY(),
        "submission_key": key,
    }
    first = services.measure_record(**kwargs)
    with pytest.raises(DuplicateSubmission) as again:
        services.measure_record(**kwargs)
    assert again.value.entry == first
    assert Measure.objects.count() == 1


# --- The patient's own entries ----------------------------------------------------------------


def test_the_patient_declares_a_measure_a_vaccination_and_wishes(alice: Patient) -> None:
    me = alice.user
    measure = services.measure_record(
        actor=me,  # type: ignore[arg-type]
        patient=alice,
        kind="blood_pressure",
        value="128",
        value2="82",
        unit="mmHg",
        measured_on=TODAY(),
    )
    vaccination = services.vaccination_record(
        actor=me,  # type: ignore[arg-type]
        patient=alice,
        vaccine_code="influenza",
        given_on=days_ago(30),
        administered_by="forged author",
    )
    wishes = services.wishes_record(
        actor=me,  # type: ignore[arg-type]
        patient=alice,
        trusted_name="Paul Dupont",
        trusted_relation="époux",
        organ_donation="consents",
    )
    for entry in (measure, vaccination, wishes):
        assert entry.declared_by_patient and entry.author is None
    assert Measure.objects.get(entry=measure).display_value == "128/82 mmHg"
    assert Vaccination.objects.get(entry=vaccination).administered_by == "déclaré par le patient"
    assert _events(alice, AccessAction.ENTRY_CREATE) == 3
    changed = services.wishes_record(
        actor=me,  # type: ignore[arg-type]
        patient=alice,
        trusted_name="Claire Dupont",
        replaces=wishes,
    )
    wishes.refresh_from_db()
    assert wishes.status == EntryStatus.REPLACED and changed.replaces == wishes


def test_a_professional_verifies_what_the_patient_declared(
    alice: Patient, doctor: Professional
) -> None:
    entry = services.vaccination_record(
        actor=alice.user,  # type: ignore[arg-type]
        patient=alice,
        vaccine_code="influenza",
        given_on=days_ago(3),
    )
    client = logged_in(doctor.user)
    response = client.post(reverse("records:entry_verify", args=[entry.public_id]))
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.verified_by == doctor and entry.verified_at is not None
    page = client.get(reverse("records:entry_detail", args=[entry.public_id])).content.decode()
    assert "déclaré par le patient" in page and "vérifié par" in page


# --- The pages -----------------------------------------------------------------------------------


def test_a_professional_records_a_problem_from_the_form(
    alice: Patient, doctor: Professional
) -> None:
    client = logged_in(doctor.user)
    url = reverse("records:problem_new", args=[alice.public_id])
    form = client.get(url).content.decode()
    assert 'list="cim10-codes"' in form and "E11 — Diabète sucré de type 2" in form
    key = str(uuid.uuid4())
    data = {"cim10_code": "E11 — Diabète sucré de type 2", "status": "active"}
    data |= {"history": "medical", "submission_key": key}
    response = client.post(url, data)
    assert response.status_code == 302
    assert Problem.objects.get().cim10_code == "E11"
    again = client.post(url, data)  # the double click
    assert again.status_code == 302 and Problem.objects.count() == 1


def test_a_refused_form_answers_400_in_french_and_stores_nothing(
    alice: Patient, doctor: Professional
) -> None:
    client = logged_in(doctor.user)
    url = reverse("records:measure_new", args=[alice.public_id])
    data = {"kind": "weight", "value": "900", "measured_on": TODAY().isoformat()}
    response = client.post(url, data | {"submission_key": str(uuid.uuid4())})
    assert response.status_code == 400
    assert "900 kg n'est pas plausible" in html.unescape(response.content.decode())
    assert not Measure.objects.exists()


def test_a_forged_post_cannot_name_another_patient(alice: Patient, bob: Patient) -> None:
    client = logged_in(alice.user)  # type: ignore[arg-type]
    data = {
        "kind": "weight",
        "value": "70",
        "measured_on": TODAY().isoformat(),
        "submission_key": str(uuid.uuid4()),
        "patient": str(bob.public_id),
        "author": "1",
    }
    response = client.post(reverse("records:my_measure_new"), data)
    assert response.status_code == 302
    measure = Measure.objects.get()
    assert measure.entry.patient == alice and measure.entry.author is None


def test_an_emergency_access_reads_but_does_not_record(
    alice: Patient, emergency_doctor: Professional
) -> None:
    client = logged_in(emergency_doctor.user)
    response = client.get(reverse("records:treatment_new", args=[alice.public_id]))
    assert response.status_code == 403


def test_the_measure_chart_and_its_table(alice: Patient, doctor: Professional) -> None:
    for days, value in ((60, "80,2"), (30, "79,0"), (1, "78,4")):
        services.measure_record(
            actor=doctor.user, patient=alice, kind="weight", value=value, measured_on=days_ago(days)
        )
    client = logged_in(doctor.user)
    url = reverse("records:measure_pro", args=[alice.public_id, "weight"])
    page = client.get(url).content.decode()
    assert "<svg" in page and page.count('class="value"') == 3
    assert "78,4 kg" in page and "80,2 kg" in page
    assert _events(alice, AccessAction.TIMELINE_VIEW) == 1
    assert (
        client.get(reverse("records:measure_pro", args=[alice.public_id, "x"])).status_code == 404
    )


def test_the_patient_s_calendar_page(alice: Patient) -> None:
    client = logged_in(alice.user)  # type: ignore[arg-type]
    page = client.get(reverse("records:my_vaccinations")).content.decode()
    assert "Rappel dTcaP de l'adulte à 25 ans" in html.unescape(page)
    assert "en retard" in page  # nothing recorded: her adult booster (she is 41) is late
    data = {
        "vaccine_code": "dtp_adult",
        "given_on": days_ago(2).isoformat(),
        "submission_key": str(uuid.uuid4()),
    }
    assert client.post(reverse("records:my_vaccinations"), data).status_code == 302
    page = client.get(reverse("records:my_vaccinations")).content.decode()
    assert "déclarée par vous" in page
    assert f"fait le {days_ago(2):%d/%m/%Y}" in page  # the booster counts for the calendar
