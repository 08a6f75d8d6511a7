"""The XDS DocumentEntry metadata of a CDA document the portal produces (what an IHE XDM
``METADATA.XML`` or a DMP submission carries). Pure: built from the entry and the CDA bytes."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from records.cda import codes
from records.cda.build import cda_time, versions
from records.reference import document_type

if TYPE_CHECKING:
    from records.models import Entry


@dataclass(frozen=True, slots=True)
class Coded:
    code: str
    scheme: str
    display: str = ""


@dataclass(frozen=True, slots=True)
class XdsAuthor:
    idnps: str  # "8" + RPPS, under codes.IDNPS_OID ("" for a document declared by the patient)
    name: str
    profession: Coded | None
    specialty: Coded | None
    institution: str  # the structure when known ("" otherwise)


@dataclass(frozen=True, slots=True)
class XdsMetadata:
    unique_id: str  # the CDA's ClinicalDocument/id/@root
    set_id: str
    version: int
    replaces_unique_id: str | None  # the parent document (RPLC) of a replacement
    type_code: Coded  # LOINC
    class_code: Coded
    format_code: Coded
    confidentiality: tuple[Coded, ...]  # N, plus the DMP's visibility codes when they apply
    creation_time: str  # UTC, YYYYMMDDHHMMSS (XDS DTM)
    service_start_time: str
    title: str
    language_code: str
    mime_type: str
    hash_sha1: str  # XDS hash: SHA-1 of the document, hex
    hash_sha256: str
    size: int
    patient_id: str  # the INS as the CDA carries it: "<extension>^^^&<OID>&ISO"
    patient_ids: tuple[tuple[str, str], ...]  # every (root, extension) of the recordTarget
    author: XdsAuthor | None
    masked: bool  # MASQUE_PS: hidden from professionals but its author and the médecin traitant
    invisible_to_patient: bool  # INVISIBLE_PATIENT, until the consultation d'annonce
    entry_public_id: str = field(default="")
    source_id: str = field(default="")  # the portal's XDS sourceId (codes.portal_identity)


def _patient_ids(entry: Entry) -> tuple[tuple[str, str], ...]:
    patient = entry.patient
    ids: list[tuple[str, str]] = []
    if codes.carries_qualified_ins(patient):
        ids.append((patient.matricule_oid, patient.matricule_ins))
    ids.append((codes.INSC_OID, patient.insc))
    return tuple(ids)


def _coded(pair: tuple[str, str] | None) -> Coded | None:
    return Coded(pair[0], codes.PROFESSION_OID, pair[1]) if pair else None


def _author(entry: Entry) -> XdsAuthor | None:
    professional = entry.author
    if professional is None:
        return None
    profession = codes.PROFESSIONS.get(professional.profession)
    specialty = codes.SPECIALTIES.get(professional.specialty) if professional.specialty else None
    structure = ""
    lab = getattr(entry, "lab_report", None) if entry.kind == "lab_report" else None
    if lab is not None:
        structure = lab.laboratory
    if entry.declared_author_idnps:  # deposited for a colleague: the author it declared
        role = (entry.declared_author_role_code, entry.declared_author_role)
        return XdsAuthor(
            idnps=entry.declared_author_idnps,
            name=entry.declared_author_name,
            profession=_coded(role if role[0] else None),
            specialty=None,
            institution=structure,
        )
    return XdsAuthor(
        idnps=f"{codes.IDNPS_RPPS_PREFIX}{professional.rpps}",
        name=professional.display_name,
        profession=_coded(profession),
        specialty=_coded(specialty),
        institution=structure,
    )


def _format(entry: Entry) -> tuple[Coded, str]:
    if entry.kind == "lab_report":
        return Coded(codes.FORMAT_CR_BIO, codes.FORMAT_SCHEME, "CR-BIO (XD-LAB)"), "text/xml"
    report = getattr(entry, "report", None)
    if report is not None and report.pdf:
        return Coded(codes.FORMAT_N1_PDF, codes.FORMAT_SCHEME, "CDA R2 N1 PDF"), "text/xml"
    return Coded(codes.FORMAT_N1_TEXT, codes.FORMAT_SCHEME, "CDA R2 N1 texte"), "text/xml"


def _dtm(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S")


def xds_metadata(entry: Entry, document: bytes) -> XdsMetadata:
    """The XDS metadata of ``document``, the CDA ``document_as_cda(entry)`` returned."""
    doc_type = document_type(entry.document_type)
    class_code, class_label = codes.CLASS_BY_CATEGORY.get(doc_type.category, codes.CLASS_DEFAULT)
    first, number = versions(entry)
    confidentiality = [Coded("N", codes.CONFIDENTIALITY_OID, "Normal")]
    invisible = bool(entry.invisible_to_patient and entry.announced_at is None)
    if entry.masked:
        confidentiality.append(Coded(codes.MASKED, codes.VISIBILITY_OID, "Masqué aux PS"))
    if invisible:
        confidentiality.append(Coded(codes.INVISIBLE, codes.VISIBILITY_OID, "Invisible patient"))
    format_code, mime = _format(entry)
    ids = _patient_ids(entry)
    root, extension = ids[0]
    start = entry.lab_report.specimen_collected_at if entry.kind == "lab_report" else None
    return XdsMetadata(
        unique_id=codes.uuid_oid(entry.public_id),
        set_id=codes.uuid_oid(first.public_id),
        version=number,
        replaces_unique_id=(
            codes.uuid_oid(entry.replaces.public_id)
            if entry.replaces_id is not None and entry.replaces is not None
            else None
        ),
        type_code=Coded(doc_type.code, codes.LOINC_OID, doc_type.label),
        class_code=Coded(class_code, codes.CLASS_SCHEME, class_label),
        format_code=format_code,
        confidentiality=tuple(confidentiality),
        creation_time=_dtm(entry.deposited_at),
        service_start_time=_dtm(start) if start else cda_time(entry.act_date),
        title=entry.title,
        language_code="fr-FR",
        mime_type=mime,
        hash_sha1=hashlib.sha1(document, usedforsecurity=False).hexdigest(),
        hash_sha256=hashlib.sha256(document).hexdigest(),
        size=len(document),
        patient_id=f"{extension}^^^&{root}&ISO",
        patient_ids=ids,
        author=_author(entry),
        masked=entry.masked,
        invisible_to_patient=invisible,
        entry_public_id=str(entry.public_id),
        source_id=codes.portal_identity().source_oid,
    )
