"""Demo imaging for the quick start (called by ``manage.py seed_demo``). Idempotent.

Synthetic but plausible studies built in code with pydicom (no downloaded data), deposited
through the real services, so that they pass the same validation, identity check, storage
and preview pipeline as an upload:

* Alice Dupont: a thoraco-abdominal CT (40 axial slices, 512², ellipses of realistic HU:
  fat, muscle, lungs, heart, aorta, liver, kidneys, spine, ribs, table) and a chest X-ray
  (DX), deposited by dr.bernard (radiologist, authorised by Alice here if he is not yet),
  with a CR d'imagerie attached to the CT;
* Bob Leroy: a brain MR (20 axial T2-like slices, 256²), deposited by dr.petit.
"""

from __future__ import annotations

import datetime
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from django.db import transaction
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from identity.models import Patient, User
from imaging.ingest import inspect_paths
from imaging.models import ImagingStudy
from imaging.services.imports import study_import
from records import access
from records.models import AuthorisationReason
from records.services.care import care_authorise

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
IMPLEMENTATION_UID = UID("1.2.826.0.1.3680043.10.999.2")


def demo_uid(*parts: str) -> str:
    """A stable UID (2.25 form, from a name-based UUID): the same on every run, so seeding is
    idempotent."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'dmp-portal-demo:' + '/'.join(parts)).int}"


def _dataset(patient: Patient, *, sop_class: str, study: str, series: str, number: int) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = UID(demo_uid(study, series, str(number)))
    ds.StudyInstanceUID = UID(demo_uid(study))
    ds.SeriesInstanceUID = UID(demo_uid(study, series))
    given = patient.first_names.split()
    ds.PatientName = "^".join([patient.birth_name, *given[:2]]).upper()
    ds.PatientID = f"IPP{patient.pk:07d}"
    if patient.birth_date is not None:
        ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d")
    ds.PatientSex = patient.sex
    ds.InstanceNumber = number
    ds.AccessionNumber = "DEMO" + demo_uid(study)[-8:]
    return ds


def _finish(ds: Dataset, pixels: np.ndarray, *, bits_stored: int) -> Dataset:
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_UID
    ds.file_meta = meta
    return ds


def _ellipse(
    y: np.ndarray, x: np.ndarray, cy: float, cx: float, ry: float, rx: float
) -> np.ndarray:
    mask: np.ndarray = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0
    return mask


# ---------------------------------------------------------------------------- phantoms


def body_ct_slice(z: int, slices: int = 40, size: int = 512, seed: int = 0) -> np.ndarray:
    """One axial slice in HU: thorax at the top of the stack, upper abdomen at the bottom."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = z / max(slices - 1, 1)  # 0 = apex of the lungs, 1 = kidneys
    hu = np.full((size, size), -1000.0, dtype=np.float32)
    hu[(y > 0.86) & (y < 0.885) & (x > 0.1) & (x < 0.9)] = 300.0  # table
    hu[_ellipse(y, x, 0.5, 0.5, 0.33, 0.44)] = -100.0  # subcutaneous fat
    hu[_ellipse(y, x, 0.5, 0.5, 0.31, 0.42)] = 45.0  # muscle wall
    inside = _ellipse(y, x, 0.5, 0.5, 0.27, 0.38)
    hu[inside] = -80.0  # visceral fat
    lung = max(0.0, 1.0 - t * 1.6)
    if lung > 0:
        for cx in (0.34, 0.66):  # lungs, shrinking towards the diaphragm
            hu[_ellipse(y, x, 0.47, cx, 0.2 * lung + 0.02, 0.13 * lung + 0.01) & inside] = -850.0
        for k in range(7):  # ribs around the thorax
            angle = np.pi * (0.15 + 0.7 * k / 6)
            for side in (-1, 1):
                cx = 0.5 + side * 0.4 * np.cos(angle)
                cy = 0.5 - 0.28 * np.sin(angle) * 0.9
                hu[_ellipse(y, x, cy, cx, 0.012, 0.02)] = 700.0
    if 0.2 < t < 0.6:
        hu[_ellipse(y, x, 0.45, 0.55, 0.11, 0.13)] = 45.0  # heart
    if t > 0.45:
        hu[_ellipse(y, x, 0.48, 0.36, 0.16, 0.15) & inside] = 60.0  # liver
        hu[_ellipse(y, x, 0.45, 0.66, 0.07, 0.07) & inside] = 30.0  # stomach wall
        hu[_ellipse(y, x, 0.45, 0.66, 0.055, 0.055) & inside] = -950.0  # gas
    if t > 0.7:
        for cx in (0.36, 0.64):
            hu[_ellipse(y, x, 0.62, cx, 0.06, 0.045)] = 30.0  # kidneys
            hu[_ellipse(y, x, 0.62, cx, 0.025, 0.018)] = 150.0  # contrast in the pelvis
    hu[_ellipse(y, x, 0.6, 0.52, 0.035, 0.035)] = 200.0  # aorta (contrast)
    hu[_ellipse(y, x, 0.7, 0.5, 0.06, 0.06)] = 700.0  # vertebral body
    hu[_ellipse(y, x, 0.7, 0.5, 0.045, 0.045)] = 250.0  # cancellous bone
    hu[_ellipse(y, x, 0.79, 0.5, 0.022, 0.022)] = 20.0  # spinal canal
    hu[_ellipse(y, x, 0.8, 0.5, 0.05, 0.012)] = 700.0  # spinous process
    noise = np.random.default_rng(seed * 1000 + z).normal(0.0, 12.0, size=hu.shape)
    return hu + noise.astype(np.float32)


def chest_xray(rows: int = 1200, cols: int = 1000) -> np.ndarray:
    """A PA chest radiograph (12-bit, higher = brighter): lungs dark, mediastinum, ribs."""
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    y, x = y / rows, x / cols
    img = np.full((rows, cols), 300.0, dtype=np.float32)
    img[_ellipse(y, x, 0.55, 0.5, 0.5, 0.47)] = 2300.0  # soft tissue of the trunk
    for cx in (0.3, 0.7):
        img[_ellipse(y, x, 0.5, cx, 0.3, 0.17)] = 900.0  # lungs
    img[_ellipse(y, x, 0.55, 0.5, 0.32, 0.09)] = 2600.0  # mediastinum
    img[_ellipse(y, x, 0.7, 0.56, 0.12, 0.13)] = 2500.0  # heart shadow
    img[(np.abs(x - 0.5) < 0.03) & (y > 0.12)] = 3000.0  # spine
    for k in range(10):  # posterior ribs, arcs
        cy = 0.25 + k * 0.055
        arc = np.abs(y - (cy + 0.06 * ((x - 0.5) / 0.3) ** 2)) < 0.009
        img[arc & (np.abs(x - 0.5) > 0.05) & (np.abs(x - 0.5) < 0.35)] += 600.0
    for side in (-1, 1):  # clavicles
        clavicle = (
            (np.abs(y - (0.17 + 0.08 * np.abs(x - 0.5))) < 0.012)
            & (side * (x - 0.5) > 0.03)
            & (np.abs(x - 0.5) < 0.3)
        )
        img[clavicle] = 3200.0
    noise = np.random.default_rng(7).normal(0.0, 25.0, size=img.shape)
    return np.clip(img + noise, 0, 4095).astype(np.uint16)


def brain_mr_slice(z: int, slices: int = 20, size: int = 256) -> np.ndarray:
    """A T2-like axial brain slice: bright CSF, grey > white matter, dark skull."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = z / max(slices - 1, 1)
    scale = 0.75 + 0.25 * np.sin(np.pi * (0.2 + 0.8 * t))
    img = np.zeros((size, size), dtype=np.float32)
    img[_ellipse(y, x, 0.5, 0.5, 0.42 * scale, 0.35 * scale)] = 700.0  # scalp fat
    img[_ellipse(y, x, 0.5, 0.5, 0.4 * scale, 0.33 * scale)] = 60.0  # skull
    img[_ellipse(y, x, 0.5, 0.5, 0.37 * scale, 0.3 * scale)] = 900.0  # CSF
    img[_ellipse(y, x, 0.5, 0.5, 0.355 * scale, 0.285 * scale)] = 520.0  # grey matter
    img[_ellipse(y, x, 0.5, 0.5, 0.3 * scale, 0.23 * scale)] = 380.0  # white matter
    if 0.3 < t < 0.75:
        for cx in (0.45, 0.55):
            img[_ellipse(y, x, 0.47, cx, 0.12, 0.025)] = 1000.0  # lateral ventricles
    noise = np.random.default_rng(100 + z).normal(0.0, 12.0, size=img.shape)
    return np.clip(img + noise, 0, 4095).astype(np.uint16)


# ---------------------------------------------------------------------------- studies


def _ct_study(patient: Patient, key: str) -> Iterator[Dataset]:
    slices = 40
    for z in range(slices):
        ds = _dataset(patient, sop_class=CT_IMAGE, study=key, series="ax", number=z + 1)
        ds.Modality, ds.BodyPartExamined = "CT", "CHEST"
        ds.StudyDescription = "TDM thoraco-abdominale injectée"
        ds.SeriesDescription = "Axial 5 mm — parties molles"
        ds.SeriesNumber = 2
        ds.StudyDate, ds.StudyTime = "20250312", "101500"
        ds.SliceThickness, ds.PixelSpacing = 5.0, [0.78, 0.78]
        ds.ImagePositionPatient = [-200.0, -200.0, -5.0 * z]
        ds.SliceLocation = -5.0 * z
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024.0, 1.0, "HU"
        ds.WindowCenter, ds.WindowWidth = [40.0, -600.0], [400.0, 1500.0]
        ds.WindowCenterWidthExplanation = ["MEDIASTIN", "POUMON"]
        stored = np.clip(np.round(body_ct_slice(z, slices) + 1024.0), 0, 4095).astype(np.int16)
        yield _finish(ds, stored, bits_stored=12)


def _xray_study(patient: Patient, key: str) -> Iterator[Dataset]:
    ds = _dataset(patient, sop_class=DX_PRESENTATION, study=key, series="pa", number=1)
    ds.Modality, ds.BodyPartExamined = "DX", "CHEST"
    ds.StudyDescription = "Radiographie thoracique de face"
    ds.SeriesDescription = "Thorax PA"
    ds.SeriesNumber = 1
    ds.StudyDate, ds.StudyTime = "20250110", "091000"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImagerPixelSpacing = ds.PixelSpacing = [0.35, 0.35]
    ds.WindowCenter, ds.WindowWidth = 2000.0, 3600.0
    yield _finish(ds, chest_xray(), bits_stored=12)


def _mr_study(patient: Patient, key: str) -> Iterator[Dataset]:
    slices = 20
    for z in range(slices):
        ds = _dataset(patient, sop_class=MR_IMAGE, study=key, series="t2", number=z + 1)
        ds.Modality, ds.BodyPartExamined = "MR", "HEAD"
        ds.StudyDescription = "IRM cérébrale"
        ds.SeriesDescription = "Axial T2 TSE"
        ds.SeriesNumber = 3
        ds.StudyDate, ds.StudyTime = "20241105", "143000"
        ds.SliceThickness, ds.PixelSpacing = 5.0, [0.9, 0.9]
        ds.WindowCenter, ds.WindowWidth = 500.0, 1000.0
        yield _finish(ds, brain_mr_slice(z, slices), bits_stored=12)


def _deposit(
    actor: User,
    patient: Patient,
    key: str,
    build: Callable[[Patient, str], Iterator[Dataset]],
) -> ImagingStudy | None:
    """Build the files, then import them through the real service (skipped when present)."""
    uid = demo_uid(key)
    if ImagingStudy.objects.filter(patient=patient, study_instance_uid=uid).exists():
        return None
    with tempfile.TemporaryDirectory(prefix="dmp-demo-imaging-") as folder:
        paths = []
        for number, ds in enumerate(build(patient, key)):
            path = Path(folder) / f"{number}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append((path.name, path))
        with inspect_paths(paths) as inspection:
            study_import(actor=actor, patient=patient, candidates=inspection.candidates)
    return ImagingStudy.objects.get(patient=patient, study_instance_uid=uid)


def _authorised(actor: User, patient: Patient) -> None:
    if access.patients_for(actor).filter(pk=patient.pk).exists():
        return
    if patient.user is None:  # pragma: no cover - the demo patients have accounts
        raise RuntimeError("demo patient without an account")
    care_authorise(
        actor=patient.user,
        patient=patient,
        professional=actor.professional,
        reason=AuthorisationReason.PATIENT,
    )


def _ct_report(actor: User, patient: Patient, study: ImagingStudy) -> None:
    """A CR d'imagerie for the CT, attached to it (through the records and imaging services)."""
    from imaging.services.imports import study_attach_report
    from records.services.content import report_deposit

    report = report_deposit(
        actor=actor,
        patient=patient,
        document_type="18748-4",
        title="CR — TDM thoraco-abdominale",
        act_date=datetime.date(2025, 3, 12),
        body=(
            "Indication : bilan de douleurs abdominales.\n"
            "Technique : acquisition hélicoïdale thoraco-abdominale après injection.\n"
            "Résultats : parenchyme pulmonaire sans anomalie ; pas d'épanchement ; foie, "
            "reins et rate d'aspect normal ; aorte de calibre normal.\n"
            "Conclusion : examen sans anomalie notable."
        ),
    )
    study_attach_report(actor=actor, study=study, report=report)


def seed_imaging(patients: dict[str, Patient], accounts: dict[str, User]) -> int:
    """Alice's CT (with its report) and chest X-ray by dr.bernard; Bob's brain MR by dr.petit.

    Returns the number of studies created (0 when everything was already there).
    """
    alice, bob = patients["alice.dupont"], patients["bob.leroy"]
    bernard, petit = accounts["dr.bernard"], accounts["dr.petit"]
    created = 0
    with transaction.atomic():
        _authorised(bernard, alice)
    ct = _deposit(bernard, alice, "alice-ct", _ct_study)
    if ct is not None:
        created += 1
        _ct_report(bernard, alice, ct)
    created += _deposit(bernard, alice, "alice-xray", _xray_study) is not None
    created += _deposit(petit, bob, "bob-mr", _mr_study) is not None
    return created
