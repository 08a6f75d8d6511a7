"""Purging a DMP: everything of it is erased but a tombstone and the trail.

``dmp_purge`` (run daily by ``manage.py purge_closed_dmps``) erases a closed DMP whose
retention (10 years) or early-erasure delay has passed. What remains: the ``Patient`` row as a
tombstone (INS-C, dates, state PURGED, no identity traits) so that the INS-C is never reused
silently; the DMP's transitions (kinds, dates, actors; details blanked); the access trail, its
free texts erased but its chain still verifiable (``records.trail``); the patient's account,
anonymous and inactive (``identity.services.patient_account_erase``).

What goes, in one transaction:

* the entries and every row that cascades from them, whatever app owns it: the kind rows of
  records (reports, lab reports and their observations, allergies), imaging's studies, series
  and instances, per-entry grants, submission keys. Imaging builds on records, so records
  cannot name imaging's models; it need not: their foreign keys to ``Entry`` say
  ``on_delete=CASCADE``, and Django's deletion collector follows them (as it would for any
  later kind of content) and says which rows it will delete;
* the DMP's care relations, emergency accesses (their reason may be clinical), DMP-level
  grants, the notifications about it or to the patient, consents, activation codes.

Files: every file field of the collected rows is read BEFORE the rows go, and the files are
deleted from storage only once the transaction has committed (``transaction.on_commit``). A
rollback therefore never loses a file that a surviving row points at; a storage error or a
crash after the commit leaves only files that no row points at, which
``manage.py sweep_imaging_orphans`` removes (reports' PDFs included).

Staged imaging uploads (``imaging/uploads.py``) cannot be attributed here: the token → patient
link lives only in the uploader's session. None can be left anyway: staging needs an open DMP
and lasts 30 minutes, the sweeper removes what is older, and a DMP is purged 30 days after its
closing at the earliest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import models, router, transaction
from django.db.models import Count
from django.db.models.deletion import Collector
from django.utils import timezone

from identity.models import DmpStatus, DmpTransition, Patient, TransitionKind
from identity.services import patient_account_erase
from records import access, trail
from records.models import CareRelation, EmergencyAccess, Entry, Notification

logger = logging.getLogger(__name__)

_PK_BATCH = 500  # primary keys per query when reading the collected rows' file fields


@dataclass
class PurgeReport:
    """What a purge erased (a dry run: would erase)."""

    entries: dict[str, int] = field(default_factory=dict)  # by kind
    rows: dict[str, int] = field(default_factory=dict)  # deleted, by model label
    files: int = 0
    bytes: int | None = None  # measured by dry runs only (one storage call per file)
    events_erased: int = 0  # access events whose free texts are erased

    @property
    def entry_count(self) -> int:
        return sum(self.entries.values())


def dmp_purge(*, patient: Patient, dry_run: bool = False) -> PurgeReport:
    """Erase a closed DMP whose retention or early-erasure delay has passed (module docstring).

    Who may: the scheduled command; no user acts, the retention decides. Raises
    ValidationError when the DMP is not closed or not yet due. Idempotent: a purged DMP is left
    as it is (an empty report). ``dry_run`` does and measures everything inside a transaction
    that is rolled back, so that the report says exactly what the purge would erase, and
    nothing is erased (no file is touched: their deletion waits for a commit that never comes).
    """
    with transaction.atomic():
        # Locked: a reopening or a second purge waits, then sees the state this one leaves.
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        if patient.dmp_status == DmpStatus.PURGED:
            return PurgeReport()
        if patient.dmp_status != DmpStatus.CLOSED:
            raise ValidationError("Only a closed DMP is purged.", code="not_closed")
        if not Patient.objects.due_for_purge(timezone.now()).filter(pk=patient.pk).exists():
            raise ValidationError("This DMP's retention has not passed.", code="not_due")
        report, files = _erase(patient, measure=dry_run)
        if dry_run:
            transaction.set_rollback(True)
        else:
            transaction.on_commit(partial(_delete_files, files))
    return report


def _erase(patient: Patient, *, measure: bool) -> tuple[PurgeReport, list[str]]:
    account = patient.user
    entries = Entry.objects.filter(patient=patient)
    kinds = entries.order_by().values_list("kind").annotate(count=Count("pk"))
    report = PurgeReport(entries=dict(kinds))
    # A new version PROTECTs the one it replaces; every version goes, so unlink them first.
    entries.update(replaces=None)
    report.rows = access.dmp_revoke_all(patient=patient)
    notifications = Notification.objects.filter(patient=patient)
    if account is not None:
        notifications |= Notification.objects.filter(recipient=account)
    collector = Collector(using=router.db_for_write(Entry), origin=patient)
    for rows in (
        entries,
        CareRelation.objects.filter(patient=patient),
        EmergencyAccess.objects.filter(patient=patient),
        notifications,
        patient.consents.all(),
        patient.activation_codes.all(),
    ):
        collector.collect(rows)
    files = _stored_files(collector)
    report.files = len(files)
    report.bytes = _total_size(files) if measure else None
    _total, deleted = collector.delete()
    report.rows.update(deleted)
    report.rows = {label: count for label, count in sorted(report.rows.items()) if count}
    report.events_erased = trail.details_erase(patient=patient, account=account)
    _tombstone(patient)
    if account is not None:
        patient_account_erase(user=account)
    return report, files


def _tombstone(patient: Patient) -> None:
    """What is left of the DMP: its INS-C and dates, the kinds of its transitions."""
    patient.transitions.update(detail={})
    patient.birth_name = patient.first_names = patient.used_name = ""
    patient.birth_place_code = patient.matricule_ins = patient.matricule_oid = ""
    patient.sex = ""
    patient.birth_date = None
    patient.medecin_traitant = None
    patient.user = None
    patient.dmp_status = DmpStatus.PURGED
    patient.purged_at = timezone.now()
    patient.save(
        update_fields=[
            "birth_name",
            "first_names",
            "used_name",
            "birth_place_code",
            "matricule_ins",
            "matricule_oid",
            "sex",
            "birth_date",
            "medecin_traitant",
            "user",
            "dmp_status",
            "purged_at",
        ]
    )
    DmpTransition.objects.create(patient=patient, kind=TransitionKind.PURGED, actor=None)


def _stored_files(collector: Collector) -> list[str]:
    """The names held by the file fields of every row ``collector`` will delete (read now:
    once deleted, nothing says which files were theirs)."""
    querysets = list(collector.fast_deletes)
    for model, instances in collector.data.items():
        pks = [instance.pk for instance in instances]
        querysets += [
            model._base_manager.filter(pk__in=pks[start : start + _PK_BATCH])
            for start in range(0, len(pks), _PK_BATCH)
        ]
    names: set[str] = set()
    for queryset in querysets:
        file_fields = [
            f.attname
            for f in queryset.model._meta.concrete_fields
            if isinstance(f, models.FileField)
        ]
        if file_fields:
            for row in queryset.values_list(*file_fields):
                names.update(name for name in row if name)
    return sorted(names)


def _total_size(names: list[str]) -> int:
    total = 0
    for name in names:
        try:
            total += default_storage.size(name)
        except Exception:  # missing, or the backend fails (OSError, botocore…): not counted
            logger.warning("purge: the size of a stored file could not be read")
    return total


def _delete_files(names: list[str]) -> None:
    """After the commit, best effort, file by file: what cannot be deleted now is an orphan
    (no row points at it) that ``sweep_imaging_orphans`` removes later."""
    failed = 0
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # any backend error (OSError, botocore…): the sweeper retries later
            failed += 1
    if failed:
        logger.warning("purge: %d stored file(s) not deleted, left to the sweeper", failed)
