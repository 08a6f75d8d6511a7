"""Writes of the profil médical: problems, treatments, vaccinations, measures, wishes.

Each is an entry of the DMP (``records.services.entries``): a professional deposits it through
``entry_deposit`` (normal access, the matrix applied), the patient declares what is theirs to
declare through ``entry_declare`` (``PATIENT_KINDS``: measures, vaccinations, wishes). Every
function validates everything first (French ``ValidationError``, nothing stored), then writes
the entry and its row in one transaction with the access event; a ``submission_key`` makes a
double submission create one item (``DuplicateSubmission``).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from identity.errors import AccessDenied
from identity.models import Patient, User
from records import profile_reference, trail
from records.models import AccessAction, Entry, EntryKind
from records.patient_files import (
    MAX_PATIENT_FILE_BYTES,
    SUFFIXES,
    PatientFileError,
    inspect_patient_file,
)
from records.profile import (
    HistoryKind,
    Measure,
    OrganDonation,
    PatientDocument,
    PatientDocumentCategory,
    Problem,
    ProblemStatus,
    Treatment,
    Vaccination,
    Wishes,
)
from records.services.care import require_patient
from records.services.content import (
    _bind,
    _check_past_date,
    _check_replaces,
    _choice,
    _delete_quietly,
    _store_pdf,
    _submission,
    clean_text,
)
from records.services.entries import entry_declare, entry_deposit

PROBLEM_DOCUMENT_TYPE = "11450-4"
TREATMENT_DOCUMENT_TYPE = "10160-0"
VACCINATION_DOCUMENT_TYPE = "11369-6"
MEASURE_DOCUMENT_TYPE = "8716-3"
WISHES_DOCUMENT_TYPE = "42348-3"
PATIENT_DOCUMENT_TYPE = "51855-5"

PATIENT_KINDS = frozenset(
    {EntryKind.MEASURE, EntryKind.VACCINATION, EntryKind.WISHES, EntryKind.PATIENT_DOCUMENT}
)
PROFESSIONAL_KINDS = frozenset(
    {EntryKind.PROBLEM, EntryKind.TREATMENT, EntryKind.VACCINATION, EntryKind.MEASURE}
)
DECLARED_BY_PATIENT = "déclaré par le patient"


@dataclass(frozen=True)
class KeptFrom:
    """What a professional keeps from a minor's legal representatives (``records.mandates``)."""

    representatives: bool = False
    secret: bool = False


@contextmanager
def _writing(
    actor: User,
    patient: Patient,
    *,
    kind: str,
    document_type: str,
    title: str,
    act_date: datetime.date,
    summary: str,
    replaces: Entry | None = None,
    submission_key: uuid.UUID | None = None,
    kept: KeptFrom | None = None,
) -> Iterator[Entry]:
    """The common entry of a profile item, by whoever writes it, inside one transaction that
    the caller's ``with`` block completes with the kind's row. ``kept``: a professional's
    flags on a minor's DMP (``records.mandates``)."""
    allowed = PATIENT_KINDS if actor.is_patient else PROFESSIONAL_KINDS
    if kind not in allowed:
        raise AccessDenied(f"{kind} is not written by this role")
    with transaction.atomic(), _submission(actor, submission_key) as claim:
        common: dict[str, Any] = {
            "actor": actor,
            "patient": patient,
            "kind": kind,
            "document_type": document_type,
            "title": title,
            "act_date": act_date,
            "summary": summary,
            "replaces": replaces,
        }
        if actor.is_patient:
            entry = entry_declare(**common)
        else:
            flags = kept or KeptFrom()
            entry = entry_deposit(
                **common,
                hidden_from_representatives=flags.representatives,
                secret=flags.secret,
            )
        yield entry
        _bind(claim, entry)


def _check_period(start: datetime.date | None, end: datetime.date | None, label: str) -> None:
    if start is not None:
        _check_past_date(start, _("%(label)s : début") % {"label": _(label)})
    if end is not None:
        _check_past_date(end, _("%(label)s : fin") % {"label": _(label)})
    if start is not None and end is not None and end < start:
        raise ValidationError(
            _("%(label)s : la fin précède le début.") % {"label": _(label)},
            code="end_before_start",
        )


def _check_after_birth(patient: Patient, day: datetime.date | None, label: str) -> None:
    if day is not None and patient.birth_date is not None and day < patient.birth_date:
        raise ValidationError(
            _("%(label)s : la date précède la naissance.") % {"label": _(label)},
            code="before_birth",
        )


# --- Problems and antécédents ------------------------------------------------------------------


def problem_record(
    *,
    actor: User,
    patient: Patient,
    label: str = "",
    cim10_code: str = "",
    status: str = ProblemStatus.ACTIVE,
    history: str = HistoryKind.MEDICAL,
    onset_date: datetime.date | None = None,
    end_date: datetime.date | None = None,
    replaces: Entry | None = None,
    submission_key: uuid.UUID | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> Entry:
    """Record a problem or antécédent: a CIM-10 code of the shipped list (its label is then
    stored), or free text (stored uncoded). With ``replaces``, its new version (resolved, …).

    Who may: a professional, as ``entry_deposit``. ValidationError: unknown code, empty label,
    unknown status, dates in the future or before birth, an end before the onset.
    """
    listed = profile_reference.cim10(cim10_code) if cim10_code else None
    if cim10_code and listed is None:
        raise ValidationError(
            {"cim10_code": [_("Code CIM-10 absent de la liste : saisissez le libellé seul.")]}
        )
    label = clean_text(label, label="Libellé", max_length=200) or (listed.label if listed else "")
    if not label:
        raise ValidationError({"label": [_("Libellé : ce champ est obligatoire.")]})
    status = _choice(status, ProblemStatus, "Statut")
    history = _choice(history, HistoryKind, "Antécédent")
    _check_period(onset_date, end_date, "Période")
    _check_after_birth(patient, onset_date, "Début")
    _check_replaces(actor, patient, replaces, EntryKind.PROBLEM)
    code = listed.code if listed else ""
    summary = " · ".join(
        part
        for part in (code or "non codé", str(ProblemStatus(status).label), str(history))
        if part
    )
    with _writing(
        actor,
        patient,
        kind=EntryKind.PROBLEM,
        document_type=PROBLEM_DOCUMENT_TYPE,
        title=label,
        act_date=onset_date or timezone.localdate(),
        summary=summary,
        replaces=replaces,
        submission_key=submission_key,
        kept=KeptFrom(hidden_from_representatives, secret),
    ) as entry:
        Problem.objects.create(
            entry=entry,
            label=label,
            cim10_code=code,
            status=status,
            history=history,
            onset_date=onset_date,
            end_date=end_date,
        )
    return entry


# --- Treatments -----------------------------------------------------------------------------------


def _atc(code: str) -> str:
    code = code.strip().upper()
    if code and not (len(code) == 7 and code[0].isalpha() and code[1:3].isdigit()):
        raise ValidationError({"atc_code": ["Code ATC invalide (7 caractères, ex. A10BA02)."]})
    return code


def treatment_record(
    *,
    actor: User,
    patient: Patient,
    medicine: str,
    start_date: datetime.date,
    atc_code: str = "",
    dose: str = "",
    frequency: str = "",
    end_date: datetime.date | None = None,
    prescriber: str = "",
    replaces: Entry | None = None,
    submission_key: uuid.UUID | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> Entry:
    """Record a treatment (free text medicine, optional ATC code); stopping it is a new
    version with its end date, the old one kept in the history.

    Who may: a professional, as ``entry_deposit``. ValidationError: empty medicine, invalid
    ATC code, dates in the future or before birth, an end before the start.
    """
    medicine = clean_text(medicine, label="Médicament", max_length=200, required=True)
    atc_code = _atc(atc_code)
    dose = clean_text(dose, label="Dose", max_length=100)
    frequency = clean_text(frequency, label="Fréquence", max_length=100)
    prescriber = clean_text(prescriber, label="Prescripteur", max_length=200)
    _check_period(start_date, end_date, "Traitement")
    _check_after_birth(patient, start_date, "Début")
    _check_replaces(actor, patient, replaces, EntryKind.TREATMENT)
    summary = " · ".join(part for part in (dose, frequency, prescriber) if part)
    with _writing(
        actor,
        patient,
        kind=EntryKind.TREATMENT,
        document_type=TREATMENT_DOCUMENT_TYPE,
        title=medicine,
        act_date=start_date,
        summary=summary,
        replaces=replaces,
        submission_key=submission_key,
        kept=KeptFrom(hidden_from_representatives, secret),
    ) as entry:
        Treatment.objects.create(
            entry=entry,
            medicine=medicine,
            atc_code=atc_code,
            dose=dose,
            frequency=frequency,
            start_date=start_date,
            end_date=end_date,
            prescriber=prescriber,
        )
    return entry


# --- Vaccinations ---------------------------------------------------------------------------------


def vaccination_record(
    *,
    actor: User,
    patient: Patient,
    vaccine_code: str,
    given_on: datetime.date,
    dose_number: int | None = None,
    lot: str = "",
    administered_by: str = "",
    replaces: Entry | None = None,
    submission_key: uuid.UUID | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> Entry:
    """Record a vaccination of the shipped list. A professional records it (administered by
    them unless said otherwise); the patient declares it ("déclaré par le patient"). With
    ``replaces``, a professional's corrected version of a vaccination of this DMP (the patient's
    declaration included), the old one kept, marked replaced.

    ValidationError: unknown vaccine, a date in the future or before birth, a dose number out
    of 1–10, ``replaces`` not a vaccination of this DMP in the writer's scope.
    """
    listed = profile_reference.vaccine(vaccine_code)
    if listed is None:
        raise ValidationError({"vaccine_code": ["Vaccin inconnu : choisissez-le dans la liste."]})
    _check_past_date(given_on, "Date de vaccination")
    _check_after_birth(patient, given_on, "Date de vaccination")
    if dose_number is not None and not 1 <= dose_number <= 10:
        raise ValidationError({"dose_number": ["Numéro de dose : entre 1 et 10."]})
    lot = clean_text(lot, label="Lot", max_length=40)
    administered_by = clean_text(administered_by, label="Administré par", max_length=200)
    _check_replaces(actor, patient, replaces, EntryKind.VACCINATION)
    if actor.is_patient:
        administered_by = DECLARED_BY_PATIENT
    elif not administered_by:
        administered_by = actor.professional.display_name
    dose = f"dose {dose_number}" if dose_number else ""
    with _writing(
        actor,
        patient,
        kind=EntryKind.VACCINATION,
        document_type=VACCINATION_DOCUMENT_TYPE,
        title=f"Vaccination — {listed.label}"[:200],
        act_date=given_on,
        summary=" · ".join(part for part in (dose, lot and f"lot {lot}", administered_by) if part),
        replaces=replaces,
        submission_key=submission_key,
        kept=KeptFrom(hidden_from_representatives, secret),
    ) as entry:
        Vaccination.objects.create(
            entry=entry,
            vaccine_code=listed.code,
            vaccine_label=listed.label,
            diseases="|".join(listed.diseases),
            given_on=given_on,
            dose_number=dose_number,
            lot=lot,
            administered_by=administered_by,
        )
    return entry


# --- Measures -------------------------------------------------------------------------------------


def measure_record(
    *,
    actor: User,
    patient: Patient,
    kind: str,
    value: str | Decimal,
    measured_on: datetime.date,
    value2: str | Decimal | None = None,
    unit: str = "",
    replaces: Entry | None = None,
    submission_key: uuid.UUID | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> Entry:
    """Record a measure, by the patient or a professional (the entry says which). With
    ``replaces``, a professional's corrected version of a measure of this DMP (the patient's
    included), the old one kept, marked replaced.

    ``value2`` is the diastolic of a blood pressure (``value`` the systolic). ValidationError
    (French, nothing stored): unknown measure or unit, a value that is not a finite number or
    is implausible (a weight of 900 kg, a pressure of 30/200), a date in the future or before
    birth, ``replaces`` not a measure of this DMP in the writer's scope.
    """
    measure = profile_reference.measure_type(kind)
    if measure is None:
        raise ValidationError({"kind": ["Mesure inconnue."]})
    try:
        ucum = profile_reference.measure_unit(measure, unit or "")
        if measure.paired:
            high, low = profile_reference.blood_pressure(value, value2 or "")
        else:
            high, low = profile_reference.measure_value(measure, value), None
    except profile_reference.MeasureError as error:
        # The reference module is framework-free: its French message is translated here.
        message = gettext(error.template) % error.params
        raise ValidationError({"value": [message]}) from None
    _check_past_date(measured_on, "Date de la mesure")
    _check_after_birth(patient, measured_on, "Date de la mesure")
    _check_replaces(actor, patient, replaces, EntryKind.MEASURE)
    row = Measure(kind=measure.key, value=high, value2=low, unit=ucum, measured_on=measured_on)
    with _writing(
        actor,
        patient,
        kind=EntryKind.MEASURE,
        document_type=MEASURE_DOCUMENT_TYPE,
        title=f"{measure.label} : {row.display_value}",
        act_date=measured_on,
        summary=row.display_value,
        replaces=replaces,
        submission_key=submission_key,
        kept=KeptFrom(hidden_from_representatives, secret),
    ) as entry:
        row.entry = entry
        row.save()
    return entry


# --- The patient's wishes -------------------------------------------------------------------------


def wishes_record(
    *,
    actor: User,
    patient: Patient,
    directives: str = "",
    directives_date: datetime.date | None = None,
    trusted_name: str = "",
    trusted_relation: str = "",
    trusted_contact: str = "",
    organ_donation: str = OrganDonation.UNKNOWN,
    emergency_contacts: str = "",
    replaces: Entry | None = None,
    submission_key: uuid.UUID | None = None,
) -> Entry:
    """The patient's wishes (directives anticipées, personne de confiance, organ donation,
    emergency contacts); a change is a new version of the previous wishes.

    Who may: the patient only (AccessDenied for anyone else). ValidationError: texts too long
    or with control characters, a date in the future, a personne de confiance without a name.
    """
    directives = clean_text(directives, label="Directives anticipées", max_length=500)
    trusted_name = clean_text(trusted_name, label="Personne de confiance", max_length=200)
    trusted_relation = clean_text(trusted_relation, label="Lien", max_length=100)
    trusted_contact = clean_text(trusted_contact, label="Coordonnées", max_length=200)
    emergency_contacts = clean_text(
        emergency_contacts, label="Personnes à prévenir", max_length=1000
    )
    organ_donation = _choice(organ_donation, OrganDonation, "Don d'organes")
    if directives_date is not None:
        _check_past_date(directives_date, "Directives anticipées")
    if (trusted_relation or trusted_contact) and not trusted_name:
        raise ValidationError(
            {"trusted_name": [_("Personne de confiance : indiquez son nom.")]}, code="required"
        )
    if replaces is not None and (replaces.kind != EntryKind.WISHES or replaces.patient != patient):
        raise ValidationError(_("Les volontés à remplacer sont introuvables."), code="replaces")
    summary = " · ".join(
        part
        for part in (
            trusted_name and f"Personne de confiance : {trusted_name}",
            directives and "Directives anticipées",
            str(OrganDonation(organ_donation).label),
        )
        if part
    )
    with _writing(
        actor,
        patient,
        kind=EntryKind.WISHES,
        document_type=WISHES_DOCUMENT_TYPE,
        title="Volontés du patient",
        act_date=timezone.localdate(),
        summary=summary,
        replaces=replaces,
        submission_key=submission_key,
    ) as entry:
        Wishes.objects.create(
            entry=entry,
            directives=directives,
            directives_date=directives_date,
            trusted_name=trusted_name,
            trusted_relation=trusted_relation,
            trusted_contact=trusted_contact,
            organ_donation=organ_donation,
            emergency_contacts=emergency_contacts,
        )
    return entry


# --- Documents added by the patient --------------------------------------------------------------


def _read_upload(upload: IO[bytes] | bytes) -> bytes:
    if isinstance(upload, bytes):
        return upload
    if hasattr(upload, "seek"):
        upload.seek(0)
    return upload.read(MAX_PATIENT_FILE_BYTES + 1)


def patient_document_add(
    *,
    actor: User,
    patient: Patient,
    title: str,
    category: str,
    upload: IO[bytes] | bytes,
    submission_key: uuid.UUID | None = None,
) -> Entry:
    """The patient adds a document (PDF, JPEG or PNG of at most 5 MB, judged by its content)
    to their DMP, with a title and a type; it is shown as added by the patient.

    Who may: the patient of this open DMP (AccessDenied otherwise). ValidationError (French,
    nothing stored): a file that is not what it says, empty, too big, a missing title, an
    unknown type. ``StorageUnavailable`` when the file cannot be written (nothing kept).
    """
    if not actor.is_patient:
        raise AccessDenied("only the patient adds their own documents")
    title = clean_text(title, label="Titre", max_length=200, required=True)
    category = _choice(category, PatientDocumentCategory, "Type de document")
    data = _read_upload(upload)
    try:
        info = inspect_patient_file(data)
    except PatientFileError as error:
        raise ValidationError({"upload": [str(error)]}) from None
    saved: list[str] = []
    try:
        with _writing(
            actor,
            patient,
            kind=EntryKind.PATIENT_DOCUMENT,
            document_type=PATIENT_DOCUMENT_TYPE,
            title=title,
            act_date=timezone.localdate(),
            summary=f"{PatientDocumentCategory(category).label} · {info.format}",
            submission_key=submission_key,
        ) as entry:
            saved.append(_store_pdf(data, SUFFIXES[info.format]))
            PatientDocument.objects.create(
                entry=entry,
                category=category,
                file=saved[0],
                content_type=info.content_type,
                file_sha256=info.sha256,
                file_size=info.size,
            )
    except BaseException:
        for key in saved:
            _delete_quietly(key)
        raise
    return entry


def patient_document_delete(*, actor: User, entry: Entry) -> None:
    """The patient deletes a document they added (row and file; the trail keeps the act).

    Who may: the patient, for their own added documents only (AccessDenied otherwise)."""
    require_patient(actor, entry.patient)
    if entry.kind != EntryKind.PATIENT_DOCUMENT or not entry.declared_by_patient:
        raise AccessDenied("only documents the patient added are deleted by them")
    document = PatientDocument.objects.filter(entry=entry).first()
    with transaction.atomic():
        trail.record_access(
            actor=actor,
            patient=entry.patient,
            action=AccessAction.ENTRY_UPDATE,
            entry_public_id=entry.public_id,
            detail="document supprimé par le patient",
        )
        entry.delete()
        name = document.file.name if document is not None else None
        if name:
            transaction.on_commit(lambda: _delete_quietly(name))
