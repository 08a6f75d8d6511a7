"""Fixtures for the imaging tests: private storage and staging in tmp_path, DICOM files with
Alice's identity, an upload helper, and the count of what exists (rows and stored objects)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from identity.models import Patient, User
from imaging.models import ImagingStudy, Instance, Series
from imaging.uploads import STAGING_PREFIX
from records.models import Entry

from . import dicom_factory as F


@pytest.fixture(autouse=True)
def private_storage(settings: Any, tmp_path: Path) -> Path:
    """Every test stores under tmp_path (never var/private); staging too."""
    location = tmp_path / "private"
    location.mkdir()
    settings.MEDIA_ROOT = location
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location), "base_url": None},
        },
    }
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(uploads)
    return location


@pytest.fixture
def upload_tmp(tmp_path: Path) -> Path:
    """Where Django's temporary upload files and our ZIP expansions go during a request."""
    return tmp_path / "uploads"


@pytest.fixture
def staging_dir(private_storage: Path) -> Path:
    """Where staged uploads are on the (local) private storage."""
    return private_storage / STAGING_PREFIX


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


@dataclass(frozen=True)
class Census:
    """How many rows and stored objects exist: to show that nothing was kept."""

    studies: int
    series: int
    instances: int
    entries: int
    files: int
    staged: int

    @classmethod
    def take(cls, root: Path, staging: Path | None = None) -> Census:
        staged = len(list(staging.rglob("*"))) if staging and staging.exists() else 0
        return cls(
            ImagingStudy.objects.count(),
            Series.objects.count(),
            Instance.objects.count(),
            Entry.objects.filter(kind="imaging_study").count(),
            len(stored_files(root)),
            staged,
        )


EMPTY = Census(0, 0, 0, 0, 0, 0)


def alice_identity(ds: Dataset) -> Dataset:
    """The identity of the cast's Alice (tests/cast.py) in a dataset."""
    ds.PatientName = "DUPONT^ALICE^MARIE"
    ds.PatientBirthDate = "19850514"
    ds.PatientSex = "F"
    ds.PatientID = "IPP-0042"
    return ds


def ct_series(
    count: int,
    *,
    size: int = 32,
    study_uid: str | None = None,
    series_uid: str | None = None,
    identity: bool = True,
) -> list[bytes]:
    """``count`` small CT slices of one series (Alice's identity unless told otherwise)."""
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    files = []
    for number in range(1, count + 1):
        ds = F.ct_slice(size, size, seed=number)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.InstanceNumber = number
        if identity:
            alice_identity(ds)
        files.append(F.to_bytes(ds))
    return files


def one_ct(**kwargs: Any) -> bytes:
    return ct_series(1, **kwargs)[0]


def as_uploads(files: Iterable[bytes | tuple[str, bytes]]) -> list[SimpleUploadedFile]:
    uploads = []
    for index, item in enumerate(files):
        name, data = item if isinstance(item, tuple) else (f"image-{index}.dcm", item)
        uploads.append(SimpleUploadedFile(name, data, content_type="application/dicom"))
    return uploads


def zip_of(members: Iterable[tuple[str, bytes]], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload_url(patient: Patient) -> str:
    return reverse("imaging:patient_studies", args=[patient.public_id])


def upload(client: Client, patient: Patient, files: Iterable[Any], **data: Any) -> Any:
    return client.post(upload_url(patient), {"files": as_uploads(files), **data})


def deposit(
    actor: User,
    patient: Patient,
    files: Iterable[bytes],
    folder: Path,
    *,
    previews: bool = True,
    **kwargs: Any,
) -> ImagingStudy | None:
    """Import files through the real service (as the upload view does), previews made."""
    from imaging.ingest import inspect_paths
    from imaging.previews import previews_make
    from imaging.services.imports import study_import

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for data in files:
        path = folder / f"f{len(list(folder.iterdir()))}.dcm"
        path.write_bytes(data)
        paths.append((path.name, path))
    with inspect_paths(paths) as inspection:
        assert not inspection.refusals, inspection.refusals
        result = study_import(
            actor=actor, patient=patient, candidates=inspection.candidates, **kwargs
        )
    if previews:
        previews_make(instance_ids=result.instance_ids)
    return result.studies[0] if result.studies else None


@pytest.fixture
def study(doctor: Any, alice: Patient, tmp_path: Path) -> ImagingStudy:
    """Alice's CT study (3 slices), deposited by her médecin traitant, previews made."""
    made = deposit(doctor.user, alice, ct_series(3), tmp_path / "in")
    assert made is not None
    return ImagingStudy.objects.select_related("entry").get(pk=made.pk)
