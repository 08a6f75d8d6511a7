"""The funnel's kept statements (identity/prepared.py): compiled once per asker, they decide
afresh at every call — a right granted, withdrawn or expired counts at the next request."""

from __future__ import annotations

import datetime
import threading
import uuid
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from identity import prepared
from identity.models import Patient, Professional, User, VerificationStatus
from records import access
from records.models import (
    AccessMode,
    AuthorisationReason,
    EmergencyAccess,
    Entry,
    ProfessionDocumentRule,
)
from records.services.care import care_authorise, care_block, care_revoke, emergency_declare
from records.services.entries import entry_deposit
from tests.cast import make_patient, make_professional

pytestmark = pytest.mark.django_db


def kept(kind: str) -> list[Any]:
    """The statements kept for ``kind`` (None where one could not be kept)."""
    return [statement for key, statement in prepared._kept.items() if repr(kind) in repr(key)]


def test_a_kept_statement_decides_afresh_a_grant_a_revocation_and_a_block(
    alice: Patient, stranger_doctor: Professional
) -> None:
    user = stranger_doctor.user
    with pytest.raises(Http404):
        access.dmp_for(user, alice.public_id)
    assert len(kept("dmp_for")) == 1 and kept("dmp_for")[0] is not None
    care_authorise(
        actor=alice.user,
        patient=alice,
        professional=stranger_doctor,
        reason=AuthorisationReason.PATIENT,
    )
    assert access.dmp_for(user, alice.public_id).mode == AccessMode.NORMAL
    care_revoke(actor=alice.user, patient=alice, professional=stranger_doctor)
    with pytest.raises(Http404):
        access.dmp_for(user, alice.public_id)
    care_authorise(
        actor=alice.user,
        patient=alice,
        professional=stranger_doctor,
        reason=AuthorisationReason.PATIENT,
    )
    care_block(actor=alice.user, patient=alice, professional=stranger_doctor)
    with pytest.raises(Http404):
        access.dmp_for(user, alice.public_id)
    assert len(kept("dmp_for")) == 1  # one statement served all five calls


def test_an_emergency_ends_at_its_hour_with_the_statement_kept(
    alice: Patient, stranger_doctor: Professional, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = stranger_doctor.user
    emergency_declare(actor=user, patient=alice, samu=False, reason="unconscious")
    assert access.dmp_for(user, alice.public_id).mode == AccessMode.EMERGENCY
    ends = EmergencyAccess.objects.get(patient=alice).expires_at
    later = ends + datetime.timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with pytest.raises(Http404):
        access.dmp_for(user, alice.public_id)
    assert len(kept("dmp_for")) == 1


def test_each_asker_has_their_own_statement_and_none_sees_another_s_dmp(
    alice: Patient, doctor: Professional, stranger_doctor: Professional, administrator: User
) -> None:
    assert access.dmp_for(doctor.user, alice.public_id).mode == AccessMode.NORMAL
    with pytest.raises(Http404):
        access.dmp_for(stranger_doctor.user, alice.public_id)
    with pytest.raises(Http404):
        access.dmp_for(administrator, alice.public_id)  # no clinical access: no statement
    assert access.dmp_for(alice.user, alice.public_id).mode == AccessMode.PATIENT
    assert len(kept("dmp_for")) == 3


def test_an_entry_through_its_kept_statement_is_the_one_asked_for(
    alice: Patient, doctor: Professional, stranger_doctor: Professional
) -> None:
    first, second = (
        entry_deposit(
            actor=doctor.user,
            patient=alice,
            kind="report",
            document_type="11488-4",
            title=title,
            act_date=datetime.date(2026, 1, 15),
        )
        for title in ("un", "deux")
    )
    for entry in (first, second, first):
        found, held = access.entry_for(doctor.user, entry.public_id)
        assert (found.pk, found.title, held.mode) == (entry.pk, entry.title, AccessMode.NORMAL)
        assert found.patient.medecin_traitant.user.email == doctor.user.email  # select_related
    with pytest.raises(Http404):
        access.entry_for(stranger_doctor.user, first.public_id)
    with pytest.raises(Http404):
        access.entry_for(doctor.user, uuid.uuid4())
    with pytest.raises(Http404):
        access.entry_for(doctor.user, "not-a-uuid")
    assert all(statement is not None for statement in kept("entry_for"))


def test_a_patient_s_entry_statement_puts_back_the_release_delay(
    alice: Patient, doctor: Professional
) -> None:
    entry = entry_deposit(
        actor=doctor.user,
        patient=alice,
        kind="report",
        document_type="11488-4",
        title="caché",
        act_date=datetime.date(2026, 1, 15),
        invisible_to_patient=True,
    )
    with pytest.raises(Http404):  # invisible to the patient: 30 days from deposit
        access.entry_for(alice.user, entry.public_id)
    # "now - 30 days": a declared delay, put back at each call.
    assert [statement is not None for statement in kept("entry_for")] == [True]
    Entry.objects.filter(pk=entry.pk).update(
        deposited_at=timezone.now() - datetime.timedelta(days=31)
    )
    assert access.entry_for(alice.user, entry.public_id)[0].pk == entry.pk


def test_the_fetch_is_one_query_and_the_check_catches_a_statement_that_differs(
    alice: Patient, doctor: Professional
) -> None:
    access.dmp_for(doctor.user, alice.public_id)  # kept
    with CaptureQueriesContext(connection) as queries:
        access.dmp_for(doctor.user, alice.public_id)
    assert len(queries) == 1
    # The same key with a queryset built otherwise (as if a rule read something of the user
    # that the key forgot): the check of the test suite refuses it.
    key = ("dmp_for", *access._asker(doctor.user))  # type: ignore[misc]
    with pytest.raises(prepared.KeptStatementDiffers):
        prepared.fetch(
            key,
            lambda values: (
                access.patients_for(doctor.user)
                .select_related("medecin_traitant__user")
                .filter(public_id=values["id"], sex="M")[:1]
            ),
            {"id": alice.public_id},
        )


@pytest.mark.django_db(transaction=True)
def test_a_statement_kept_in_one_thread_runs_on_another_thread_s_connection(
    administrator: User,
) -> None:
    doctor = make_professional("thread@test.example", verifier=administrator)
    patient = make_patient(opened_by=doctor, medecin_traitant=True)
    assert access.dmp_for(doctor.user, patient.public_id).mode == AccessMode.NORMAL
    answers: list[Any] = []

    def other_thread() -> None:
        try:
            answers.append(access.dmp_for(doctor.user, patient.public_id).patient.pk)
        except Exception as error:
            answers.append(error)
        finally:
            from django.db import connections

            connections.close_all()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(30)
    assert answers == [patient.pk]


def test_the_kept_statements_are_bounded_the_least_recently_used_forgotten(
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    stranger_doctor: Professional,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prepared, "KEPT_AT_MOST", 2)
    access.dmp_for(doctor.user, alice.public_id)
    access.dmp_for(authorised_doctor.user, alice.public_id)
    access.dmp_for(doctor.user, alice.public_id)  # doctor's is now the most recent
    with pytest.raises(Http404):
        access.dmp_for(stranger_doctor.user, alice.public_id)
    askers = [key[3] for key in prepared._kept]
    assert askers == [doctor.user.pk, stranger_doctor.user.pk]


def test_a_rule_that_reads_the_clock_itself_is_never_kept(
    alice: Patient, stranger_doctor: Professional
) -> None:
    emergency_declare(actor=stranger_doctor.user, patient=alice, samu=False, reason="unconscious")

    def build(values: prepared.Values) -> Any:
        # timezone.now() rather than prepared.now(): kept, this hour would be frozen in it.
        return EmergencyAccess.objects.filter(
            patient__public_id=values["id"], expires_at__gt=timezone.now()
        )

    key = ("test", "clock read by the rule")
    assert len(prepared.fetch(key, build, {"id": alice.public_id})) == 1
    assert kept("clock read by the rule") == [None]  # built afresh at every call instead


def test_a_timeline_page_with_dates_and_a_type_through_its_kept_statement(
    alice: Patient, doctor: Professional
) -> None:
    for day, document_type in ((3, "11488-4"), (10, "11488-4"), (20, "68599-0")):
        entry_deposit(
            actor=doctor.user,
            patient=alice,
            kind="report",
            document_type=document_type,
            title=f"le {day}",
            act_date=datetime.date(2026, 1, day),
        )
    held = access.dmp_for(doctor.user, alice.public_id)

    def page(entries: Any, values: prepared.Values) -> Any:
        return entries.filter(act_date__gte=values["du"], document_type="11488-4").order_by(
            "act_date"
        )

    def titles(since: int) -> list[str]:
        found = access.entries_kept(
            doctor.user,
            held,
            ("test", "du", "11488-4"),
            page,
            {"du": datetime.date(2026, 1, since)},
        )
        return [entry.title for entry in found]

    assert titles(1) == ["le 3", "le 10"]
    assert titles(5) == ["le 10"]
    assert titles(15) == []
    assert [statement is not None for statement in kept("entries")] == [True]


def test_a_values_query_through_its_kept_statement_gives_the_same_dicts(
    alice: Patient, doctor: Professional
) -> None:
    entry_deposit(
        actor=doctor.user,
        patient=alice,
        kind="report",
        document_type="11488-4",
        title="un",
        act_date=datetime.date(2026, 1, 15),
    )

    def counts(values: prepared.Values) -> Any:
        return (
            access.entries_for(doctor.user, among=[values["dmp"]])
            .values("patient_id", "kind")
            .order_by()
            .annotate(count=Count("pk"))
        )

    fresh = list(counts({"dmp": alice.pk}))
    assert fresh == [{"patient_id": alice.pk, "kind": "report", "count": 1}]
    for _ in range(2):
        assert access.kept(doctor.user, ("test", "counts"), counts, {"dmp": alice.pk}) == fresh
    assert [statement is not None for statement in kept("counts")] == [True]


def test_a_professional_whose_profession_or_verification_changes_gets_the_new_rules(
    alice: Patient, authorised_doctor: Professional
) -> None:
    refused = set(
        ProfessionDocumentRule.objects.filter(profession="pharmacien").values_list(
            "document_type", flat=True
        )
    )
    assert "68599-0" in refused  # the reference matrix: no psychiatry for a pharmacist
    user = authorised_doctor.user
    assert access.dmp_for(user, alice.public_id).denied_types == frozenset()  # a doctor
    authorised_doctor.profession = "pharmacien"
    authorised_doctor.specialty = ""
    authorised_doctor.save()
    user = User.objects.select_related("professional").get(pk=user.pk)  # the next request
    assert access.dmp_for(user, alice.public_id).denied_types == refused
    authorised_doctor.verification_status = VerificationStatus.REJECTED
    authorised_doctor.save()
    user = User.objects.select_related("professional").get(pk=user.pk)
    with pytest.raises(Http404):
        access.dmp_for(user, alice.public_id)
