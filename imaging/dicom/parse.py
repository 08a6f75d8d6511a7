"""Structural parsing of a DICOM file, bounded and without decoding anything.

File access (a caller's file keeps its position; pydicom reads through a
view that refuses reads past the end or beyond a budget), the file meta group
parsed by hand, the dataset up to the pixel data and its attribute helpers,
the image geometry checked against :class:`~imaging.dicom.rules.Limits`, and
the pixel data: native lengths, encapsulated fragments, RLE and codestream
size checks.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from pydicom import dcmread
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from imaging.dicom.rules import (
    _TEXT_CAP,
    _UID_RE,
    COLOUR,
    DEFLATED,
    GREY,
    IMAGE_SOP_CLASSES,
    MEDIA_STORAGE_DIRECTORY,
    PALETTE,
    RLE,
    DicomRejected,
    Limits,
    Source,
    accepted_transfer_syntaxes,
)

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
