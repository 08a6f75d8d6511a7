"""CDA R2 in: a professional deposits a CDA R2 N1 or N3 (CR-BIO) document. Hostile or foreign
files are refused with a clear message and leave nothing behind (rows and stored files)."""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation
from lxml import etree

from identity.models import Patient, Professional
from records import cda
from records.cda import codes
from records.content import Observation
from records.models import Entry
from records.services.cda import cda_deposit
from records.services.content import ObservationInput
from tests.records.cda_ans import (
    CR_BIO,
    HEADER,
    require_ans,
    schema_errors,
    schematron_failures,
)
from tests.records.conftest import logged_in, stored_files
from tests.records.helpers import lab, pdf_bytes, report

NS = {"h": codes.HL7}


def _fresh_ids(document: bytes, *, keep_set: bool = False) -> bytes:
    """The document as another system would send it: its own id and set id."""
    root = etree.fromstring(document)
    root.find("h:id", NS).set("root", codes.uuid_oid(uuid.uuid4()))  # type: ignore[union-attr]
    if not keep_set:
        root.find("h:setId", NS).set("root", codes.uuid_oid(uuid.uuid4()))  # type: ignore[union-attr]
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _with_replaced(root: etree._Element, parent_id: uuid.UUID) -> bytes:
    """The document made a replacement (RPLC) of ``parent_id``, where the schema puts it."""
    related = etree.Element(f"{{{codes.HL7}}}relatedDocument", typeCode="RPLC")
    parent = etree.SubElement(related, f"{{{codes.HL7}}}parentDocument")
    etree.SubElement(parent, f"{{{codes.HL7}}}id", root=codes.uuid_oid(parent_id))
    after = root.find("h:componentOf", NS)
    if after is None:
        after = root.find("h:component", NS)
    after.addprevious(related)  # type: ignore[union-attr]
    return bytes(etree.tostring(root))


def _fetched(entry: Entry) -> Entry:
    return (
        Entry.objects.select_related(*cda.SELECT_RELATED)
        .prefetch_related(*cda.PREFETCH)
        .get(pk=entry.pk)
    )


def _cda_of(entry: Entry) -> bytes:
    return cda.document_as_cda(_fetched(entry))


def _nothing_stored(before: tuple[int, int, int], root: Path) -> None:
    assert (Entry.objects.count(), Observation.objects.count(), len(stored_files(root))) == before


def _counts(root: Path) -> tuple[int, int, int]:
    return Entry.objects.count(), Observation.objects.count(), len(stored_files(root))


def _refused(doctor: Professional, patient: Patient, data: bytes, words: str, root: Path) -> None:
    before = _counts(root)
    with pytest.raises(ValidationError) as refused:
        cda_deposit(actor=doctor.user, patient=patient, data=data)
    assert words in " ".join(refused.value.messages)
    _nothing_stored(before, root)


@pytest.mark.django_db
def test_round_trip_n3_deposit_then_download_same_observations(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    rows = [
        ObservationInput("4548-4", "6,1", "%", Decimal("4"), Decimal("6")),
        ObservationInput("2160-0", "80", "umol/L", Decimal("45"), Decimal("90")),
        ObservationInput("1988-5", "< 0,5", "mg/L", None, Decimal("5")),
    ]
    source = lab(doctor, alice, rows)
    incoming = _fresh_ids(_cda_of(source))
    entry = cda_deposit(actor=doctor.user, patient=alice, data=incoming)
    assert entry.kind == "lab_report" and entry.patient == alice
    out = _cda_of(entry)
    assert schematron_failures(out, CR_BIO) == []

    def observations(document: bytes) -> list[tuple[str, ...]]:
        found = []
        for obs in etree.fromstring(document).iterfind(".//h:observation", NS):
            if obs.find("h:templateId[@root='1.3.6.1.4.1.19376.1.3.1.6']", NS) is None:
                continue
            value = obs.find("h:value", NS)
            low = obs.find("h:referenceRange/h:observationRange/h:value/h:low", NS)
            high = obs.find("h:referenceRange/h:observationRange/h:value/h:high", NS)
            found.append(
                (
                    obs.find("h:code", NS).get("code"),  # type: ignore[union-attr]
                    etree.tostring(value, method="c14n").decode(),  # type: ignore[arg-type]
                    low.get("value", "") if low is not None else "",
                    high.get("value", "") if high is not None else "",
                    obs.find("h:interpretationCode", NS).get("code")  # type: ignore[union-attr]
                    if obs.find("h:interpretationCode", NS) is not None
                    else "",
                )
            )
        return found

    assert observations(out) == observations(incoming)
    assert len(observations(out)) == 3
    stored = list(entry.lab_report.observations.order_by("position"))
    assert [o.analyte_code for o in stored] == ["4548-4", "2160-0", "1988-5"]
    assert stored[0].value_numeric == Decimal("6.1") and stored[0].interpretation == "H"


@pytest.mark.django_db
def test_n1_pdf_deposit_keeps_the_pdf_judged_by_content(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    incoming = _fresh_ids(_cda_of(report(doctor, alice, pdf=pdf_bytes("CR externe"))))
    entry = cda_deposit(actor=doctor.user, patient=alice, data=incoming)
    assert entry.kind == "report" and entry.report.pdf and entry.report.pdf_pages == 1
    assert entry.document_type == "11488-4"
    assert schematron_failures(_cda_of(entry), HEADER) == []


@pytest.mark.django_db
def test_n1_whose_pdf_is_not_a_pdf_is_refused(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    root = etree.fromstring(_fresh_ids(_cda_of(report(doctor, alice, pdf=pdf_bytes()))))
    root.find("h:component/h:nonXMLBody/h:text", NS).text = base64.b64encode(  # type: ignore[union-attr]
        b"MZ\x90\x00 not a pdf"
    ).decode()
    data = etree.tostring(root)
    _refused(doctor, alice, data, "PDF", private_storage)


HOSTILE = {
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<ClinicalDocument xmlns="urn:hl7-org:v3">&e;</ClinicalDocument>',
        "DOCTYPE",
    ),
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10)
            for i in range(9)
        )
        + b']><ClinicalDocument xmlns="urn:hl7-org:v3">&j;</ClinicalDocument>',
        "DOCTYPE",
    ),
    "50 MB": (b'<ClinicalDocument xmlns="urn:hl7-org:v3">' + b" " * (50 * 1024 * 1024), "Mo"),
    "not xml": (b"%PDF-1.4 this is not xml", "XML"),
    "not a CDA": (b'<Bundle xmlns="http://hl7.org/fhir"/>', "ClinicalDocument"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_xml_is_refused_nothing_stored(
    doctor: Professional, alice: Patient, private_storage: Path, case: str
) -> None:
    data, words = HOSTILE[case]
    _refused(doctor, alice, data, words, private_storage)


@pytest.mark.django_db
def test_base64_that_is_not_base64_is_refused(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    root = etree.fromstring(_fresh_ids(_cda_of(report(doctor, alice, pdf=pdf_bytes()))))
    root.find("h:component/h:nonXMLBody/h:text", NS).text = "JVBERi0x**not base64**"  # type: ignore[union-attr]
    _refused(doctor, alice, etree.tostring(root), "base64", private_storage)


@pytest.mark.django_db
def test_a_header_naming_another_patient_is_refused(
    doctor: Professional,
    alice: Patient,
    bob: Patient,
    stranger_doctor: Professional,
    private_storage: Path,
) -> None:
    bobs = _fresh_ids(_cda_of(report(stranger_doctor, bob)))
    _refused(doctor, alice, bobs, "autre patient", private_storage)
    # The INS-C right, the birth name wrong: refused all the same.
    root = etree.fromstring(_fresh_ids(_cda_of(report(doctor, alice))))
    root.find(".//h:patient/h:name/h:family", NS).text = "MARTIN"  # type: ignore[union-attr]
    _refused(doctor, alice, etree.tostring(root), "autre patient", private_storage)


@pytest.mark.django_db
def test_a_set_id_of_another_patients_document_is_refused(
    doctor: Professional,
    alice: Patient,
    bob: Patient,
    stranger_doctor: Professional,
    private_storage: Path,
) -> None:
    bobs = report(stranger_doctor, bob)
    root = etree.fromstring(_fresh_ids(_cda_of(report(doctor, alice))))
    root.find("h:setId", NS).set("root", codes.uuid_oid(bobs.public_id))  # type: ignore[union-attr]
    _refused(doctor, alice, etree.tostring(root), "autre DMP", private_storage)
    # The same through relatedDocument RPLC.
    root = etree.fromstring(_fresh_ids(_cda_of(report(doctor, alice))))
    _refused(doctor, alice, _with_replaced(root, bobs.public_id), "autre DMP", private_storage)


@pytest.mark.django_db
def test_a_replacement_of_this_dmps_report_becomes_its_new_version(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    first = report(doctor, alice)
    root = etree.fromstring(_fresh_ids(_cda_of(first), keep_set=True))
    entry = cda_deposit(
        actor=doctor.user, patient=alice, data=_with_replaced(root, first.public_id)
    )
    assert entry.replaces == first
    first.refresh_from_db()
    assert first.status == "replaced"


def _titled_bilan(doctor: Professional, alice: Patient) -> bytes:
    """A CR-BIO whose title is not the one the volet fixes: it passes the CDA schema and the
    header schematron, not the CR-BIO volet's."""
    root = etree.fromstring(_fresh_ids(_cda_of(lab(doctor, alice))))
    root.find("h:title", NS).text = "Bilan"  # type: ignore[union-attr]
    return bytes(etree.tostring(root))


@pytest.mark.django_db
def test_a_schema_valid_document_failing_the_schematron_is_refused_nothing_stored(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    data = _titled_bilan(doctor, alice)
    assert schema_errors(data) == []
    assert schematron_failures(data, HEADER) == []
    assert any("title" in failure.text for failure in schematron_failures(data, CR_BIO))
    before = _counts(private_storage)
    with pytest.raises(ValidationError) as refused:
        cda_deposit(actor=doctor.user, patient=alice, data=data)
    said = " ".join(refused.value.messages)
    assert "ne respecte pas les règles du CI-SIS (volet CR-BIO)" in said
    assert "rien n'a été enregistré" in said and "title" in said
    _nothing_stored(before, private_storage)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        cda_deposit(actor=doctor.user, patient=alice, data=data)
    assert "does not follow the CI-SIS rules (CR-BIO volet)" in " ".join(refused.value.messages)
    _nothing_stored(before, private_storage)


@pytest.mark.django_db
def test_a_header_failing_the_ci_sis_header_schematron_is_refused(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    """A report whose confidentiality code is outside the CI-SIS value set: schema-valid (any
    code is), refused by the header schematron."""
    root = etree.fromstring(_fresh_ids(_cda_of(report(doctor, alice))))
    root.find("h:confidentialityCode", NS).set("code", "X")  # type: ignore[union-attr]
    data = bytes(etree.tostring(root))
    assert schema_errors(data) == []
    _refused(doctor, alice, data, "(en-tête CI-SIS)", private_storage)


@pytest.mark.django_db
def test_a_schema_invalid_document_is_refused(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    require_ans()
    root = etree.fromstring(_fresh_ids(_cda_of(report(doctor, alice))))
    title = root.find("h:title", NS)
    root.remove(title)  # type: ignore[arg-type]
    root.append(title)  # type: ignore[arg-type]  # out of the schema's order
    _refused(doctor, alice, etree.tostring(root), "schéma", private_storage)


@pytest.mark.django_db
def test_without_the_ans_material_the_deposit_works_and_the_form_says_what_is_not_checked(
    doctor: Professional, alice: Patient, private_storage: Path, settings: Any, tmp_path: Path
) -> None:
    data = _titled_bilan(doctor, alice)
    settings.DMP_ANS_CDA_DIR = str(tmp_path)  # no material there (the embedded quick start)
    entry = cda_deposit(actor=doctor.user, patient=alice, data=data)
    assert entry.lab_report.observations.count() == 2
    page = logged_in(doctor.user).get(reverse("records:cda_new", args=[alice.public_id]))
    assert "ne sont pas vérifiés" in page.content.decode()
    settings.DMP_ANS_CDA_DIR = str(require_ans())
    page = logged_in(doctor.user).get(reverse("records:cda_new", args=[alice.public_id]))
    assert "schématrons du CI-SIS" in page.content.decode()
    assert "ne sont pas vérifiés" not in page.content.decode()


@pytest.mark.django_db
def test_the_web_form_refuses_in_english_for_an_english_reader(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("records:cda_new", args=[alice.public_id])
    client = logged_in(doctor.user)
    before = _counts(private_storage)
    data, _words = HOSTILE["external entity"]
    upload = SimpleUploadedFile("cr.xml", data, "text/xml")
    with translation.override("en"):
        response = client.post(url, {"fichier": upload}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "type declaration" in response.content.decode()
    _nothing_stored(before, private_storage)
    incoming = _fresh_ids(_cda_of(lab(doctor, alice)))
    upload = SimpleUploadedFile("cr.xml", incoming, "text/xml")
    response = client.post(url, {"fichier": upload})
    assert response.status_code == 302
    entry = Entry.objects.filter(patient=alice, kind="lab_report").latest("id")
    assert response["Location"] == reverse("records:entry_detail", args=[entry.public_id])


@pytest.mark.django_db
def test_the_web_form_shows_a_schematron_refusal_and_the_trail_keeps_its_facts(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    """The form answers 400 with the refusal, nothing is stored; the trail keeps the facts
    (not a French sentence), which the patient reads in French, and in English if she
    chooses."""
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from records.models import AccessAction, AccessEvent

    data = _titled_bilan(doctor, alice)
    before = _counts(private_storage)
    url = reverse("records:cda_new", args=[alice.public_id])
    upload = SimpleUploadedFile("cr.xml", data, "text/xml")
    response = logged_in(doctor.user).post(url, {"fichier": upload})
    assert response.status_code == 400
    page = response.content.decode()
    assert "ne respecte pas les règles du CI-SIS (volet CR-BIO)" in page
    assert "title" in page
    _nothing_stored(before, private_storage)
    event = AccessEvent.objects.get(action=AccessAction.DEPOSIT_REFUSED, patient=alice)
    stored = json.loads(event.detail)
    assert stored["fact"] == "cda_refused" and stored["why"] == "schematron"
    assert stored["rules"] == "volet CR-BIO" and "title" in stored["failures"][0]

    patient = Client()
    patient.force_login(alice.user)
    history = reverse("records:my_history")
    french = patient.get(history, {"details": "1"}).content.decode()
    assert "dépôt refusé : Le document CDA ne respecte pas les règles du CI-SIS" in french
    patient.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = patient.get(history, {"details": "1"}).content.decode()
    assert "deposit refused: The CDA document does not follow the CI-SIS rules" in english
    assert "(CR-BIO volet)" in english


def _with_confidentiality(document: bytes, code: str) -> bytes:
    root = etree.fromstring(document)
    root.find("h:confidentialityCode", NS).set("code", code)  # type: ignore[union-attr]
    return bytes(etree.tostring(root))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "masked", "invisible"),
    [("N", False, False), ("R", True, False), ("V", True, True)],
)
def test_the_confidentiality_code_sets_the_entrys_visibility(
    doctor: Professional,
    authorised_doctor: Professional,
    alice: Patient,
    private_storage: Path,
    code: str,
    masked: bool,
    invisible: bool,
) -> None:
    """R: masked from professionals; V: masked and invisible to the patient (never more
    visible than the author asked), for a report and for a CR-BIO: on the stored entry, and
    in what another authorised professional and the patient are given by the funnel."""
    from records import access

    for source in (report(doctor, alice, pdf=pdf_bytes()), lab(doctor, alice)):
        data = _with_confidentiality(_fresh_ids(_cda_of(source)), code)
        entry = cda_deposit(actor=doctor.user, patient=alice, data=data)
        stored = Entry.objects.get(pk=entry.pk)
        assert (stored.masked, stored.invisible_to_patient) == (masked, invisible)
        assert stored.hidden_from_patient_now() == invisible
        assert access.entries_for(doctor.user, alice).filter(pk=entry.pk).exists()
        seen_by_colleague = access.entries_for(authorised_doctor.user, alice).filter(pk=entry.pk)
        assert seen_by_colleague.exists() == (not masked)
        assert access.entries_for(alice.user, alice).filter(pk=entry.pk).exists() == (not invisible)


@pytest.mark.django_db
def test_an_unknown_confidentiality_code_is_refused_even_without_the_ans_material(
    doctor: Professional, alice: Patient, private_storage: Path, settings: Any, tmp_path: Path
) -> None:
    settings.DMP_ANS_CDA_DIR = str(tmp_path)
    data = _with_confidentiality(_fresh_ids(_cda_of(report(doctor, alice))), "X")
    _refused(doctor, alice, data, "confidentialité", private_storage)


@pytest.mark.django_db
def test_a_document_authored_by_a_colleague_keeps_its_declared_author_shown_on_the_page(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    """The depositor deposits a colleague's report: the entry is the depositor's (who answers
    for the deposit), the author the header declares is kept and shown, in French and
    English. A document the depositor wrote records no declared author."""
    root = etree.fromstring(_fresh_ids(_cda_of(report(doctor, alice, pdf=pdf_bytes()))))
    author = root.find("h:author/h:assignedAuthor", NS)
    author.find("h:id", NS).set("extension", "810100000017")  # type: ignore[union-attr]
    author.find("h:assignedPerson/h:name/h:given", NS).text = "Paule"  # type: ignore[union-attr]
    author.find("h:assignedPerson/h:name/h:family", NS).text = "<Durand>"  # type: ignore[union-attr]
    entry = cda_deposit(actor=doctor.user, patient=alice, data=etree.tostring(root))
    stored = Entry.objects.get(pk=entry.pk)
    assert stored.author == doctor
    assert (stored.declared_author_idnps, stored.declared_author_name) == (
        "810100000017",
        "Paule <Durand>",
    )
    url = reverse("records:entry_detail", args=[entry.public_id])
    client = logged_in(doctor.user)
    page = client.get(url).content.decode()
    assert "Auteur (déclaré dans le document CDA)" in page
    assert "Paule &lt;Durand&gt;, " in page and "(IDNPS 810100000017)" in page
    assert "Déposé par" in page and doctor.user.last_name in page
    with translation.override("en"):
        english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Author (as declared in the CDA document)" in english
    # The documents the portal produces from it name the declared author, and still pass.
    out = _cda_of(stored)
    assert schema_errors(out) == [] and schematron_failures(out, HEADER) == []
    out_author = etree.fromstring(out).find("h:author/h:assignedAuthor", NS)
    assert out_author.find("h:id", NS).get("extension") == "810100000017"  # type: ignore[union-attr]
    declared_role = author.find("h:code", NS)
    assert out_author.find("h:code", NS).get("code") == declared_role.get("code")  # type: ignore[union-attr]
    metadata = cda.xds_metadata(_fetched(stored), out)
    assert metadata.author is not None and metadata.author.idnps == "810100000017"
    assert metadata.author.name == "Paule <Durand>"

    own = cda_deposit(
        actor=doctor.user, patient=alice, data=_fresh_ids(_cda_of(report(doctor, alice)))
    )
    assert Entry.objects.filter(pk=own.pk, declared_author_idnps="").exists()
    assert (
        "déclaré dans le document"
        not in client.get(reverse("records:entry_detail", args=[own.public_id])).content.decode()
    )


@pytest.mark.django_db
def test_a_cda_file_over_the_cap_is_cut_off_and_traced_as_a_fact(
    doctor: Professional, alice: Patient, private_storage: Path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from records.cda.read import MAX_CDA_BYTES
    from records.models import AccessAction, AccessEvent

    before = _counts(private_storage)
    upload = SimpleUploadedFile("cr.xml", b"<" + b" " * MAX_CDA_BYTES, "text/xml")
    url = reverse("records:cda_new", args=[alice.public_id])
    response = logged_in(doctor.user).post(url, {"fichier": upload})
    assert response.status_code == 413
    assert "il n&#x27;a pas été lu" in response.content.decode()
    _nothing_stored(before, private_storage)
    event = AccessEvent.objects.get(action=AccessAction.DEPOSIT_REFUSED, patient=alice)
    assert json.loads(event.detail) == {
        "fact": "cda_refused",
        "why": "too_large",
        "size": MAX_CDA_BYTES // (1024 * 1024),
    }


@pytest.mark.django_db
def test_unreadable_ans_material_refuses_the_deposit_rather_than_store_it_unchecked(
    doctor: Professional,
    alice: Patient,
    private_storage: Path,
    settings: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The schema is there, the schematrons are not: no 500, no unchecked document stored,
    the cause in the log."""
    import shutil

    infrastructure = require_ans() / "infrastructure" / "cda"
    shutil.copytree(infrastructure, tmp_path / "infrastructure" / "cda")
    settings.DMP_ANS_CDA_DIR = str(tmp_path)
    data = _fresh_ids(_cda_of(report(doctor, alice)))
    _refused(doctor, alice, data, "n'a pas pu être vérifié", private_storage)
    assert "cannot be compiled" in caplog.text
