"""The content services: lab reports, reports with PDFs, allergies — validation, storage,
versions, idempotency, and who may deposit."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from identity.errors import AccessDenied
from identity.models import Patient, Professional
from records.content import Allergy, LabReport, Observation, Report, SubmissionKey
from records.models import Entry, EntryStatus
from records.services.content import DuplicateSubmission, ObservationInput, observation_build
from tests.records.conftest import stored_files
from tests.records.helpers import allergy, days_ago, lab, pdf_bytes, report

pytestmark = pytest.mark.django_db


def test_lab_report_with_computed_and_given_interpretations(
    alice: Patient, doctor: Professional
) -> None:
    entry = lab(
        doctor,
        alice,
        [
            ObservationInput("4548-4", "7,40", "%", "4", "6"),
            ObservationInput("2160-0", "88", "umol/L", "45", "90"),
            ObservationInput("2823-3", "6,9", "mmol/L", "3,5", "5,0", interpretation="HH"),
            ObservationInput("1988-5", "Ininterprétable (hémolyse)", ""),
        ],
    )
    assert entry.abnormal
    assert entry.document_type == "11502-2" and entry.kind == "lab_report"
    hba1c, creat, potassium, text = Observation.objects.filter(lab_report__entry=entry)
    assert (hba1c.interpretation, hba1c.interpretation_computed) == ("H", True)
    assert hba1c.value_numeric == Decimal("7.40") and hba1c.value_text == "7,40"
    assert creat.interpretation == "N" and creat.unit == "umol/L"
    assert potassium.interpretation == "HH" and potassium.critical
    assert not potassium.interpretation_computed
    assert text.value_numeric is None and text.interpretation == ""
    assert "HbA1c 7,40 % (H)" in entry.summary


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (ObservationInput("4548-4", "NaN", "%"), "n'est pas un nombre"),
        (ObservationInput("4548-4", "1e309", "%"), "Notation scientifique"),
        (ObservationInput("4548-4", "١٢", "%"), "chiffres occidentaux"),
        (ObservationInput("4548-4", "Infinity", "%"), "n'est pas un nombre"),
        (ObservationInput("4548-4", "99999999999999999999", "%"), "trop grande"),
        (ObservationInput("4548-4", "6,1", "furlongs"), "Unité inconnue"),
        (ObservationInput("4548-4", "6,1", "mg/dL"), "non prévue"),
        (ObservationInput("4548-4", "6,1", ""), "Unité manquante"),
        (ObservationInput("4548-4", "6,1", "%", "7", "4"), "dépasse la borne haute"),
        (ObservationInput("9999-9", "6,1", "%"), "Analyse inconnue"),
        (ObservationInput("4548-4", "6\x00,1", "%"), "caractères de contrôle"),
    ],
)
def test_bad_rows_refused_in_french(row: ObservationInput, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        observation_build(row)
    assert message in " ".join(error.value.messages)


def test_a_bad_row_stores_nothing(alice: Patient, doctor: Professional) -> None:
    before = Entry.objects.count()
    with pytest.raises(ValidationError, match="Ligne 2"):
        lab(
            doctor,
            alice,
            [ObservationInput("4548-4", "6", "%"), ObservationInput("4548-4", "1e3", "%")],
        )
    assert Entry.objects.count() == before
    assert not LabReport.objects.exists() and not Observation.objects.exists()


def test_convertible_unit_accepted(alice: Patient, doctor: Professional) -> None:
    entry = lab(doctor, alice, [ObservationInput("2160-0", "9,5", "mg/L", "5", "10")])
    assert Observation.objects.get(lab_report__entry=entry).unit == "mg/L"


def test_future_specimen_refused(alice: Patient, doctor: Professional) -> None:
    with pytest.raises(ValidationError, match="futur"):
        lab(doctor, alice, day=days_ago(-2))
    assert not Entry.objects.exists()


def test_report_with_pdf_stored_under_a_random_key(
    alice: Patient, doctor: Professional, private_storage: Path
) -> None:
    data = pdf_bytes("CR opératoire", 60)
    entry = report(doctor, alice, title="CR opératoire", document_type="34874-8", pdf=data, body="")
    stored = Report.objects.get(entry=entry)
    assert stored.pdf_pages == 2 and stored.pdf_size == len(data)
    files = stored_files(private_storage)
    assert len(files) == 1 and files[0].read_bytes() == data
    key = stored.pdf.name
    for forbidden in (alice.insc, str(alice.public_id), "DUPONT", "opératoire", "CR"):
        assert forbidden not in key
    assert entry.summary == "Document PDF (2 pages)."


def test_a_failed_transaction_leaves_no_file(
    alice: Patient, doctor: Professional, private_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(**kwargs: object) -> None:
        raise RuntimeError("database gone between the file write and the commit")

    monkeypatch.setattr(Report.objects, "create", boom)
    with pytest.raises(RuntimeError):
        report(doctor, alice, pdf=pdf_bytes())
    assert stored_files(private_storage) == []
    assert not Entry.objects.exists()


def test_new_version_keeps_the_chain_and_may_keep_the_pdf(
    alice: Patient, doctor: Professional, private_storage: Path
) -> None:
    first = report(doctor, alice, pdf=pdf_bytes(), body="v1")
    second = report(doctor, alice, body="v2", replaces=first, keep_pdf=True)
    first.refresh_from_db()
    assert first.status == EntryStatus.REPLACED and second.replaces == first
    assert Report.objects.get(entry=second).pdf.name == Report.objects.get(entry=first).pdf.name
    assert len(stored_files(private_storage)) == 1
    with pytest.raises(ValidationError):  # only the current version can be replaced
        report(doctor, alice, body="v2 bis", replaces=first)


def test_report_needs_text_or_pdf(alice: Patient, doctor: Professional) -> None:
    with pytest.raises(ValidationError, match="texte du compte rendu ou joignez un PDF"):
        report(doctor, alice, body="   ")


def test_allergy_from_the_list_and_free_text(alice: Patient, doctor: Professional) -> None:
    listed = allergy(doctor, alice)
    row = Allergy.objects.get(entry=listed)
    assert (row.substance_label, row.category) == ("Pénicillines (classe)", "medication")
    assert listed.title == "Allergie — Pénicillines (classe)"
    free = allergy(
        doctor,
        alice,
        substance_code="",
        substance_label="Pollen de platane",
        category="environment",
    )
    assert Allergy.objects.get(entry=free).substance_code == ""
    with pytest.raises(ValidationError):
        allergy(doctor, alice, substance_code="atc:NOPE")
    with pytest.raises(ValidationError, match="futur"):
        allergy(doctor, alice, onset_date=days_ago(-1))


def test_same_submission_key_makes_one_entry(alice: Patient, doctor: Professional) -> None:
    key = uuid.uuid4()
    first = allergy(doctor, alice, submission_key=key)
    with pytest.raises(DuplicateSubmission) as duplicate:
        allergy(doctor, alice, submission_key=key)
    assert duplicate.value.entry == first
    assert Entry.objects.count() == 1
    assert SubmissionKey.objects.get().entry == first


def test_emergency_access_reads_but_does_not_deposit(
    alice: Patient, emergency_doctor: Professional, stranger_doctor: Professional
) -> None:
    for professional in (emergency_doctor, stranger_doctor):
        with pytest.raises(AccessDenied):
            allergy(professional, alice)
    assert not Entry.objects.exists()
