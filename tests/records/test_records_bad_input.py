"""Hostile and mistaken input through the real forms: each gets a clear French message and
stores nothing (no entry, no kind row, no file)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional
from records import visits
from records.content import Allergy, LabReport, Observation, Report
from records.models import AccessAction, AccessEvent, Entry
from tests.records.conftest import logged_in, stored_files
from tests.records.helpers import days_ago, pdf_bytes, report
from tests.records.test_pdf import ACTIVE
from tests.records.test_pdf import _build as build_active_pdf

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def _nothing_stored(private_storage: Path) -> None:
    assert not Entry.objects.exists()
    assert not (LabReport.objects.exists() or Observation.objects.exists())
    assert not (Report.objects.exists() or Allergy.objects.exists())
    assert stored_files(private_storage) == []


def _lab_post(rows: list[dict[str, str]], **header: str) -> dict[str, str]:
    data = {
        "laboratory": "Laboratoire du Parc",
        "specimen_collected_at": f"{days_ago(3):%Y-%m-%d}T08:30",
        "reported_at": f"{days_ago(2):%Y-%m-%d}",
        "submission_key": str(uuid.uuid4()),
        "form-TOTAL_FORMS": str(len(rows)),
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "60",
    }
    data.update(header)
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"form-{index}-{key}"] = value
    return data


def _report_post(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "document_type": "11488-4",
        "title": "CR de consultation",
        "act_date": f"{days_ago(1):%Y-%m-%d}",
        "body": "",
        "submission_key": str(uuid.uuid4()),
    }
    data.update(fields)
    return data


@pytest.fixture
def pro(doctor: Professional) -> Client:
    return logged_in(doctor.user)


def _report_url(alice: Patient) -> str:
    return reverse("records:report_new", args=[alice.public_id])


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("cr.pdf", b"Bonjour, ceci n'est pas un PDF.", "application/pdf"),
            "n&#x27;est pas un PDF",
        ),
        (
            SimpleUploadedFile(
                "cr.pdf", b"<html><body><script>alert(1)</script>", "application/pdf"
            ),
            "n&#x27;est pas un PDF",
        ),
        (
            SimpleUploadedFile(
                "cr.pdf",
                pdf_bytes().replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt 9 0 R"),
                "application/pdf",
            ),
            "chiffré",
        ),
        (SimpleUploadedFile("cr.pdf", pdf_bytes()[:-200], "application/pdf"), "endommagé"),
        (SimpleUploadedFile("vide.pdf", b"", "application/pdf"), "vide"),
    ],
    ids=["text-named-pdf", "html-as-pdf", "encrypted", "truncated", "empty"],
)
def test_bad_pdfs_refused(
    pro: Client, alice: Patient, private_storage: Path, upload: SimpleUploadedFile, message: str
) -> None:
    response = pro.post(_report_url(alice), _report_post(pdf=upload))
    assert response.status_code == 400
    assert message in response.content.decode()
    _nothing_stored(private_storage)
    refused = AccessEvent.objects.get(action=AccessAction.DEPOSIT_REFUSED, patient=alice)
    # The trail keeps the facts (records.facts), written in the reader's language when read.
    assert refused.detail.startswith('{"fact":"pdf_refused"')
    assert visits.detail_text(refused.detail).startswith("dépôt refusé : ")


@pytest.mark.parametrize(
    ("case", "way"),
    [
        ("open-action-js", "packed"),
        ("document-js-name-tree", "escaped"),
        ("embedded-file", "plain"),
        ("launch-link", "packed-escaped"),
        ("xfa-form", "packed"),
    ],
)
def test_pdfs_with_active_content_refused(
    pro: Client, alice: Patient, private_storage: Path, case: str, way: str
) -> None:
    """Well-formed PDFs that would act when opened: refused naming why, nothing stored, the
    refusal and its reason in the trail."""
    dress, _name, reason = ACTIVE[case]
    upload = SimpleUploadedFile("cr.pdf", build_active_pdf(dress, way), "application/pdf")
    response = pro.post(_report_url(alice), _report_post(pdf=upload, body="Texte tapé"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "contenu actif" in page and reason.replace("'", "&#x27;") in page
    assert "Texte tapé" in page  # what was typed is kept
    _nothing_stored(private_storage)
    refused = AccessEvent.objects.get(action=AccessAction.DEPOSIT_REFUSED, patient=alice)
    assert '"why":"active"' in refused.detail and reason in refused.detail
    shown = visits.detail_text(refused.detail)
    assert "contenu actif" in shown and reason in shown


def test_a_new_version_with_active_content_refused(
    pro: Client, doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    first = report(doctor, alice, pdf=pdf_bytes())
    files = stored_files(private_storage)
    upload = SimpleUploadedFile("v2.pdf", build_active_pdf(ACTIVE["open-action-js"][0], "plain"))
    url = reverse("records:entry_new_version", args=[first.public_id])
    response = pro.post(url, _report_post(pdf=upload, keep_pdf=""))
    assert response.status_code == 400 and "JavaScript" in response.content.decode()
    assert list(Entry.objects.all()) == [first] and stored_files(private_storage) == files


def test_sixty_megabytes_refused_while_streaming(
    pro: Client, alice: Patient, private_storage: Path, tmp_path: Path
) -> None:
    big = SimpleUploadedFile("gros.pdf", b"%PDF-1.4\n" + b"0" * (60 * MB), "application/pdf")
    response = pro.post(_report_url(alice), _report_post(pdf=big, body="texte"))
    assert response.status_code == 413
    assert "dépasse la taille maximale de 20 Mo" in response.content.decode()
    _nothing_stored(private_storage)


def test_form_says_the_cap(pro: Client, alice: Patient) -> None:
    assert "20 Mo" in pro.get(_report_url(alice)).content.decode()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"value": "NaN"}, "n&#x27;est pas un nombre"),
        ({"value": "1e309"}, "Notation scientifique refusée"),
        ({"value": "١٢"}, "chiffres occidentaux"),
        ({"unit": "parsec"}, "Unité inconnue"),
        ({"ref_low": "7", "ref_high": "4"}, "dépasse la borne haute"),
        ({"ref_low": "Infinity"}, "n&#x27;est pas un nombre"),
        ({"analyte_code": "0000-0"}, "Sélectionnez un choix valide"),
    ],
    ids=["nan", "1e309", "arabic-digits", "unknown-unit", "low-above-high", "inf", "analyte"],
)
def test_bad_results_refused(
    pro: Client, alice: Patient, private_storage: Path, row: dict[str, str], message: str
) -> None:
    base = {"analyte_code": "4548-4", "value": "6,2", "unit": "%", "ref_low": "4", "ref_high": "6"}
    response = pro.post(
        reverse("records:lab_report_new", args=[alice.public_id]), _lab_post([{**base, **row}])
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    _nothing_stored(private_storage)


def test_locale_comma_accepted(pro: Client, alice: Patient) -> None:
    row = {
        "analyte_code": "4548-4",
        "value": "6,2",
        "unit": "%",
        "ref_low": "4,0",
        "ref_high": "6,0",
    }
    response = pro.post(reverse("records:lab_report_new", args=[alice.public_id]), _lab_post([row]))
    assert response.status_code == 302
    assert Observation.objects.get().interpretation == "H"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "lab_report_new",
            _lab_post(
                [{"analyte_code": "4548-4", "value": "6", "unit": "%"}],
                specimen_collected_at=f"{days_ago(-3):%Y-%m-%d}T08:00",
            ),
            "dans le futur",
        ),
        (
            "report_new",
            _report_post(body="x", act_date=f"{days_ago(-1):%Y-%m-%d}"),
            "dans le futur",
        ),
        (
            "allergy_new",
            {
                "substance_code": "atc:J01C",
                "criticality": "high",
                "clinical_status": "active",
                "verification_status": "confirmed",
                "onset_date": f"{days_ago(-30):%Y-%m-%d}",
                "submission_key": str(uuid.uuid4()),
            },
            "dans le futur",
        ),
        ("report_new", _report_post(body="x" * MB), "au plus 100000 caractères"),
        ("report_new", _report_post(title="CR\x00 piégé", body="x"), "caractère nul"),
        ("report_new", _report_post(body="texte\x00 avec NUL"), "caractère nul"),
        (
            "allergy_new",
            {
                "substance_code": "",
                "substance_label": "",
                "criticality": "high",
                "clinical_status": "active",
                "verification_status": "confirmed",
                "submission_key": str(uuid.uuid4()),
            },
            "Choisissez une substance",
        ),
    ],
    ids=[
        "future-specimen",
        "future-act",
        "future-onset",
        "1MB-text",
        "nul-title",
        "nul-body",
        "no-substance",
    ],
)
def test_bad_fields_refused(
    pro: Client,
    alice: Patient,
    private_storage: Path,
    name: str,
    data: dict[str, str],
    message: str,
) -> None:
    response = pro.post(reverse(f"records:{name}", args=[alice.public_id]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    _nothing_stored(private_storage)


def test_forged_patient_and_author_are_ignored(
    pro: Client, alice: Patient, bob: Patient, doctor: Professional, stranger_doctor: Professional
) -> None:
    data = _report_post(
        body="Consultation.",
        patient=str(bob.public_id),
        patient_id=str(bob.pk),
        author=str(stranger_doctor.pk),
        author_id=str(stranger_doctor.pk),
    )
    assert pro.post(_report_url(alice), data).status_code == 302
    entry = Entry.objects.get()
    assert entry.patient == alice and entry.author == doctor
    # Posting into Bob's DMP through its own URL: out of scope, 404, nothing stored.
    response = pro.post(_report_url(bob), _report_post(body="x"))
    assert response.status_code == 404
    assert Entry.objects.count() == 1


def test_double_submission_makes_one_entry(
    pro: Client, alice: Patient, private_storage: Path
) -> None:
    data = _report_post(body="Une seule fois.")
    first = pro.post(_report_url(alice), data)
    again = pro.post(_report_url(alice), data)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    assert Entry.objects.count() == 1 and Report.objects.count() == 1
    followed = pro.get(again["Location"])
    assert "déjà été envoyé" in followed.content.decode()


def test_double_lab_submission_makes_one_entry(pro: Client, alice: Patient) -> None:
    data = _lab_post([{"analyte_code": "2160-0", "value": "80", "unit": "µmol/L"}])
    url = reverse("records:lab_report_new", args=[alice.public_id])
    assert pro.post(url, data).status_code == pro.post(url, data).status_code == 302
    assert Entry.objects.count() == 1 and Observation.objects.count() == 1


def test_html_in_text_is_stored_as_text_and_escaped(pro: Client, alice: Patient) -> None:
    pro.post(_report_url(alice), _report_post(title="<script>alert(1)</script>", body="<b>x</b>"))
    entry = Entry.objects.get()
    for url in (
        reverse("records:entry_detail", args=[entry.public_id]),
        reverse("records:timeline_pro", args=[alice.public_id]),  # its rows are drawn in Python
    ):
        body = pro.get(url).content.decode()
        assert "<script>alert(1)</script>" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
