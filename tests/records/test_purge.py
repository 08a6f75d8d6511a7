"""Purging a DMP: afterwards no row and no byte of the patient's content remains anywhere, only
the tombstone and a trail that still verifies; the dry run erases nothing; purging is
idempotent; faults never leave a row without its file.

Alice's DMP is filled as her professionals fill it, through the services the views call (a
report with a PDF and its new version, a lab report, a masked allergy, a DICOM study with its
previews, an emergency access) and read through the views; every text of it carries MARK.
Bob's DMP, filled the same way with KEPT, must come out of Alice's purge untouched.
"""

from __future__ import annotations

import datetime
import io
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from pydicom.uid import generate_uid

from identity.models import (
    ActivationCode,
    Consent,
    DmpStatus,
    Patient,
    PatientUserObjectPermission,
    Professional,
    User,
)
from imaging.models import ImagingStudy, Instance, Series
from imaging.sweeper import orphans_sweep
from imaging.uploads import STAGING_PREFIX
from records.models import (
    AccessEvent,
    CareRelation,
    EmergencyAccess,
    Entry,
    EntryUserObjectPermission,
    Notification,
    Report,
    SubmissionKey,
)
from records.pdf import build_text_pdf
from records.services import lifecycle
from records.services.care import emergency_declare
from records.services.content import ObservationInput, lab_report_deposit, report_deposit
from records.services.entries import entry_mask
from records.services.purge import PurgeReport, dmp_purge
from records.trail import details_erase
from tests.imaging import dicom_factory as F
from tests.imaging.conftest import deposit
from tests.records.conftest import logged_in
from tests.records.helpers import allergy, at, days_ago

MARK = "ZQXPURGE"  # in every text of Alice's content
KEPT = "ZQXKEPT"  # in every text of Bob's
LAB_VALUES = {MARK: "9876,54321", KEPT: "1234,56789"}  # as typed (stored too as 9876.543210)

pytestmark = pytest.mark.django_db

CaptureCallbacks = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


@pytest.fixture
def staging(private_storage: Path) -> Path:
    """Where staged imaging uploads are on the (local) private storage."""
    return private_storage / STAGING_PREFIX


def _dicom(mark: str, count: int = 2) -> list[bytes]:
    study, series = generate_uid(), generate_uid()
    files = []
    for number in range(1, count + 1):
        ds = F.ct_slice(32, 32, seed=number)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.InstanceNumber = study, series, number
        ds.PatientName = f"{mark}^DICOMNOM"
        ds.StudyDescription = f"{mark} scanner thoracique"
        files.append(F.to_bytes(ds))
    return files


def _fill(author: Professional, patient: Patient, mark: str, folder: Path) -> None:
    """Content of every kind, each text carrying ``mark``, through the real services."""
    first = report_deposit(
        actor=author.user,
        patient=patient,
        document_type="11488-4",
        title=f"{mark} CR de consultation",
        act_date=days_ago(20),
        body=f"{mark} corps du compte rendu",
        pdf=build_text_pdf(f"{mark} titre PDF", [f"{mark} texte du PDF"]),
        submission_key=uuid.uuid4(),
    )
    report_deposit(  # a new version: it PROTECTs the first one, both must go
        actor=author.user,
        patient=patient,
        document_type="11488-4",
        title=f"{mark} CR de consultation (v2)",
        act_date=days_ago(19),
        body=f"{mark} corps v2",
        replaces=first,
        keep_pdf=True,
    )
    lab_report_deposit(
        actor=author.user,
        patient=patient,
        laboratory=f"{mark} laboratoire",
        specimen_collected_at=at(days_ago(10)),
        reported_at=days_ago(10),
        observations=[
            ObservationInput(
                "4548-4", LAB_VALUES[mark], "%", Decimal("4"), Decimal("6"), ref_text=f"{mark} réf"
            )
        ],
    )
    allergy(
        author,
        patient,
        substance_code="",
        substance_label=f"{mark} substance",
        category="medication",
        reactions=f"{mark} réaction",
        note=f"{mark} note",
    )
    deposit(author.user, patient, _dicom(mark), folder, identity_confirmed=True)


@dataclass
class Scene:
    alice: Patient
    bob: Patient
    alice_files: set[str]  # storage names
    bob_files: set[str]


def _files_of(patient: Patient) -> set[str]:
    names: set[str] = set()
    names.update(Report.objects.filter(entry__patient=patient).values_list("pdf", flat=True))
    instances = Instance.objects.filter(series__study__patient=patient)
    names.update(instances.values_list("file", flat=True))
    names.update(instances.values_list("preview", flat=True))
    names.update(Series.objects.filter(study__patient=patient).values_list("thumbnail", flat=True))
    return names - {""}


def _read_as_users(alice: Patient, doctor: Professional) -> None:
    """What readers do, so that the trail holds details: pages, a PDF, a trend, images."""
    pro = logged_in(doctor.user)
    report = Entry.objects.filter(patient=alice, kind="report", status="current").get()
    study = ImagingStudy.objects.get(patient=alice)
    series = study.series.get()
    for url in (
        reverse("records:timeline_pro", args=[alice.public_id]),
        reverse("records:entry_detail", args=[report.public_id]),
        reverse("records:report_pdf", args=[report.public_id]),
        reverse("records:trend_pro", args=[alice.public_id, "4548-4"]),
        reverse("imaging:study_detail", args=[study.entry.public_id]),
        reverse("imaging:series_viewer", args=[series.public_id]),
    ):
        assert pro.get(url).status_code == 200, url
    assert pro.get(reverse("imaging:series_thumbnail", args=[series.public_id])).status_code == 200
    mine = logged_in(alice.user)
    for url in (reverse("records:my_dmp"), reverse("records:timeline_patient")):
        assert mine.get(url).status_code == 200, url


@pytest.fixture
def scene(
    alice: Patient,
    bob: Patient,
    doctor: Professional,
    stranger_doctor: Professional,
    authorised_doctor: Professional,
    private_storage: Path,
    tmp_path: Path,
) -> Scene:
    """Both DMPs filled and read; Alice's closed with early erasure, its delay passed."""
    _fill(doctor, alice, MARK, tmp_path / "alice-in")
    _fill(stranger_doctor, bob, KEPT, tmp_path / "bob-in")
    entry_mask(
        actor=alice.user, entry=Entry.objects.get(patient=alice, kind="allergy"), masked=True
    )
    emergency_declare(  # Bob's médecin traitant, a stranger to Alice
        actor=stranger_doctor.user,
        patient=alice,
        samu=False,
        reason="other",
        reason_text=f"{MARK} motif de l'urgence",
    )
    _read_as_users(alice, doctor)
    lifecycle.dmp_close(actor=alice.user, patient=alice, early_erasure=True)
    Patient.objects.filter(pk=alice.pk).update(
        erasure_due_at=timezone.now() - datetime.timedelta(days=1)
    )
    return Scene(alice, bob, _files_of(alice), _files_of(bob))


def _dump() -> str:
    """Every row of every app (auth, allauth, guardian, sessions included), as JSON text."""
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


def _stored(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by its storage name, with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def _purge(capture: CaptureCallbacks, *args: str) -> str:
    out = io.StringIO()
    with capture(execute=True):  # the files go once the purge's transaction has committed
        call_command("purge_closed_dmps", *args, stdout=out)
    return out.getvalue()


def _rows_of(patient: Patient, account: User) -> dict[str, int]:
    """The rows that hold the patient's content or decisions, by kind."""
    return {
        "entries": Entry.objects.filter(patient=patient).count(),
        "studies": ImagingStudy.objects.filter(patient=patient).count(),
        "notifications": Notification.objects.filter(
            Q(patient=patient) | Q(recipient=account)
        ).count(),
        "care relations": CareRelation.objects.filter(patient=patient).count(),
        "emergencies": EmergencyAccess.objects.filter(patient=patient).count(),
        "consents": Consent.objects.filter(patient=patient).count(),
        "codes": ActivationCode.objects.filter(patient=patient).count(),
        "dmp grants": PatientUserObjectPermission.objects.filter(content_object=patient).count(),
        "entry grants": EntryUserObjectPermission.objects.filter(
            content_object__patient=patient
        ).count(),
        "submission keys": SubmissionKey.objects.filter(entry__patient=patient).count(),
        "addresses": EmailAddress.objects.filter(user=account).count(),
    }


# --- (1) Nothing of the patient remains, nothing of the others is touched ------------------------


def test_purge_leaves_no_row_and_no_byte_of_the_patient(
    scene: Scene,
    private_storage: Path,
    staging: Path,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    alice, account = scene.alice, scene.alice.user
    assert account is not None
    email = account.email
    # Her content, her identity (the account's e-mail and name, also the label of her own
    # events), and what readers left in the trail (a trend's analyte).
    needles = (MARK, LAB_VALUES[MARK], "9876.54321", "courbe", email, alice.birth_name)
    needles += (account.first_name, account.last_name)
    bob_rows = _rows_of(scene.bob, scene.bob.user)
    before, stored = _dump(), _stored(private_storage)
    # The needles are there to be found (in rows, in the trail, in the PDF and DICOM bytes):
    # without them this test would prove nothing.
    for needle in (*needles, KEPT):
        assert needle in before, needle
    assert sum(MARK.encode() in data for data in stored.values()) >= 3
    assert scene.alice_files | scene.bob_files <= set(stored)
    # One PDF (both versions share it), 2 DICOM files, their 2 previews, the series thumbnail.
    assert len(scene.alice_files) == 6
    assert all(_rows_of(alice, account).values())

    output = _purge(django_capture_on_commit_callbacks)

    assert f"purged DMP {alice.public_id} (early erasure)" in output
    assert alice.insc not in output  # no patient identifier in the cron's log
    after = _dump()
    for needle in needles:
        assert needle not in after, needle
    assert after.count(KEPT) == before.count(KEPT)
    remaining = _stored(private_storage)
    assert set(remaining) == set(stored) - scene.alice_files
    assert not any(MARK.encode() in data for data in remaining.values())
    assert {name: remaining[name] for name in scene.bob_files} == {
        name: stored[name] for name in scene.bob_files
    }
    assert not staging.exists() or not _stored(staging)
    assert not any(_rows_of(alice, account).values())
    assert (
        _rows_of(scene.bob, scene.bob.user) == bob_rows and _files_of(scene.bob) == scene.bob_files
    )

    tombstone = Patient.objects.get(pk=alice.pk)
    assert (tombstone.dmp_status, tombstone.insc) == (DmpStatus.PURGED, alice.insc)
    assert (tombstone.birth_name, tombstone.first_names, tombstone.birth_date) == ("", "", None)
    assert tombstone.user is None and tombstone.closed_at and tombstone.purged_at
    assert all(detail == {} for detail in tombstone.transitions.values_list("detail", flat=True))
    anonymous = User.objects.get(pk=account.pk)
    assert not anonymous.is_active and not anonymous.has_usable_password()
    assert (anonymous.first_name, anonymous.last_name) == ("", "")
    trail_of_alice = AccessEvent.objects.filter(patient=alice)
    assert trail_of_alice.count() > 10  # the proof stays …
    assert not trail_of_alice.exclude(detail="", actor_label="", detail_salt="").exists()  # … mute


# --- (2) The trail verifies after a purge; tampering is still found ------------------------------


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_access_log", stdout=out)
    return out.getvalue()


def test_after_a_purge_the_trail_verifies_and_tampering_is_named(
    scene: Scene, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    _purge(django_capture_on_commit_callbacks)
    assert "Access trail intact" in _verify()  # the purge's events are in the tree now
    erased = AccessEvent.objects.filter(patient=scene.alice, action="emergency_start").get()
    kept = AccessEvent.objects.filter(patient=scene.bob).exclude(detail="").first()
    assert kept is not None
    for event, change in (
        (erased, {"detail": f"{MARK} motif réécrit"}),  # text written back into an erased event
        (erased, {"detail_digest": "0" * 64}),  # its commitment replaced
        (kept, {"detail": "rien vu"}),  # a surviving detail altered
    ):
        original = AccessEvent.objects.filter(pk=event.pk).values(*change).get()
        AccessEvent.objects.filter(pk=event.pk).update(**change)
        with pytest.raises(CommandError, match=rf"Leaf #{event.leaf_index} \(event id {event.pk},"):
            _verify()
        AccessEvent.objects.filter(pk=event.pk).update(**original)
        assert "Access trail intact" in _verify()


# --- (3) The dry run erases nothing and says what would go ----------------------------------------


def test_dry_run_erases_nothing_and_counts_what_would_go(
    scene: Scene,
    private_storage: Path,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    alice = scene.alice
    before, stored = _dump(), _stored(private_storage)
    notifications = _rows_of(alice, alice.user)["notifications"]
    events = AccessEvent.objects.filter(patient=alice).count()

    output = _purge(django_capture_on_commit_callbacks, "--dry-run")

    assert _dump() == before and _stored(private_storage) == stored
    assert Patient.objects.get(pk=alice.pk).dmp_status == DmpStatus.CLOSED
    size = sum(len(stored[name]) for name in scene.alice_files)
    for line in (
        f"would purge DMP {alice.public_id} (early erasure)",
        "  entries: 5 (allergy 1, imaging_study 1, lab_report 1, report 2)",
        f"  stored files: 6, {size} bytes",
        f"  rows records.Notification: {notifications}",
        "  rows imaging.Instance: 2",
        "  rows records.Observation: 1",
        "  rows records.EmergencyAccess: 1",
        "  rows records.EntryUserObjectPermission: 1",
        "  rows identity.PatientUserObjectPermission: 2",
        f"  access events whose details are erased: {events}",
        "1 DMP(s) would be purged.",
    ):
        assert line in output.splitlines(), (line, output)


# --- (4) Purging is idempotent --------------------------------------------------------------------


def test_purge_is_idempotent(
    scene: Scene, django_capture_on_commit_callbacks: CaptureCallbacks
) -> None:
    _purge(django_capture_on_commit_callbacks)
    after = _dump()
    assert "0 DMP(s) purged." in _purge(django_capture_on_commit_callbacks)
    assert dmp_purge(patient=scene.alice) == PurgeReport()
    assert details_erase(patient=scene.alice) == 0
    assert _dump() == after


# --- Faults: never a row without its file; files left behind are swept ---------------------------


def test_a_failed_purge_erases_nothing(
    scene: Scene,
    private_storage: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    before, stored = _dump(), _stored(private_storage)

    def crash(**kwargs: Any) -> int:
        raise RuntimeError("database gone")

    monkeypatch.setattr("records.services.purge.trail.details_erase", crash)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        dmp_purge(patient=scene.alice)
    assert _dump() == before and _stored(private_storage) == stored


def test_files_a_storage_error_leaves_are_swept_as_orphans(
    scene: Scene,
    private_storage: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    def unavailable(name: str) -> None:
        raise OSError("S3 500")

    with monkeypatch.context() as patch:
        patch.setattr(default_storage, "delete", unavailable)
        _purge(django_capture_on_commit_callbacks)
    left = set(_stored(private_storage))
    assert scene.alice_files <= left  # not deleted, and no row points at them any more
    assert not _files_of(scene.alice)
    assert orphans_sweep(grace_seconds=0).objects_removed == len(scene.alice_files)
    assert set(_stored(private_storage)) == left - scene.alice_files


def test_only_a_closed_dmp_past_its_delay_is_purged(scene: Scene, bob: Patient) -> None:
    with pytest.raises(ValidationError, match="closed"):
        dmp_purge(patient=bob)
    Patient.objects.filter(pk=scene.alice.pk).update(
        erasure_due_at=timezone.now() + datetime.timedelta(days=1)
    )
    with pytest.raises(ValidationError, match="retention"):
        dmp_purge(patient=scene.alice)
    assert Entry.objects.filter(patient=scene.alice).count() == 5
