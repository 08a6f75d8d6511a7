"""Writes of DMP content: lab reports, reports (with their PDF), allergies.

Keyword-only ``entity_verb(*, actor, patient, …)`` functions. Each validates everything
first (French ``ValidationError``), then writes inside one ``transaction.atomic()`` that calls
``records.services.entry_deposit`` for the common entry (which checks who may deposit and
records the access event). A PDF is written to storage inside that block and deleted again
if the block fails, so no orphan file remains; a storage backend that fails (full disk, I/O
error, S3 5xx, timeout) raises ``StorageUnavailable`` and leaves neither row nor file. A
``submission_key`` (a form's one-time key)
makes a deposit idempotent: the same key twice raises ``DuplicateSubmission`` with the entry
made the first time.
"""

from __future__ import annotations

import datetime
import errno
import logging
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from identity.models import Patient, User
from records import access, allergens, facts, labs, reference
from records.content import (
    VALUE_DECIMALS,
    VALUE_DIGITS,
    Allergy,
    AllergyCategory,
    AllergyVerification,
    ClinicalStatus,
    Criticality,
    LabReport,
    Observation,
    Report,
    Severity,
    SubmissionKey,
)
from records.models import Entry, EntryKind
from records.pdf import MAX_PDF_BYTES, PdfError, PdfInfo, inspect_pdf
from records.services.entries import entry_deposit

logger = logging.getLogger(__name__)

LAB_DOCUMENT_TYPE = "11502-2"
ALLERGY_DOCUMENT_TYPE = "48765-2"
MAX_OBSERVATIONS = 300
MAX_BODY = 100_000
MAX_NOTE = 5_000
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}


class DuplicateSubmission(Exception):
    """This form was already submitted; ``entry`` is what the first submission created."""

    def __init__(self, entry: Entry | None) -> None:
        super().__init__("duplicate submission")
        self.entry = entry


class StorageUnavailable(Exception):
    """The storage backend could not keep a file: nothing was stored (no row, no file).

    ``full``: the disk or its quota is full (an operator must free space), as opposed to a
    backend that fails for now (I/O error, S3 5xx, timeout, endpoint unreachable)."""

    def __init__(self, *, full: bool) -> None:
        super().__init__("storage full" if full else "storage unavailable")
        self.full = full


# --- Shared checks -------------------------------------------------------------------------------


def clean_text(value: Any, *, label: str, max_length: int, required: bool = False) -> str:
    """Trimmed text without NUL or control characters (tabs and line breaks allowed)."""
    text = "" if value is None else str(value)
    if any(char in _CONTROL for char in text):
        raise ValidationError(
            _("%(label)s : caractères de contrôle interdits (caractère nul, échappements…).")
            % {"label": _(label)},
            code="control",
        )
    text = text.strip()
    if required and not text:
        raise ValidationError(
            _("%(label)s : ce champ est obligatoire.") % {"label": _(label)}, code="required"
        )
    if len(text) > max_length:
        raise ValidationError(
            _("%(label)s : texte trop long (%(length)d caractères, %(max)d au maximum).")
            % {"label": _(label), "length": len(text), "max": max_length},
            code="max_length",
        )
    return text


def _check_past_date(value: datetime.date, label: str) -> None:
    if value > timezone.localdate():
        raise ValidationError(
            _("%(label)s : la date est dans le futur.") % {"label": _(label)}, code="future"
        )


def _check_stored_number(number: Decimal, label: str) -> Decimal:
    if not number.is_finite():
        raise ValidationError(
            _("%(label)s : valeur non finie refusée.") % {"label": _(label)}, code="not_finite"
        )
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -VALUE_DECIMALS:
        raise ValidationError(
            _("%(label)s : %(decimals)d décimales au maximum.")
            % {"label": _(label), "decimals": VALUE_DECIMALS},
            code="too_precise",
        )
    if number != 0 and number.adjusted() >= VALUE_DIGITS - VALUE_DECIMALS:
        raise ValidationError(
            _("%(label)s : valeur trop grande.") % {"label": _(label)}, code="too_large"
        )
    return number


def _number(value: str | Decimal | None, label: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, Decimal):
        return _check_stored_number(value, label)
    try:
        return _check_stored_number(labs.parse_numeric(value), label)
    except ValueError as error:
        raise ValidationError(
            _("%(label)s : %(error)s") % {"label": _(label), "error": error}, code="invalid"
        ) from None


@contextmanager
def _submission(actor: User, key: uuid.UUID | None) -> Iterator[SubmissionKey | None]:
    """Claim a form's one-time key inside the caller's transaction (DuplicateSubmission if
    already used); the caller binds the entry to it."""
    if key is None:
        yield None
        return
    try:
        with transaction.atomic():
            claim = SubmissionKey.objects.create(actor=actor, key=key)
    except IntegrityError:
        first = SubmissionKey.objects.filter(actor=actor, key=key).select_related("entry").first()
        raise DuplicateSubmission(first.entry if first else None) from None
    yield claim


def _bind(claim: SubmissionKey | None, entry: Entry) -> None:
    if claim is not None:
        claim.entry = entry
        claim.save(update_fields=["entry"])


def _check_replaces(actor: User, patient: Patient, replaces: Entry | None, kind: str) -> None:
    if replaces is None:
        return
    in_scope = access.entries_for(actor, patient).filter(pk=replaces.pk, kind=kind).exists()
    if not in_scope:
        raise ValidationError(
            _("Le document à remplacer est introuvable dans ce DMP."), code="replaces"
        )


# --- Lab reports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservationInput:
    """One typed result row. Numbers may be typed with a decimal comma."""

    analyte_code: str
    value: str
    unit: str = ""
    ref_low: str | Decimal | None = None
    ref_high: str | Decimal | None = None
    ref_text: str = ""
    interpretation: str = ""  # empty: computed from the range
    critical: bool = False


def _unit_for(item: reference.Analyte | None, typed: str, needed: bool) -> str:
    if not typed.strip():
        if needed:
            raise ValidationError(_("Unité manquante pour un résultat numérique."), code="required")
        return ""
    try:
        code = reference.normalize_unit(typed)
    except ValueError as error:
        raise ValidationError(str(error), code="unit") from None
    convertible = item is None or reference.can_convert(item.code, code, item.default_unit)
    if item is not None and code not in item.units and not convertible:
        accepted = ", ".join(reference.display_unit_label(u) for u in item.units)
        raise ValidationError(
            _(
                "Unité « %(unit)s » non prévue pour « %(analyte)s » "
                "(unités acceptées : %(accepted)s)."
            )
            % {
                "unit": reference.display_unit_label(code),
                "analyte": item.display_label(),
                "accepted": accepted,
            },
            code="unit",
        )
    return code


def _collect(errors: dict[str, list[str]], field: str, call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except ValidationError as error:
        errors.setdefault(field, []).extend(error.messages)
        return None


def observation_build(row: ObservationInput, position: int = 0) -> Observation:
    """Validate one result row and return the unsaved ``Observation`` (interpretation computed
    from the range when not given). Raises ``ValidationError`` keyed by field name."""
    errors: dict[str, list[str]] = {}
    item = reference.find_analyte(row.analyte_code or "")
    if item is None:
        errors["analyte_code"] = [_("Analyse inconnue : choisissez-la dans la liste.")]
    parsed: labs.ParsedResult | None = None
    try:
        parsed = labs.parse_result(clean_text(row.value, label="Résultat", max_length=200))
    except ValueError as error:
        errors["value"] = [str(error)]
    except ValidationError as error:
        errors["value"] = error.messages
    if parsed is not None and parsed.numeric is not None:
        _collect(errors, "value", _check_stored_number, parsed.numeric, "Résultat")
    unit = _collect(
        errors, "unit", _unit_for, item, row.unit or "", bool(parsed and parsed.numeric is not None)
    )
    low = _collect(errors, "ref_low", _number, row.ref_low, "Borne basse")
    high = _collect(errors, "ref_high", _number, row.ref_high, "Borne haute")
    if low is not None and high is not None and low > high:
        errors.setdefault("ref_high", []).append(
            _("La borne basse (%(low)s) dépasse la borne haute (%(high)s).")
            % {"low": labs.format_number(low), "high": labs.format_number(high)}
        )
    ref_text = _collect(
        errors, "ref_text", lambda: clean_text(row.ref_text, label="Référence", max_length=200)
    )
    given = row.interpretation or ""
    if given and given not in labs.Flag.__members__:
        errors["interpretation"] = [_("Interprétation inconnue : « %(flag)s ».") % {"flag": given}]
    if errors or parsed is None or item is None:
        raise ValidationError(errors)
    if given:
        interpretation = labs.Interpretation.given(given)
    else:
        interpretation = labs.interpret_result(parsed, low, high)
    return Observation(
        position=position,
        analyte_code=item.code,
        analyte_label=item.label,
        value_numeric=parsed.numeric if parsed.is_numeric else None,
        value_text=parsed.text,
        unit=unit or "",
        ref_low=low,
        ref_high=high,
        ref_text=ref_text or "",
        interpretation=interpretation.flag.value if interpretation.flag else "",
        interpretation_computed=not given and interpretation.flag is not None,
        critical=bool(row.critical or interpretation.critical),
    )


def _lab_summary(observations: Sequence[Observation]) -> str:
    parts = []
    for observation in observations:
        item = reference.find_analyte(observation.analyte_code)
        name = item.short_label if item else observation.analyte_label
        unit = f" {reference.unit_label(observation.unit)}" if observation.unit else ""
        flag = f" ({observation.interpretation})" if observation.abnormal else ""
        parts.append(f"{name} {observation.value_text}{unit}{flag}")
    summary = " · ".join(parts)
    return summary if len(summary) <= 300 else summary[:299] + "…"


def lab_report_deposit(
    *,
    actor: User,
    patient: Patient,
    laboratory: str,
    specimen_collected_at: datetime.datetime,
    reported_at: datetime.date,
    observations: Sequence[ObservationInput],
    title: str = "",
    invisible_to_patient: bool = False,
    submission_key: uuid.UUID | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
    masked: bool = False,
) -> Entry:
    """Deposit a lab report and its results (1 to 300 rows) in ``patient``'s DMP.

    Who may: as ``entry_deposit`` (a verified professional with normal access; AccessDenied
    otherwise). Raises ``ValidationError`` (French; "Ligne n : …" for a row) and stores nothing
    when anything is wrong: unknown analyte or unit, a value that is not a finite number, low
    above high, a date in the future, a report dated before its specimen.
    """
    laboratory = clean_text(laboratory, label="Laboratoire", max_length=200, required=True)
    title = clean_text(title, label="Titre", max_length=200) or f"Bilan biologique — {laboratory}"
    if timezone.is_naive(specimen_collected_at):
        raise ValueError("specimen_collected_at must be aware")
    if specimen_collected_at > timezone.now():
        raise ValidationError(_("Date du prélèvement : la date est dans le futur."), code="future")
    _check_past_date(reported_at, "Date du compte rendu")
    specimen_day = timezone.localtime(specimen_collected_at).date()
    if reported_at < specimen_day:
        raise ValidationError(
            _("Le compte rendu ne peut pas précéder le prélèvement."), code="report_before_specimen"
        )
    if not observations:
        raise ValidationError(_("Saisissez au moins un résultat."), code="empty")
    if len(observations) > MAX_OBSERVATIONS:
        raise ValidationError(
            _("%(max)d résultats au maximum.") % {"max": MAX_OBSERVATIONS}, code="too_many"
        )
    built = []
    for position, row in enumerate(observations):
        try:
            built.append(observation_build(row, position))
        except ValidationError as error:
            raise ValidationError(
                _("Ligne %(row)d : %(errors)s")
                % {"row": position + 1, "errors": " ".join(error.messages)},
                code="row",
            ) from None
    with transaction.atomic(), _submission(actor, submission_key) as claim:
        entry = entry_deposit(
            actor=actor,
            patient=patient,
            kind=EntryKind.LAB_REPORT,
            document_type=LAB_DOCUMENT_TYPE,
            title=title,
            act_date=specimen_day,
            summary=_lab_summary(built),
            masked=masked,
            invisible_to_patient=invisible_to_patient,
            abnormal=any(observation.abnormal for observation in built),
            hidden_from_representatives=hidden_from_representatives,
            secret=secret,
        )
        report = LabReport.objects.create(
            entry=entry,
            laboratory=laboratory,
            specimen_collected_at=specimen_collected_at,
            reported_at=reported_at,
        )
        for observation in built:
            observation.lab_report = report
        Observation.objects.bulk_create(built)
        _bind(claim, entry)
    return entry


# --- Reports -------------------------------------------------------------------------------------


def _read_pdf(pdf: IO[bytes] | bytes) -> tuple[bytes, PdfInfo]:
    """The upload's bytes (bounded read) and what ``inspect_pdf`` found; ValidationError
    keyed ``pdf`` otherwise."""
    if isinstance(pdf, bytes):
        data = pdf
    else:
        if hasattr(pdf, "seek"):
            pdf.seek(0)
        data = pdf.read(MAX_PDF_BYTES + 1)
    try:
        return data, inspect_pdf(data)
    except PdfError as error:
        raise ValidationError({"pdf": [facts.pdf_validation_error(error)]}) from None


REPORT_STORAGE_PREFIX = "dmp/reports"  # swept for orphans by imaging's sweeper


def new_storage_key(suffix: str = ".pdf") -> str:
    """A random private storage key: nothing about the patient or the original file name."""
    token = secrets.token_hex(16)
    return f"{REPORT_STORAGE_PREFIX}/{token[:2]}/{token}{suffix}"


_FULL_DISK = {errno.ENOSPC, errno.EDQUOT}


def _delete_quietly(key: str) -> None:
    """Best effort: a delete that fails too (the backend is down) must not hide the first
    error; what remains is swept by ``manage.py sweep_imaging_orphans``."""
    try:
        default_storage.delete(key)
    except Exception:  # any backend error, as in _store_pdf
        logger.warning("records: could not delete a storage object; left to the sweeper")


def _store_pdf(data: bytes, suffix: str = ".pdf") -> str:
    """Write the file (a PDF unless ``suffix`` says otherwise) under a new random key;
    ``StorageUnavailable`` if the backend fails."""
    key = new_storage_key(suffix)
    try:
        return default_storage.save(key, ContentFile(data))
    except Exception as error:  # any backend failure: OSError, botocore errors, timeouts
        # A disk that fills up mid-write leaves a partial file under the key we chose (the
        # name was free: 128 random bits), which no caller knows: delete it here.
        _delete_quietly(key)
        full = isinstance(error, OSError) and error.errno in _FULL_DISK
        logger.error("records: storing a report PDF failed: %s", type(error).__name__)
        raise StorageUnavailable(full=full) from error


def _pages(report: Report | None) -> int | None:
    return report.pdf_pages if report is not None else None


def _report_summary(body: str, pages: int | None) -> str:
    text = " ".join(body.split())
    if text:
        return text if len(text) <= 300 else text[:299] + "…"
    return f"Document PDF ({pages} page{'s' if pages and pages > 1 else ''})."


def report_deposit(
    *,
    actor: User,
    patient: Patient,
    document_type: str,
    title: str,
    act_date: datetime.date,
    body: str = "",
    pdf: IO[bytes] | bytes | None = None,
    replaces: Entry | None = None,
    keep_pdf: bool = False,
    invisible_to_patient: bool = False,
    submission_key: uuid.UUID | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
    masked: bool = False,
) -> Entry:
    """Deposit a report (text body and/or PDF); with ``replaces``, as its new version.

    Who may: as ``entry_deposit``; ``replaces`` must be a current report of this DMP that the
    actor can read. The PDF is judged by its content (``records.pdf.inspect_pdf``: signature,
    structure, no encryption, pages) before anything is written; it is stored under a random
    key and deleted again if the transaction fails. With ``keep_pdf`` and no new PDF, the new
    version points at the previous version's stored PDF (stored objects are never modified).
    Raises ``ValidationError`` (French), and ``StorageUnavailable`` when the PDF cannot be
    written (nothing stored: the same submission may be sent again).
    """
    try:
        reference.document_type(document_type or "")
    except reference.UnknownCode as error:
        raise ValidationError({"document_type": [str(error)]}) from None
    title = clean_text(title, label="Titre", max_length=200, required=True)
    body = clean_text(body, label="Texte", max_length=MAX_BODY)
    _check_past_date(act_date, "Date de l'acte")
    data, info = _read_pdf(pdf) if pdf is not None else (None, None)
    _check_replaces(actor, patient, replaces, EntryKind.REPORT)
    kept = None
    if keep_pdf and data is None and replaces is not None:
        kept = Report.objects.filter(entry=replaces).exclude(pdf="").exclude(pdf=None).first()
    if not body and data is None and kept is None:
        raise ValidationError(
            _("Saisissez le texte du compte rendu ou joignez un PDF."), code="empty"
        )
    saved: list[str] = []
    try:
        with transaction.atomic(), _submission(actor, submission_key) as claim:
            entry = entry_deposit(
                actor=actor,
                patient=patient,
                kind=EntryKind.REPORT,
                document_type=document_type,
                title=title,
                act_date=act_date,
                summary=_report_summary(body, info.pages if info else _pages(kept)),
                masked=masked,
                invisible_to_patient=invisible_to_patient,
                replaces=replaces,
                hidden_from_representatives=hidden_from_representatives,
                secret=secret,
            )
            if data is not None:
                saved.append(_store_pdf(data))
            if info is not None:
                Report.objects.create(
                    entry=entry,
                    body=body,
                    pdf=saved[0],
                    pdf_sha256=info.sha256,
                    pdf_pages=info.pages,
                    pdf_size=info.size,
                )
            elif kept is not None:
                Report.objects.create(
                    entry=entry,
                    body=body,
                    pdf=kept.pdf.name,
                    pdf_sha256=kept.pdf_sha256,
                    pdf_pages=kept.pdf_pages,
                    pdf_size=kept.pdf_size,
                )
            else:
                Report.objects.create(entry=entry, body=body)
            _bind(claim, entry)
    except BaseException:
        for key in saved:
            _delete_quietly(key)
        raise
    return entry


def reports_deposit(*, actor: User, reports: Sequence[dict[str, Any]]) -> list[Entry]:
    """Deposit several reports all or nothing (a FHIR transaction Bundle): each item holds
    the keyword arguments of ``report_deposit`` (``keep_pdf`` excepted). Who may, and what it
    raises: as ``report_deposit``; when one fails, no row of any remains and the PDFs already
    written for the others are deleted again (what a failed delete leaves, the sweeper takes).
    """
    entries: list[Entry] = []
    try:
        with transaction.atomic():
            for item in reports:
                entries.append(report_deposit(actor=actor, **{**item, "keep_pdf": False}))
    except BaseException:
        for entry in entries:
            # The Report row was created with this entry: its name is cached on the entry.
            report = getattr(entry, "report", None)
            if report is not None and report.pdf:
                _delete_quietly(report.pdf.name)
        raise
    return entries


# --- Allergies -----------------------------------------------------------------------------------


def _choice(value: str, choices: Any, label: str) -> str:
    if value not in choices.values:
        raise ValidationError(
            _("%(label)s : valeur inconnue « %(value)s ».") % {"label": _(label), "value": value},
            code="invalid_choice",
        )
    return value


def allergy_record(
    *,
    actor: User,
    patient: Patient,
    substance_code: str = "",
    substance_label: str = "",
    category: str = "",
    reactions: str = "",
    severity: str = "",
    criticality: str = Criticality.UNABLE,
    clinical_status: str = ClinicalStatus.ACTIVE,
    verification_status: str = AllergyVerification.UNCONFIRMED,
    onset_date: datetime.date | None = None,
    note: str = "",
    recorded_on: datetime.date | None = None,
    replaces: Entry | None = None,
    invisible_to_patient: bool = False,
    submission_key: uuid.UUID | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> Entry:
    """Record an allergy or intolerance (a listed substance by code, or free text); with
    ``replaces``, as the new version of an allergy (e.g. now resolved, or refuted).

    Who may: as ``entry_deposit``. Raises ``ValidationError`` (French) when the substance is
    missing or unknown, a status is not one of the list, or a date is in the future.
    """
    listed = allergens.allergen(substance_code) if substance_code else None
    if substance_code and listed is None:
        raise ValidationError(
            {"substance_code": [_("Substance inconnue : choisissez-la dans la liste.")]}
        )
    if listed is not None:
        substance_label, category = listed.label, listed.category
    substance_label = clean_text(substance_label, label="Substance", max_length=200, required=True)
    category = _choice(category, AllergyCategory, "Catégorie")
    severity = _choice(severity, Severity, "Sévérité") if severity else ""
    criticality = _choice(criticality, Criticality, "Criticité")
    clinical_status = _choice(clinical_status, ClinicalStatus, "Statut clinique")
    verification_status = _choice(verification_status, AllergyVerification, "Vérification")
    reactions = clean_text(reactions, label="Réactions", max_length=1000)
    note = clean_text(note, label="Note", max_length=MAX_NOTE)
    recorded_on = recorded_on or timezone.localdate()
    _check_past_date(recorded_on, "Date de l'enregistrement")
    if onset_date is not None:
        _check_past_date(onset_date, "Date d'apparition")
    _check_replaces(actor, patient, replaces, EntryKind.ALLERGY)
    with translation.override("fr"):  # stored text: in the DMP's language, whoever types it
        summary = " · ".join(
            str(part)
            for part in (
                f"Criticité {str(Criticality(criticality).label).lower()}",
                Severity(severity).label if severity else "",
                ClinicalStatus(clinical_status).label,
                AllergyVerification(verification_status).label,
                reactions,
            )
            if part
        )
    with transaction.atomic(), _submission(actor, submission_key) as claim:
        entry = entry_deposit(
            actor=actor,
            patient=patient,
            kind=EntryKind.ALLERGY,
            document_type=ALLERGY_DOCUMENT_TYPE,
            title=f"Allergie — {substance_label}",
            act_date=recorded_on,
            summary=summary[:300],
            invisible_to_patient=invisible_to_patient,
            replaces=replaces,
            hidden_from_representatives=hidden_from_representatives,
            secret=secret,
        )
        Allergy.objects.create(
            entry=entry,
            substance_code=listed.code if listed else "",
            substance_label=substance_label,
            category=category,
            reactions=reactions,
            severity=severity,
            criticality=criticality,
            clinical_status=clinical_status,
            verification_status=verification_status,
            onset_date=onset_date,
            note=note,
        )
        _bind(claim, entry)
    return entry
