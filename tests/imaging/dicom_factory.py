"""Synthetic DICOM files built in code, for the imaging tests and the benchmark.

Every builder returns either a pydicom ``Dataset`` (write it with :func:`to_bytes`
or :func:`write`) or raw ``bytes`` for the hostile cases that pydicom would refuse
to write. Pixel values are deterministic (seeded noise) so that tests can assert
exact grey levels.

Only pydicom test files that are *already installed locally* may be used
(:func:`local_testdata`): asking pydicom for any other name triggers a network
download, which stalls here.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
MF_GRAYSCALE_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3"
XA_IMAGE = "1.2.840.10008.5.1.4.1.1.12.1"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
RT_PLAN = "1.2.840.10008.5.1.4.1.1.481.5"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"

# Stored value = HU + 1024 for the CT builders (slope 1, intercept -1024).
CT_INTERCEPT = -1024.0


def local_testdata(name: str) -> Path:
    """Path of a test file shipped inside the installed pydicom package.

    Never calls ``pydicom.data.get_testdata_file``: for a name that is not in the
    package it would try to download it.
    """
    path = Path(pydicom.__file__).parent / "data" / "test_files" / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not shipped with the installed pydicom")
    return path


# --------------------------------------------------------------------------- datasets


def base_dataset(
    *,
    sop_class: str = CT_IMAGE,
    modality: str = "CT",
    patient_name: str = "DUPONT^JEANNE",
    patient_id: str = "PAT-0001",
) -> Dataset:
    """A dataset with patient, study and series modules, without pixel data."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F"
    ds.Modality = modality
    ds.StudyDate = "20240315"
    ds.StudyTime = "101500"
    ds.StudyDescription = "TDM thorax"
    ds.SeriesDescription = "Axial 1.25"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 1
    ds.BodyPartExamined = "CHEST"
    ds.AccessionNumber = "A123"
    return ds


def set_pixels(ds: Dataset, arr: np.ndarray, *, photometric: str, bits_stored: int) -> Dataset:
    """Attach native pixel data (frames first, then rows, columns, samples)."""
    samples = 3 if photometric in ("RGB", "YBR_FULL") else 1
    frames = arr.shape[0] if arr.ndim == (4 if samples == 3 else 3) else 1
    shape = arr.shape[1:] if frames > 1 else arr.shape
    ds.Rows, ds.Columns = int(shape[0]), int(shape[1])
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    if samples == 3:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
    ds.file_meta = _meta(ds, ExplicitVRLittleEndian)
    return ds


def ct_phantom(rows: int = 512, cols: int = 512, *, seed: int = 0) -> np.ndarray:
    """HU values: air outside, a soft-tissue disc with noise, a bone ring."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    r = np.hypot((y - rows / 2) / (rows / 2), (x - cols / 2) / (cols / 2))
    hu = np.full((rows, cols), -1000.0)
    hu[r < 0.9] = 1000.0
    hu[r < 0.8] = 40.0 + 30.0 * np.sin(x[r < 0.8] / 17.0)
    hu += rng.normal(0.0, 15.0, size=hu.shape)
    return hu


def ct_slice(
    rows: int = 512,
    cols: int = 512,
    *,
    frames: int = 1,
    window: tuple[float, float] | None = (40.0, 400.0),
    spacing: tuple[float, float] | None = (0.7, 0.7),
    hu: np.ndarray | None = None,
    signed: bool = True,
    seed: int = 0,
) -> Dataset:
    """CT slice(s): int16 (or uint16) stored values, slope 1, intercept -1024."""
    ds = base_dataset()
    if hu is None:
        hu = ct_phantom(rows, cols, seed=seed)
    stored = np.clip(np.round(hu - CT_INTERCEPT), 0, 4095)
    dtype = np.int16 if signed else np.uint16
    arr = stored.astype(dtype)
    if frames > 1:
        # Each frame differs (frame number burnt into a corner) so that a wrong
        # frame index would show.
        stack = np.repeat(arr[None, :, :], frames, axis=0)
        for i in range(frames):
            stack[i, :8, :8] = i
        arr = stack
        ds.SOPClassUID = MF_GRAYSCALE_WORD_SC
    set_pixels(ds, arr, photometric="MONOCHROME2", bits_stored=12)
    ds.RescaleIntercept = CT_INTERCEPT
    ds.RescaleSlope = 1.0
    ds.RescaleType = "HU"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
        ds.WindowCenterWidthExplanation = "MEDIASTIN"
    if spacing is not None:
        ds.PixelSpacing = list(spacing)
    ds.SliceThickness = 1.25
    return ds


def grey(
    values: np.ndarray,
    *,
    bits_stored: int,
    photometric: str = "MONOCHROME2",
    sop_class: str = SECONDARY_CAPTURE,
    modality: str = "OT",
) -> Dataset:
    """A grey image from stored values (dtype decides 8/16 bits and the sign)."""
    ds = base_dataset(sop_class=sop_class, modality=modality)
    return set_pixels(ds, values, photometric=photometric, bits_stored=bits_stored)


def ramp(rows: int, cols: int, lo: int, hi: int, dtype: type[np.generic]) -> np.ndarray:
    """A left-to-right ramp from lo to hi, each column constant."""
    line = np.linspace(lo, hi, cols).round().astype(dtype)
    return np.repeat(line[None, :], rows, axis=0)


def colour_bars(rows: int = 64, cols: int = 96) -> np.ndarray:
    """uint8 RGB: three vertical bars, pure red, green and blue."""
    arr = np.zeros((rows, cols, 3), dtype=np.uint8)
    third = cols // 3
    arr[:, :third, 0] = 255
    arr[:, third : 2 * third, 1] = 255
    arr[:, 2 * third :, 2] = 255
    return arr


def rgb(arr: np.ndarray | None = None, *, sop_class: str = SECONDARY_CAPTURE) -> Dataset:
    """An RGB 8-bit image (colour bars by default)."""
    ds = base_dataset(sop_class=sop_class, modality="OT")
    return set_pixels(ds, colour_bars() if arr is None else arr, photometric="RGB", bits_stored=8)


def rgb_to_ybr_full(arr: np.ndarray) -> np.ndarray:
    """RGB to YCbCr with the full-range (JPEG/JFIF) equations of YBR_FULL."""
    f = arr.astype(np.float64)
    y = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    cb = -0.168736 * f[..., 0] - 0.331264 * f[..., 1] + 0.5 * f[..., 2] + 128
    cr = 0.5 * f[..., 0] - 0.418688 * f[..., 1] - 0.081312 * f[..., 2] + 128
    return np.clip(np.round(np.stack([y, cb, cr], axis=-1)), 0, 255).astype(np.uint8)


def ybr_full(arr: np.ndarray | None = None) -> Dataset:
    """Colour bars stored as YBR_FULL (native)."""
    ds = base_dataset(sop_class=SECONDARY_CAPTURE, modality="OT")
    src = colour_bars() if arr is None else arr
    return set_pixels(ds, rgb_to_ybr_full(src), photometric="YBR_FULL", bits_stored=8)


def palette(rows: int = 32, cols: int = 64) -> Dataset:
    """PALETTE COLOR, 8-bit indices: left half index 0 (red), right half 1 (blue)."""
    ds = base_dataset(sop_class=US_IMAGE, modality="US")
    idx = np.zeros((rows, cols), dtype=np.uint8)
    idx[:, cols // 2 :] = 1
    set_pixels(ds, idx, photometric="PALETTE COLOR", bits_stored=8)
    red = np.zeros(256, dtype="<u2")
    green = np.zeros(256, dtype="<u2")
    blue = np.zeros(256, dtype="<u2")
    red[0] = 0xFFFF
    blue[1] = 0xFFFF
    for name, table in (("Red", red), ("Green", green), ("Blue", blue)):
        setattr(ds, f"{name}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{name}PaletteColorLookupTableData", table.tobytes())
    return ds


def multiframe(frames: int, rows: int = 256, cols: int = 256) -> Dataset:
    """A multi-frame 16-bit grey file; frame i has the value i in its top-left corner."""
    return ct_slice(rows, cols, frames=frames)


def with_overlay(ds: Dataset, plane: np.ndarray, origin: tuple[int, int] = (1, 1)) -> Dataset:
    """A graphic overlay (group 6000) of ``plane`` (0/1) at ``origin`` (1-based row, col)."""
    ds.add_new(0x60000010, "US", plane.shape[0])
    ds.add_new(0x60000011, "US", plane.shape[1])
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", list(origin))
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    packed = np.packbits(plane.astype(np.uint8).ravel(), bitorder="little").tobytes()
    ds.add_new(0x60003000, "OW", packed)
    return ds


# ----------------------------------------------------------------------- compression


def rle(ds: Dataset) -> Dataset:
    """RLE Lossless, encoded by pydicom (pylibjpeg-rle when present)."""
    ds.compress(RLELossless, generate_instance_uid=False)
    return ds


def jpeg2000(ds: Dataset, *, lossless: bool = True) -> Dataset:
    """JPEG 2000 through the pylibjpeg-openjpeg encoder."""
    from pydicom.uid import JPEG2000, JPEG2000Lossless

    if lossless:
        ds.compress(JPEG2000Lossless, generate_instance_uid=False)
    else:
        ds.compress(JPEG2000, j2k_cr=[20], generate_instance_uid=False)
    return ds


def jpeg_baseline(ds: Dataset, *, quality: int = 90) -> Dataset:
    """JPEG baseline (8-bit) encoded with Pillow, one fragment per frame.

    pydicom has no JPEG baseline encoder; Pillow writes a JFIF stream, colour
    images as YCbCr 4:2:0, so the dataset says YBR_FULL_422 as the standard asks.
    """
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    stack = arr if frames > 1 else arr[None, ...]
    encoded = []
    for frame in stack:
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame.astype(np.uint8))).save(
            buf, format="JPEG", quality=quality
        )
        encoded.append(buf.getvalue())
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    if ds.SamplesPerPixel == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.file_meta = _meta(ds, JPEGBaseline8Bit)
    return ds


# --------------------------------------------------------------------------- writing


def _meta(ds: Dataset, transfer_syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.get("SOPClassUID") or SECONDARY_CAPTURE
    meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID") or generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.10.999.1"
    return meta


def to_bytes(
    ds: Dataset,
    *,
    transfer_syntax: str | None = None,
    preamble: bytes | None = None,
) -> bytes:
    """Serialise as a DICOM Part 10 file (preamble, ``DICM``, file meta, dataset)."""
    existing = getattr(ds, "file_meta", None)
    ts = transfer_syntax or (existing.get("TransferSyntaxUID") if existing is not None else None)
    ts = ts or ExplicitVRLittleEndian
    ds.file_meta = _meta(ds, ts)
    if preamble is not None:
        ds.preamble = preamble.ljust(128, b"\0")[:128]
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def write(path: Path, data: Dataset | bytes, *, transfer_syntax: str | None = None) -> Path:
    """Write a dataset (through :func:`to_bytes`) or raw bytes to ``path``."""
    raw = data if isinstance(data, bytes) else to_bytes(data, transfer_syntax=transfer_syntax)
    path.write_bytes(raw)
    return path


# ------------------------------------------------------------------ raw encoding help


def explicit_le(tag: int, vr: str, value: bytes, *, length: int | None = None) -> bytes:
    """One Explicit VR Little Endian element; ``length`` may lie about the value."""
    group, elem = tag >> 16, tag & 0xFFFF
    n = len(value) if length is None else length
    if vr in ("OB", "OW", "OF", "SQ", "UT", "UN", "UC", "UR", "OD", "OL", "OV"):
        return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, n) + value
    return struct.pack("<HH2sH", group, elem, vr.encode(), n) + value


def meta_bytes(
    *,
    transfer_syntax: str = ExplicitVRLittleEndian,
    sop_class: str = CT_IMAGE,
    sop_instance: str | None = None,
    preamble: bytes = b"\0" * 128,
) -> bytes:
    """Preamble, ``DICM`` and a well-formed file meta group."""

    def ui(tag: int, uid: str) -> bytes:
        raw = uid.encode()
        return explicit_le(tag, "UI", raw + b"\0" * (len(raw) % 2))

    body = (
        explicit_le(0x00020001, "OB", b"\0\1")
        + ui(0x00020002, sop_class)
        + ui(0x00020003, sop_instance or generate_uid())
        + ui(0x00020010, transfer_syntax)
        + ui(0x00020012, "1.2.826.0.1.3680043.10.999.1")
    )
    group_length = explicit_le(0x00020000, "UL", struct.pack("<I", len(body)))
    return preamble + b"DICM" + group_length + body


def header_bytes(ds: Dataset, *, transfer_syntax: str = ExplicitVRLittleEndian) -> bytes:
    """Meta plus the dataset *without* pixel data, ready for hand-made elements."""
    clone = Dataset()
    for elem in ds:
        if elem.tag != 0x7FE00010:
            clone.add(elem)
    clone.file_meta = _meta(ds, transfer_syntax)
    buf = io.BytesIO()
    clone.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# -------------------------------------------------------------------- hostile files


def no_preamble(ds: Dataset) -> bytes:
    """A raw dataset: no preamble, no ``DICM``, no file meta."""
    buf = io.BytesIO()
    clone = Dataset()
    for elem in ds:
        clone.add(elem)
    clone.save_as(buf, implicit_vr=False, little_endian=True)
    return buf.getvalue()


def dicm_misplaced(valid: bytes, shift: int = 4) -> bytes:
    """``DICM`` pushed away from offset 128 by a few extra preamble bytes."""
    return b"\0" * shift + valid


def with_preamble(valid: bytes, preamble: bytes) -> bytes:
    """Replace the 128-byte preamble (e.g. by ``MZ`` or ``\\x7fELF`` headers)."""
    return preamble.ljust(128, b"\0")[:128] + valid[128:]


def rle_bomb(rows: int = 20000, cols: int = 20000, *, frames: int = 1) -> bytes:
    """A few hundred bytes of RLE whose header declares ``rows`` x ``cols`` pixels."""
    ds = base_dataset(sop_class=SECONDARY_CAPTURE, modality="OT")
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    if frames > 1:
        ds.NumberOfFrames = frames
    # One segment of replicate runs: each 2-byte run expands to 128 bytes.
    segment = b"\x81\x00" * 100
    frame = struct.pack("<16I", 1, 64, *([0] * 14)) + segment
    ds.PixelData = encapsulate([frame] * frames)
    ds["PixelData"].VR = "OB"
    return to_bytes(ds, transfer_syntax=RLELossless)


def huge_element_length(*, implicit: bool = False) -> bytes:
    """An element declaring ~4 GB of value in a file of a few hundred bytes."""
    ds = base_dataset()
    if implicit:
        head = header_bytes(ds, transfer_syntax=ImplicitVRLittleEndian)
        return head + struct.pack("<HHI", 0x0029, 0x1010, 0xFFFFFFF0) + b"x" * 64
    head = header_bytes(ds)
    return head + explicit_le(0x00291010, "OB", b"x" * 64, length=0xFFFFFFF0)


def nested_sequences(depth: int, *, terminated: bool = True) -> bytes:
    """Sequences nested ``depth`` deep (undefined lengths), optionally never closed."""
    ds = base_dataset()
    head = header_bytes(ds)
    sq_open = struct.pack("<HH2sHI", 0x0029, 0x1020, b"SQ", 0, 0xFFFFFFFF)
    item_open = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    item_close = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    sq_close = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    body = (sq_open + item_open) * depth
    if terminated:
        body += (item_close + sq_close) * depth
    return head + body


def deflated(ds: Dataset) -> bytes:
    """The same dataset in the Deflated Explicit VR Little Endian syntax."""
    return to_bytes(ds, transfer_syntax=DeflatedExplicitVRLittleEndian)


def deflate_bomb(inflated_size: int = 64 * 1024 * 1024) -> bytes:
    """Deflated syntax whose dataset inflates to ``inflated_size`` bytes of OB."""
    meta = meta_bytes(transfer_syntax=DeflatedExplicitVRLittleEndian)
    body = explicit_le(0x00291010, "OB", b"", length=inflated_size)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = comp.compress(body)
    chunk = b"\0" * (1 << 20)
    for _ in range(inflated_size // len(chunk)):
        out += comp.compress(chunk)
    return meta + out + comp.flush()


def with_transfer_syntax_claim(ds: Dataset, transfer_syntax: str) -> bytes:
    """Explicit VR LE content whose file meta claims another transfer syntax."""
    raw = to_bytes(ds, transfer_syntax=ExplicitVRLittleEndian)
    # Keep the dataset, rebuild the meta (so that its group length stays right).
    meta_end = 132 + 12 + struct.unpack_from("<I", raw, 140)[0]
    rest = raw[meta_end:]
    return (
        meta_bytes(
            transfer_syntax=transfer_syntax,
            sop_class=str(ds.SOPClassUID),
            sop_instance=str(ds.SOPInstanceUID),
        )
        + rest
    )


def non_image(sop_class: str) -> Dataset:
    """A dataset of a non-image SOP class (PDF, RT plan, SR...), no pixel data."""
    ds = base_dataset(sop_class=sop_class, modality="DOC")
    if sop_class == ENCAPSULATED_PDF:
        ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
        ds.EncapsulatedDocument = b"%PDF-1.4\n%%EOF\n"
    return ds


def dicomdir() -> bytes:
    """A minimal DICOMDIR: media storage directory SOP class, no image."""
    ds = Dataset()
    ds.FileSetID = "DMP"
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = 0
    ds.FileSetConsistencyFlag = 0
    ds.DirectoryRecordSequence = []
    ds.SOPClassUID = MEDIA_STORAGE_DIRECTORY
    ds.SOPInstanceUID = generate_uid()
    return to_bytes(ds)


def with_uids(ds: Dataset, **uids: str) -> Dataset:
    """Overwrite UIDs with arbitrary (possibly invalid) strings."""
    for keyword, value in uids.items():
        ds[keyword].value = value
    return ds
