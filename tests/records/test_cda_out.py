"""CDA R2 out: every document the portal produces passes the ANS's schema (CDA_extended.xsd)
and schematrons (CI-SIS header "structuration minimale" for N1, volet CR-BIO 2024.01 for N3)."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from identity.models import Patient, Professional
from records import cda
from records.cda import codes
from records.models import Entry
from records.services.content import ObservationInput
from tests.records.cda_ans import CR_BIO, HEADER, schema_errors, schematron_failures
from tests.records.helpers import lab, pdf_bytes, report

NS = {"h": codes.HL7, "xsi": codes.XSI}


def _fetched(entry: Entry) -> Entry:
    return (
        Entry.objects.select_related(*cda.SELECT_RELATED)
        .prefetch_related(*cda.PREFETCH)
        .get(pk=entry.pk)
    )


def _valid(document: bytes, *schematrons: str) -> None:
    assert schema_errors(document) == []
    for schematron in schematrons:
        failures = schematron_failures(document, schematron)
        assert failures == [], "\n".join(f"{f.location}: {f.text}" for f in failures)


def _report_with_pdf(doctor: Professional, alice: Patient) -> Entry:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("cr.pdf", pdf_bytes("Compte rendu"), "application/pdf")
    return report(doctor, alice, pdf=upload)


@pytest.mark.django_db
def test_report_n1_passes_schema_and_header_schematron(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    entry = _fetched(_report_with_pdf(doctor, alice))
    document = cda.document_as_cda(entry)
    _valid(document, HEADER)
    root = etree.fromstring(document)
    text = root.find("h:component/h:nonXMLBody/h:text", NS)
    assert text is not None and text.get("mediaType") == "application/pdf"
    assert base64.b64decode(text.text or "").startswith(b"%PDF-")
    assert root.find("h:code", NS).get("code") == "11488-4"  # type: ignore[union-attr]
    author_id = root.find("h:author/h:assignedAuthor/h:id", NS)
    assert author_id is not None
    assert (author_id.get("root"), author_id.get("extension")) == (
        "1.2.250.1.71.4.2.1",
        f"8{doctor.rpps}",
    )


@pytest.mark.django_db
def test_lab_report_n3_passes_schema_and_cr_bio_schematron(
    doctor: Professional, alice: Patient
) -> None:
    rows = [
        ObservationInput("4548-4", "6,1", "%", Decimal("4"), Decimal("6")),
        ObservationInput("2160-0", "80", "umol/L", Decimal("45"), Decimal("90")),
        ObservationInput("1988-5", "< 0,5", "mg/L", None, Decimal("5")),
    ]
    entry = _fetched(lab(doctor, alice, rows))
    document = cda.document_as_cda(entry)
    _valid(document, HEADER, CR_BIO)
