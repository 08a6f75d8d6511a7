"""The DMP's own entries in the archive: files, FHIR resources, XDS documents, index rows.

Reports and lab reports go into the XDM subset as CDA R2 (N1, and N3 CR-BIO) with their XDS
metadata, both from ``records.cda`` (``document_as_cda``, ``xds_metadata``); the files a
patient added, which have no CDA form, go there as they are, with metadata mapped here. The
originals (PDF, files) are also under DOCUMENTS/. The FHIR resources are the API's own
serializers (``records.fhir``).
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext

from records import cda
from records.fhir.clinical import allergy_resource, diagnostic_report, observation_resource
from records.fhir.resources import (
    MASKED,
    VISIBILITY_SYSTEM,
    document_reference,
    patient_resource,
    practitioner_resource,
)
from records.models import Entry, EntryKind, Observation
from records.portability import SUBSET, ArchiveWriter, IndexRow, XdsEntry, xds_time
from records.reference import document_type

LOINC_OID = "2.16.840.1.113883.6.1"
CONFIDENTIALITY_OID = "2.16.840.1.113883.5.25"
FORMAT_OID = "1.3.6.1.4.1.19376.1.2.3"
PDF_FORMAT = ("urn:ihe:iti:xds-sd:pdf:2008", FORMAT_OID, "PDF")
TEXT_FORMAT = ("urn:ihe:iti:xds-sd:text:2008", FORMAT_OID, "Texte")
IDNPS_OID = "1.2.250.1.71.4.2.1"
IMAGE_FORMAT = ("urn:ihe:iti:xds-sd:image:2008", FORMAT_OID, "Image")
# The kinds written by another app's section (imaging), not here.
_JOINED = (
    "author__user",
    "patient",
    "replaces",
    "report",
    "lab_report",
    "allergy",
    "patient_document",
    "problem",
    "treatment",
    "vaccination",
    "measure",
    "wishes",
)
CHUNK_ROWS = 200


def archive_entries(entries: QuerySet[Entry]) -> QuerySet[Entry]:
    """The entries with everything the archive reads of them, in a few queries per
    ``CHUNK_ROWS`` rows (constant in their number)."""
    return (
        entries.select_related(*_JOINED, *cda.SELECT_RELATED)
        .prefetch_related(
            Prefetch(
                "lab_report__observations",
                queryset=Observation.objects.order_by("position"),
            )
        )
        .order_by("act_date", "id")
    )


def _fallback_metadata(entry: Entry, mime: str) -> XdsEntry:
    doc = document_type(entry.document_type)
    confidentiality = [("N", CONFIDENTIALITY_OID, "Normal")]
    visibility = []
    if entry.masked:
        confidentiality.append(
            (MASKED, VISIBILITY_SYSTEM.removeprefix("urn:oid:"), "Masqué aux PS")
        )
        visibility.append(MASKED)
    if mime == "application/pdf":
        fmt = PDF_FORMAT
    elif mime.startswith("image/"):
        fmt = IMAGE_FORMAT
    else:
        fmt = TEXT_FORMAT
    author = entry.author
    return XdsEntry(
        unique_id=f"2.25.{entry.public_id.int}",
        title=entry.title,
        mime_type=mime,
        type_code=(doc.code, LOINC_OID, doc.label),
        class_code=(doc.category, "urn:dmp-portal:document-category", doc.category),
        format_code=fmt,
        confidentiality=tuple(confidentiality),
        creation_time=xds_time(entry.deposited_at),
        service_start=xds_time(entry.act_date),
        author=(
            f"8{author.rpps}^{author.user.last_name}^{author.user.first_name}^^^^^^&1.2.250.1.71.4.2.1&ISO"
            if author is not None
            else "PATIENT"
        ),
        author_role=str(author.get_profession_display()) if author is not None else "",
        visibility=tuple(visibility),
        entry_uuid=str(entry.public_id),
    )


def _coded(code: cda.Coded) -> tuple[str, str, str]:
    return code.code, code.scheme, code.display or code.code


def _cda_metadata(meta: cda.XdsMetadata) -> XdsEntry:
    """``records.cda``'s metadata of a CDA document, as the XDM writer takes it."""
    author = meta.author
    if author is not None and author.idnps:
        person = f"{author.idnps}^{author.name}^^^^^^^&{IDNPS_OID}&ISO"
    else:
        person = author.name if author is not None else "PATIENT"
    visibility = [code.code for code in meta.confidentiality if code.code != "N"]
    return XdsEntry(
        unique_id=meta.unique_id,
        title=meta.title,
        mime_type=meta.mime_type,
        type_code=_coded(meta.type_code),
        class_code=_coded(meta.class_code),
        format_code=_coded(meta.format_code),
        confidentiality=tuple(_coded(code) for code in meta.confidentiality),
        creation_time=meta.creation_time,
        service_start=meta.service_start_time,
        author=person,
        author_role=(
            author.profession.display or author.profession.code
            if author is not None and author.profession is not None
            else ""
        ),
        visibility=tuple(visibility),
        entry_uuid=meta.entry_public_id,
        patient_id=meta.patient_id,
    )


@dataclass(frozen=True)
class Original:
    """Where an entry's original document is: a stored file (``key``) or a text."""

    mime: str
    key: str = ""
    text: bytes | None = None


class EntryWriter:
    """Writes each entry of the DMP's own kinds (not imaging) into the archive."""

    def __init__(self, archive: ArchiveWriter) -> None:
        self.archive = archive
        self.authors: set[int] = set()
        self.number = 0

    def _name(self, folder: str, suffix: str) -> str:
        return f"{folder}/D{self.number:05d}{suffix}"

    def _xdm(self, entry: Entry, row: IndexRow, original: Original) -> None:
        """The entry's document in the XDM subset: its CDA when ``records.cda`` makes one,
        or else a copy of the original (stored file or text)."""
        archive = self.archive
        name_base = f"{SUBSET}/DOC{archive.documents + 1:05d}"
        fallback = _fallback_metadata(entry, original.mime)
        if entry.kind in (EntryKind.REPORT, EntryKind.LAB_REPORT):
            data = cda.document_as_cda(entry)
            name = archive.add_bytes(f"{name_base}.XML", data)
            sha1, size = _sha1(data), len(data)
            meta = _cda_metadata(cda.xds_metadata(entry, data))
            row.links.append(("CDA R2", name))
        elif original.key:
            suffix = mimetypes.guess_extension(original.mime) or ".bin"
            name = f"{name_base}{suffix.upper()}"
            sha1, size = archive.copy_stored(name, original.key)
            meta = fallback
            row.links.append(("XDM", name))
        elif original.text is not None:
            name = archive.add_bytes(f"{name_base}.TXT", original.text)
            sha1, size = _sha1(original.text), len(original.text)
            meta = fallback
            row.links.append(("XDM", name))
        else:
            return
        archive.xds_document(name, meta, sha1, size)

    def write(self, entry: Entry) -> None:
        self.number += 1
        archive = self.archive
        row = IndexRow(date=entry.act_date, kind=str(entry.get_kind_display()), title=entry.title)
        if entry.author_id is not None and entry.author_id not in self.authors:
            self.authors.add(entry.author_id)
            archive.fhir(practitioner_resource(entry.author))  # type: ignore[arg-type]
        original: Original | None = None
        if entry.kind == EntryKind.REPORT:
            original = self._report(entry, entry.report, row)
        elif entry.kind == EntryKind.LAB_REPORT:
            self._lab(entry, row)
            original = Original(mime="text/xml")  # a document only as CDA
        elif entry.kind == EntryKind.ALLERGY:
            archive.fhir(allergy_resource(entry, entry.allergy))
        elif entry.kind == EntryKind.PATIENT_DOCUMENT:
            original = self._patient_document(entry, row)
        else:
            archive.fhir(_summary_reference(entry))
            row.note = entry.summary
        if original is not None:
            self._xdm(entry, row, original)
        archive.index(row)
        archive.step()

    def _report(self, entry: Entry, report: Any, row: IndexRow) -> Original:
        resource = document_reference(entry, report)
        if report.pdf:
            name = self._name("DOCUMENTS", ".pdf")
            self.archive.copy_stored(name, report.pdf.name)
            row.links.append(("PDF", name))
            resource["content"][0]["attachment"]["url"] = name
            self.archive.fhir(resource)
            return Original(key=report.pdf.name, mime="application/pdf")
        text = report.body.encode()
        name = self.archive.add_bytes(self._name("DOCUMENTS", ".txt"), text)
        row.links.append((_text_label(), name))
        resource["content"][0]["attachment"]["url"] = name
        self.archive.fhir(resource)
        row.note = entry.summary
        return Original(mime="text/plain", text=text)

    def _lab(self, entry: Entry, row: IndexRow) -> None:
        report = entry.lab_report
        rows = list(report.observations.all())
        self.archive.fhir(diagnostic_report(entry, report, rows))
        for observation in rows:
            self.archive.fhir(observation_resource(entry, report, observation))
        row.note = entry.summary

    def _patient_document(self, entry: Entry, row: IndexRow) -> Original:
        document = entry.patient_document
        suffix = mimetypes.guess_extension(document.content_type) or ".bin"
        name = self._name("DOCUMENTS", suffix)
        self.archive.copy_stored(name, str(document.file.name))
        row.links.append((document.content_type, name))
        resource = document_reference(entry, None)
        resource["content"] = [
            {
                "attachment": {
                    "url": name,
                    "contentType": document.content_type,
                    "size": document.file_size,
                }
            }
        ]
        self.archive.fhir(resource)
        return Original(key=str(document.file.name), mime=document.content_type)


def _text_label() -> str:
    return gettext("Texte")


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def _summary_reference(entry: Entry) -> dict[str, Any]:
    """An entry without a FHIR mapping of its own yet (problem, treatment, vaccination,
    measure, wishes): a DocumentReference whose content is its summary as text."""
    resource = document_reference(entry, None)
    text = "\n".join(part for part in (entry.title, entry.summary) if part)
    resource["content"] = [
        {
            "attachment": {
                "contentType": "text/plain; charset=utf-8",
                "data": base64.b64encode(text.encode()).decode(),
                "title": entry.title,
            }
        }
    ]
    return resource


__all__ = ["EntryWriter", "archive_entries", "patient_resource"]
