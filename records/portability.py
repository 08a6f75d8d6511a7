"""The archive of "Télécharger mon DMP", written as it is read: an IHE XDM portable media.

Layout of the ZIP (ITI TF-1 §16, XDM; file names ISO 9660-safe)::

    INDEX.HTM                      what the media holds (XDM), offline
    README.TXT                     who made it, when, how to read it (XDM)
    index.html                     every document with a link to its file, offline, no script
    IHE_XDM/SUBSET01/METADATA.XML  ebRIM SubmitObjectsRequest: the SubmissionSet and one XDS
                                   DocumentEntry per document (visibility codes included)
    IHE_XDM/SUBSET01/DOCnnnnn.*    the documents (CDA R2 when ``records.cda`` makes them)
    FHIR/BUNDLE.JSON               a FHIR R4 Bundle (collection) of the whole record
    DOCUMENTS/…                    the original PDFs and files as stored
    IMAGES/…                       the DICOM files as stored (``imaging.export``)

Memory stays bounded whatever the DMP's size: files are copied from storage in chunks, the
Bundle, the metadata and the index are spooled to temporary files on disk while the entries
are read (zipfile writes one member at a time), then copied into the ZIP.

Pure writing: the entries come from the funnel (``records.services.export``), no decision is
made here. Sections of other apps (imaging) register with ``SECTIONS`` at start-up.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import html
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from lxml import etree

from identity.models import Patient
from records.cda import codes
from records.models import Entry

CHUNK = 1024 * 1024
SUBSET = "IHE_XDM/SUBSET01"
BUNDLE_NAME = "FHIR/BUNDLE.JSON"

# ebRIM 3.0 / XDS.b identifiers (ITI TF-3 §4.2).
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
DOCUMENT_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c1-73ada2d77b8f"
CLASS_CODE = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
CONFIDENTIALITY_CODE = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
FORMAT_CODE = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
CONTENT_TYPE_CODE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
DOC_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DOC_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
SET_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SET_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
SET_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
INSC_OID = "1.2.250.1.213.1.4.2"


class ArchiveFailed(Exception):
    """The archive could not be written (a file missing from storage, a disk error)."""


@dataclass(frozen=True)
class XdsEntry:
    """One document of the XDM subset with its XDS DocumentEntry metadata."""

    unique_id: str
    title: str
    mime_type: str
    type_code: tuple[str, str, str]  # code, scheme, display
    class_code: tuple[str, str, str]
    format_code: tuple[str, str, str]
    confidentiality: tuple[tuple[str, str, str], ...]
    creation_time: str  # YYYYMMDDhhmmss, UTC
    service_start: str
    author: str  # XCN or a display name
    author_role: str = ""
    visibility: tuple[str, ...] = ()
    entry_uuid: str = ""  # the entry's public id: the DocumentEntry's entryUUID
    patient_id: str = ""  # as the document carries it (CDA: the INS); the INS-C otherwise


@dataclass
class IndexRow:
    """One line of index.html: an entry and the files that hold it."""

    date: datetime.date
    kind: str
    title: str
    links: list[tuple[str, str]] = field(default_factory=list)  # label, path in the ZIP
    note: str = ""


class Section(Protocol):
    """What another app adds to the archive (imaging: the DICOM files and ImagingStudy)."""

    kinds: frozenset[str]

    def write(self, archive: ArchiveWriter, entries: QuerySet[Entry]) -> None: ...


SECTIONS: list[Section] = []


def _spool() -> IO[bytes]:
    return tempfile.TemporaryFile(prefix="dmp-export-")


class ArchiveWriter:
    """Writes the ZIP into ``target`` (a file on disk), one member at a time.

    ``progress(done)`` is called after each document; the caller decides how often it is
    worth a database write.
    """

    def __init__(
        self, target: IO[bytes], patient: Patient, progress: Callable[[int], None]
    ) -> None:
        self.zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.patient = patient
        self.progress = progress
        self.done = 0
        self.documents = 0
        self.names: set[str] = set()
        self._bundle = _spool()
        self._bundle_count = 0
        self._metadata = _spool()
        self._index = _spool()
        self._ids: list[str] = []

    # --- members -------------------------------------------------------------------------

    def _claim(self, name: str) -> str:
        if name in self.names:
            raise ArchiveFailed(f"duplicate member {name}")
        self.names.add(name)
        return name

    def add_bytes(self, name: str, data: bytes) -> str:
        self.zip.writestr(self._claim(name), data)
        return name

    def copy_stored(self, name: str, key: str, *, compress: bool = False) -> tuple[str, int]:
        """Copy a file of private storage into the ZIP in chunks; its SHA-1 and size."""
        digest, size = hashlib.sha1(usedforsecurity=False), 0
        info = zipfile.ZipInfo(self._claim(name), date_time=_zip_time())
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        try:
            source = default_storage.open(key, "rb")
        except (OSError, ValueError) as error:
            raise ArchiveFailed(f"stored file missing: {name}") from error
        with source, self.zip.open(info, "w", force_zip64=True) as target:
            while block := source.read(CHUNK):
                digest.update(block)
                size += len(block)
                target.write(block)
        return digest.hexdigest(), size

    # --- spooled parts ---------------------------------------------------------------------

    def fhir(self, resource: dict[str, Any]) -> None:
        """Add one resource to the Bundle (spooled to disk, written last)."""
        if self._bundle_count:
            self._bundle.write(b",\n")
        full_url = f"urn:uuid:{resource['id']}" if _is_uuid(resource["id"]) else None
        item: dict[str, Any] = {"resource": resource}
        if full_url:
            item = {"fullUrl": full_url, **item}
        self._bundle.write(json.dumps(item, ensure_ascii=False, default=str).encode())
        self._bundle_count += 1

    def xds_document(self, name: str, meta: XdsEntry, sha1: str, size: int) -> None:
        """The XDS DocumentEntry of a document already written at ``name``."""
        ident = f"urn:uuid:{meta.entry_uuid or meta.unique_id}"
        self._ids.append(ident)
        self._metadata.write(
            etree.tostring(_extrinsic(ident, name, meta, sha1, size, self.patient))
        )
        self._metadata.write(b"\n")
        self.documents += 1

    def index(self, row: IndexRow) -> None:
        self._index.write(_row_html(row).encode())

    def step(self, count: int = 1) -> None:
        self.done += count
        self.progress(self.done)

    # --- closing ---------------------------------------------------------------------------

    def _copy_spool(self, name: str, head: bytes, spool: IO[bytes], tail: bytes) -> None:
        spool.seek(0)
        with self.zip.open(self._claim(name), "w", force_zip64=True) as target:
            target.write(head)
            shutil.copyfileobj(spool, target, CHUNK)
            target.write(tail)

    def finish(self, *, requested_by: str, now: datetime.datetime) -> None:
        bundle_head = (
            json.dumps(
                {
                    "resourceType": "Bundle",
                    "id": str(self.patient.public_id),
                    "type": "collection",
                    "timestamp": now.astimezone(datetime.UTC).isoformat(timespec="seconds"),
                }
            )[:-1].encode()
            + b', "entry": [\n'
        )
        self._copy_spool(BUNDLE_NAME, bundle_head, self._bundle, b"\n]}\n")
        self._copy_spool(
            f"{SUBSET}/METADATA.XML",
            _metadata_head(),
            self._metadata,
            _submission_set(self.patient, self._ids, now) + b"</rim:RegistryObjectList>"
            b"</lcm:SubmitObjectsRequest>\n",
        )
        self._copy_spool("index.html", _page_head(self.patient, now), self._index, _page_tail())
        self.add_bytes("INDEX.HTM", _xdm_index(self.patient, now).encode())
        self.add_bytes("README.TXT", _readme(self.patient, requested_by, now).encode())
        self.close()

    def close_quietly(self) -> None:
        """After a failure: release what is open (the caller deletes the target)."""
        with contextlib.suppress(Exception):  # the failure being handled is what matters
            self.close()

    def close(self) -> None:
        for spool in (self._bundle, self._metadata, self._index):
            spool.close()
        self.zip.close()


def _is_uuid(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4


def _zip_time() -> tuple[int, int, int, int, int, int]:
    now = timezone.localtime()
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


def xds_time(value: datetime.datetime | datetime.date) -> str:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y%m%d%H%M%S")
    return value.strftime("%Y%m%d")


# --- METADATA.XML --------------------------------------------------------------------------


def _q(tag: str) -> str:
    return f"{{{RIM}}}{tag}"


def _slot(parent: etree._Element, name: str, *values: str) -> None:
    slot = etree.SubElement(parent, _q("Slot"), name=name)
    holder = etree.SubElement(slot, _q("ValueList"))
    for value in values:
        etree.SubElement(holder, _q("Value")).text = value


def _name(parent: etree._Element, text: str) -> None:
    holder = etree.SubElement(parent, _q("Name"))
    etree.SubElement(holder, _q("LocalizedString"), value=text)


def _classify(
    parent: etree._Element, scheme: str, owner: str, code: tuple[str, str, str], n: int
) -> None:
    node = etree.SubElement(
        parent,
        _q("Classification"),
        id=f"{owner}-c{n}",
        classificationScheme=scheme,
        classifiedObject=owner,
        nodeRepresentation=code[0],
        objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification",
    )
    _slot(node, "codingScheme", code[1])
    _name(node, code[2])


def _external(
    parent: etree._Element, scheme: str, owner: str, value: str, name: str, n: int
) -> None:
    node = etree.SubElement(
        parent,
        _q("ExternalIdentifier"),
        id=f"{owner}-e{n}",
        identificationScheme=scheme,
        registryObject=owner,
        value=value,
        objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier",
    )
    _name(node, name)


def patient_xds_id(patient: Patient) -> str:
    return f"{patient.insc}^^^&{INSC_OID}&ISO"


def _extrinsic(
    ident: str, name: str, meta: XdsEntry, sha1: str, size: int, patient: Patient
) -> etree._Element:
    node = etree.Element(
        _q("ExtrinsicObject"),
        id=ident,
        mimeType=meta.mime_type,
        objectType=DOCUMENT_ENTRY,
        status="urn:oasis:names:tc:ebxml-regrep:StatusType:Approved",
        nsmap={"rim": RIM},
    )
    _slot(node, "creationTime", meta.creation_time)
    _slot(node, "serviceStartTime", meta.service_start)
    _slot(node, "languageCode", "fr-FR")
    _slot(node, "sourcePatientId", patient_xds_id(patient))
    _slot(node, "hash", sha1)
    _slot(node, "size", str(size))
    _slot(node, "URI", name.removeprefix(f"{SUBSET}/"))
    _name(node, meta.title)
    author = etree.SubElement(
        node,
        _q("Classification"),
        id=f"{ident}-author",
        classificationScheme=AUTHOR,
        classifiedObject=ident,
        nodeRepresentation="",
        objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification",
    )
    _slot(author, "authorPerson", meta.author)
    if meta.author_role:
        _slot(author, "authorRole", meta.author_role)
    _classify(node, CLASS_CODE, ident, meta.class_code, 1)
    for n, code in enumerate(meta.confidentiality, start=2):
        _classify(node, CONFIDENTIALITY_CODE, ident, code, n)
    _classify(node, FORMAT_CODE, ident, meta.format_code, 10)
    _classify(node, TYPE_CODE, ident, meta.type_code, 11)
    patient_id = meta.patient_id or patient_xds_id(patient)
    _external(node, DOC_PATIENT_ID, ident, patient_id, "XDSDocumentEntry.patientId", 1)
    _external(node, DOC_UNIQUE_ID, ident, meta.unique_id, "XDSDocumentEntry.uniqueId", 2)
    return node


def _metadata_head() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<lcm:SubmitObjectsRequest xmlns:lcm="'
        + LCM.encode()
        + b'" xmlns:rim="'
        + RIM.encode()
        + b'"><rim:RegistryObjectList>\n'
    )


def _submission_set(patient: Patient, members: Iterable[str], now: datetime.datetime) -> bytes:
    package = etree.Element(
        _q("RegistryPackage"),
        id="SubmissionSet01",
        objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage",
        nsmap={"rim": RIM},
    )
    _slot(package, "submissionTime", xds_time(now))
    _name(package, _("Archive du DMP (Télécharger mon DMP)"))
    _classify(
        package,
        CONTENT_TYPE_CODE,
        "SubmissionSet01",
        ("PORTABILITE", "1.2.250.1.213.1.1.4.12", "Portabilité (RGPD art. 20)"),
        1,
    )
    etree.SubElement(
        package,
        _q("Classification"),
        id="SubmissionSet01-class",
        classificationNode=SUBMISSION_SET,
        classifiedObject="SubmissionSet01",
        objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification",
    )
    _external(
        package,
        SET_UNIQUE_ID,
        "SubmissionSet01",
        f"2.25.{int(now.timestamp() * 1e6)}",
        "XDSSubmissionSet.uniqueId",
        1,
    )
    source = codes.portal_identity().source_oid  # a setting (DMP_XDS_SOURCE_OID)
    _external(package, SET_SOURCE_ID, "SubmissionSet01", source, "XDSSubmissionSet.sourceId", 2)
    _external(
        package,
        SET_PATIENT_ID,
        "SubmissionSet01",
        patient_xds_id(patient),
        "XDSSubmissionSet.patientId",
        3,
    )
    parts = [etree.tostring(package)]
    for n, member in enumerate(members, start=1):
        association = etree.Element(
            _q("Association"),
            id=f"Association{n:05d}",
            associationType=HAS_MEMBER,
            sourceObject="SubmissionSet01",
            targetObject=member,
            objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association",
            nsmap={"rim": RIM},
        )
        _slot(association, "SubmissionSetStatus", "Original")
        parts.append(etree.tostring(association))
    return b"\n".join(parts)


# --- index.html, INDEX.HTM, README.TXT -----------------------------------------------------

_STYLE = (
    "body{font-family:sans-serif;margin:1rem;max-width:60rem}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;"
    "padding:.3rem;text-align:left;vertical-align:top}"
    "@media (max-width:40rem){td,th{display:block}thead{display:none}}"
)


def _page_head(patient: Patient, now: datetime.datetime) -> bytes:
    title = html.escape(
        _("Mon dossier médical — archive du %(date)s")
        % {"date": formats.date_format(timezone.localtime(now), "DATETIME_FORMAT")}
    )
    return (
        (
            '<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>{title}</title><style>{style}</style></head><body>"
            "<h1>{title}</h1><p>{who} · INS-C {insc}</p>"
            '<p><a href="FHIR/BUNDLE.JSON">{fhir}</a> · <a href="{subset}/METADATA.XML">{xds}</a>'
            ' · <a href="README.TXT">README.TXT</a></p>'
            "<table><thead><tr><th>{date}</th><th>{kind}</th><th>{doc}</th><th>{files}</th></tr>"
            "</thead><tbody>\n"
        )
        .format(
            lang=get_language() or "fr",
            title=title,
            style=_STYLE,
            who=html.escape(patient.display_name),
            insc=html.escape(patient.insc),
            fhir=html.escape(_("Le dossier complet (FHIR R4, JSON)")),
            xds=html.escape(_("Les métadonnées XDS (XML)")),
            subset=SUBSET,
            date=html.escape(_("Date")),
            kind=html.escape(_("Nature")),
            doc=html.escape(_("Document")),
            files=html.escape(_("Fichiers")),
        )
        .encode()
    )


def _page_tail() -> bytes:
    return b"</tbody></table></body></html>\n"


def _row_html(row: IndexRow) -> str:
    links = " · ".join(
        f'<a href="{html.escape(path)}">{html.escape(label)}</a>' for label, path in row.links
    )
    note = f"<br>{html.escape(row.note)}" if row.note else ""
    return (
        f"<tr><td>{row.date:%d/%m/%Y}</td><td>{html.escape(row.kind)}</td>"
        f"<td>{html.escape(row.title)}{note}</td><td>{links or '—'}</td></tr>\n"
    )


def _xdm_index(patient: Patient, now: datetime.datetime) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        "</head><body><h1>{title}</h1><p>{who}</p><ul>"
        '<li><a href="index.html">{index}</a></li>'
        '<li><a href="README.TXT">README.TXT</a></li>'
        '<li><a href="{subset}/METADATA.XML">{subset}/METADATA.XML</a></li>'
        '<li><a href="FHIR/BUNDLE.JSON">FHIR/BUNDLE.JSON</a></li>'
        "</ul></body></html>\n"
    ).format(
        lang=get_language() or "fr",
        title=html.escape(_("Support portable IHE XDM — dossier médical")),
        who=html.escape(patient.display_name),
        index=html.escape(_("Liste des documents")),
        subset=SUBSET,
    )


def _readme(patient: Patient, requested_by: str, now: datetime.datetime) -> str:
    lines = [
        _("Archive du dossier médical partagé (DMP) de %(who)s.") % {"who": patient.display_name},
        _("Préparée le %(when)s à la demande de %(by)s.")
        % {
            "when": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
            "by": requested_by,
        },
        "",
        _("Ouvrez index.html dans un navigateur : il liste chaque document, sans connexion."),
        _("IHE_XDM/SUBSET01 : les documents et leurs métadonnées XDS (METADATA.XML)."),
        _("FHIR/BUNDLE.JSON : le dossier complet au format FHIR R4 (Bundle de type collection)."),
        _("DOCUMENTS et IMAGES : les fichiers d'origine (PDF, DICOM) tels que conservés."),
        "",
        _("Ce support contient des données de santé : conservez-le en lieu sûr."),
    ]
    return "\r\n".join(lines) + "\r\n"
