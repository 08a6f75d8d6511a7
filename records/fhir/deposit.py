"""FHIR resources coming in, turned into the keyword arguments of the deposit services.

Everything is checked here, before any service runs: the patient named by ``subject`` must be
the same for every resource of a submission, the attachment's bytes are base64 for real, a
``contentType`` must tell the truth about the bytes (a PDF is judged again by its content by
``records.pdf.inspect_pdf`` inside the service), texts are bounded and free of control
characters (by the services' own ``clean_text``). The services then decide who may deposit.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from records.fhir.http import FhirError
from records.fhir.resources import INVISIBLE, LOINC, VISIBILITY_SYSTEM
from records.pdf import MAX_PDF_BYTES

MAX_BASE64 = math.ceil(MAX_PDF_BYTES * 4 / 3) + 4
_NAMESPACE = uuid.UUID("5b0e8f7e-8c1d-4a55-9f4e-2d2f3b9c6a10")  # masterIdentifier → key


def invalid(message: str) -> FhirError:
    return FhirError(422, "invalid", message)


def _text(value: Any, what: str, *, limit: int = 1000) -> str:
    if not isinstance(value, str):
        raise invalid(_("%(field)s : texte attendu.") % {"field": what})
    if len(value) > limit:
        raise invalid(
            _("%(field)s : texte trop long (%(max)d caractères au maximum).")
            % {"field": what, "max": limit}
        )
    return value


def reference_id(value: Any, kind: str, what: str) -> str:
    """The id of a ``{"reference": "<kind>/<id>"}`` (or a bare id); 422 otherwise."""
    reference = value.get("reference") if isinstance(value, dict) else None
    text = _text(reference, what, limit=200)
    found_kind, _sep, ident = text.rpartition("/")
    if found_kind.rsplit("/", 1)[-1] != kind or not ident:
        raise invalid(_("%(field)s : référence %(kind)s attendue.") % {"field": what, "kind": kind})
    return ident


def _b64(data: Any) -> bytes:
    text = _text(data, "attachment.data", limit=MAX_BASE64 * 2)
    if len(text) > MAX_BASE64:
        raise FhirError(
            413,
            "too-costly",
            _("Pièce jointe trop volumineuse (%(max)d Mo au maximum).")
            % {"max": MAX_PDF_BYTES // 2**20},
        )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(_("attachment.data : ce n'est pas du base64 valide.")) from None


@dataclass(frozen=True)
class Content:
    """What an attachment holds: a PDF's bytes, or a text body."""

    pdf: bytes | None = None
    body: str = ""


def content_of(content_type: Any, data: bytes) -> Content:
    """Check that ``content_type`` tells the truth about ``data``."""
    kind = _text(content_type, "contentType", limit=100).split(";")[0].strip().lower()
    looks_pdf = data.lstrip()[:5] == b"%PDF-"
    if kind == "application/pdf":
        if not looks_pdf:
            raise invalid(_("contentType application/pdf, mais le contenu n'est pas un PDF."))
        return Content(pdf=data)
    if kind == "text/plain":
        if looks_pdf:
            raise invalid(_("contentType text/plain, mais le contenu est un PDF."))
        try:
            return Content(body=data.decode("utf-8"))
        except UnicodeDecodeError:
            raise invalid(
                _("contentType text/plain, mais le contenu n'est pas du texte UTF-8.")
            ) from None
    raise FhirError(
        415,
        "not-supported",
        _("Type de pièce jointe non pris en charge : application/pdf ou text/plain."),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _act_date(resource: dict[str, Any]) -> datetime.date:
    context = _object(resource.get("context"))
    period = _object(context.get("period"))
    raw = period.get("start") or resource.get("date")
    text = _text(raw, "context.period.start", limit=40)
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise invalid(_("context.period.start : date invalide (AAAA-MM-JJ).")) from None


def _loinc_type(resource: dict[str, Any]) -> str:
    codings = (
        (resource.get("type") or {}).get("coding")
        if isinstance(resource.get("type"), dict)
        else None
    )
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict) and coding.get("system") == LOINC:
            return _text(coding.get("code"), "type.coding.code", limit=20)
    raise invalid(_("type : un code LOINC (system http://loinc.org) est obligatoire."))


def _submission_key(resource: dict[str, Any]) -> uuid.UUID | None:
    master = resource.get("masterIdentifier")
    if master is None:
        return None
    if not isinstance(master, dict):
        raise invalid(_("masterIdentifier : identifiant attendu."))
    value = _text(master.get("value"), "masterIdentifier.value", limit=200)
    system = master.get("system") or ""
    return uuid.uuid5(_NAMESPACE, f"{_text(system, 'masterIdentifier.system', limit=200)}|{value}")


def _invisible(resource: dict[str, Any]) -> bool:
    labels = resource.get("securityLabel") or []
    if not isinstance(labels, list):
        raise invalid(_("securityLabel : liste attendue."))
    for label in labels:
        codings = label.get("coding") if isinstance(label, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, dict) and coding.get("system") == VISIBILITY_SYSTEM:
                if coding.get("code") != INVISIBLE:
                    raise invalid(
                        _("securityLabel : seul INVISIBLE_PATIENT peut être posé au dépôt.")
                    )
                return True
    return False


@dataclass(frozen=True)
class DocumentInput:
    """A DocumentReference to deposit: the patient's public id, what it replaces (a
    DocumentReference id or None), and the keyword arguments of ``report_deposit``."""

    patient_id: str
    replaces_id: str | None
    fields: dict[str, Any]


def _replaces(resource: dict[str, Any]) -> str | None:
    relations = resource.get("relatesTo") or []
    if not isinstance(relations, list):
        raise invalid(_("relatesTo : liste attendue."))
    for relation in relations:
        if isinstance(relation, dict) and relation.get("code") == "replaces":
            return reference_id(relation.get("target"), "DocumentReference", "relatesTo.target")
    if relations:
        raise invalid(_("relatesTo : seul le code « replaces » est pris en charge."))
    return None


def document_input(
    resource: dict[str, Any], binaries: dict[str, dict[str, Any]] | None = None
) -> DocumentInput:
    """Parse a DocumentReference. Its one attachment is inline (``data``) or, inside a
    transaction Bundle, the Binary that ``url`` names (``binaries``, by fullUrl)."""
    contents = resource.get("content")
    if not isinstance(contents, list) or len(contents) != 1 or not isinstance(contents[0], dict):
        raise invalid(_("content : exactement une pièce jointe est attendue."))
    attachment = contents[0].get("attachment")
    if not isinstance(attachment, dict):
        raise invalid(_("content.attachment est obligatoire."))
    if "data" in attachment:
        content = content_of(attachment.get("contentType"), _b64(attachment["data"]))
    else:
        url = _text(attachment.get("url"), "attachment.url", limit=200)
        binary = (binaries or {}).get(url)
        if binary is None:
            raise invalid(
                _("attachment.url : aucune ressource Binary de cette soumission n'a cette adresse.")
            )
        content = content_of(binary.get("contentType"), _b64(binary.get("data")))
    title = resource.get("description") or attachment.get("title") or ""
    return DocumentInput(
        patient_id=reference_id(resource.get("subject"), "Patient", "subject"),
        replaces_id=_replaces(resource),
        fields={
            "document_type": _loinc_type(resource),
            "title": _text(title, "description"),
            "act_date": _act_date(resource),
            "body": content.body,
            "pdf": content.pdf,
            "invisible_to_patient": _invisible(resource),
            "submission_key": _submission_key(resource),
        },
    )
