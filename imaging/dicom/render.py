"""Rendering of one frame: :func:`render_frame`, :func:`render_thumbnail_png`.

Reading one frame (native: only the rows kept; encapsulated: only its own
fragments, checked again before decoding), the fastest installed decoder,
stored-value and window lookup tables, grey, colour and palette images,
fitting to the target size, a hand-written PNG encoder, and
:func:`inspect_and_thumbnail` (one header parse for both).
"""

from __future__ import annotations

import bisect
import io
import logging
import math
import struct
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import IO, Any, cast

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

from imaging.dicom.inspect import (
    DicomInfo,
    _aspect,
    _file_windows,
    _frame_attr,
    _inspected,
    _parse,
    _Parsed,
    _values,
)
from imaging.dicom.parse import (
    _as_float,
    _as_int,
    _codestream_size,
    _first,
    _Fragments,
    _Geometry,
    _get,
    _opened,
)
from imaging.dicom.rules import (
    DEFAULT_LIMITS,
    GREY,
    J2K_SYNTAXES,
    MIB,
    NATIVE_SYNTAXES,
    PALETTE,
    RLE,
    DicomRejected,
    Limits,
    Source,
    _failures_as,
)

LOGGER = logging.getLogger(__name__)

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


def _encapsulated_frame(
    fp: IO[bytes], parsed: _Parsed, index: int, reduce: int = 0
) -> tuple[np.ndarray, str, int]:
    """Decode one frame only, from its own fragments (never the whole file): (pixels,
    photometric, how many times smaller than the frame they are). A grey JPEG 2000 frame
    is decoded ``reduce`` resolution levels down when asked (and when it has them)."""
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
    if encoded is not None and reduce and ts in J2K_SYNTAXES and geo.samples == 1:
        reduced = _j2k_reduced(encoded, reduce)
        if reduced is not None:
            return reduced[0], geo.photometric, 1 << reduced[1]
    if encoded is not None and ts == RLE:
        direct = _rle_direct(encoded, geo)
        if direct is not None:
            return direct, geo.photometric, 1
    if encoded is not None:
        options["number_of_frames"] = 1
        single = encapsulate([encoded], has_bot=False)
        arr, props = decoder.as_array(single, index=0, decoding_plugin=plugin, **options)
    else:
        fp.seek(parsed.pixels.value_offset)
        arr, props = decoder.as_array(cast(Any, fp), index=index, decoding_plugin=plugin, **options)
    return arr, str(props.get("photometric_interpretation", geo.photometric)), 1


def _j2k_header(encoded: bytes) -> tuple[int, bool, int] | None:
    """(precision, signed, decomposition levels) of a one-component JPEG 2000 codestream,
    from its SIZ and COD markers; None when it is not that."""
    if not encoded.startswith(b"\xff\x4f\xff\x51") or len(encoded) < 45:
        return None
    siz_length = struct.unpack(">H", encoded[4:6])[0]
    components = struct.unpack(">H", encoded[40:42])[0]
    if components != 1:
        return None
    ssiz = encoded[42]
    pos = 4 + siz_length
    while pos + 4 <= min(len(encoded), 65536):
        marker, length = struct.unpack(">HH", encoded[pos : pos + 4])
        if marker == 0xFF52 and pos + 9 < len(encoded):  # COD: Scod, SGcod (4), levels
            return (ssiz & 0x7F) + 1, bool(ssiz & 0x80), encoded[pos + 9]
        if marker == 0xFF90 or length < 2:  # first tile: no COD in the main header
            return None
        pos += 2 + length
    return None


def _j2k_reduced(encoded: bytes, reduce: int) -> tuple[np.ndarray, int] | None:
    """A grey JPEG 2000 frame decoded ``reduce`` resolution levels down (at most as many as
    it has) by openjpeg, through Pillow's binding (pylibjpeg-openjpeg 2.6 has no "reduce"):
    (stored values, levels used). None when the codestream does not allow it."""
    header = _j2k_header(encoded)
    if header is None:
        return None
    precision, signed, levels = header
    level = min(reduce, levels)
    if not level or precision > 16:
        return None
    with Image.open(io.BytesIO(encoded), formats=["JPEG2000"]) as image:
        cast(Any, image).reduce = level
        image.load()
        arr = np.asarray(image)
    # Pillow widens the samples to its mode (8 or 16 bits) and offsets signed ones: undo both,
    # and keep the wavelet's overshoot within the stored range (it would wrap when masked).
    shift = arr.dtype.itemsize * 8 - precision if precision > 8 else 0
    values = arr.astype(np.int32) >> shift
    dtype = np.dtype(np.int16 if signed else np.uint16 if precision > 8 else np.uint8)
    if signed:
        values -= 1 << (precision - 1)
        low, high = -(1 << (precision - 1)), (1 << (precision - 1)) - 1
    else:
        low, high = 0, (1 << precision) - 1
    return np.clip(values, low, high).astype(dtype), level


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


@dataclass(frozen=True, eq=False)
class _Lut:
    """A Modality or VOI LUT (PS3.3 C.11.1, C.11.2): the first input value mapped, the
    table, and the bit depth its output is declared in (the descriptor's third value)."""

    first: int
    table: np.ndarray
    bits: int


def _lut_item(item: Dataset, signed: bool) -> _Lut | None:
    """The LUT of a Modality or VOI LUT sequence item.

    The descriptor's first mapped value is signed when the pixel data is (PS3.3
    C.11.2.1.1): a file writing -1024 as 64512 in an unsigned descriptor means -1024.
    """
    descriptor = [_as_int(v) for v in _values(_get(item, "LUTDescriptor"))]
    data = _get(item, "LUTData")
    if len(descriptor) != 3 or None in descriptor or data is None:
        return None
    entries, first, bits = (cast(int, value) for value in descriptor)
    entries = entries or 65536
    if signed and first >= 1 << 15:
        first -= 1 << 16
    if isinstance(data, bytes):
        table = np.frombuffer(data[: entries * 2], "<u2").astype(np.float64)
    else:
        table = np.asarray(_values(data), dtype=np.float64)
    if not table.size:
        return None
    if not 1 <= bits <= 16:  # an absurd depth: the table's own range decides
        bits = max(int(table.max()).bit_length(), 1)
    return _Lut(first, table, bits)


def _apply_lut(values: np.ndarray, lut: _Lut) -> np.ndarray:
    index = np.clip(np.rint(values).astype(np.int64) - lut.first, 0, lut.table.size - 1)
    return cast(np.ndarray, lut.table[index])


@dataclass(frozen=True, eq=False)
class _GreyParams:
    """What the file says about turning one frame's stored values into grey levels."""

    slope: float
    intercept: float
    modality_lut: _Lut | None
    voi_lut: _Lut | None
    window: tuple[float, float] | None  # the first of the file's windows
    function: str  # VOI LUT Function: LINEAR, LINEAR_EXACT or SIGMOID


def _grey_params(ds: Dataset, index: int, signed: bool) -> _GreyParams:
    group = "PixelValueTransformationSequence"
    modality_sequence = _frame_attr(ds, index, group, "ModalityLUTSequence")
    voi_sequence = _get(ds, "VOILUTSequence")
    slope = _as_float(_first(_frame_attr(ds, index, group, "RescaleSlope")))
    intercept = _as_float(_first(_frame_attr(ds, index, group, "RescaleIntercept")))
    windows = _file_windows(ds, index)
    function = _first(_frame_attr(ds, index, "FrameVOILUTSequence", "VOILUTFunction"))
    voi_lut = _lut_item(voi_sequence[0], signed) if voi_sequence else None
    return _GreyParams(
        slope=slope or 1.0,  # absent or 0: identity
        intercept=intercept or 0.0,
        modality_lut=_lut_item(modality_sequence[0], signed) if modality_sequence else None,
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
        modality = _apply_lut(stored, params.modality_lut)
    else:
        modality = stored * params.slope + params.intercept
    if params.window is not None:
        return _window_table(modality, *params.window, params.function)
    if params.voi_lut is not None:
        # PS3.3 C.11.2.1.1: the output is scaled by the LUT's declared depth, not stretched
        # between the table's minimum and maximum.
        mapped = _apply_lut(modality, params.voi_lut)
        top = float((1 << params.voi_lut.bits) - 1)
        scaled: np.ndarray = np.clip(np.rint(mapped * (255.0 / top)), 0, 255).astype(np.uint8)
        return scaled
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
    params = _grey_params(parsed.ds, index, geo.signed)
    if window is not None:  # the viewer's choice wins over the file's VOI, with its function
        params = replace(params, window=window, voi_lut=None)
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


def _overlay_mask(ds: Dataset, index: int, rows: int, columns: int) -> np.ndarray | None:
    """The union of the file's graphic overlays (60xx groups with Overlay Data) over frame
    ``index``, as a boolean mask of the image's size; None when there is none."""
    mask: np.ndarray | None = None
    for group in range(0x6000, 0x6020, 2):
        data = ds.get((group, 0x3000))
        height, width = (
            _as_int(_first(_tag(ds, group, 0x0010))),
            _as_int(_first(_tag(ds, group, 0x0011))),
        )
        if data is None or not height or not width or not isinstance(data.value, bytes):
            continue
        frames = _as_int(_first(_tag(ds, group, 0x0015))) or 1
        first_frame = (_as_int(_first(_tag(ds, group, 0x0051))) or 1) - 1
        frame = index - first_frame if frames > 1 else 0
        if not 0 <= frame < frames or height * width * frames > 8 * len(data.value) + 7:
            continue
        bits = np.unpackbits(np.frombuffer(data.value, np.uint8), bitorder="little")
        plane = bits[frame * height * width : (frame + 1) * height * width].reshape(height, width)
        origin = [(_as_int(v) or 1) - 1 for v in _values(_tag(ds, group, 0x0050))] or [0, 0]
        top, left = [*origin, 0, 0][:2]
        if mask is None:
            mask = np.zeros((rows, columns), dtype=bool)
        _paste(mask, plane.astype(bool), top, left)
    return mask


def _tag(ds: Dataset, group: int, element: int) -> Any:
    found = ds.get((group, element))
    return None if found is None else found.value


def _paste(mask: np.ndarray, plane: np.ndarray, top: int, left: int) -> None:
    """OR ``plane`` into ``mask`` at (top, left), clipped to the image."""
    rows, columns = mask.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + plane.shape[0], rows), min(left + plane.shape[1], columns)
    if y0 < y1 and x0 < x1:
        mask[y0:y1, x0:x1] |= plane[y0 - top : y1 - top, x0 - left : x1 - left]


def _with_overlays(image: Image.Image, parsed: _Parsed, index: int, step: int) -> Image.Image:
    """Overlays drawn in white over the image, as dcmtk's "Replace" mode does by default."""
    mask = _overlay_mask(parsed.ds, index, parsed.geo.rows, parsed.geo.columns)
    if mask is None:
        return image
    arr = np.array(image)
    kept = mask[::step, ::step][: arr.shape[0], : arr.shape[1]]
    arr[kept] = 255
    return Image.fromarray(arr)


@dataclass(frozen=True)
class _Sampling:
    """How much of a frame to decode for a picture ``ratio`` times smaller than it.

    Full quality (the default) reads every pixel and lets the fit area-average them; a JPEG
    2000 frame is decoded at the resolution level just above the target (openjpeg's
    "reduce": its wavelet low-pass is an area average, at a fraction of the work).
    ``decimate`` keeps one row and column in ``step`` (point sampling: faster, aliased).
    """

    ratio: float
    decimate: bool = False

    @property
    def step(self) -> int:
        return max(1, int(self.ratio // 2)) if self.decimate else 1

    @property
    def reduce(self) -> int:
        return min(int(math.log2(self.ratio)), 8) if self.ratio >= 2 else 0


def _frame_image(
    fp: IO[bytes],
    parsed: _Parsed,
    index: int,
    sampling: _Sampling,
    window: tuple[float, float] | None,
    overlays: bool = True,
) -> Image.Image:
    image, step = _frame_pixels(fp, parsed, index, sampling, window)
    return _with_overlays(image, parsed, index, step) if overlays else image


def _frame_pixels(
    fp: IO[bytes],
    parsed: _Parsed,
    index: int,
    sampling: _Sampling,
    window: tuple[float, float] | None,
) -> tuple[Image.Image, int]:
    """The frame as an 8-bit image, and the step (source pixels per image pixel) it has."""
    geo = parsed.geo
    step = sampling.step
    if parsed.meta.transfer_syntax in NATIVE_SYNTAXES:
        arr, photometric = _native_frame(fp, parsed, index, step), geo.photometric
        if photometric == "YBR_FULL_422":
            photometric = "RGB"  # expanded and converted while reading
    else:
        arr, photometric, reduced = _encapsulated_frame(fp, parsed, index, sampling.reduce)
        step = max(step, reduced)
        arr = arr[:: step // reduced, :: step // reduced]
    if arr.dtype.itemsize > 2:  # a codestream deeper than its 16-bit header
        raise DicomRejected("decode_failed")
    if photometric in GREY:
        return _grey_image(arr, parsed, index, window, photometric), step
    if photometric == PALETTE:
        return _palette_image(arr, parsed.ds), step
    return _colour_image(arr, geo, photometric), step


def _fit(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Scale to ``target``; an exact integer reduction is a cheaper box filter."""
    if image.size == target:
        return image
    fx, fy = image.size[0] / target[0], image.size[1] / target[1]
    if fx.is_integer() and fy.is_integer() and fx >= 1 and fy >= 1:
        return image.reduce((int(fx), int(fy)))
    return image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _render(
    fp: IO[bytes],
    parsed: _Parsed,
    frame: int | None,
    size: int,
    window: tuple[float, float] | None,
    overlays: bool = True,
    decimate: bool = False,
) -> Image.Image:
    geo = parsed.geo
    index = geo.frames // 2 if frame is None else frame
    if not 0 <= index < geo.frames or not 1 <= size <= 4096:
        raise DicomRejected("decode_failed")
    if window is not None and not (math.isfinite(window[0]) and 0 < window[1] < math.inf):
        raise DicomRejected("decode_failed")
    target = _target_size(geo, _aspect(parsed.ds, index), size)
    sampling = _Sampling(min(geo.rows / target[1], geo.columns / target[0]), decimate)
    return _fit(_frame_image(fp, parsed, index, sampling, window, overlays), target)


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
    overlays: bool = True,
    decimate: bool = False,
) -> Image.Image:
    """Render one frame as an 8-bit ``L`` or ``RGB`` image fitting ``size`` x ``size``.

    ``frame`` is 0-based (default: the middle frame); ``window`` is
    (centre, width) in modality units and overrides the file's VOI. Applies
    the modality LUT, the VOI LUT or window (else a histogram window),
    MONOCHROME1 inversion, colour conversion, palettes and the physical
    pixel aspect ratio, then draws the overlays (60xx) unless ``overlays`` is false.
    Every source pixel is area-averaged into the result (a JPEG 2000 frame is decoded at
    the resolution level just above it) unless ``decimate`` asks for point sampling.
    Every failure raises ``DicomRejected("decode_failed")``.
    """
    with _failures_as("decode_failed"), _opened(source) as (fp, file_size):
        parsed = _parse(fp, file_size, limits, scan=False)
        return _render(fp, parsed, frame, size, window, overlays, decimate)


def render_thumbnail_png(
    source: Source,
    *,
    frame: int | None = None,
    size: int = 256,
    window: tuple[float, float] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    overlays: bool = True,
    decimate: bool = False,
) -> bytes:
    """PNG bytes of :func:`render_frame` (same arguments, same ``decode_failed``)."""
    image = render_frame(
        source,
        frame=frame,
        size=size,
        window=window,
        limits=limits,
        overlays=overlays,
        decimate=decimate,
    )
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


# Media types of one compressed frame as DICOMweb sends it (PS3.18 Table 8.7.3-2).
_FRAME_TYPES = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    RLE: "image/dicom-rle",
}


def frame_data(
    source: Source, index: int | None, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[bytes, str]:
    """(bytes, media type) of frame ``index`` (0-based; ``None``: the middle frame, the one
    a preview shows) as stored: native pixels as ``application/octet-stream`` (little
    endian, as the file), a compressed frame as its own codestream. Only the header and that
    frame's bytes are read (a seek and a read: a ranged read on a storage that supports it),
    the same bytes :func:`render_frame` reads for it. Raises ``DicomRejected("decode_failed")``."""
    with _failures_as("decode_failed"), _opened(source) as (fp, file_size):
        parsed = _parse(fp, file_size, limits, scan=False)
        geo = parsed.geo
        if index is None:
            index = geo.frames // 2
        if not 0 <= index < geo.frames:
            raise DicomRejected("decode_failed")
        ts = parsed.meta.transfer_syntax
        if ts in NATIVE_SYNTAXES:
            if geo.bits_allocated == 1:
                bits = _bit_frame(fp, parsed, index)
                return np.packbits(bits, bitorder="little").tobytes(), "application/octet-stream"
            start = parsed.pixels.value_offset + index * geo.frame_bytes
            return _read_exact(fp, start, geo.frame_bytes), "application/octet-stream"
        encoded = _encoded_frame(fp, parsed, index)
        if encoded is None:
            raise DicomRejected("decode_failed")
        return encoded, _FRAME_TYPES.get(ts, "application/octet-stream")
