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
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from records.fhir.http import FhirError
from records.fhir.resources import INVISIBLE, LOINC, VISIBILITY_SYSTEM
from records.pdf import MAX_PDF_BYTES
from records.services.content import ObservationInput

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
    cda: bytes | None = None  # a CDA R2 document, deposited by ``records.services.cda``


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
    if kind in CDA_CONTENT_TYPES:
        return Content(cda=data)
    raise FhirError(
        415,
        "not-supported",
        _("Type de pièce jointe non pris en charge : application/pdf ou text/plain."),
    )


# A CDA R2 document (N1 or CR-BIO) travels as XML with one of the CI-SIS format codes.
CDA_CONTENT_TYPES = ("application/xml", "text/xml", "application/hl7-cda+xml")


def _cda_format(content: dict[str, Any]) -> None:
    from records.cda.codes import FORMAT_CODES

    code = _object(content.get("format")).get("code")
    if code not in FORMAT_CODES:
        raise invalid(
            _("content.format : un document CDA R2 porte le code de format du CI-SIS (%(codes)s).")
            % {"codes": ", ".join(sorted(FORMAT_CODES))}
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
    if content.cda is not None:
        _cda_format(contents[0])
        return DocumentInput(
            patient_id=reference_id(resource.get("subject"), "Patient", "subject"),
            replaces_id=None,
            fields={"cda": content.cda, "submission_key": _submission_key(resource)},
        )
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


# --- Lab reports (DiagnosticReport with its Observations contained) and allergies -------------


def _coding_code(concept: Any, system: str | None, what: str) -> str:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict) and (system is None or coding.get("system") == system):
            return _text(coding.get("code"), what, limit=40)
    raise invalid(_("%(field)s : code attendu.") % {"field": what})


def _instant(value: Any, what: str) -> datetime.datetime:
    text = _text(value, what, limit=40)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise invalid(_("%(field)s : date et heure invalides.") % {"field": what}) from None
    if moment.tzinfo is None:
        raise invalid(_("%(field)s : le fuseau horaire est obligatoire.") % {"field": what})
    return moment


def _number_text(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise invalid(_("%(field)s : nombre attendu.") % {"field": what})
    if isinstance(value, Decimal) and not value.is_finite():
        raise invalid(_("%(field)s : valeur non finie refusée.") % {"field": what})
    # JSON may write 1.5e2; the services read plain decimals (a bounded length first: 1e309
    # must not become 310 digits).
    if isinstance(value, Decimal) and abs(value.adjusted()) > 20:
        raise invalid(_("%(field)s : valeur trop grande ou trop petite.") % {"field": what})
    return format(value, "f")


def _bound(range_: dict[str, Any], name: str) -> str | None:
    quantity = range_.get(name)
    if quantity is None:
        return None
    if not isinstance(quantity, dict):
        raise invalid(_("referenceRange.%(name)s : quantité attendue.") % {"name": name})
    return _number_text(quantity.get("value"), f"referenceRange.{name}.value")


def observation_input(resource: dict[str, Any], number: int) -> ObservationInput:
    """One contained Observation as the service's ``ObservationInput``."""
    label = f"Observation {number}"
    code = _coding_code(resource.get("code"), LOINC, f"{label} code")
    if "valueQuantity" in resource:
        quantity = _object(resource["valueQuantity"])
        value = _number_text(quantity.get("value"), f"{label} valueQuantity.value")
        unit = quantity.get("code") or quantity.get("unit") or ""
        unit = _text(unit, f"{label} valueQuantity.code", limit=40)
    else:
        value = _text(resource.get("valueString"), f"{label} valueString", limit=200)
        unit = ""
    ranges = resource.get("referenceRange") or []
    range_ = _object(ranges[0]) if isinstance(ranges, list) and ranges else {}
    interpretation = ""
    if resource.get("interpretation"):
        concepts = resource["interpretation"]
        first = concepts[0] if isinstance(concepts, list) and concepts else None
        interpretation = _coding_code(first, None, f"{label} interpretation")
    return ObservationInput(
        analyte_code=code,
        value=value,
        unit=unit,
        ref_low=_bound(range_, "low"),
        ref_high=_bound(range_, "high"),
        ref_text=_text(range_.get("text") or "", f"{label} referenceRange.text", limit=200),
        interpretation=interpretation,
    )


def lab_report_input(resource: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A DiagnosticReport whose results are contained Observations: the patient's public id
    and the keyword arguments of ``lab_report_deposit``."""
    contained = {
        f"#{item.get('id')}": item
        for item in resource.get("contained") or []
        if isinstance(item, dict) and item.get("resourceType") == "Observation"
    }
    results = resource.get("result")
    if not isinstance(results, list) or not results or len(results) > 300:
        raise invalid(_("result : de 1 à 300 résultats (Observation contenues) sont attendus."))
    rows = []
    for number, result in enumerate(results, 1):
        target = contained.get(str(_object(result).get("reference")))
        if target is None:
            raise invalid(
                _("result : chaque résultat doit désigner une Observation contenue (#id).")
            )
        rows.append(observation_input(target, number))
    performers = resource.get("performer")
    laboratory = (
        _object(performers[0]).get("display")
        if isinstance(performers, list) and performers
        else None
    )
    collected = _instant(resource.get("effectiveDateTime"), "effectiveDateTime")
    issued = resource.get("issued")
    return reference_id(resource.get("subject"), "Patient", "subject"), {
        "laboratory": _text(laboratory, "performer.display", limit=1000),
        "specimen_collected_at": collected,
        "reported_at": (_instant(issued, "issued") if issued else collected).date(),
        "observations": rows,
        "title": _text(_object(resource.get("code")).get("text") or "", "code.text"),
        "submission_key": _first_identifier_key(resource),
    }


def _first_identifier_key(resource: dict[str, Any]) -> uuid.UUID | None:
    """A DiagnosticReport's first ``identifier`` plays the part of a masterIdentifier: the
    same one twice keeps one report."""
    identifiers = resource.get("identifier")
    if not isinstance(identifiers, list) or not identifiers:
        return None
    return _submission_key({"masterIdentifier": identifiers[0]})


def allergy_input(resource: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An AllergyIntolerance: the patient's public id and the arguments of ``allergy_record``."""
    code = _object(resource.get("code"))
    categories = resource.get("category") or []
    reactions = resource.get("reaction") or []
    reaction = _object(reactions[0]) if isinstance(reactions, list) and reactions else {}
    manifestations = reaction.get("manifestation") or []
    onset = resource.get("onsetDateTime")
    fields: dict[str, Any] = {
        "substance_label": _text(code.get("text") or "", "code.text", limit=1000),
        "category": _text(
            categories[0] if isinstance(categories, list) and categories else "", "category"
        ),
        "reactions": "; ".join(
            _text(_object(m).get("text") or "", "reaction.manifestation.text")
            for m in (manifestations if isinstance(manifestations, list) else [])
        ),
        "severity": _text(reaction.get("severity") or "", "reaction.severity"),
        "criticality": _text(resource.get("criticality") or "unable-to-assess", "criticality"),
        "onset_date": _date(onset, "onsetDateTime") if onset else None,
    }
    for name, field in (
        ("clinicalStatus", "clinical_status"),
        ("verificationStatus", "verification_status"),
    ):
        if resource.get(name):
            fields[field] = _coding_code(resource[name], None, name)
    return reference_id(resource.get("patient"), "Patient", "patient"), fields


def _date(value: Any, what: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(_text(value, what, limit=40)[:10])
    except ValueError:
        raise invalid(_("%(field)s : date invalide (AAAA-MM-JJ).") % {"field": what}) from None
