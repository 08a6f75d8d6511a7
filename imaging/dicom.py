"""Pure DICOM core: validation of uploaded files and thumbnail rendering.

Framework-free on purpose (no Django import): the ingest service calls
:func:`inspect_dicom` on every upload *before* anything is stored, then
:func:`render_thumbnail_png` to build the preview, or both at once with
:func:`inspect_and_thumbnail` (one header parse). The viewer calls
:func:`render_frame`. Every refusal is a :class:`DicomRejected` carrying a
stable machine ``code`` and a French ``message`` for the user.

Hostile files are the normal case here (QUALITY.md §1): the file is judged by
its content only, every size read from the file is checked against
:class:`Limits` before memory is spent on it, and pydicom's exceptions (or its
silent acceptance of truncated data) never reach the caller.

Rendering is built for speed (QUALITY.md §6): one uint8 lookup table over the
whole stored-value range replaces float maths on the image, large native
images are read one row in ``step``, and one frame of a multi-frame file is
read without touching the others.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import io
import itertools
import logging
import math
import os
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import IO, Any, cast

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

__all__ = [
    "DicomInfo",
    "DicomRejected",
    "Limits",
    "WindowPreset",
    "copy_sanitized",
    "inspect_and_thumbnail",
    "inspect_dicom",
    "install_pillow_guards",
    "render_frame",
    "render_thumbnail_png",
    "sanitized_bytes",
    "zero_preamble",
]

PILLOW_MAX_PIXELS = 1 << 26  # 64 Mpx: a 48 Mpx photo passes, a 50 000 x 50 000 header does not


def install_pillow_guards() -> None:
    """Cap Pillow's image size and make its decompression-bomb *warning* an error.

    Pillow only warns between ``MAX_IMAGE_PIXELS`` and twice that. Called at
    import; call it again from ``AppConfig.ready()``: a warning filter added
    while the module is imported inside ``warnings.catch_warnings()`` (as
    pytest does during collection) is dropped when that block exits.
    """
    Image.MAX_IMAGE_PIXELS = PILLOW_MAX_PIXELS
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


install_pillow_guards()

Source = str | os.PathLike[str] | IO[bytes]

LOGGER = logging.getLogger(__name__)

MIB = 1024 * 1024

# ----------------------------------------------------------------------------- errors

MESSAGES: dict[str, str] = {
    "empty": "Le fichier est vide.",
    "too_large": "Le fichier dépasse la taille maximale autorisée pour une image DICOM.",
    "not_dicom": "Ce fichier n'est pas un fichier DICOM.",
    "no_preamble_magic": (
        "Ce fichier n'est pas un fichier DICOM conforme : le marqueur « DICM » "
        "est absent ou mal placé."
    ),
    "truncated_meta": "L'en-tête DICOM (méta-informations du fichier) est incomplet ou illisible.",
    "deflate_refused": (
        "La syntaxe de transfert « Deflated » n'est pas acceptée : renvoyez l'image "
        "non compressée ou compressée en JPEG, JPEG 2000 ou RLE."
    ),
    "transfer_syntax_refused": (
        "La syntaxe de transfert de ce fichier DICOM n'est pas prise en charge."
    ),
    "dicomdir": (
        "Ce fichier est un répertoire DICOMDIR, pas une image : déposez les fichiers "
        "d'images eux-mêmes."
    ),
    "sop_class_refused": (
        "Ce fichier DICOM ne contient pas une image prise en charge (document PDF, "
        "plan de traitement, compte rendu structuré ou type inconnu)."
    ),
    "unreadable": "Le contenu du fichier DICOM est illisible ou corrompu.",
    "truncated": "Le fichier DICOM est tronqué : des éléments de l'en-tête sont incomplets.",
    "element_too_long": "Le fichier DICOM contient un élément de taille démesurée.",
    "too_deep": "Le fichier DICOM contient des séquences imbriquées trop profondément.",
    "bad_uid": "Un identifiant DICOM (UID d'étude, de série ou d'instance) est absent ou invalide.",
    "bad_header": (
        "Les attributs décrivant l'image (lignes, colonnes, bits, nombre d'images) "
        "sont absents ou incohérents."
    ),
    "pixel_format_refused": "Le format des pixels de cette image n'est pas pris en charge.",
    "dimensions_too_large": "Les dimensions déclarées de l'image dépassent les limites autorisées.",
    "no_pixel_data": "Le fichier DICOM ne contient pas de données d'image.",
    "truncated_pixels": "Les données d'image sont incomplètes : le fichier est tronqué.",
    "bad_pixel_data": "Les données d'image sont mal formées.",
    "dimensions_mismatch": (
        "Les dimensions de l'image compressée ne correspondent pas à celles "
        "déclarées dans l'en-tête DICOM."
    ),
    "decode_failed": "L'aperçu de cette image n'a pas pu être produit.",
}


class DicomRejected(Exception):
    """A file refused as DICOM image, or an image that could not be rendered.

    ``code`` is stable and meant for machines (access events, tests);
    ``message`` is a French sentence to show the user.
    """

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, MESSAGES["unreadable"])
        super().__init__(f"{code}: {self.message}")


# ----------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class Limits:
    """Caps applied before any large allocation; all sizes in bytes.

    The defaults accept every realistic clinical image (a 4096 x 5000 16-bit
    mammogram is 40 MiB, a 1000-frame cine ultrasound well under 1 GiB) while
    keeping a worker within a few hundred MiB on a hostile file.
    """

    #: whole file, as uploaded
    max_file_bytes: int = 512 * MIB
    #: declared Rows / Columns
    max_rows: int = 16384
    max_columns: int = 16384
    #: declared Number of Frames
    max_frames: int = 4000
    #: one decoded frame (what a thumbnail allocates)
    max_frame_bytes: int = 256 * MIB
    #: all decoded frames together (Rows x Columns x Frames x bytes x samples)
    max_pixel_bytes: int = 1024 * MIB
    #: everything pydicom reads before the pixel data (so any one element too)
    max_header_bytes: int = 64 * MIB
    #: file meta group (0002,xxxx)
    max_meta_bytes: int = 64 * 1024
    #: nesting of sequences in the header (Enhanced MR needs 3)
    max_sequence_depth: int = 16
    #: items of encapsulated pixel data
    max_fragments: int = 65536


DEFAULT_LIMITS = Limits()

# ----------------------------------------------------------------------- allow-lists

DEFLATED = "1.2.840.10008.1.2.1.99"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
RLE = "1.2.840.10008.1.2.5"
NATIVE_SYNTAXES = frozenset({IMPLICIT_LE, EXPLICIT_LE})
JPEG_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",  # baseline
        "1.2.840.10008.1.2.4.51",  # extended (12-bit)
        "1.2.840.10008.1.2.4.57",  # lossless
        "1.2.840.10008.1.2.4.70",  # lossless, first-order prediction
    }
)
JPEG_LS_SYNTAXES = frozenset({"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"})
J2K_SYNTAXES = frozenset({"1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"})
LOSSY_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.91",
    }
)
# Big endian (retired in 2006) is refused: no modality still writes it, and
# every accepted syntax then shares one byte order.
ENCAPSULATED_CANDIDATES = JPEG_SYNTAXES | JPEG_LS_SYNTAXES | J2K_SYNTAXES | {RLE}

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"

IMAGE_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.1": "CR",
    "1.2.840.10008.5.1.4.1.1.1.1": "DX (présentation)",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "DX (traitement)",
    "1.2.840.10008.5.1.4.1.1.1.2": "Mammographie (présentation)",
    "1.2.840.10008.5.1.4.1.1.1.2.1": "Mammographie (traitement)",
    "1.2.840.10008.5.1.4.1.1.1.3": "Radiographie intra-orale (présentation)",
    "1.2.840.10008.5.1.4.1.1.1.3.1": "Radiographie intra-orale (traitement)",
    "1.2.840.10008.5.1.4.1.1.2": "Scanner (CT)",
    "1.2.840.10008.5.1.4.1.1.2.1": "Scanner (CT) multi-images (Enhanced)",
    "1.2.840.10008.5.1.4.1.1.3.1": "Échographie multi-images",
    "1.2.840.10008.5.1.4.1.1.4": "IRM (MR)",
    "1.2.840.10008.5.1.4.1.1.4.1": "IRM (MR) multi-images (Enhanced)",
    "1.2.840.10008.5.1.4.1.1.6.1": "Échographie",
    "1.2.840.10008.5.1.4.1.1.7": "Capture secondaire",
    "1.2.840.10008.5.1.4.1.1.7.1": "Capture secondaire multi-images 1 bit",
    "1.2.840.10008.5.1.4.1.1.7.2": "Capture secondaire multi-images 8 bits",
    "1.2.840.10008.5.1.4.1.1.7.3": "Capture secondaire multi-images 16 bits",
    "1.2.840.10008.5.1.4.1.1.7.4": "Capture secondaire multi-images couleur",
    "1.2.840.10008.5.1.4.1.1.12.1": "Angiographie (XA)",
    "1.2.840.10008.5.1.4.1.1.12.1.1": "Angiographie (XA) multi-images",
    "1.2.840.10008.5.1.4.1.1.12.2": "Radioscopie (RF)",
    "1.2.840.10008.5.1.4.1.1.12.2.1": "Radioscopie (RF) multi-images",
    "1.2.840.10008.5.1.4.1.1.20": "Médecine nucléaire (NM)",
    "1.2.840.10008.5.1.4.1.1.128": "TEP (PET)",
    "1.2.840.10008.5.1.4.1.1.77.1.4": "Photographie (VL)",
    "1.2.840.10008.5.1.4.1.1.77.1.5.1": "Photographie ophtalmique 8 bits",
    "1.2.840.10008.5.1.4.1.1.77.1.5.2": "Photographie ophtalmique 16 bits",
}

#: (label, centre, width, explanation) offered for CT in Hounsfield units.
CT_PRESETS: tuple[tuple[str, float, float, str], ...] = (
    ("Tissus mous", 40.0, 400.0, "Médiastin, abdomen, muscles"),
    ("Poumon", -600.0, 1500.0, "Parenchyme pulmonaire"),
    ("Os", 400.0, 1800.0, "Structures osseuses"),
    ("Cerveau", 40.0, 80.0, "Parenchyme cérébral"),
    ("Foie", 60.0, 160.0, "Parenchyme hépatique après injection"),
)

GREY = frozenset({"MONOCHROME1", "MONOCHROME2"})
COLOUR = frozenset({"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"})
PALETTE = "PALETTE COLOR"

_UID_RE = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_TEXT_CAP = 1024  # characters kept from any free-text attribute


@lru_cache(maxsize=1)
def accepted_transfer_syntaxes() -> frozenset[str]:
    """Transfer syntaxes accepted here: native LE plus every codec that is installed."""
    from pydicom.pixels import get_decoder

    accepted = set(NATIVE_SYNTAXES)
    for uid in ENCAPSULATED_CANDIDATES:
        with contextlib.suppress(Exception):
            if get_decoder(uid).is_available:
                accepted.add(uid)
    return frozenset(accepted)


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


# ------------------------------------------------------------------------ file access


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[tuple[IO[bytes], int]]:
    """Yield a seekable binary file and its size; a caller's file keeps its position."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as opened:
            yield opened, os.fstat(opened.fileno()).st_size
        return
    fp = source
    start = fp.tell()
    try:
        size = fp.seek(0, io.SEEK_END)
        fp.seek(0)
        yield fp, size
    finally:
        fp.seek(start)


class _BoundedReader(io.RawIOBase):
    """File view handed to pydicom: no read past the end, none beyond a budget.

    pydicom trusts element lengths: ``read(0xFFFFFFF0)`` would ask for 4 GB and
    it accepts short reads silently. Here a read cut short by the end of the
    file, or a seek past it, marks the file truncated (an empty read exactly
    at the end is how pydicom finds the end of a dataset, so it is not); a
    read beyond the header budget marks it oversized and jumps to the end so
    that parsing stops at once.
    """

    def __init__(self, fp: IO[bytes], size: int, budget: int) -> None:
        super().__init__()
        self._fp = fp
        self._size = size
        self._budget = budget
        self.truncated = False
        self.too_long = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._fp.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = self._fp.seek(offset, whence)
        if target > self._size:
            self.truncated = True
        return target

    def read(self, n: int | None = -1) -> bytes:
        pos = self._fp.tell()
        remaining = max(self._size - pos, 0)
        wanted = remaining if n is None or n < 0 else n
        if wanted > self._budget:
            self.too_long = True
            self._fp.seek(self._size)
            return b""
        if wanted > remaining:
            self.truncated = self.truncated or remaining > 0
            wanted = remaining
        data = self._fp.read(wanted)
        self._budget -= len(data)
        return data


# ---------------------------------------------------------------------- meta parsing


@dataclass(frozen=True)
class _Meta:
    transfer_syntax: str
    sop_class: str
    sop_instance: str
    preamble: bytes


_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"})


def _check_magic(fp: IO[bytes], size: int, limits: Limits) -> bytes:
    """Return the 128-byte preamble once size and the ``DICM`` marker are right."""
    if size == 0:
        raise DicomRejected("empty")
    if size > limits.max_file_bytes:
        raise DicomRejected("too_large")
    fp.seek(0)
    head = fp.read(1024)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return head[:128]
    # A raw dataset starts with a group 0002 or 0008 tag; a misplaced marker
    # is still DICOM intent. Both are refused, with a more helpful code.
    group = struct.unpack("<H", head[:2])[0] if len(head) >= 2 else -1
    if b"DICM" in head or group in (0x0002, 0x0008):
        raise DicomRejected("no_preamble_magic")
    raise DicomRejected("not_dicom")


def _read_meta(fp: IO[bytes], size: int, preamble: bytes, limits: Limits) -> _Meta:
    """Parse the file meta group ourselves, before pydicom sees the dataset.

    Done by hand so that a Deflated or unknown transfer syntax is refused
    before pydicom inflates (up to 1 GB) or guesses anything.
    """
    fp.seek(132)
    values: dict[int, bytes] = {}
    declared_end: int | None = None
    while fp.tell() - 132 <= limits.max_meta_bytes:
        head = fp.read(8)
        if len(head) < 8 or struct.unpack("<H", head[:2])[0] != 0x0002:
            break
        element = struct.unpack("<H", head[2:4])[0]
        length = struct.unpack("<H", head[6:8])[0]
        if head[4:6] in _LONG_VRS:
            extra = fp.read(4)
            length = struct.unpack("<I", extra)[0] if len(extra) == 4 else 1 << 32
        if length > limits.max_meta_bytes or fp.tell() + length > size:
            raise DicomRejected("truncated_meta")
        values[element] = fp.read(length)
        if element == 0x0000 and length == 4:
            declared_end = fp.tell() + struct.unpack("<I", values[0])[0]
    if declared_end is not None and declared_end >= size:
        raise DicomRejected("truncated_meta")
    try:
        uids = [values[k].rstrip(b"\0 ").decode("ascii") for k in (0x0010, 0x0002, 0x0003)]
    except (KeyError, UnicodeDecodeError) as exc:
        raise DicomRejected("truncated_meta") from exc
    return _Meta(uids[0], uids[1], uids[2], preamble)


def _check_transfer_syntax(uid: str) -> None:
    if uid == DEFLATED:
        raise DicomRejected("deflate_refused")
    if uid not in accepted_transfer_syntaxes():
        raise DicomRejected("transfer_syntax_refused")


# ------------------------------------------------------------------- dataset parsing


def _read_dataset(fp: IO[bytes], size: int, limits: Limits) -> tuple[Dataset, int]:
    """The dataset up to (not including) the pixel data, and where that starts."""
    reader = _BoundedReader(fp, size, limits.max_header_bytes)
    reader.seek(0)
    try:
        # No warnings.catch_warnings() here: it swaps the process-wide filters
        # and is not thread-safe (it could drop the Pillow bomb filter above).
        ds = dcmread(cast(Any, reader), stop_before_pixels=True)
    except RecursionError as exc:
        raise DicomRejected("too_deep") from exc
    except MemoryError as exc:
        raise DicomRejected("element_too_long") from exc
    except Exception as exc:
        if reader.too_long:
            raise DicomRejected("element_too_long") from exc
        raise DicomRejected("unreadable") from exc
    if reader.too_long:
        raise DicomRejected("element_too_long")
    if reader.truncated:
        raise DicomRejected("truncated")
    return ds, reader.tell()


def _check_depth(ds: Dataset, max_depth: int) -> None:
    """Refuse deep sequence nesting (iteratively: no recursion of our own)."""
    stack: list[tuple[Dataset, int]] = [(ds, 0)]
    try:
        while stack:
            current, depth = stack.pop()
            for elem in current.elements():
                if _vr(elem) != "SQ":
                    continue
                if depth + 1 > max_depth:
                    raise DicomRejected("too_deep")
                stack.extend((item, depth + 1) for item in current[elem.tag].value)
    except DicomRejected:
        raise
    except RecursionError as exc:
        raise DicomRejected("too_deep") from exc
    except Exception as exc:
        raise DicomRejected("unreadable") from exc


def _vr(elem: Any) -> str | None:
    """VR of a possibly raw element; implicit VR files only have the dictionary's."""
    if elem.VR:
        return str(elem.VR)
    try:
        return str(dictionary_VR(elem.tag))
    except KeyError:
        return None


def _get(ds: Dataset, keyword: str) -> Any:
    """An attribute value, or None when absent or unreadable (never raises)."""
    try:
        return ds.get(keyword)
    except Exception:
        return None


def _first(value: Any) -> Any:
    if isinstance(value, MultiValue | list | tuple):
        return value[0] if len(value) else None
    return value


def _as_int(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def _as_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _text(ds: Dataset, keyword: str) -> str:
    value = _get(ds, keyword)
    if value is None:
        return ""
    try:
        # Several values are shown as DICOM writes them: separated by "\".
        text = "\\".join(map(str, value)) if isinstance(value, MultiValue) else str(value)
    except Exception:
        return ""
    return text.replace("\0", "")[:_TEXT_CAP]


def _is_uid(value: str) -> bool:
    return 0 < len(value) <= 64 and _UID_RE.fullmatch(value) is not None


def _check_sop_class(ds: Dataset, meta: _Meta) -> str:
    """The image SOP class, or a refusal (DICOMDIR, PDF, RT plan, SR, unknown)."""
    sop_class = str(_get(ds, "SOPClassUID") or "").strip()
    if MEDIA_STORAGE_DIRECTORY in (sop_class, meta.sop_class) or "DirectoryRecordSequence" in ds:
        raise DicomRejected("dicomdir")
    # The meta must not disguise another class: both must be images.
    if sop_class not in IMAGE_SOP_CLASSES or meta.sop_class not in IMAGE_SOP_CLASSES:
        raise DicomRejected("sop_class_refused")
    return sop_class


def _check_uids(ds: Dataset, meta: _Meta) -> tuple[str, str, str]:
    """Study, series and SOP instance UIDs, each syntactically valid."""
    found = []
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        value = _get(ds, keyword)
        text = str(value).strip() if isinstance(value, str) else ""
        if not _is_uid(text):
            raise DicomRejected("bad_uid")
        found.append(text)
    if not _is_uid(meta.sop_instance):
        raise DicomRejected("bad_uid")
    return found[0], found[1], found[2]


# ------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Geometry:
    rows: int
    columns: int
    frames: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    planar: int

    @property
    def frame_bytes(self) -> int:
        """Bytes of one native frame (YBR_FULL_422 is stored subsampled)."""
        if self.photometric == "YBR_FULL_422":
            return self.rows * self.columns * 2
        return (self.rows * self.columns * self.samples * self.bits_allocated + 7) // 8

    @property
    def decoded_frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples * max(self.bits_allocated, 8) // 8


def _geometry(ds: Dataset, limits: Limits) -> _Geometry:
    """Image pixel attributes, checked for coherence and against the caps."""
    fields = {
        k: _as_int(_first(_get(ds, k)))
        for k in ("Rows", "Columns", "SamplesPerPixel", "BitsAllocated", "BitsStored")
    }
    frames_value = _get(ds, "NumberOfFrames")
    frames = 1 if frames_value in (None, "") else _as_int(frames_value)
    photometric = str(_get(ds, "PhotometricInterpretation") or "").strip().upper()
    pixel_rep = _as_int(_get(ds, "PixelRepresentation"))
    planar = _as_int(_get(ds, "PlanarConfiguration")) or 0
    if any(v is None or v < 1 for v in fields.values()) or frames is None or frames < 1:
        raise DicomRejected("bad_header")
    geo = _Geometry(
        rows=cast(int, fields["Rows"]),
        columns=cast(int, fields["Columns"]),
        frames=frames,
        samples=cast(int, fields["SamplesPerPixel"]),
        bits_allocated=cast(int, fields["BitsAllocated"]),
        bits_stored=cast(int, fields["BitsStored"]),
        signed=pixel_rep == 1,
        photometric=photometric,
        planar=planar,
    )
    _check_format(geo, pixel_rep)
    _check_caps(geo, limits)
    return geo


def _check_format(geo: _Geometry, pixel_rep: int | None) -> None:
    if pixel_rep not in (0, 1) or geo.bits_stored > geo.bits_allocated or geo.planar not in (0, 1):
        raise DicomRejected("bad_header")
    grey_like = geo.photometric in GREY or geo.photometric == PALETTE
    if not grey_like and geo.photometric not in COLOUR:
        raise DicomRejected("pixel_format_refused")
    if geo.samples != (1 if grey_like else 3):
        raise DicomRejected("bad_header")
    if geo.bits_allocated not in (1, 8, 16) or (geo.bits_allocated == 1 and not grey_like):
        raise DicomRejected("pixel_format_refused")
    if geo.photometric == "YBR_FULL_422" and geo.bits_allocated != 8:
        raise DicomRejected("pixel_format_refused")


def _check_caps(geo: _Geometry, limits: Limits) -> None:
    # Python integers: no overflow however large the declared values.
    if (
        geo.rows > limits.max_rows
        or geo.columns > limits.max_columns
        or geo.frames > limits.max_frames
        or geo.decoded_frame_bytes > limits.max_frame_bytes
        or geo.decoded_frame_bytes * geo.frames > limits.max_pixel_bytes
    ):
        raise DicomRejected("dimensions_too_large")


# ------------------------------------------------------------------------ pixel data


@dataclass(frozen=True)
class _Pixels:
    value_offset: int  # first byte of the Pixel Data value
    length: int  # declared (0xFFFFFFFF when encapsulated)


def _locate_pixels(fp: IO[bytes], pos: int, size: int, implicit: bool) -> _Pixels:
    """Parse the Pixel Data element header where pydicom stopped."""
    fp.seek(pos)
    head = fp.read(12)
    if len(head) < 8:
        raise DicomRejected("no_pixel_data")
    tag = struct.unpack("<HH", head[:4])
    if tag in ((0x7FE0, 0x0008), (0x7FE0, 0x0009)):
        raise DicomRejected("pixel_format_refused")  # float pixel data
    if tag != (0x7FE0, 0x0010):
        raise DicomRejected("no_pixel_data")
    if implicit or head[4:8] == b"\xff\xff\xff\xff":
        # Some writers encode encapsulated Pixel Data implicitly even in an
        # explicit syntax; the undefined length makes that unambiguous.
        return _Pixels(pos + 8, struct.unpack("<I", head[4:8])[0])
    if len(head) < 12 or head[4:6] not in (b"OB", b"OW", b"UN"):
        raise DicomRejected("bad_pixel_data")
    return _Pixels(pos + 12, struct.unpack("<I", head[8:12])[0])


def _check_native(pixels: _Pixels, geo: _Geometry, size: int) -> None:
    """pydicom reads short native pixel data silently: compare lengths ourselves."""
    if pixels.length == 0xFFFFFFFF:
        raise DicomRejected("bad_pixel_data")
    expected = (geo.rows * geo.columns * geo.samples * geo.bits_allocated * geo.frames + 7) // 8
    if geo.photometric == "YBR_FULL_422":
        expected = geo.frame_bytes * geo.frames
    available = size - pixels.value_offset
    if pixels.length < expected or available < expected or pixels.length > available:
        raise DicomRejected("truncated_pixels")


@dataclass(frozen=True)
class _Fragments:
    offsets: tuple[int, ...]  # Basic (else Extended) Offset Table
    starts: tuple[int, ...]  # item starts, relative to the first fragment
    lengths: tuple[int, ...]
    first: int  # absolute offset of the first fragment item
    scanned: bool = True  # False: only the offsets are known (rendering)


def _read_offset_table(fp: IO[bytes], offset: int, limits: Limits) -> tuple[int, ...]:
    """The Basic Offset Table item (may be empty) that opens encapsulated data."""
    fp.seek(offset)
    head = fp.read(8)
    if len(head) < 8 or struct.unpack("<HHI", head)[:2] != (0xFFFE, 0xE000):
        raise DicomRejected("bad_pixel_data")
    length = struct.unpack("<I", head[4:])[0]
    if length % 4 or length > 4 * limits.max_frames:
        raise DicomRejected("bad_pixel_data")
    table = fp.read(length)
    if len(table) < length:
        raise DicomRejected("truncated_pixels")
    return struct.unpack(f"<{length // 4}I", table)


def _scan_fragments(fp: IO[bytes], pixels: _Pixels, size: int, limits: Limits) -> _Fragments:
    """Walk the item headers of encapsulated pixel data, seeking over values."""
    if pixels.length != 0xFFFFFFFF:
        raise DicomRejected("bad_pixel_data")
    offsets = _read_offset_table(fp, pixels.value_offset, limits)
    first = pos = fp.tell()
    starts: list[int] = []
    lengths: list[int] = []
    while True:
        head = fp.read(8)
        if len(head) < 8:
            raise DicomRejected("truncated_pixels")
        group, element, length = struct.unpack("<HHI", head)
        if (group, element) == (0xFFFE, 0xE0DD):
            break
        if (group, element) != (0xFFFE, 0xE000) or length == 0xFFFFFFFF:
            raise DicomRejected("bad_pixel_data")
        if pos + 8 + length > size:
            raise DicomRejected("truncated_pixels")
        if len(starts) >= limits.max_fragments:
            raise DicomRejected("bad_pixel_data")
        starts.append(pos - first)
        lengths.append(length)
        pos = fp.seek(pos + 8 + length)
    return _Fragments(tuple(offsets), tuple(starts), tuple(lengths), first)


def _check_encapsulated(fp: IO[bytes], frags: _Fragments, geo: _Geometry, ts: str) -> None:
    """Every frame must have its fragments, and RLE must be able to fill them."""
    count = len(frags.starts)
    if count == 0:
        raise DicomRejected("no_pixel_data")
    if count < geo.frames:
        raise DicomRejected("truncated_pixels")
    if frags.offsets:
        known = set(frags.starts)
        ordered = all(a < b for a, b in itertools.pairwise(frags.offsets))
        if len(frags.offsets) != geo.frames or not ordered or not known.issuperset(frags.offsets):
            raise DicomRejected("bad_pixel_data")
    # Without offsets, several fragments per frame are told apart by the JPEG
    # end-of-image marker (pydicom does it for the JPEG family); RLE has none
    # and the standard requires exactly one fragment per RLE frame.
    if ts == RLE:
        _check_rle(fp, frags, geo)
    else:
        _check_codestream_size(fp, frags, geo)


def _check_rle(fp: IO[bytes], frags: _Fragments, geo: _Geometry) -> None:
    """RLE expands at most 64:1 (a 2-byte run gives 128 bytes): refuse bombs."""
    if len(frags.starts) != geo.frames:
        raise DicomRejected("bad_pixel_data")
    fp.seek(frags.first + 8)
    header = fp.read(64)
    segments = geo.samples * max(geo.bits_allocated, 8) // 8
    if len(header) < 64 or struct.unpack("<I", header[:4])[0] != segments:
        raise DicomRejected("bad_pixel_data")
    per_segment = geo.rows * geo.columns
    minimum = 64 + segments * 2 * ((per_segment + 127) // 128)
    if min(frags.lengths) < minimum:
        raise DicomRejected("truncated_pixels")


def _codestream_size(head: bytes) -> tuple[int, int] | None:
    """(rows, columns) from a JPEG SOF / JPEG-LS SOF55 / JPEG 2000 SIZ marker."""
    if not head.startswith(b"\xff\xd8"):
        j2k = head.find(b"\xff\x4f\xff\x51")
        if j2k == -1 or len(head) < j2k + 24:
            return None
        xsiz, ysiz, xo, yo = struct.unpack(">4I", head[j2k + 8 : j2k + 24])
        return ysiz - yo, xsiz - xo
    pos = 2
    while pos + 9 <= len(head) and head[pos] == 0xFF:
        marker = head[pos + 1]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xF7):
            rows, cols = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return rows, cols
        if marker == 0xDA:
            return None
        pos += 2 + struct.unpack(">H", head[pos + 2 : pos + 4])[0]
    return None


def _check_codestream_size(fp: IO[bytes], frags: _Fragments, geo: _Geometry) -> None:
    """A decoder allocates what the codestream says, not what the header says."""
    fp.seek(frags.first + 8)
    found = _codestream_size(fp.read(min(frags.lengths[0], 65536)))
    if found is None:
        return
    rows, cols = found
    # JPEG may defer the height to a DNL marker (rows == 0).
    if cols != geo.columns or rows not in (0, geo.rows):
        raise DicomRejected("dimensions_mismatch")


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


# ------------------------------------------------------------------------- rendering


def _target_size(geo: _Geometry, aspect: float, size: int) -> tuple[int, int]:
    """(width, height) fitting a size x size box, physical proportions kept."""
    height, width = geo.rows * aspect, float(geo.columns)
    scale = size / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _read_exact(fp: IO[bytes], offset: int, length: int) -> bytes:
    fp.seek(offset)
    data = fp.read(length)
    if len(data) != length:
        raise DicomRejected("truncated_pixels")
    return data


def _native_frame(fp: IO[bytes], parsed: _Parsed, index: int, step: int) -> np.ndarray:
    """One native frame, every ``step``-th row and column, as stored (unsigned view).

    Only that frame's bytes are read; with ``step > 1`` only the rows kept.
    """
    geo = parsed.geo
    start = parsed.pixels.value_offset + index * geo.frame_bytes
    if geo.bits_allocated == 1:
        return _bit_frame(fp, parsed, index)[::step, ::step]
    dtype = np.dtype("<u2") if geo.bits_allocated == 16 else np.dtype("u1")
    if geo.photometric == "YBR_FULL_422":
        raw = np.frombuffer(_read_exact(fp, start, geo.frame_bytes), dtype)
        return _expand_422(raw, geo)[::step, ::step]
    shape = (geo.rows, geo.columns, geo.samples) if geo.samples > 1 else (geo.rows, geo.columns)
    if step == 1 or geo.planar == 1:
        arr = np.frombuffer(_read_exact(fp, start, geo.frame_bytes), dtype)
        if geo.planar == 1 and geo.samples > 1:
            arr = arr.reshape(geo.samples, geo.rows, geo.columns).transpose(1, 2, 0)
        return arr.reshape(shape)[::step, ::step]
    row_bytes = geo.columns * geo.samples * dtype.itemsize
    kept = range(0, geo.rows, step)
    buffer = bytearray(len(kept) * row_bytes)
    view = memoryview(buffer)
    for i, row in enumerate(kept):
        fp.seek(start + row * row_bytes)
        chunk = fp.read(row_bytes)
        if len(chunk) != row_bytes:
            raise DicomRejected("truncated_pixels")
        view[i * row_bytes : (i + 1) * row_bytes] = chunk
    arr = np.frombuffer(buffer, dtype).reshape((len(kept), *shape[1:]))
    return arr[:, ::step]


def _bit_frame(fp: IO[bytes], parsed: _Parsed, index: int) -> np.ndarray:
    """Bit-packed (1-bit) frames may start inside a byte."""
    geo = parsed.geo
    pixels = geo.rows * geo.columns
    first_bit = index * pixels
    start = parsed.pixels.value_offset + first_bit // 8
    length = (first_bit % 8 + pixels + 7) // 8
    raw = np.frombuffer(_read_exact(fp, start, length), np.uint8)
    bits = np.unpackbits(raw, bitorder="little")[first_bit % 8 : first_bit % 8 + pixels]
    return bits.reshape(geo.rows, geo.columns)


def _expand_422(raw: np.ndarray, geo: _Geometry) -> np.ndarray:
    """Native YBR_FULL_422 stores Y1 Y2 Cb Cr for each pair of pixels."""
    quads = raw.reshape(-1, 4)
    out = np.empty((quads.shape[0], 2, 3), dtype=raw.dtype)
    out[:, 0, 0], out[:, 1, 0] = quads[:, 0], quads[:, 1]
    out[:, :, 1] = quads[:, 2:3]
    out[:, :, 2] = quads[:, 3:4]
    return _ybr_to_rgb(out.reshape(geo.rows, geo.columns, 3))


def _decoder_plugin(ts: str, geo: _Geometry) -> str:
    """The fastest installed codec for this syntax (measured by bench/bench_dicom.py).

    8-bit JPEG: Pillow (libjpeg-turbo) is 2-4x faster than pylibjpeg-libjpeg,
    which is kept for 12-bit and lossless JPEG and JPEG-LS; pylibjpeg's RLE is
    ~4.5x faster than pydicom's own.
    """
    from pydicom.pixels import get_decoder

    plugins = get_decoder(ts).available_plugins
    if ts in _PILLOW_JPEG and geo.bits_stored <= 8 and "pillow" in plugins:
        return "pillow"
    return "pylibjpeg" if "pylibjpeg" in plugins else ""


_PILLOW_JPEG = frozenset({"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"})


def _rle_direct(encoded: bytes, geo: _Geometry) -> np.ndarray | None:
    """Decode RLE with pylibjpeg-rle without pydicom's wrapping.

    Going through pydicom's decoder means re-encapsulating the frame and
    three extra copies of it: a third of the time on a 4096² image.
    """
    if geo.bits_allocated not in (8, 16):
        return None
    try:
        from rle.utils import decode_frame  # pylibjpeg-rle
    except ImportError:
        return None
    raw = decode_frame(encoded, geo.rows * geo.columns, geo.bits_allocated, "<")
    arr = np.frombuffer(raw, np.dtype("<u2") if geo.bits_allocated == 16 else np.uint8)
    if geo.samples == 1:
        return arr.reshape(geo.rows, geo.columns)
    # RLE segments are colour planes (planar configuration 1).
    return arr.reshape(geo.samples, geo.rows, geo.columns).transpose(1, 2, 0)


def _frame_items(frags: _Fragments, index: int, frames: int) -> range | None:
    """Indices of the fragments holding frame ``index``, when the layout says so."""
    if frags.offsets:
        first = bisect.bisect_left(frags.starts, frags.offsets[index])
        if index + 1 < len(frags.offsets):
            return range(first, bisect.bisect_left(frags.starts, frags.offsets[index + 1]))
        return range(first, len(frags.starts))
    if len(frags.starts) == frames:
        return range(index, index + 1)
    if frames == 1:
        return range(len(frags.starts))
    return None  # JPEG split by end-of-image markers: left to pydicom


def _walk_frame(fp: IO[bytes], parsed: _Parsed, index: int) -> bytes:
    """Read frame ``index`` by walking its items from its offset-table entry."""
    frags = cast(_Fragments, parsed.frags)
    pos = frags.first + frags.offsets[index]
    last = index + 1 == len(frags.offsets)
    stop = parsed.size if last else frags.first + frags.offsets[index + 1]
    # A compressed frame far larger than the decoded one is not an image.
    cap = 2 * parsed.geo.decoded_frame_bytes + MIB
    parts: list[bytes] = []
    while pos < stop and len(parts) < parsed.limits.max_fragments:
        fp.seek(pos)
        head = fp.read(8)
        if len(head) < 8:
            raise DicomRejected("truncated_pixels")
        group, element, length = struct.unpack("<HHI", head)
        if last and (group, element) == (0xFFFE, 0xE0DD):
            break
        if (group, element) != (0xFFFE, 0xE000) or pos + 8 + length > min(stop, parsed.size):
            raise DicomRejected("bad_pixel_data")
        cap -= length
        if cap < 0:
            raise DicomRejected("bad_pixel_data")
        parts.append(fp.read(length))
        pos += 8 + length
    if not parts or (not last and pos != stop):
        raise DicomRejected("bad_pixel_data")
    return b"".join(parts)


def _encoded_frame(fp: IO[bytes], parsed: _Parsed, index: int) -> bytes | None:
    """The compressed bytes of one frame, read from its own fragments only."""
    frags = cast(_Fragments, parsed.frags)
    if not frags.scanned:
        encoded = _walk_frame(fp, parsed, index)
    else:
        items = _frame_items(frags, index, parsed.geo.frames)
        if items is None:
            return None
        parts = []
        for i in items:
            fp.seek(frags.first + frags.starts[i] + 8)
            parts.append(fp.read(frags.lengths[i]))
        encoded = b"".join(parts)
    _check_frame(encoded, parsed.geo, parsed.meta.transfer_syntax)
    return encoded


def _check_frame(encoded: bytes, geo: _Geometry, ts: str) -> None:
    """The same bomb checks as at inspection, on the frame about to be decoded."""
    if ts == RLE:
        segments = geo.samples * max(geo.bits_allocated, 8) // 8
        minimum = 64 + segments * 2 * ((geo.rows * geo.columns + 127) // 128)
        if len(encoded) < minimum or struct.unpack("<I", encoded[:4])[0] != segments:
            raise DicomRejected("truncated_pixels")
        return
    found = _codestream_size(encoded[:65536])
    if found is not None and (found[1] != geo.columns or found[0] not in (0, geo.rows)):
        raise DicomRejected("dimensions_mismatch")


def _encapsulated_frame(fp: IO[bytes], parsed: _Parsed, index: int) -> tuple[np.ndarray, str]:
    """Decode one frame only, from its own fragments (never the whole file)."""
    from pydicom.encaps import encapsulate
    from pydicom.pixels import get_decoder

    geo = parsed.geo
    options: dict[str, Any] = {
        "rows": geo.rows,
        "columns": geo.columns,
        "samples_per_pixel": geo.samples,
        "photometric_interpretation": geo.photometric,
        "planar_configuration": geo.planar,
        "number_of_frames": geo.frames,
        "bits_allocated": geo.bits_allocated,
        "bits_stored": geo.bits_stored,
        "pixel_representation": int(geo.signed),
    }
    ts = parsed.meta.transfer_syntax
    decoder, plugin = get_decoder(ts), _decoder_plugin(ts, geo)
    encoded = _encoded_frame(fp, parsed, index)
    if encoded is not None and ts == RLE:
        direct = _rle_direct(encoded, geo)
        if direct is not None:
            return direct, geo.photometric
    if encoded is not None:
        options["number_of_frames"] = 1
        single = encapsulate([encoded], has_bot=False)
        arr, props = decoder.as_array(single, index=0, decoding_plugin=plugin, **options)
    else:
        fp.seek(parsed.pixels.value_offset)
        arr, props = decoder.as_array(cast(Any, fp), index=index, decoding_plugin=plugin, **options)
    return arr, str(props.get("photometric_interpretation", geo.photometric))


@lru_cache(maxsize=32)
def _stored_values(bits_allocated: int, bits_stored: int, signed: bool) -> np.ndarray:
    """Stored value for every bit pattern of the allocated word.

    Masking and sign extension are folded into this table, so bits above
    Bits Stored (overlays, garbage) cost nothing per pixel.
    """
    patterns = np.arange(1 << bits_allocated, dtype=np.int64)
    values = patterns & ((1 << bits_stored) - 1)
    if signed:
        values = np.where(values >= 1 << (bits_stored - 1), values - (1 << bits_stored), values)
    values.setflags(write=False)
    return values


def _lut_item(item: Dataset) -> tuple[int, np.ndarray] | None:
    """(first mapped value, entries) of a Modality or VOI LUT sequence item."""
    descriptor = [_as_int(v) for v in _values(_get(item, "LUTDescriptor"))]
    data = _get(item, "LUTData")
    if len(descriptor) != 3 or None in descriptor or data is None:
        return None
    entries = cast(int, descriptor[0]) or 65536
    if isinstance(data, bytes):
        table = np.frombuffer(data[: entries * 2], "<u2").astype(np.float64)
    else:
        table = np.asarray(_values(data), dtype=np.float64)
    return (cast(int, descriptor[1]), table) if table.size else None


def _apply_lut(values: np.ndarray, first: int, table: np.ndarray) -> np.ndarray:
    index = np.clip(np.rint(values).astype(np.int64) - first, 0, table.size - 1)
    return cast(np.ndarray, table[index])


@dataclass(frozen=True, eq=False)
class _GreyParams:
    """What the file says about turning one frame's stored values into grey levels."""

    slope: float
    intercept: float
    modality_lut: tuple[int, np.ndarray] | None
    voi_lut: tuple[int, np.ndarray] | None
    window: tuple[float, float] | None  # the first of the file's windows
    function: str  # VOI LUT Function: LINEAR, LINEAR_EXACT or SIGMOID


def _grey_params(ds: Dataset, index: int) -> _GreyParams:
    group = "PixelValueTransformationSequence"
    modality_sequence = _frame_attr(ds, index, group, "ModalityLUTSequence")
    voi_sequence = _get(ds, "VOILUTSequence")
    slope = _as_float(_first(_frame_attr(ds, index, group, "RescaleSlope")))
    intercept = _as_float(_first(_frame_attr(ds, index, group, "RescaleIntercept")))
    windows = _file_windows(ds, index)
    function = _first(_frame_attr(ds, index, "FrameVOILUTSequence", "VOILUTFunction"))
    voi_lut = _lut_item(voi_sequence[0]) if voi_sequence else None
    return _GreyParams(
        slope=slope or 1.0,  # absent or 0: identity
        intercept=intercept or 0.0,
        modality_lut=_lut_item(modality_sequence[0]) if modality_sequence else None,
        voi_lut=voi_lut,
        # A VOI LUT, when present, is the modality's chosen rendering.
        window=(windows[0][1], windows[0][2]) if windows and voi_lut is None else None,
        function=str(function or "").strip().upper(),
    )


def _window_table(values: np.ndarray, centre: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 windowing to 0..255."""
    if function == "SIGMOID":
        out = 255.0 / (
            1.0 + np.exp(np.clip(-4.0 * (values - centre) / max(width, 1e-6), -700, 700))
        )
    elif function == "LINEAR_EXACT":
        out = ((values - centre) / max(width, 1e-6) + 0.5) * 255.0
    elif width <= 1:
        out = np.where(values <= centre - 0.5, 0.0, 255.0)
    else:
        out = ((values - (centre - 0.5)) / (width - 1) + 0.5) * 255.0
    result: np.ndarray = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return result


@lru_cache(maxsize=64)
def _linear_table(
    key: tuple[int, int, bool], slope: float, intercept: float, window: tuple[float, float, str]
) -> np.ndarray:
    """The usual case (rescale, then a window), cached: a series shares its parameters."""
    stored = _stored_values(*key)
    table = _window_table(stored * slope + intercept, *window)
    table.setflags(write=False)
    return table


def _auto_window(
    pattern_counts: np.ndarray, stored: np.ndarray, modality: np.ndarray
) -> tuple[float, float]:
    """A robust window from the frame's histogram: 0.5th to 99.5th percentile."""
    offset = int(stored.min())
    counts = np.bincount(
        stored - offset, weights=pattern_counts, minlength=int(stored.max()) - offset + 1
    )
    cumulative = np.cumsum(counts)
    total = cumulative[-1]
    lo = int(np.searchsorted(cumulative, total * 0.005, side="left"))
    hi = int(np.searchsorted(cumulative, total * 0.995, side="left"))
    by_value = np.full(counts.size, np.nan)
    by_value[stored - offset] = modality
    low, high = sorted((float(by_value[lo]), float(by_value[hi])))
    if not high - low >= 1e-6:  # uniform image (or NaN): render it dark
        return low + 1.0, 1.0
    return (low + high) / 2.0, high - low


def _other_table(words: np.ndarray, stored: np.ndarray, params: _GreyParams) -> np.ndarray:
    """Modality LUT sequence, VOI LUT sequence, or no VOI at all (histogram window)."""
    if params.modality_lut is not None:
        modality = _apply_lut(stored, *params.modality_lut)
    else:
        modality = stored * params.slope + params.intercept
    if params.window is not None:
        return _window_table(modality, *params.window, params.function)
    if params.voi_lut is not None:
        mapped = _apply_lut(modality, *params.voi_lut)
        low, high = float(params.voi_lut[1].min()), float(params.voi_lut[1].max())
        return _window_table(mapped, (low + high + 1) / 2.0, max(high - low + 1, 2.0), "LINEAR")
    if stored.max() <= 255 and params.modality_lut is None and np.array_equal(modality, stored):
        # 8-bit images without a window are shown as stored (photos, US).
        low, high = float(stored.min()), float(stored.max())
        return _window_table(stored, (low + high + 1) / 2.0, high - low + 1, "LINEAR")
    counts = np.bincount(words.ravel(), minlength=stored.size)
    return _window_table(modality, *_auto_window(counts, stored, modality), "LINEAR")


def _grey_image(
    arr: np.ndarray,
    parsed: _Parsed,
    index: int,
    window: tuple[float, float] | None,
    photometric: str,
) -> Image.Image:
    """Map stored values to 8 bits through one table indexed by the raw words."""
    geo = parsed.geo
    bits = 8 if arr.dtype.itemsize == 1 else 16
    words = arr.view(np.uint8 if bits == 8 else np.uint16)
    key = (bits, min(geo.bits_stored, bits), geo.signed)
    params = _grey_params(parsed.ds, index)
    if window is not None:  # the viewer's choice wins over the file's VOI
        params = replace(params, window=window, function="LINEAR", voi_lut=None)
    if params.modality_lut is None and params.window is not None:
        table = _linear_table(
            key, params.slope, params.intercept, (*params.window, params.function)
        )
    else:
        table = _other_table(words, _stored_values(*key), params)
    if photometric == "MONOCHROME1":
        table = 255 - table
    return Image.fromarray(np.ascontiguousarray(table[words]))


def _ybr_to_rgb(arr: np.ndarray) -> np.ndarray:
    height, width = arr.shape[:2]
    image = Image.frombytes("YCbCr", (width, height), np.ascontiguousarray(arr, np.uint8).tobytes())
    return np.asarray(image.convert("RGB"))


def _colour_image(arr: np.ndarray, geo: _Geometry, photometric: str) -> Image.Image:
    if arr.dtype.itemsize > 1:
        words = arr.view(np.uint16) & ((1 << geo.bits_stored) - 1)
        arr = (words >> max(geo.bits_stored - 8, 0)).astype(np.uint8)
    if photometric in ("YBR_FULL", "YBR_FULL_422"):
        arr = _ybr_to_rgb(arr)
    return Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint8))


def _palette_image(arr: np.ndarray, ds: Dataset) -> Image.Image:
    from pydicom.pixels.processing import apply_color_lut

    rgb = apply_color_lut(np.ascontiguousarray(arr), ds)
    if rgb.dtype.itemsize > 1:
        rgb = (rgb >> 8).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8))


def _frame_image(
    fp: IO[bytes], parsed: _Parsed, index: int, step: int, window: tuple[float, float] | None
) -> Image.Image:
    geo = parsed.geo
    if parsed.meta.transfer_syntax in NATIVE_SYNTAXES:
        arr, photometric = _native_frame(fp, parsed, index, step), geo.photometric
        if photometric == "YBR_FULL_422":
            photometric = "RGB"  # expanded and converted while reading
    else:
        arr, photometric = _encapsulated_frame(fp, parsed, index)
        arr = arr[::step, ::step]
    if arr.dtype.itemsize > 2:  # a codestream deeper than its 16-bit header
        raise DicomRejected("decode_failed")
    if photometric in GREY:
        return _grey_image(arr, parsed, index, window, photometric)
    if photometric == PALETTE:
        return _palette_image(arr, parsed.ds)
    return _colour_image(arr, geo, photometric)


def _fit(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Scale to ``target``; an exact integer reduction is a cheaper box filter."""
    if image.size == target:
        return image
    fx, fy = image.size[0] / target[0], image.size[1] / target[1]
    if fx.is_integer() and fy.is_integer() and fx >= 1 and fy >= 1:
        return image.reduce((int(fx), int(fy)))
    return image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _render(
    fp: IO[bytes], parsed: _Parsed, frame: int | None, size: int, window: tuple[float, float] | None
) -> Image.Image:
    geo = parsed.geo
    index = geo.frames // 2 if frame is None else frame
    if not 0 <= index < geo.frames or not 1 <= size <= 4096:
        raise DicomRejected("decode_failed")
    if window is not None and not (math.isfinite(window[0]) and 0 < window[1] < math.inf):
        raise DicomRejected("decode_failed")
    target = _target_size(geo, _aspect(parsed.ds, index), size)
    # Keep about twice the target resolution; Pillow filters the rest.
    step = max(1, int(min(geo.rows / target[1], geo.columns / target[0]) // 2))
    return _fit(_frame_image(fp, parsed, index, step, window), target)


@contextlib.contextmanager
def _failures_as(code: str) -> Iterator[None]:
    """Turn any failure into ``DicomRejected(code)``, keeping the cause.

    Rust codecs panic with pyo3's PanicException, which derives from
    BaseException: it is caught too (but not Ctrl-C or interpreter exit).
    """
    try:
        yield
    except DicomRejected as exc:
        if code == "unreadable" or exc.code == code:
            raise
        raise DicomRejected(code) from exc
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:
        raise DicomRejected(code) from exc


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _png_bytes(image: Image.Image) -> bytes:
    """Encode an 8-bit L or RGB image as PNG.

    Written by hand because it is a third of a thumbnail's cost through
    Pillow (which tries every filter on every row): the "Up" filter on all
    rows and zlib level 1 give the same size, 3x faster. Grey images use
    zlib's run-length strategy: 3x faster again on noisy CT, and smaller.
    """
    arr = np.asarray(image, dtype=np.uint8)
    height, width = arr.shape[:2]
    flat = arr.reshape(height, -1)
    rows = np.empty((height, flat.shape[1] + 1), dtype=np.uint8)
    rows[:, 0] = 2  # filter "Up": each byte minus the one above, modulo 256
    rows[0, 1:] = flat[0]
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, 8, 2 if arr.ndim == 3 else 0, 0, 0, 0)
    strategy = zlib.Z_DEFAULT_STRATEGY if arr.ndim == 3 else zlib.Z_RLE
    packer = zlib.compressobj(1, zlib.DEFLATED, 15, 8, strategy)
    data = packer.compress(rows.tobytes()) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def render_frame(
    source: Source,
    *,
    frame: int | None = None,
    size: int = 256,
    window: tuple[float, float] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Image.Image:
    """Render one frame as an 8-bit ``L`` or ``RGB`` image fitting ``size`` x ``size``.

    ``frame`` is 0-based (default: the middle frame); ``window`` is
    (centre, width) in modality units and overrides the file's VOI. Applies
    the modality LUT, the VOI LUT or window (else a histogram window),
    MONOCHROME1 inversion, colour conversion, palettes and the physical
    pixel aspect ratio. Every failure raises ``DicomRejected("decode_failed")``.
    """
    with _failures_as("decode_failed"), _opened(source) as (fp, file_size):
        return _render(fp, _parse(fp, file_size, limits, scan=False), frame, size, window)


def render_thumbnail_png(
    source: Source,
    *,
    frame: int | None = None,
    size: int = 256,
    window: tuple[float, float] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> bytes:
    """PNG bytes of :func:`render_frame` (same arguments, same ``decode_failed``)."""
    image = render_frame(source, frame=frame, size=size, window=window, limits=limits)
    with _failures_as("decode_failed"):
        return _png_bytes(image)


def inspect_and_thumbnail(
    source: Source, *, size: int = 256, limits: Limits = DEFAULT_LIMITS
) -> tuple[DicomInfo, bytes | None]:
    """What an upload needs, reading the header once: :func:`inspect_dicom`, then a thumbnail.

    Raises :class:`DicomRejected` when the file is refused. The thumbnail is
    ``None`` when it cannot be produced (the instance is kept, "aperçu
    indisponible"); the reason is logged without patient data.
    """
    with _failures_as("unreadable"), _opened(source) as (fp, file_size):
        parsed = _parse(fp, file_size, limits)
        info = _inspected(fp, parsed)
        try:
            with _failures_as("decode_failed"):
                return info, _png_bytes(_render(fp, parsed, None, size, None))
        except DicomRejected as exc:
            # The content hash, not a DICOM UID: logs carry no identifier.
            LOGGER.warning("aperçu indisponible (sha256 %s): %r", info.sha256[:16], exc.__cause__)
            return info, None
