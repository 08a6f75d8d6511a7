"""CDA R2 out: every document the portal produces passes the ANS's schema (CDA_extended.xsd)
and schematrons (CI-SIS header "structuration minimale" for N1, volet CR-BIO 2024.01 for N3)."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    return report(doctor, alice, pdf=pdf_bytes("Compte rendu"))


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


@pytest.mark.django_db
def test_replacement_masked_invisible_text_report_qualified_ins_all_pass(
    doctor: Professional, alice: Patient
) -> None:
    """A text-only report (INS-C only: Alice's identity is not qualified), its replacement
    (RPLC), masked and invisible to the patient; then the same with a qualified INS."""
    first = report(doctor, alice, invisible_to_patient=True)
    second = report(doctor, alice, replaces=first, body="Version corrigée.")
    Entry.objects.filter(pk=second.pk).update(masked=True)
    entry = _fetched(second)
    document = cda.document_as_cda(entry)
    _valid(document, HEADER)
    root = etree.fromstring(document)
    ids = [(i.get("root"), i.get("extension")) for i in root.findall(".//h:patientRole/h:id", NS)]
    assert ids == [(codes.INSC_OID, alice.insc)]
    parent = root.find("h:relatedDocument[@typeCode='RPLC']/h:parentDocument/h:id", NS)
    assert parent is not None and parent.get("root") == codes.uuid_oid(first.public_id)
    assert root.find("h:setId", NS).get("root") == codes.uuid_oid(first.public_id)  # type: ignore[union-attr]
    assert root.find("h:versionNumber", NS).get("value") == "2"  # type: ignore[union-attr]
    text = root.find("h:component/h:nonXMLBody/h:text", NS)
    assert text is not None and text.get("mediaType") == "text/plain"
    assert base64.b64decode(text.text or "").decode() == "Version corrigée."
    metadata = cda.xds_metadata(entry, document)
    assert metadata.masked and metadata.version == 2
    assert metadata.set_id == codes.uuid_oid(first.public_id)
    assert metadata.replaces_unique_id == codes.uuid_oid(first.public_id)
    assert [c.code for c in metadata.confidentiality] == ["N", codes.MASKED]
    assert metadata.patient_id == f"{alice.insc}^^^&{codes.INSC_OID}&ISO"
    assert metadata.format_code.code == codes.FORMAT_N1_TEXT
    assert metadata.size == len(document)

    Patient.objects.filter(pk=alice.pk).update(
        identity_status="QUAL",
        matricule_ins="279035121518989",
        matricule_oid="1.2.250.1.213.1.4.10",
        birth_place_code="75056",
    )
    invisible = _fetched(first)
    document = cda.document_as_cda(invisible)
    _valid(document, HEADER)
    root = etree.fromstring(document)
    ids = [(i.get("root"), i.get("extension")) for i in root.findall(".//h:patientRole/h:id", NS)]
    assert ids == [("1.2.250.1.213.1.4.10", "279035121518989"), (codes.INSC_OID, alice.insc)]
    metadata = cda.xds_metadata(invisible, document)
    assert metadata.patient_id == "279035121518989^^^&1.2.250.1.213.1.4.10&ISO"
    assert [c.code for c in metadata.confidentiality] == ["N", codes.INVISIBLE]


@pytest.mark.django_db
def test_the_demo_documents_pass() -> None:
    """Every report and lab report of the demonstration DMPs passes."""
    from identity.demo import seed_accounts
    from records.demo import seed_records
    from records.demo_dmps import seed_access, seed_patients

    accounts = seed_accounts()
    patients = seed_patients(accounts)
    seed_access(accounts, patients)
    seed_records(patients, accounts)
    entries = Entry.objects.filter(kind__in=("report", "lab_report"))
    fetched = entries.select_related(*cda.SELECT_RELATED).prefetch_related(*cda.PREFETCH)
    kinds = set()
    for entry in fetched:
        document = cda.document_as_cda(entry)
        _valid(document, HEADER, *([CR_BIO] if entry.kind == "lab_report" else []))
        kinds.add(entry.kind)
    assert kinds == {"report", "lab_report"}


@pytest.mark.django_db
def test_other_kinds_are_not_renderable(doctor: Professional, alice: Patient) -> None:
    from tests.records.helpers import allergy

    entry = allergy(doctor, alice)
    with pytest.raises(cda.NotRenderable):
        cda.document_as_cda(entry)


@pytest.mark.django_db
def test_export_of_many_entries_is_a_constant_number_of_queries(
    doctor: Professional, alice: Patient, django_assert_num_queries: Any
) -> None:
    for _ in range(3):
        lab(doctor, alice)
        report(doctor, alice)
    entries = Entry.objects.filter(patient=alice, kind__in=("report", "lab_report"))
    with django_assert_num_queries(2):
        rows = list(entries.select_related(*cda.SELECT_RELATED).prefetch_related(*cda.PREFETCH))
        documents = [cda.document_as_cda(entry) for entry in rows]
        assert (
            len({cda.xds_metadata(e, d).unique_id for e, d in zip(rows, documents, strict=True)})
            == 6
        )


@pytest.mark.django_db
def test_the_portals_identifiers_are_settings(
    doctor: Professional, alice: Patient, settings: Any
) -> None:
    """The custodian and the XDS sourceId come from the settings (placeholders by default,
    registered identifiers in production); a sourceId that is not an OID stops start-up."""
    from django.core.exceptions import ImproperlyConfigured

    from dmp_portal.env import env_oid

    settings.DMP_CDA_CUSTODIAN_ID = "3750000000"
    settings.DMP_CDA_CUSTODIAN_NAME = "Hébergeur régional"
    settings.DMP_XDS_SOURCE_OID = "1.2.250.1.213.9.9"
    entry = _fetched(lab(doctor, alice))
    document = cda.document_as_cda(entry)
    _valid(document, HEADER)
    organization = etree.fromstring(document).find(
        "h:custodian/h:assignedCustodian/h:representedCustodianOrganization", NS
    )
    assert organization is not None
    assert organization.find("h:id", NS).get("extension") == "3750000000"  # type: ignore[union-attr]
    assert organization.findtext("h:name", namespaces=NS) == "Hébergeur régional"
    assert cda.xds_metadata(entry, document).source_id == "1.2.250.1.213.9.9"

    assert env_oid("X", "2.25.1", environ={}) == "2.25.1"
    for wrong in ("1.2.250.1.999.", "urn:oid:1.2.3", "2.25.01", "DMP"):
        with pytest.raises(ImproperlyConfigured):
            env_oid("DMP_XDS_SOURCE_OID", "2.25.1", environ={"DMP_XDS_SOURCE_OID": wrong})
