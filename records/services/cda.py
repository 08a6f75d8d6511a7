"""Depositing a CDA R2 document (N1 or N3 CR-BIO) into a DMP: the header must name this DMP's
patient and may only replace a document of this DMP; then the existing deposits store it (the
PDF judged by its content, a CR-BIO's results checked row by row like a typed lab report)."""

from __future__ import annotations

import unicodedata
import uuid

from django.db import transaction
from django.utils.translation import gettext as _

from identity.models import Patient, Professional, User
from records import facts, reference
from records.cda import codes
from records.cda.read import CdaDocument, CdaError, parse_cda
from records.models import Entry
from records.services.content import ObservationInput, lab_report_deposit, report_deposit

# The header's confidentialityCode (HL7 Confidentiality) onto the DMP's visibility flags, as
# (masked, invisible_to_patient). N: normal. R (restricted): masked from professionals
# (MASQUE_PS: its author, the médecin traitant and the patient keep it; the DMP lets the
# depositor mask at the patient's request). V (very restricted): masked, and invisible to the
# patient until the consultation d'annonce too: the most restricted the DMP knows (its release
# after a month is the DMP's rule). Never more visible than the author asked: a code outside
# these three is refused rather than read as N.
VISIBILITY = {"N": (False, False), "R": (True, False), "V": (True, True)}
DECLARED_AUTHOR_FIELDS = [
    "declared_author_idnps",
    "declared_author_name",
    "declared_author_role_code",
    "declared_author_role",
]


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.replace("-", " ").upper().split())


def _same_patient(document: CdaDocument, patient: Patient) -> bool:
    known = {(codes.INSC_OID, patient.insc)}
    if patient.matricule_ins and patient.matricule_oid:
        known.add((patient.matricule_oid, patient.matricule_ins))
    if not known & set(document.patient_ids):
        return False
    if _folded(document.birth_name) != _folded(patient.birth_name):
        return False
    return document.birth_date is not None and document.birth_date == patient.birth_date


def _declared_author(
    document: CdaDocument, depositor: Professional | None
) -> tuple[str, str, str, str]:
    """The header's author (IDNPS, name) when it is not the depositor, else blanks. A real DMP
    takes documents deposited for a colleague (a secretary's or a replacement's deposit, a
    report of the hospital): the declared author is kept as declared and shown with the
    entry and in the documents the portal produces from it (``records.cda.build``); the
    depositor stays the entry's ``author`` (who answers for the deposit). Returns (IDNPS, name,
    profession code, profession label)."""
    idnps = document.author_idnps
    rpps = depositor.rpps if depositor is not None else ""
    if not idnps or idnps in (f"{codes.IDNPS_RPPS_PREFIX}{rpps}", rpps):
        return "", "", "", ""
    return idnps[:32], document.author_name[:200], *document.author_role


def _referenced(document: CdaDocument, patient: Patient) -> Entry | None:
    """The entry of this DMP the document replaces (RPLC), if any. Its set, its parent or its
    own id naming a document of another DMP is refused (a replace attack)."""
    ids = {
        name: codes.oid_uuid(oid)
        for name, oid in (
            ("set", document.set_id),
            ("parent", document.replaces_id or ""),
            ("self", document.document_id),
        )
    }
    wanted = [value for value in ids.values() if value is not None]
    found = {entry.public_id: entry for entry in Entry.objects.filter(public_id__in=wanted)}
    for entry in found.values():
        if entry.patient_id != patient.pk:
            raise CdaError("other_dmp")
    if ids["self"] is not None and ids["self"] in found:
        raise CdaError("already_there")
    parent = found.get(ids["parent"]) if ids["parent"] is not None else None
    return parent


def cda_deposit(
    *,
    actor: User,
    patient: Patient,
    data: bytes,
    submission_key: uuid.UUID | None = None,
) -> Entry:
    """Deposit the CDA R2 document ``data`` in ``patient``'s DMP, as its author ``actor``.

    Raises ``ValidationError`` (reader's language, with the refusal's facts for the trail:
    ``records.facts.refusals``) and stores nothing when the file is not a safe, readable CDA
    R2 N1/N3, fails the ANS's schema or schematrons (when the deployment has them:
    ``records.cda.ans``), names another patient, or ties itself to another DMP's document;
    then whatever ``report_deposit``/``lab_report_deposit`` refuse.
    """
    try:
        document = parse_cda(data)
        if not _same_patient(document, patient):
            raise CdaError("other_patient")
        replaces = _referenced(document, patient)
        try:
            reference.document_type(document.document_type)
        except LookupError:
            raise CdaError("unknown_type", code=document.document_type[:64]) from None
        if document.confidentiality not in VISIBILITY:
            raise CdaError("bad_confidentiality", code=document.confidentiality[:16])
    except CdaError as error:
        raise facts.cda_validation_error(error) from None
    masked, invisible = VISIBILITY[document.confidentiality]
    with transaction.atomic():
        entry = _stored(document, actor, patient, replaces, submission_key, masked, invisible)
        declared = _declared_author(document, entry.author)
        if any(declared):
            (
                entry.declared_author_idnps,
                entry.declared_author_name,
                entry.declared_author_role_code,
                entry.declared_author_role,
            ) = declared
            entry.save(update_fields=DECLARED_AUTHOR_FIELDS)
    return entry


def _stored(
    document: CdaDocument,
    actor: User,
    patient: Patient,
    replaces: Entry | None,
    submission_key: uuid.UUID | None,
    masked: bool,
    invisible: bool,
) -> Entry:
    """The document stored by the existing deposits (lab report or report)."""
    if document.level == 3:
        rows = [
            ObservationInput(
                row.analyte_code,
                row.value,
                row.unit,
                row.ref_low,
                row.ref_high,
                row.ref_text,
                row.interpretation,
            )
            for row in document.observations
        ]
        collected = document.service_start or document.effective_time
        return lab_report_deposit(
            actor=actor,
            patient=patient,
            laboratory=document.laboratory or _("Laboratoire non précisé"),
            specimen_collected_at=collected,
            reported_at=max(document.effective_time.date(), collected.date()),
            observations=rows,
            submission_key=submission_key,
            masked=masked,
            invisible_to_patient=invisible,
        )
    if replaces is not None and replaces.kind != "report":
        replaces = None
    return report_deposit(
        actor=actor,
        patient=patient,
        document_type=document.document_type,
        title=document.title or reference.document_type(document.document_type).label,
        act_date=(document.service_start or document.effective_time).date(),
        body=document.text,
        pdf=document.pdf,
        replaces=replaces,
        submission_key=submission_key,
        masked=masked,
        invisible_to_patient=invisible,
    )
