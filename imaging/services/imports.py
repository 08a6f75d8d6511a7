"""Writes of the imaging app: importing validated files, reports, traced reads.

Keyword-only ``entity_verb(*, actor, …)`` functions. Access is checked first (a verified
professional with *normal* access deposits, as for every entry); each file is written to the
private storage under a random key (``imaging.storage``), then the rows of up to 50 files are
created in one transaction; if it fails the files are deleted at once (and the rows retried
file by file, to keep the good ones), and a crash in between leaves only storage objects
without rows, which ``manage.py sweep_imaging_orphans`` removes after a grace period. A
partial failure keeps what was committed, reports the rest, and a retry stores exactly the
missing files (duplicates are recognised by SOP Instance UID and content hash). Previews are
made by a background task (``imaging.previews``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from identity.errors import AccessDenied
from identity.models import Patient, User
from imaging.access import REPORT_DOCUMENT_TYPE, report_choices
from imaging.dicom import DicomInfo
from imaging.ingest import (
    Candidate,
    DicomIdentity,
    IdentityMismatch,
    Refusal,
    identity_mismatches,
    parse_dicom_date,
)
from imaging.models import ImagingStudy, Instance, Series
from imaging.previews import enqueue_previews
from imaging.storage import delete_quietly, store
from records import access, trail
from records.models import AccessAction, Entry, EntryKind
from records.services.entries import entry_deposit

logger = logging.getLogger(__name__)

IMAGE_TRACE_WINDOW = 600  # seconds: one THUMBNAIL event per user × study in this window

MESSAGES = {
    "duplicate": (
        "Déjà présent dans le DMP (même image, même contenu) : non stocké une seconde fois."
    ),
    "duplicate_in_upload": "Même image déposée deux fois dans cet envoi : une seule copie gardée.",
    "uid_conflict": (
        "Une autre image portant le même identifiant DICOM (SOP Instance UID) mais un contenu "
        "différent existe déjà : ce fichier est refusé. Vérifiez auprès de la modalité qu'il "
        "ne s'agit pas d'une image modifiée ou d'un identifiant réutilisé."
    ),
    "study_not_yours": (
        "Cette étude existe déjà dans le DMP mais vous ne pouvez pas la compléter : "
        "le fichier n'a pas été enregistré."
    ),
    "storage_unavailable": (
        "Le stockage des images est momentanément indisponible : ce fichier n'a pas été "
        "enregistré. Réessayez plus tard ; rien n'a été conservé."
    ),
    "database_unavailable": (
        "La base de données est momentanément indisponible : ce fichier n'a pas été "
        "enregistré. Réessayez plus tard."
    ),
    "stored": "Enregistré.",
}


class IdentityNotConfirmed(Exception):
    """The files' patient identity differs from the DMP's and the uploader has not confirmed."""

    def __init__(self, mismatches: list[IdentityMismatch]) -> None:
        super().__init__("identity mismatch")
        self.mismatches = mismatches


@dataclass(frozen=True)
class Outcome:
    """What happened to one file: ``stored``, ``duplicate`` or ``refused``."""

    name: str
    status: str
    message: str
    code: str = ""

    def as_row(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "message": self.message}


@dataclass
class ImportResult:
    outcomes: list[Outcome] = field(default_factory=list)
    studies: list[ImagingStudy] = field(default_factory=list)
    instance_ids: list[int] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


# --------------------------------------------------------------------------- access


def require_depositor(actor: User, patient: Patient) -> access.DmpAccess:
    """As ``entry_deposit``: whoever the funnel lets deposit an imaging study here."""
    held = access.dmp_access(actor, patient)
    if held is None:
        raise AccessDenied("No access to this DMP.")
    held.require_deposit(REPORT_DOCUMENT_TYPE)
    return held


def _check_report(actor: User, patient: Patient, report: Entry | None) -> None:
    if report is not None and not report_choices(actor, patient).filter(pk=report.pk).exists():
        raise ValidationError(
            _("Ce compte rendu n'est pas un compte rendu d'imagerie de ce DMP."), code="report"
        )


# ------------------------------------------------------------------------ key tags


def _key_tags(info: DicomInfo) -> list[list[str]]:
    """Ordered (label, value) pairs shown by the viewer (a list: PostgreSQL's jsonb does not
    keep the order of an object's keys). Values are as given: templates escape them."""
    identity = DicomIdentity.of(info)
    spacing = info.pixel_spacing
    pairs = [
        ("Patient (DICOM)", identity.name_display),
        ("Date de naissance (DICOM)", identity.birth_date_display),
        ("Sexe (DICOM)", info.patient_sex),
        ("Identifiant patient (DICOM)", info.patient_id),
        ("Date de l'examen", _date_display(info.study_date)),
        ("Description de l'étude", info.study_description),
        ("Numéro d'accession", info.accession_number),
        ("Modalité", info.modality),
        ("Type d'image", info.sop_class_label),
        ("Série", info.series_description),
        ("Région anatomique", info.body_part),
        ("Numéro d'instance", "" if info.instance_number is None else str(info.instance_number)),
        ("Matrice", f"{info.columns} × {info.rows}"),
        ("Images dans le fichier", str(info.number_of_frames)),
        ("Taille du pixel", f"{spacing[0]:g} × {spacing[1]:g} mm" if spacing else ""),
        (
            "Épaisseur de coupe",
            f"{info.slice_thickness:g} mm" if info.slice_thickness is not None else "",
        ),
        ("Photométrie", info.photometric_interpretation),
        ("Bits stockés", f"{info.bits_stored} / {info.bits_allocated}"),
        ("Compression avec perte", "oui" if info.lossy_compression else "non"),
        ("Syntaxe de transfert", info.transfer_syntax_uid),
    ]
    if info.preamble_was_nonzero:
        pairs.append(("Préambule d'origine", f"non vide ({info.preamble_kind}), remis à zéro"))
    return [[label, value] for label, value in pairs if value]


def _date_display(value: str) -> str:
    parsed = parse_dicom_date(value)
    return parsed.strftime("%d/%m/%Y") if parsed else value


def _presets(info: DicomInfo) -> list[dict[str, Any]]:
    return [
        {
            "label": preset.label,
            "center": preset.center,
            "width": preset.width,
            "explanation": preset.explanation,
            "from_file": preset.from_file,
        }
        for preset in info.window_presets
    ]


# -------------------------------------------------------------------------- import


@dataclass
class _Import:
    """The state of one import: what exists, what this upload already stored.

    ``tx_studies`` / ``tx_series`` hold what the open transaction created: merged into the
    caches once it commits, forgotten if it rolls back.
    """

    actor: User
    patient: Patient
    report: Entry | None
    mismatched: set[DicomIdentity]
    # A new study on a minor's DMP: kept from the representatives, or secret (entry_deposit).
    kept_from_representatives: bool = False
    secret: bool = False
    studies: dict[str, ImagingStudy] = field(default_factory=dict)
    hidden_studies: set[str] = field(default_factory=set)
    series: dict[tuple[int, str], Series] = field(default_factory=dict)
    known: dict[str, str] = field(default_factory=dict)  # SOP Instance UID -> sha256
    new_studies: set[int] = field(default_factory=set)
    grown_studies: dict[int, int] = field(default_factory=dict)
    stored_uids: set[str] = field(default_factory=set)
    tx_studies: dict[str, ImagingStudy] = field(default_factory=dict)
    tx_series: dict[tuple[int, str], Series] = field(default_factory=dict)
    result: ImportResult = field(default_factory=ImportResult)

    def load(self, candidates: Sequence[Candidate]) -> None:
        """What already exists for these UIDs, in a few queries whatever the upload's size."""
        sop_uids = list({c.info.sop_instance_uid for c in candidates})
        study_uids = list({c.info.study_instance_uid for c in candidates})
        for start in range(0, len(sop_uids), 500):
            self.known.update(
                Instance.objects.filter(
                    series__study__patient=self.patient,
                    sop_instance_uid__in=sop_uids[start : start + 500],
                ).values_list("sop_instance_uid", "sha256")
            )
        existing = ImagingStudy.objects.filter(
            patient=self.patient, study_instance_uid__in=study_uids
        ).select_related("entry")
        visible = set(
            access.entries_for(self.actor, self.patient)
            .filter(imaging_study__in=existing)
            .values_list("pk", flat=True)
        )
        for study in existing:
            if study.entry_id in visible:
                self.studies[study.study_instance_uid] = study
            else:
                self.hidden_studies.add(study.study_instance_uid)
        for series in Series.objects.filter(study__in=self.studies.values()):
            self.series[(series.study_id, series.series_instance_uid)] = series

    def duplicate(self, candidate: Candidate, in_batch: dict[str, str]) -> Outcome | None:
        info = candidate.info
        uid = info.sop_instance_uid
        known = self.known.get(uid) or in_batch.get(uid)
        if known is None:
            if info.study_instance_uid in self.hidden_studies:
                return _refused(candidate, "study_not_yours")
            return None
        if known != info.sha256:
            return _refused(candidate, "uid_conflict")
        code = "duplicate_in_upload" if uid in self.stored_uids or uid in in_batch else "duplicate"
        return Outcome(candidate.name, "duplicate", MESSAGES[code], code)

    def study(self, info: DicomInfo) -> ImagingStudy:
        uid = info.study_instance_uid
        study = self.studies.get(uid) or self.tx_studies.get(uid)
        if study is not None:
            return study
        today = timezone.localdate()
        study_date = parse_dicom_date(info.study_date)
        title = info.study_description.strip() or f"Examen d'imagerie {info.modality}".strip()
        entry = entry_deposit(
            actor=self.actor,
            patient=self.patient,
            kind=EntryKind.IMAGING_STUDY,
            document_type=REPORT_DOCUMENT_TYPE,
            title=title,
            act_date=study_date if study_date and study_date <= today else today,
            summary=f"{info.sop_class_label} · {info.modality}".strip(" ·"),
            hidden_from_representatives=self.kept_from_representatives,
            secret=self.secret,
        )
        identity = DicomIdentity.of(info)
        study = ImagingStudy.objects.create(
            entry=entry,
            patient=self.patient,
            study_instance_uid=uid,
            study_date=study_date,
            description=info.study_description[:200],
            accession_number=info.accession_number[:64],
            modalities=[info.modality] if info.modality else [],
            report=self.report,
            dicom_identity=identity.as_dict(),
            identity_mismatch_confirmed=identity in self.mismatched,
        )
        self.tx_studies[uid] = study
        return study

    def series_of(self, study: ImagingStudy, info: DicomInfo) -> Series:
        key = (study.pk, info.series_instance_uid)
        found = self.series.get(key) or self.tx_series.get(key)
        if found is not None:
            return found
        if info.modality and info.modality not in study.modalities:
            study.modalities = [*study.modalities, info.modality]
            study.save(update_fields=["modalities"])
        series = Series.objects.create(
            study=study,
            series_instance_uid=info.series_instance_uid,
            number=info.series_number,
            modality=info.modality[:16],
            description=info.series_description[:200],
            body_part=info.body_part[:64],
        )
        self.tx_series[key] = series
        return series

    def rows(self, candidate: Candidate, name: str) -> tuple[ImagingStudy, Series, Instance]:
        info = candidate.info
        study = self.study(info)
        series = self.series_of(study, info)
        instance = Instance.objects.create(
            series=series,
            sop_instance_uid=info.sop_instance_uid,
            sop_class_uid=info.sop_class_uid,
            transfer_syntax=info.transfer_syntax_uid,
            instance_number=info.instance_number,
            rows=info.rows,
            columns=info.columns,
            frames=info.number_of_frames,
            pixel_spacing=list(info.pixel_spacing) if info.pixel_spacing else None,
            slice_thickness=info.slice_thickness,
            window_presets=_presets(info),
            key_tags=_key_tags(info),
            file=name,
            sha256=info.sha256,
            original_sha256=info.original_sha256,
            preamble_kind=info.preamble_kind or "",
            size=info.size,
            original_name=candidate.name[:200],
        )
        return study, series, instance

    def batch(self, group: Sequence[Candidate]) -> tuple[list[Outcome], str | None]:
        """Store the files of ``group``, then write their rows in one transaction.

        Returns the outcomes (in order) and why to stop, if the storage or database failed.
        """
        outcomes: list[Outcome | None] = [None] * len(group)
        staged: list[tuple[int, Candidate, str]] = []
        in_batch: dict[str, str] = {}
        halt: str | None = None
        for index, candidate in enumerate(group):
            if halt is not None:
                outcomes[index] = _refused(candidate, halt)
                continue
            outcomes[index] = self.duplicate(candidate, in_batch)
            if outcomes[index] is not None:
                continue
            try:
                name = store(candidate)
            except Exception as error:  # any backend failure: OSError, botocore, timeouts
                logger.warning("imaging: storage failed: %s", type(error).__name__)
                halt = "storage_unavailable"
                outcomes[index] = _refused(candidate, halt)
                continue
            staged.append((index, candidate, name))
            in_batch[candidate.info.sop_instance_uid] = candidate.info.sha256
        halt = self.write(staged, outcomes) or halt
        return [outcome for outcome in outcomes if outcome is not None], halt

    def commit(self, staged: Sequence[tuple[int, Candidate, str]]) -> None:
        self.tx_studies.clear()
        self.tx_series.clear()
        try:
            with transaction.atomic():
                made = [(c, *self.rows(c, name)) for _i, c, name in staged]
        finally:
            committed = dict(self.tx_studies), dict(self.tx_series)
            self.tx_studies.clear()
            self.tx_series.clear()
        for candidate, study, series, instance in made:
            self.remember(candidate.info, study, series, instance, committed[0])

    def write(self, staged: list[tuple[int, Candidate, str]], outcomes: list[Any]) -> str | None:
        """Rows for the stored files; on a database error, file by file to keep the good
        ones. A file whose rows are not written is deleted at once."""
        if not staged:
            return None
        try:
            self.commit(staged)
        except DatabaseError:
            return self.write_one_by_one(staged, outcomes)
        except BaseException:
            for _index, _candidate, name in staged:
                delete_quietly(name)
            raise
        for index, candidate, _name in staged:
            outcomes[index] = Outcome(candidate.name, "stored", MESSAGES["stored"])
        return None

    def write_one_by_one(
        self, staged: list[tuple[int, Candidate, str]], outcomes: list[Any]
    ) -> str | None:
        halt: str | None = None
        for position, (index, candidate, name) in enumerate(staged):
            if halt is not None:
                delete_quietly(name)
                outcomes[index] = _refused(candidate, halt)
                continue
            try:
                self.commit([(index, candidate, name)])
            except IntegrityError:  # a concurrent upload of the same image
                delete_quietly(name)
                outcomes[index] = _refused(candidate, "uid_conflict")
            except DatabaseError:
                delete_quietly(name)
                halt = "database_unavailable"
                outcomes[index] = _refused(candidate, halt)
            except BaseException:
                for _i, _c, left in staged[position:]:
                    delete_quietly(left)
                raise
            else:
                outcomes[index] = Outcome(candidate.name, "stored", MESSAGES["stored"])
        return halt

    def remember(
        self,
        info: DicomInfo,
        study: ImagingStudy,
        series: Series,
        instance: Instance,
        created: dict[str, ImagingStudy],
    ) -> None:
        new = info.study_instance_uid in created or study.pk in self.new_studies
        if new and study.pk not in self.new_studies:
            self.new_studies.add(study.pk)
            self.result.studies.append(study)
        elif not new:
            if study.pk not in self.grown_studies:
                self.result.studies.append(study)
            self.grown_studies[study.pk] = self.grown_studies.get(study.pk, 0) + 1
        self.studies[info.study_instance_uid] = study
        self.series[(study.pk, info.series_instance_uid)] = series
        self.known[info.sop_instance_uid] = info.sha256
        self.stored_uids.add(info.sop_instance_uid)
        self.result.instance_ids.append(instance.pk)


def _refused(candidate: Candidate, code: str) -> Outcome:
    return Outcome(candidate.name, "refused", MESSAGES[code], code)


IMPORT_CHUNK = 50  # files whose rows share one transaction (fewer commits, bounded loss)


def study_import(
    *,
    actor: User,
    patient: Patient,
    candidates: Sequence[Candidate],
    report: Entry | None = None,
    identity_confirmed: bool = False,
    request: HttpRequest | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> ImportResult:
    """Store validated DICOM files in ``patient``'s DMP, grouped Study → Series → Instance.

    Who may: a verified professional with normal access to the DMP (AccessDenied
    otherwise). ``report`` must be a CR d'imagerie of the same DMP that the actor can read
    (ValidationError). When the files' patient identity differs from the DMP's, raises
    ``IdentityNotConfirmed`` unless ``identity_confirmed``: nothing is ever attached silently.

    Each new study is a new entry (``entry_deposit``: its access event, the patient told);
    files for an existing study are added to it (one ``entry_update`` event per study). A
    file already present (same SOP Instance UID, same content) is not stored again; the same
    UID with another content is refused. Files are written first, then their rows, 50 files
    per transaction; a file whose rows are not committed is deleted. If the storage or the
    database fails, what was committed is kept, nothing else remains, and the rest is
    reported not stored. Previews are made by a background task once the rows are committed.
    On a minor's DMP, a new study is kept from the representatives, or secret, as
    ``entry_deposit`` keeps any entry (``hidden_from_representatives``, ``secret``).
    """
    require_depositor(actor, patient)
    return import_checked(
        actor=actor,
        patient=patient,
        candidates=candidates,
        report=report,
        identity_confirmed=identity_confirmed,
        request=request,
        hidden_from_representatives=hidden_from_representatives,
        secret=secret,
    )


def import_checked(
    *,
    actor: User,
    patient: Patient,
    candidates: Sequence[Candidate],
    report: Entry | None,
    identity_confirmed: bool,
    request: HttpRequest | None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> ImportResult:
    """``study_import`` once the actor's right to deposit is checked."""
    _check_report(actor, patient, report)
    mismatches = identity_mismatches(candidates, patient)
    if mismatches and not identity_confirmed:
        raise IdentityNotConfirmed(mismatches)
    work = _Import(actor, patient, report, {m.identity for m in mismatches})
    work.kept_from_representatives, work.secret = hidden_from_representatives, secret
    work.load(candidates)
    halted: str | None = None
    for start in range(0, len(candidates), IMPORT_CHUNK):
        group = candidates[start : start + IMPORT_CHUNK]
        if halted is not None:
            work.result.outcomes.extend(_refused(c, halted) for c in group)
            continue
        outcomes, halted = work.batch(group)
        work.result.outcomes.extend(outcomes)
    _trace_import(work, request)
    if work.result.instance_ids:
        transaction.on_commit(partial(enqueue_previews, list(work.result.instance_ids)))
    return work.result


def _trace_import(work: _Import, request: HttpRequest | None) -> None:
    """One event per existing study that grew, one for the files refused at this stage."""
    try:
        for study in work.result.studies:
            added = work.grown_studies.get(study.pk)
            if added:
                trail.record_access(
                    actor=work.actor,
                    patient=work.patient,
                    action=AccessAction.ENTRY_UPDATE,
                    entry_public_id=study.entry.public_id,
                    detail=f"imagerie : {added} image(s) ajoutée(s)",
                    request=request,
                )
        refused = [o for o in work.result.outcomes if o.status == "refused"]
        if refused:
            uploads_refused_trace(
                actor=work.actor,
                patient=work.patient,
                refusals=[Refusal(o.name, o.code, o.message) for o in refused],
                request=request,
            )
    except DatabaseError:
        logger.warning("imaging: import events not recorded (database unavailable)")


def uploads_refused_trace(
    *,
    actor: User,
    patient: Patient,
    refusals: Sequence[Refusal],
    request: HttpRequest | None = None,
) -> None:
    """Record that files were refused (one event per upload, the reasons' codes in detail).

    Who may: the uploader, already checked by the caller. No file name is recorded.
    """
    if not refusals:
        return
    codes: dict[str, int] = {}
    for refusal in refusals:
        codes[refusal.code] = codes.get(refusal.code, 0) + 1
    detail = "imagerie refusée : " + ", ".join(f"{code} ×{n}" for code, n in sorted(codes.items()))
    trail.record_access(
        actor=actor,
        patient=patient,
        action=AccessAction.DEPOSIT_REFUSED,
        detail=detail,
        request=request,
    )


def study_attach_report(
    *, actor: User, study: ImagingStudy, report: Entry | None, request: HttpRequest | None = None
) -> ImagingStudy:
    """Attach (or detach, with None) the CR d'imagerie of a study.

    Who may: a verified professional with normal access to the DMP who can see the study;
    the report must be a CR d'imagerie of the same DMP they can read (ValidationError).
    """
    patient = study.patient
    require_depositor(actor, patient)
    if not access.entries_for(actor, patient).filter(pk=study.entry_id).exists():
        raise AccessDenied("Study out of scope.")
    _check_report(actor, patient, report)
    with transaction.atomic():
        study.report = report
        study.save(update_fields=["report"])
        trail.record_access(
            actor=actor,
            patient=patient,
            action=AccessAction.ENTRY_UPDATE,
            entry_public_id=study.entry.public_id,
            detail="compte rendu d'imagerie rattaché" if report else "compte rendu détaché",
            request=request,
        )
    return study
