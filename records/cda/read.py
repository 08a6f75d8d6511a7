"""Reading a CDA R2 document a professional deposits (N1 with its PDF or text, N3 CR-BIO):
hostile XML refused before anything is parsed or stored, the ANS's schema and schematrons
run when the deployment has them (``records.cda.ans``), then the header and body read.

Safety: the size is capped before parsing (``MAX_CDA_BYTES``); a document type declaration
(the door of external entities and "billion laughs") is refused outright; lxml parses with
entities unresolved, no network, no DTD, no huge tree. The base64 of ``nonXMLBody`` must be
strict base64. Pure: no query; the service (``records.services.cda``) matches the patient.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_noop
from lxml import etree

from records.cda import ans, codes
from records.pdf import MAX_PDF_BYTES
from records.reference import translated

# A PDF at its largest, base64 (4/3), and a header.
MAX_CDA_BYTES = MAX_PDF_BYTES * 4 // 3 + 1024 * 1024
H = f"{{{codes.HL7}}}"
NS = {"h": codes.HL7, "xsi": codes.XSI}
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.I)
_B64_SPACE = re.compile(rb"\s+")
_TS = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(?:\.\d+)?([+-]\d{4})?$")


# Why a document is refused, by code: the facts (``code`` and ``params``) are what the trail
# keeps (records.facts); the sentence is written in the reader's language when read.
MESSAGES = {
    "too_large": gettext_noop("Le document CDA dépasse %(size)s Mo : il n'a pas été lu."),
    "doctype": gettext_noop(
        "Le document CDA contient une déclaration de type (DOCTYPE, entités) : "
        "refusé, un document CDA n'en a pas."
    ),
    "not_xml": gettext_noop("Ce fichier n'est pas un document XML lisible."),
    "not_cda": gettext_noop("Ce fichier XML n'est pas un document CDA R2 (ClinicalDocument)."),
    "schema": gettext_noop("Le document CDA n'est pas conforme au schéma CDA R2 (ligne %(line)s)."),
    "schematron": gettext_noop(
        "Le document CDA ne respecte pas les règles du CI-SIS (%(rules)s) ; rien n'a été "
        "enregistré. Premières règles non respectées, telles que l'ANS les énonce : %(failures)s"
    ),
    "unchecked": gettext_noop(
        "Le document CDA n'a pas pu être vérifié (le matériel de validation de l'ANS de ce "
        "portail est illisible) : rien n'a été enregistré. Réessayez plus tard ; "
        "l'exploitant du portail est prévenu."
    ),
    "bad_date": gettext_noop("Le document CDA n'a pas de date valide (%(what)s)."),
    "bad_base64": gettext_noop(
        "Le contenu du document CDA (nonXMLBody) n'est pas un base64 valide."
    ),
    "not_number": gettext_noop("Un résultat du document CDA n'est pas un nombre."),
    "incomplete": gettext_noop("L'en-tête du document CDA est incomplet (manque : %(names)s)."),
    "bad_version": gettext_noop(
        "Le numéro de version du document CDA n'est pas un entier positif."
    ),
    "bad_body": gettext_noop("Le corps du document CDA n'est ni un PDF ni du texte."),
    "unsupported": gettext_noop(
        "Seuls les documents CDA R2 N1 et les comptes rendus de biologie N3 (CR-BIO) sont acceptés."
    ),
    "no_result": gettext_noop("Le compte rendu de biologie CDA ne contient aucun résultat."),
    # Refused by the deposit (records.services.cda), once the document is read.
    "other_patient": gettext_noop(
        "Ce document CDA concerne un autre patient (INS, nom de naissance ou date de "
        "naissance différents de ceux de ce DMP) : rien n'a été enregistré."
    ),
    "other_dmp": gettext_noop(
        "Ce document CDA se rattache à un document d'un autre DMP (setId ou "
        "document remplacé) : refusé, rien n'a été enregistré."
    ),
    "already_there": gettext_noop("Ce document CDA est déjà dans le DMP."),
    "unknown_type": gettext_noop("Type de document CDA inconnu (code LOINC %(code)s)."),
    "bad_confidentiality": gettext_noop(
        "Code de confidentialité du document CDA inconnu (%(code)s) : seuls N (normal), "
        "R (restreint : masqué aux professionnels) et V (très restreint : masqué aux "
        "professionnels et invisible pour le patient jusqu'à l'annonce) sont acceptés."
    ),
}
# The volets' names in the refusal ("rules"), by schematron.
RULES = {
    ans.HEADER: gettext_noop("en-tête CI-SIS"),
    ans.CR_BIO: gettext_noop("volet CR-BIO"),
}
# How many of the ANS's failed assertions a refusal quotes, and how much of each.
SHOWN_FAILURES = 3
SHOWN_FAILURE_CHARS = 110


def message(code: str, params: dict[str, Any]) -> str:
    """The refusal ``code`` with its ``params`` as a sentence in the active language (a text
    parameter that is a phrase of the catalogue is translated too)."""
    shown: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, str):
            shown[key] = translated(value)
        elif isinstance(value, list):  # the ANS's own texts: quoted as they are
            shown[key] = " | ".join(str(item) for item in value)
        else:
            shown[key] = value
    template = MESSAGES.get(code)
    return translated(template, **shown) if template else code


class CdaError(ValueError):
    """The file is refused: ``code`` and ``params`` say why (facts, kept in the trail);
    ``str(error)`` is the sentence in the active language."""

    def __init__(self, code: str, /, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(message(code, params))


@dataclass(frozen=True)
class CdaObservation:
    analyte_code: str
    value: str
    unit: str
    ref_low: Decimal | None
    ref_high: Decimal | None
    ref_text: str
    interpretation: str


@dataclass(frozen=True)
class CdaDocument:
    document_id: str
    set_id: str
    version: int
    replaces_id: str | None
    document_type: str
    title: str
    effective_time: datetime.datetime
    confidentiality: str
    patient_ids: tuple[tuple[str, str], ...]
    birth_name: str
    given_names: str
    birth_date: datetime.date | None
    author_idnps: str
    level: int  # 1: nonXMLBody, 3: CR-BIO structured body
    pdf: bytes | None = None
    text: str = ""
    laboratory: str = ""
    service_start: datetime.datetime | None = None  # serviceEvent (specimen for a CR-BIO)
    observations: tuple[CdaObservation, ...] = field(default_factory=tuple)
    author_name: str = ""
    author_role: tuple[str, str] = ("", "")  # (code, displayName) of assignedAuthor/code


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_pis=True,
    )


def parse_time(value: str | None, what: str) -> datetime.datetime:
    found = _TS.match(value or "")
    if not found:
        raise CdaError("bad_date", what=what)
    year, month, day, hour, minute, second, zone = found.groups()
    try:
        offset = datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:])) if zone else None
        tz = (
            datetime.timezone(offset if zone[0] == "+" else -offset)
            if zone and offset is not None
            else datetime.UTC
        )
        return datetime.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tz,
        )
    except ValueError:
        raise CdaError("bad_date", what=what) from None


def _one(root: etree._Element, path: str) -> etree._Element | None:
    found = root.find(path, NS)
    return found


def _attr(root: etree._Element, path: str, name: str) -> str:
    found = root.find(path, NS)
    return (found.get(name) or "").strip() if found is not None else ""


def _text(root: etree._Element, path: str) -> str:
    found = root.find(path, NS)
    return " ".join("".join(found.itertext()).split()) if found is not None else ""


def _strict_b64(text: str | None) -> bytes:
    raw = _B64_SPACE.sub(b"", (text or "").encode("ascii", "replace"))
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise CdaError("bad_base64") from None


def _decimal(value: str | None) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(value or "")
    except InvalidOperation:
        raise CdaError("not_number") from None
    return number if number.is_finite() else None


def _value(obs: etree._Element) -> tuple[str, str]:
    value = obs.find("h:value", NS)
    if value is None:
        return "", ""
    kind = value.get(f"{{{codes.XSI}}}type", "")
    if kind.endswith("PQ") and not kind.startswith("IVL"):
        unit = value.get("unit", "")
        return (value.get("value", ""), "" if unit == "1" else unit)
    if kind.endswith("IVL_PQ"):
        low, high = value.find("h:low", NS), value.find("h:high", NS)
        if high is not None and high.get("value"):
            sign = "<=" if high.get("inclusive") == "true" else "<"
            unit = high.get("unit", "")
            return f"{sign} {high.get('value')}", "" if unit == "1" else unit
        if low is not None and low.get("value"):
            sign = ">=" if low.get("inclusive") == "true" else ">"
            unit = low.get("unit", "")
            return f"{sign} {low.get('value')}", "" if unit == "1" else unit
    return " ".join("".join(value.itertext()).split()), ""


def _observations(root: etree._Element) -> tuple[CdaObservation, ...]:
    rows = []
    for obs in root.iterfind(".//h:observation", NS):
        roots = {template.get("root") for template in obs.findall("h:templateId", NS)}
        if "1.3.6.1.4.1.19376.1.3.1.6" not in roots:
            continue
        value, unit = _value(obs)
        low = _attr(obs, "h:referenceRange/h:observationRange/h:value/h:low", "value")
        high = _attr(obs, "h:referenceRange/h:observationRange/h:value/h:high", "value")
        rows.append(
            CdaObservation(
                analyte_code=_attr(obs, "h:code", "code"),
                value=value,
                unit=unit,
                ref_low=_decimal(low),
                ref_high=_decimal(high),
                ref_text=_text(obs, "h:referenceRange/h:observationRange/h:text")[:200],
                interpretation=_attr(obs, "h:interpretationCode", "code"),
            )
        )
    return tuple(rows)


def _parse_xml(data: bytes) -> etree._Element:
    if len(data) > MAX_CDA_BYTES:
        raise CdaError("too_large", size=MAX_CDA_BYTES // (1024 * 1024))
    if _DOCTYPE.search(data[:65536]) or b"<!ENTITY" in data or b"<!DOCTYPE" in data:
        raise CdaError("doctype")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        raise CdaError("not_xml") from None
    if root.tag != f"{H}ClinicalDocument":
        raise CdaError("not_cda")
    _conformant(root)
    return root


def _conformant(root: etree._Element) -> None:
    """With the ANS's material (``records.cda.ans``): the CDA schema, then the CI-SIS header
    schematron, then a CR-BIO's volet; the first that fails refuses the document, quoting
    its first failed assertions. Saxon reads the tree lxml parsed (no DOCTYPE: refused above),
    serialised again, never the bytes received."""
    base = ans.material()
    if base is None:
        return
    errors = ans.schema_errors(base, root)
    if errors:
        raise CdaError("schema", line=errors[0].line)
    templates = {template.get("root") for template in root.findall("h:templateId", NS)}
    document = etree.tostring(root, encoding="UTF-8")
    for schematron in (ans.HEADER, *([ans.CR_BIO] if codes.TEMPLATE_CR_BIO in templates else [])):
        try:
            failures = ans.schematron_failures(base, document, schematron)
        except ans.Unavailable:
            raise CdaError("unchecked") from None
        if failures:
            quoted = [_quoted(failure.text) for failure in failures[:SHOWN_FAILURES]]
            raise CdaError("schematron", rules=RULES[schematron], failures=quoted)


def _quoted(text: str) -> str:
    return text if len(text) <= SHOWN_FAILURE_CHARS else text[: SHOWN_FAILURE_CHARS - 1] + "…"


def parse_cda(data: bytes) -> CdaDocument:
    """The document's header and body, or ``CdaError`` (nothing is stored by this)."""
    root = _parse_xml(data)
    missing = [
        name
        for name, path in (
            ("id", "h:id"),
            ("code", "h:code"),
            ("effectiveTime", "h:effectiveTime"),
            ("setId", "h:setId"),
            ("versionNumber", "h:versionNumber"),
            ("recordTarget", "h:recordTarget/h:patientRole"),
        )
        if root.find(path, NS) is None
    ]
    if missing:
        raise CdaError("incomplete", names=", ".join(missing))
    role = root.find("h:recordTarget/h:patientRole", NS)
    if role is None:  # checked above; for the type checker
        raise CdaError("not_cda")
    patient_ids = tuple(
        (identifier.get("root", ""), identifier.get("extension", ""))
        for identifier in role.findall("h:id", NS)
    )
    birth = _attr(role, "h:patient/h:birthTime", "value")
    try:
        version = int(_attr(root, "h:versionNumber", "value") or "1")
    except ValueError:
        version = 0
    if version < 1:
        raise CdaError("bad_version")
    replaces = None
    for related in root.findall("h:relatedDocument", NS):
        if related.get("typeCode") == "RPLC":
            replaces = _attr(related, "h:parentDocument/h:id", "root") or None
    common = {
        "document_id": _attr(root, "h:id", "root"),
        "set_id": _attr(root, "h:setId", "root"),
        "version": version,
        "replaces_id": replaces,
        "document_type": _attr(root, "h:code", "code"),
        "title": _text(root, "h:title")[:200],
        "effective_time": parse_time(_attr(root, "h:effectiveTime", "value"), "effectiveTime"),
        "confidentiality": _attr(root, "h:confidentialityCode", "code") or "N",
        "patient_ids": patient_ids,
        "birth_name": _text(role, "h:patient/h:name/h:family[@qualifier='BR']")
        or _text(role, "h:patient/h:name/h:family"),
        "given_names": _text(role, "h:patient/h:name/h:given"),
        "birth_date": parse_time(birth, "birthTime").date() if birth else None,
        "author_idnps": _attr(root, "h:author/h:assignedAuthor/h:id", "extension"),
        "author_role": (
            _attr(root, "h:author/h:assignedAuthor/h:code", "code")[:32],
            _attr(root, "h:author/h:assignedAuthor/h:code", "displayName")[:200],
        ),
        "author_name": " ".join(
            part
            for part in (
                _text(root, "h:author/h:assignedAuthor/h:assignedPerson/h:name/h:given"),
                _text(root, "h:author/h:assignedAuthor/h:assignedPerson/h:name/h:family"),
            )
            if part
        )[:200],
    }
    start = _attr(root, "h:documentationOf/h:serviceEvent/h:effectiveTime/h:low", "value")
    common["service_start"] = parse_time(start, "serviceEvent") if start else None
    return _with_body(root, common)


def _with_body(root: etree._Element, common: dict[str, Any]) -> CdaDocument:
    """The document with its body: N1 (PDF or text in ``nonXMLBody``) or N3 CR-BIO."""
    body = root.find("h:component/h:nonXMLBody/h:text", NS)
    if body is not None:
        content = _strict_b64(body.text) if body.get("representation") == "B64" else None
        media = body.get("mediaType", "")
        if media == "application/pdf" and content is not None:
            return CdaDocument(level=1, pdf=content, **common)
        if media.startswith("text/plain"):
            text = content.decode("utf-8", "replace") if content is not None else body.text or ""
            return CdaDocument(level=1, text=text, **common)
        raise CdaError("bad_body")
    templates = {template.get("root") for template in root.findall("h:templateId", NS)}
    if root.find("h:component/h:structuredBody", NS) is None or not (
        templates & {codes.TEMPLATE_CR_BIO, codes.TEMPLATE_XD_LAB}
    ):
        raise CdaError("unsupported")
    observations = _observations(root)
    if not observations:
        raise CdaError("no_result")
    laboratory = _text(
        root,
        "h:documentationOf/h:serviceEvent/h:performer/h:assignedEntity/"
        "h:representedOrganization/h:name",
    ) or _text(root, "h:author/h:assignedAuthor/h:representedOrganization/h:name")
    return CdaDocument(
        level=3,
        laboratory=laboratory[:200],
        observations=observations,
        **common,
    )
