"""Inspection of an upload: :func:`inspect_dicom` and what it returns.

The results (:class:`DicomInfo`, :class:`WindowPreset`), :func:`_parse`
(every structural check, in order; rendering parses through it too), the
description of an accepted file, preamble sanitising (:func:`zero_preamble`,
:func:`copy_sanitized`, :func:`sanitized_bytes`), and the per-frame
attributes (functional groups, windows, spacing, aspect) that inspection and
rendering both read.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import struct
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from imaging.dicom.parse import (
    _as_float,
    _as_int,
    _check_depth,
    _check_encapsulated,
    _check_magic,
    _check_native,
    _check_sop_class,
    _check_transfer_syntax,
    _check_uids,
    _Fragments,
    _Geometry,
    _geometry,
    _get,
    _locate_pixels,
    _Meta,
    _opened,
    _Pixels,
    _read_dataset,
    _read_meta,
    _read_offset_table,
    _scan_fragments,
    _text,
)
from imaging.dicom.rules import (
    CT_PRESETS,
    DEFAULT_LIMITS,
    GREY,
    IMAGE_SOP_CLASSES,
    IMPLICIT_LE,
    LOSSY_SYNTAXES,
    MEDIA_STORAGE_DIRECTORY,
    MIB,
    NATIVE_SYNTAXES,
    DicomRejected,
    Limits,
    Source,
    _failures_as,
)

# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class WindowPreset:
    """A window (centre/width in modality units, e.g. Hounsfield) offered in the viewer."""

    label: str
    center: float
    width: float
    explanation: str
    from_file: bool


@dataclass(frozen=True)
class DicomInfo:
    """What an accepted file says about itself; strings are returned as given.

    Patient and study texts are *not* escaped (they may contain ``<script>``):
    escaping is the template's job. NUL characters are removed (PostgreSQL
    refuses them) and each text is capped at 1024 characters.
    """

    size: int
    sha256: str  # of the content to store (preamble zeroed)
    original_sha256: str  # of the bytes as uploaded
    preamble_was_nonzero: bool
    preamble_kind: str | None  # "MZ", "ELF", "other" or None
    transfer_syntax_uid: str
    sop_class_uid: str
    sop_class_label: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    patient_name: str
    patient_id: str
    patient_birth_date: str
    patient_sex: str
    modality: str
    body_part: str
    study_date: str
    study_time: str
    accession_number: str
    study_description: str
    series_description: str
    series_number: int | None
    instance_number: int | None
    rows: int
    columns: int
    number_of_frames: int
    samples_per_pixel: int
    photometric_interpretation: str
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    lossy_compression: bool
    window_presets: tuple[WindowPreset, ...] = field(default_factory=tuple)


# -------------------------------------------------------------------------- inspect


@dataclass(frozen=True)
class _Parsed:
    meta: _Meta
    sop_class: str
    ds: Dataset
    geo: _Geometry
    pixels: _Pixels
    size: int
    frags: _Fragments | None  # None for native pixel data
    limits: Limits


def _extended_offsets(ds: Dataset) -> tuple[int, ...]:
    """Offsets of the Extended Offset Table (used when the basic one is empty)."""
    raw = _get(ds, "ExtendedOffsetTable")
    if not isinstance(raw, bytes) or len(raw) % 8:
        return ()
    return struct.unpack(f"<{len(raw) // 8}Q", raw)


def _parse(fp: IO[bytes], size: int, limits: Limits, *, scan: bool = True) -> _Parsed:
    """Every structural check, in the order that keeps hostile files cheap.

    ``scan=False`` (rendering) skips walking every fragment when an offset
    table locates the frames; the frame read is then checked on its own.
    """
    preamble = _check_magic(fp, size, limits)
    meta = _read_meta(fp, size, preamble, limits)
    _check_transfer_syntax(meta.transfer_syntax)
    if meta.sop_class == MEDIA_STORAGE_DIRECTORY:
        raise DicomRejected("dicomdir")
    ds, pixel_pos = _read_dataset(fp, size, limits)
    _check_depth(ds, limits.max_sequence_depth)
    sop_class = _check_sop_class(ds, meta)
    geo = _geometry(ds, limits)
    pixels = _locate_pixels(fp, pixel_pos, size, meta.transfer_syntax == IMPLICIT_LE)
    frags = None
    if meta.transfer_syntax in NATIVE_SYNTAXES:
        _check_native(pixels, geo, size)
    else:
        frags = _fragments(fp, pixels, size, limits, ds, geo, scan)
        if frags.scanned:
            _check_encapsulated(fp, frags, geo, meta.transfer_syntax)
    return _Parsed(meta, sop_class, ds, geo, pixels, size, frags, limits)


def _fragments(
    fp: IO[bytes],
    pixels: _Pixels,
    size: int,
    limits: Limits,
    ds: Dataset,
    geo: _Geometry,
    scan: bool,
) -> _Fragments:
    """Fragment layout; without ``scan``, a sane offset table is enough.

    Rendering one frame of a 200-frame file must not walk 200 fragments: with
    one offset per frame in increasing order, only that frame's items are read
    (and checked) later, by :func:`_walk_frame`.
    """
    if pixels.length != 0xFFFFFFFF:
        raise DicomRejected("bad_pixel_data")
    offsets = _read_offset_table(fp, pixels.value_offset, limits) or _extended_offsets(ds)
    ordered = all(a < b for a, b in itertools.pairwise(offsets))
    if not scan and len(offsets) == geo.frames and ordered and offsets[0] == 0:
        return _Fragments(offsets, (), (), fp.tell(), scanned=False)
    frags = _scan_fragments(fp, pixels, size, limits)
    return replace(frags, offsets=frags.offsets or _extended_offsets(ds))


def _preamble_kind(preamble: bytes) -> str | None:
    if not any(preamble):
        return None
    if preamble.startswith(b"MZ"):
        return "MZ"
    if preamble.startswith(b"\x7fELF"):
        return "ELF"
    return "other"


def _hashes(fp: IO[bytes], preamble: bytes) -> tuple[str, str]:
    """(sha256 of the content to store, sha256 of the original bytes)."""
    original = hashlib.sha256(preamble)
    stored = hashlib.sha256(bytes(128)) if any(preamble) else original
    fp.seek(128)
    while chunk := fp.read(MIB):
        original.update(chunk)
        if stored is not original:
            stored.update(chunk)
    return stored.hexdigest(), original.hexdigest()


def inspect_dicom(source: Source, limits: Limits = DEFAULT_LIMITS) -> DicomInfo:
    """Validate an uploaded file as a DICOM image and describe it.

    ``source`` is a path or a seekable binary file (its position is restored).
    Nothing is decoded: structure, allow-lists, UIDs, declared sizes against
    ``limits`` and the presence of every frame's pixel data are checked.
    Raises :class:`DicomRejected` (never another exception) when refused.
    A non-zero preamble (``MZ``/ELF polyglot) is accepted but flagged: store
    the bytes from :func:`copy_sanitized`, whose hash is ``sha256``.
    """
    with _failures_as("unreadable"), _opened(source) as (fp, size):
        return _inspected(fp, _parse(fp, size, limits))


def _inspected(fp: IO[bytes], parsed: _Parsed) -> DicomInfo:
    uids = _check_uids(parsed.ds, parsed.meta)
    sha, original_sha = _hashes(fp, parsed.meta.preamble)
    return _describe(parsed, sha, original_sha, uids)


def _describe(
    parsed: _Parsed, sha: str, original_sha: str, uids: tuple[str, str, str]
) -> DicomInfo:
    ds, geo, meta = parsed.ds, parsed.geo, parsed.meta
    sop_class = parsed.sop_class
    lossy = meta.transfer_syntax in LOSSY_SYNTAXES or _text(ds, "LossyImageCompression") == "01"
    return DicomInfo(
        size=parsed.size,
        sha256=sha,
        original_sha256=original_sha,
        preamble_was_nonzero=any(meta.preamble),
        preamble_kind=_preamble_kind(meta.preamble),
        transfer_syntax_uid=meta.transfer_syntax,
        sop_class_uid=sop_class,
        sop_class_label=IMAGE_SOP_CLASSES[sop_class],
        study_instance_uid=uids[0],
        series_instance_uid=uids[1],
        sop_instance_uid=uids[2],
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        patient_birth_date=_text(ds, "PatientBirthDate"),
        patient_sex=_text(ds, "PatientSex"),
        modality=_text(ds, "Modality"),
        body_part=_text(ds, "BodyPartExamined"),
        study_date=_text(ds, "StudyDate"),
        study_time=_text(ds, "StudyTime"),
        accession_number=_text(ds, "AccessionNumber"),
        study_description=_text(ds, "StudyDescription"),
        series_description=_text(ds, "SeriesDescription"),
        series_number=_as_int(_get(ds, "SeriesNumber")),
        instance_number=_as_int(_get(ds, "InstanceNumber")),
        rows=geo.rows,
        columns=geo.columns,
        number_of_frames=geo.frames,
        samples_per_pixel=geo.samples,
        photometric_interpretation=geo.photometric,
        bits_allocated=geo.bits_allocated,
        bits_stored=geo.bits_stored,
        pixel_representation=int(geo.signed),
        pixel_spacing=_spacing(ds, geo.frames // 2),
        slice_thickness=_as_float(_frame_attr(ds, 0, "PixelMeasuresSequence", "SliceThickness")),
        lossy_compression=lossy,
        window_presets=_presets(ds, geo),
    )


def _presets(ds: Dataset, geo: _Geometry) -> tuple[WindowPreset, ...]:
    if geo.photometric not in GREY:
        return ()
    presets = [
        WindowPreset(label, c, w, "Fenêtre enregistrée par la modalité", True)
        for label, c, w in _file_windows(ds, geo.frames // 2)
    ]
    if _text(ds, "Modality") == "CT":
        presets += [WindowPreset(lab, c, w, why, False) for lab, c, w, why in CT_PRESETS]
    return tuple(presets)


# ------------------------------------------------------------------------- preamble


def zero_preamble(data: bytes) -> bytes:
    """The same file with its 128-byte preamble zeroed (``MZ``/ELF polyglots)."""
    if len(data) < 132 or data[128:132] != b"DICM":
        raise DicomRejected("no_preamble_magic")
    return bytes(128) + data[128:]


def copy_sanitized(source: Source, destination: IO[bytes]) -> str:
    """Stream ``source`` to ``destination`` with the preamble zeroed; return its sha256."""
    digest = hashlib.sha256()
    with _opened(source) as (fp, _size):
        fp.seek(0)
        head = fp.read(128)
        chunk = bytes(len(head))
        while chunk:
            destination.write(chunk)
            digest.update(chunk)
            chunk = fp.read(MIB)
    return digest.hexdigest()


def sanitized_bytes(source: Source) -> bytes:
    """The whole file with its preamble zeroed (small files; else :func:`copy_sanitized`)."""
    buffer = io.BytesIO()
    copy_sanitized(source, buffer)
    return buffer.getvalue()


# --------------------------------------------------------------- per-frame attributes


def _frame_attr(ds: Dataset, index: int, group: str, keyword: str) -> Any:
    """An attribute from the per-frame, then shared functional groups, then top level.

    Enhanced CT/MR keep rescale, window and spacing in functional groups.
    """
    # Tag tests first: most files have no functional groups, and a keyword
    # lookup through pydicom costs ~10x a tag lookup.
    if 0x52009230 not in ds and 0x52009229 not in ds:
        return _get(ds, keyword)
    for sequence, position in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        try:
            inner = _get(_get(ds, sequence)[position], group)
            if inner and keyword in inner[0]:
                return _get(inner[0], keyword)
        except (TypeError, IndexError, KeyError, AttributeError):
            continue  # absent or malformed group: fall back to the top level
    return _get(ds, keyword)


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, MultiValue | list | tuple):
        return list(value)
    return [value]


def _file_windows(ds: Dataset, index: int) -> list[tuple[str, float, float]]:
    centres = _values(_frame_attr(ds, index, "FrameVOILUTSequence", "WindowCenter"))
    widths = _values(_frame_attr(ds, index, "FrameVOILUTSequence", "WindowWidth"))
    names = _values(_frame_attr(ds, index, "FrameVOILUTSequence", "WindowCenterWidthExplanation"))
    found = []
    for i, (c, w) in enumerate(zip(centres, widths, strict=False)):
        centre, width = _as_float(c), _as_float(w)
        if centre is None or width is None or width <= 0:
            continue
        label = str(names[i]).strip()[:64] if i < len(names) and names[i] else ""
        found.append((label or f"Fenêtre {i + 1} du fichier", centre, width))
    return found


def _spacing(ds: Dataset, index: int) -> tuple[float, float] | None:
    """(row spacing, column spacing) in mm, if present and sane."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        values = [
            _as_float(v) for v in _values(_frame_attr(ds, index, "PixelMeasuresSequence", keyword))
        ]
        if len(values) == 2 and all(v is not None and v > 0 for v in values):
            return cast(float, values[0]), cast(float, values[1])
    return None


def _aspect(ds: Dataset, index: int) -> float:
    """Physical height / width of one pixel (1.0 when unknown or absurd)."""
    spacing = _spacing(ds, index)
    if spacing is not None:
        ratio = spacing[0] / spacing[1]
    else:
        values = [_as_float(v) for v in _values(_get(ds, "PixelAspectRatio"))]
        if len(values) != 2 or not all(v is not None and v > 0 for v in values):
            return 1.0
        ratio = cast(float, values[0]) / cast(float, values[1])
    return ratio if 0.1 <= ratio <= 10 else 1.0
