"""CDA R2 documents with the CI-SIS header, built from the DMP's rows (lxml, no query of its own).

* a report (compte rendu) → CDA R2 N1: its PDF (or its text) in ``nonXMLBody``, base64;
* a lab report → CDA R2 N3 of the volet CR-BIO (BIO-CR-BIO 2024.01): one chapter, one
  "résultats d'examens" entry holding the observations (LOINC, UCUM, the reference range stored
  with each result, HL7 interpretation codes), and the PDF copy section the volet requires.

Identifiers: the document is ``2.25.<uuid>`` of its entry; the set is the first version's; a
replacement carries ``relatedDocument typeCode="RPLC"`` with the parent's id. The patient is
the qualified INS when the DMP stores one (matricule INS under its OID, identity QUAL) and
always the INS-C under 1.2.250.1.213.1.4.2, as the DMP knows it. The author is ``8`` + RPPS
under the IDNPS OID.

What the rows must bring (see ``records.cda.PREFETCH``): ``patient``, ``author__user``,
``replaces`` (and further up the chain for older versions), ``report`` or ``lab_report`` with
its ``observations``.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lxml import etree

from records.cda import codes
from records.pdf import build_text_pdf
from records.reference import document_type

if TYPE_CHECKING:
    from identity.models import Patient, Professional
    from records.content import LabReport, Observation, Report
    from records.models import Entry

H = f"{{{codes.HL7}}}"
NSMAP = {None: codes.HL7, "xsi": codes.XSI, "lab": codes.LAB}


# The volet CR-BIO fixes the document's title.
CR_BIO_TITLE = "Compte rendu d'examens biologiques"


class NotRenderable(ValueError):
    """This kind of entry has no CDA form here (allergy, profile item, imaging study…)."""


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, H + tag)
    for name, value in attrs.items():
        element.set(name.rstrip("_").replace("__", ":"), value)
    if text is not None:
        element.text = text
    return element


def _xsi_type(element: etree._Element, value: str) -> None:
    element.set(f"{{{codes.XSI}}}type", value)


def cda_time(value: datetime.datetime | datetime.date) -> str:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S+0000")
    return value.strftime("%Y%m%d")


def versions(entry: Entry) -> tuple[Entry, int]:
    """The first version of ``entry``'s set and ``entry``'s version number (1 for a first)."""
    first, number = entry, 1
    while first.replaces_id is not None:
        first = first.replaces  # type: ignore[assignment]
        number += 1
    return first, number


def _patient_ids(role: etree._Element, patient: Patient) -> None:
    if codes.carries_qualified_ins(patient):
        _el(role, "id", root=patient.matricule_oid, extension=patient.matricule_ins)
    _el(role, "id", root=codes.INSC_OID, extension=patient.insc)


def _record_target(root: etree._Element, patient: Patient) -> None:
    role = _el(_el(root, "recordTarget"), "patientRole")
    _patient_ids(role, patient)
    _el(role, "addr", nullFlavor="UNK")
    _el(role, "telecom", nullFlavor="UNK")
    person = _el(role, "patient", classCode="PSN")
    name = _el(person, "name")
    _el(name, "family", patient.birth_name or patient.used_name or "INCONNU", qualifier="BR")
    firsts = patient.first_names.split()
    if firsts:
        _el(name, "given", patient.first_names)
        _el(name, "given", firsts[0], qualifier="BR")
    if patient.used_name:
        _el(name, "family", patient.used_name, qualifier="CL")
    sex = patient.sex if patient.sex in ("F", "M") else "U"
    labels = {"F": "Féminin", "M": "Masculin", "U": "Inconnu"}
    _el(
        person,
        "administrativeGenderCode",
        code=sex,
        displayName=labels[sex],
        codeSystem=codes.GENDER_OID,
    )
    if patient.birth_date:
        _el(person, "birthTime", value=cda_time(patient.birth_date))
    else:
        _el(person, "birthTime", nullFlavor="UNK")
    if patient.birth_place_code:
        place = _el(_el(_el(person, "birthplace"), "place"), "addr")
        _el(place, "county", patient.birth_place_code)


def _person_name(parent: etree._Element, professional: Professional) -> None:
    user = professional.user
    name = _el(_el(parent, "assignedPerson"), "name")
    if user.first_name:
        _el(name, "given", user.first_name)
    _el(name, "family", user.last_name or user.email)
    if professional.profession == "medecin":
        _el(name, "suffix", "DR")


def _organization(parent: etree._Element, tag: str, name: str | None) -> None:
    organization = _el(parent, tag)
    _el(organization, "id", nullFlavor="UNK")  # the portal holds no structure identifier
    _el(organization, "name", name or codes.portal_identity().name)
    _el(organization, "telecom", nullFlavor="UNK")
    _el(organization, "addr", nullFlavor="UNK")
    _el(
        organization,
        "standardIndustryClassCode",
        code="AMBULATOIRE",
        displayName="Ambulatoire",
        codeSystem=codes.PRACTICE_SETTING_OID,
    )


def _assigned(
    parent: etree._Element,
    tag: str,
    professional: Professional,
    structure: str | None,
    *,
    organization: bool = True,
) -> None:
    assigned = _el(parent, tag)
    _el(
        assigned,
        "id",
        root=codes.IDNPS_OID,
        extension=f"{codes.IDNPS_RPPS_PREFIX}{professional.rpps}",
    )
    code, display = codes.author_code(professional.profession, professional.specialty)
    _el(assigned, "code", code=code, displayName=display, codeSystem=codes.PROFESSION_OID)
    _el(assigned, "addr", nullFlavor="UNK")
    _el(assigned, "telecom", nullFlavor="UNK")
    _person_name(assigned, professional)
    if organization:
        _organization(assigned, "representedOrganization", structure)


def _declared_author(author: etree._Element, entry: Entry, structure: str | None) -> None:
    """A document deposited for a colleague (``records.services.cda``): its author as its
    header declared it (IDNPS, profession, name), not the depositor."""
    assigned = _el(author, "assignedAuthor")
    _el(assigned, "id", root=codes.IDNPS_OID, extension=entry.declared_author_idnps)
    if entry.declared_author_role_code:
        _el(
            assigned,
            "code",
            code=entry.declared_author_role_code,
            displayName=entry.declared_author_role,
            codeSystem=codes.PROFESSION_OID,
        )
    _el(assigned, "addr", nullFlavor="UNK")
    _el(assigned, "telecom", nullFlavor="UNK")
    name = _el(_el(assigned, "assignedPerson"), "name")
    _el(name, "family", entry.declared_author_name or "INCONNU")
    _organization(assigned, "representedOrganization", structure)


def _author(root: etree._Element, entry: Entry, structure: str | None) -> None:
    author = _el(root, "author")
    _el(author, "time", value=cda_time(entry.deposited_at))
    if entry.author is not None and entry.declared_author_idnps:
        _declared_author(author, entry, structure)
        return
    if entry.author is not None:
        _assigned(author, "assignedAuthor", entry.author, structure)
        return
    # Declared by the patient: the patient is the author (no RPPS).
    assigned = _el(author, "assignedAuthor")
    _el(assigned, "id", root=codes.INSC_OID, extension=entry.patient.insc)
    _el(assigned, "code", code="PAT", displayName="Patient", codeSystem="1.2.250.1.213.1.1.4.2.300")
    _el(assigned, "addr", nullFlavor="UNK")
    _el(assigned, "telecom", nullFlavor="UNK")
    name = _el(_el(assigned, "assignedPerson"), "name")
    _el(name, "family", entry.patient.birth_name or "INCONNU")


def _custodian(root: etree._Element) -> None:
    custodian = _el(_el(root, "custodian"), "assignedCustodian")
    organization = _el(custodian, "representedCustodianOrganization")
    portal = codes.portal_identity()
    _el(organization, "id", root=codes.STRUCTURE_OID, extension=portal.custodian_id)
    _el(organization, "name", portal.name)
    _el(organization, "telecom", nullFlavor="NASK")
    _el(organization, "addr", nullFlavor="NASK")


def _legal(root: etree._Element, entry: Entry, structure: str | None) -> None:
    if entry.author is None:
        return
    legal = _el(root, "legalAuthenticator")
    _el(legal, "time", value=cda_time(entry.deposited_at))
    _el(legal, "signatureCode", code="S")
    _assigned(legal, "assignedEntity", entry.author, structure)


def _service_event(
    root: etree._Element,
    entry: Entry,
    start: datetime.datetime | datetime.date,
    lab: bool,
    structure: str | None,
) -> None:
    event = _el(_el(root, "documentationOf"), "serviceEvent")
    doc_type = document_type(entry.document_type)
    if lab:
        _el(
            event,
            "code",
            code=codes.LAB_CHAPTER[0],
            displayName=codes.LAB_CHAPTER[1],
            codeSystem=codes.LOINC_OID,
            codeSystemName="LOINC",
        )
        etree.SubElement(event, f"{{{codes.LAB}}}statusCode").set("code", "completed")
    else:
        _el(
            event,
            "code",
            code=doc_type.code,
            displayName=doc_type.label,
            codeSystem=codes.LOINC_OID,
            codeSystemName="LOINC",
        )
    period = _el(event, "effectiveTime")
    _el(period, "low", value=cda_time(start))
    if entry.author is not None:
        performer = _el(event, "performer", typeCode="PRF")
        if lab:
            _el(performer, "templateId", root="1.3.6.1.4.1.19376.1.3.3.1.7")
        _el(_el(performer, "time"), "high", value=cda_time(entry.deposited_at))
        _assigned(performer, "assignedEntity", entry.author, structure)


def _encounter(
    root: etree._Element,
    entry: Entry,
    start: datetime.datetime | datetime.date,
    lab: bool,
    structure: str | None,
) -> None:
    encounter = _el(_el(root, "componentOf"), "encompassingEncounter")
    period = _el(encounter, "effectiveTime")
    _el(period, "low", value=cda_time(start))
    if entry.author is not None:
        responsible = _el(encounter, "responsibleParty")
        _assigned(responsible, "assignedEntity", entry.author, structure, organization=False)
    facility = _el(_el(encounter, "location"), "healthCareFacility")
    if lab:
        _el(
            facility,
            "code",
            code="SA25",
            displayName="Laboratoire de biologie médicale",
            codeSystem=codes.FACILITY_TYPE_OID,
        )
    else:
        _el(
            facility,
            "code",
            code="SA07",
            displayName="Cabinet individuel",
            codeSystem=codes.FACILITY_TYPE_OID,
        )


def _header(
    entry: Entry,
    templates: Iterable[str],
    *,
    lab: bool,
    structure: str | None,
    start: datetime.datetime | datetime.date,
) -> etree._Element:
    root = etree.Element(H + "ClinicalDocument", nsmap=NSMAP)
    _el(root, "realmCode", code="FR")
    _el(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_HD000040")
    for template in templates:
        _el(root, "templateId", root=template)
    _el(root, "id", root=codes.uuid_oid(entry.public_id))
    doc_type = document_type(entry.document_type)
    _el(
        root,
        "code",
        code=doc_type.code,
        displayName=doc_type.label,
        codeSystem=codes.LOINC_OID,
        codeSystemName="LOINC",
    )
    _el(root, "title", CR_BIO_TITLE if lab else entry.title)
    _el(root, "effectiveTime", value=cda_time(entry.deposited_at))
    _el(
        root,
        "confidentialityCode",
        code="N",
        displayName="Normal",
        codeSystem=codes.CONFIDENTIALITY_OID,
    )
    _el(root, "languageCode", code="fr-FR")
    first, number = versions(entry)
    _el(root, "setId", root=codes.uuid_oid(first.public_id))
    _el(root, "versionNumber", value=str(number))
    _record_target(root, entry.patient)
    _author(root, entry, structure)
    _custodian(root)
    _legal(root, entry, structure)
    _service_event(root, entry, start, lab, structure)
    if entry.replaces_id is not None and entry.replaces is not None:
        parent = entry.replaces
        parent_first, parent_number = versions(parent)
        related = _el(_el(root, "relatedDocument", typeCode="RPLC"), "parentDocument")
        _el(related, "id", root=codes.uuid_oid(parent.public_id))
        _el(related, "setId", root=codes.uuid_oid(parent_first.public_id))
        _el(related, "versionNumber", value=str(parent_number))
    _encounter(root, entry, start, lab, structure)
    return root


def _serialize(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def report_pdf_bytes(report: Report) -> bytes | None:
    if not report.pdf:
        return None
    with report.pdf.open("rb") as handle:
        return bytes(handle.read())


def report_as_cda(entry: Entry, report: Report) -> bytes:
    """A report as CDA R2 N1 (XDS-SD): its PDF, or its text, base64 in ``nonXMLBody``."""
    root = _header(
        entry,
        (codes.TEMPLATE_HL7_FR, codes.TEMPLATE_CISIS, codes.TEMPLATE_XDS_SD),
        lab=False,
        structure=None,
        start=entry.act_date,
    )
    pdf = report_pdf_bytes(report)
    body = _el(_el(root, "component"), "nonXMLBody")
    if pdf is not None:
        text = _el(body, "text", mediaType="application/pdf", representation="B64")
        text.text = base64.b64encode(pdf).decode("ascii")
    else:
        text = _el(body, "text", mediaType="text/plain", representation="B64")
        text.text = base64.b64encode(report.body.encode("utf-8")).decode("ascii")
    return _serialize(root)


# ---- CR-BIO (N3) -----------------------------------------------------------------------------


def _number(value: Decimal) -> str:
    text = format(value, "f")
    return text


def _unit(row: Observation) -> str:
    return row.unit or "1"


def _observation_value(obs: etree._Element, row: Observation) -> None:
    from records.labs import parse_result

    try:
        parsed = parse_result(row.value_text)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.numeric is not None and not parsed.comparator:
        value = _el(
            obs,
            "value",
            value=_number(row.typed_bound(parsed.numeric) or parsed.numeric),
            unit=_unit(row),
        )
        _xsi_type(value, "PQ")
    elif parsed is not None and parsed.numeric is not None:
        value = _el(obs, "value")
        _xsi_type(value, "IVL_PQ")
        bound = _number(parsed.numeric)
        if parsed.comparator in ("<", "<="):
            _el(value, "low", nullFlavor="NINF")
            _el(
                value,
                "high",
                value=bound,
                unit=_unit(row),
                inclusive="true" if parsed.comparator == "<=" else "false",
            )
        else:
            _el(
                value,
                "low",
                value=bound,
                unit=_unit(row),
                inclusive="true" if parsed.comparator == ">=" else "false",
            )
            _el(value, "high", nullFlavor="PINF")
    else:
        value = _el(obs, "value", row.value_text)
        _xsi_type(value, "ST")


def _reference_range(obs: etree._Element, row: Observation) -> None:
    if row.ref_low is None and row.ref_high is None and not row.ref_text:
        return
    observation_range = _el(
        _el(obs, "referenceRange", typeCode="REFV"),
        "observationRange",
        classCode="OBS",
        moodCode="EVN.CRT",
    )
    if row.ref_text:
        _el(observation_range, "text", row.ref_text)
    if row.ref_low is not None or row.ref_high is not None:
        value = _el(observation_range, "value")
        _xsi_type(value, "IVL_PQ")
        for tag, bound in (("low", row.ref_low), ("high", row.ref_high)):
            typed = row.typed_bound(bound)
            if typed is None:
                _el(value, tag, nullFlavor="NINF" if tag == "low" else "PINF")
            else:
                _el(value, tag, value=_number(typed), unit=_unit(row))
    _el(
        observation_range,
        "interpretationCode",
        code="N",
        displayName="Normal",
        codeSystem=codes.INTERPRETATION_OID,
    )


def _observation(act: etree._Element, row: Observation, when: datetime.datetime) -> None:
    from records.labs import Flag

    obs = _el(
        _el(act, "entryRelationship", typeCode="COMP"),
        "observation",
        classCode="OBS",
        moodCode="EVN",
    )
    _el(obs, "templateId", root="1.3.6.1.4.1.19376.1.3.1.6")
    _el(obs, "templateId", root="1.2.250.1.213.1.1.3.80")
    code = _el(
        obs,
        "code",
        code=row.analyte_code,
        displayName=row.analyte_label,
        codeSystem=codes.LOINC_OID,
        codeSystemName="LOINC",
    )
    _el(_el(code, "originalText"), "reference", value=f"#result-{row.position}")
    _el(obs, "statusCode", code="completed")
    _el(obs, "effectiveTime", value=cda_time(when))
    _observation_value(obs, row)
    if row.interpretation:
        flag = Flag(row.interpretation)
        _el(
            obs,
            "interpretationCode",
            code=flag.value,
            displayName=flag.label,
            codeSystem=codes.INTERPRETATION_OID,
        )
    _reference_range(obs, row)


def _results_table(section: etree._Element, rows: list[Observation]) -> None:
    table = _el(_el(section, "text"), "table", border="0")
    head = _el(_el(table, "thead"), "tr")
    for label in ("Analyse", "Résultat", "Unité", "Valeurs de référence", "Interprétation"):
        _el(head, "th", label)
    body = _el(table, "tbody")
    for row in rows:
        line = _el(body, "tr")
        _el(_el(line, "td"), "content", row.analyte_label, ID=f"result-{row.position}")
        _el(line, "td", row.value_text)
        _el(line, "td", row.unit)
        _el(line, "td", row.range_display.replace("\u2013", "-") if rows else "")
        _el(line, "td", row.interpretation)


def lab_report_pdf(entry: Entry, lab: LabReport, rows: list[Observation]) -> bytes:
    """The PDF copy the volet requires, rendered from the structured results."""
    lines = [f"{lab.laboratory} - {lab.specimen_collected_at:%d/%m/%Y %H:%M}"]
    for row in rows:
        unit = f" {row.unit}" if row.unit else ""
        reference = f" ({row.range_display})" if row.range_display else ""
        flag = f" [{row.interpretation}]" if row.interpretation else ""
        lines.append(
            f"{row.analyte_label} ({row.analyte_code}): {row.value_text}{unit}{reference}{flag}"
        )
    return build_text_pdf(entry.title, lines)


def _pdf_copy(structured: etree._Element, entry: Entry, pdf: bytes) -> None:
    section = _el(_el(structured, "component"), "section")
    _el(section, "templateId", root="1.2.250.1.213.1.1.2.243")
    _el(section, "id", root=codes.uuid_oid(entry.public_id), extension="pdf-section")
    code, display = codes.PDF_COPY_SECTION
    _el(
        section,
        "code",
        code=code,
        displayName=display,
        codeSystem=codes.LOINC_OID,
        codeSystemName="LOINC",
    )
    _el(section, "title", display)
    table = _el(_el(section, "text"), "table", border="0")
    _el(_el(_el(table, "tbody"), "tr"), "td").append(
        etree.Element(H + "renderMultiMedia", referencedObject="doc-1")
    )
    organizer = _el(_el(section, "entry"), "organizer", classCode="CLUSTER", moodCode="EVN")
    _el(organizer, "templateId", root="1.2.250.1.213.1.1.3.18")
    _el(organizer, "id", root=codes.uuid_oid(entry.public_id), extension="pdf-organizer")
    _el(
        organizer,
        "code",
        code="55107-7",
        displayName="Document attaché",
        codeSystem=codes.LOINC_OID,
        codeSystemName="LOINC",
    )
    _el(organizer, "statusCode", code="completed")
    kind = _el(_el(organizer, "component"), "observation", classCode="OBS", moodCode="EVN")
    for template in (
        "1.3.6.1.4.1.19376.1.5.3.1.4.13",
        "1.2.250.1.213.1.1.3.48",
        "1.2.250.1.213.1.1.3.48.18",
    ):
        _el(kind, "templateId", root=template)
    _el(kind, "id", root=codes.uuid_oid(entry.public_id), extension="pdf-type")
    _el(
        kind,
        "code",
        code="69764-9",
        displayName="Type de document",
        codeSystem=codes.LOINC_OID,
        codeSystemName="LOINC",
    )
    _el(kind, "statusCode", code="completed")
    _el(kind, "effectiveTime", nullFlavor="NA")
    value = _el(
        kind,
        "value",
        code=code,
        displayName=display,
        codeSystem=codes.LOINC_OID,
        codeSystemName="LOINC",
    )
    _xsi_type(value, "CD")
    media = _el(
        _el(organizer, "component"), "observationMedia", classCode="OBS", moodCode="EVN", ID="doc-1"
    )
    data = _el(media, "value", mediaType="application/pdf", representation="B64")
    data.text = base64.b64encode(pdf).decode("ascii")


def lab_report_as_cda(entry: Entry, lab: LabReport) -> bytes:
    """A lab report as CDA R2 N3, volet CR-BIO."""
    rows = sorted(lab.observations.all(), key=lambda row: row.position)
    root = _header(
        entry,
        (codes.TEMPLATE_HL7_FR, codes.TEMPLATE_CISIS, codes.TEMPLATE_XD_LAB, codes.TEMPLATE_CR_BIO),
        lab=True,
        structure=lab.laboratory,
        start=lab.specimen_collected_at,
    )
    structured = _el(_el(root, "component"), "structuredBody")
    chapter = _el(_el(structured, "component"), "section")
    _el(chapter, "templateId", root="1.3.6.1.4.1.19376.1.3.3.2.1")
    _el(chapter, "templateId", root="1.2.250.1.213.1.1.2.70")
    code, display = codes.LAB_CHAPTER
    _el(
        chapter,
        "code",
        code=code,
        displayName=display,
        codeSystem=codes.LOINC_OID,
        codeSystemName="LOINC",
    )
    _el(chapter, "title", display)
    _results_table(chapter, rows)
    entry_element = _el(chapter, "entry", typeCode="DRIV")
    _el(entry_element, "templateId", root="1.3.6.1.4.1.19376.1.3.1")
    _el(entry_element, "templateId", root="1.2.250.1.213.1.1.3.21")
    act = _el(entry_element, "act", classCode="ACT", moodCode="EVN")
    _el(
        act,
        "code",
        code=code,
        displayName=display,
        codeSystem=codes.LOINC_OID,
        codeSystemName="LOINC",
    )
    _el(act, "statusCode", code="completed")
    for row in rows:
        _observation(act, row, lab.specimen_collected_at)
    _pdf_copy(structured, entry, lab_report_pdf(entry, lab, rows))
    return _serialize(root)


def document_as_cda(entry: Entry) -> bytes:
    """``entry`` as a CDA R2 document (N1 for a report, N3 CR-BIO for a lab report)."""
    from records.models import EntryKind

    if entry.kind == EntryKind.REPORT:
        return report_as_cda(entry, entry.report)
    if entry.kind == EntryKind.LAB_REPORT:
        return lab_report_as_cda(entry, entry.lab_report)
    raise NotRenderable(f"no CDA form for an entry of kind {entry.kind!r}")
