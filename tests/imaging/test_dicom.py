"""imaging/dicom/: validation of hostile uploads and correct, fast thumbnails.

No database, no Django: synthetic files built by ``dicom_factory`` plus the small
real files shipped inside the installed pydicom package.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from imaging.dicom import (
    DicomInfo,
    DicomRejected,
    Limits,
    copy_sanitized,
    inspect_and_thumbnail,
    inspect_dicom,
    install_pillow_guards,
    render_frame,
    render_thumbnail_png,
    sanitized_bytes,
    zero_preamble,
)

from . import dicom_factory as F

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def rejected(data: bytes | Path, code: str, limits: Limits | None = None) -> DicomRejected:
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with pytest.raises(DicomRejected) as caught:
        if limits is None:
            inspect_dicom(source)
        else:
            inspect_dicom(source, limits)
    assert caught.value.code == code, caught.value
    assert caught.value.message  # a French sentence for the user
    return caught.value


def accepted(data: bytes) -> DicomInfo:
    return inspect_dicom(io.BytesIO(data))


def render(data: bytes, **kwargs: object) -> np.ndarray:
    return np.asarray(render_frame(io.BytesIO(data), **kwargs))  # type: ignore[arg-type]


def ct_bytes(hu: np.ndarray, **kwargs: object) -> bytes:
    rows, cols = hu.shape
    return F.to_bytes(F.ct_slice(rows, cols, hu=hu, **kwargs))  # type: ignore[arg-type]


def blocks(values: list[float], size: int = 16) -> np.ndarray:
    """One row of uniform size x size blocks, one per value (no noise)."""
    return np.repeat(np.repeat(np.array([values], dtype=float), size, 0), size, 1)


# ----------------------------------------------------------------------- accepted


def test_ct_slice_is_described(tmp_path: Path) -> None:
    ds = F.ct_slice(64, 64)
    path = F.write(tmp_path / "ct.dcm", ds)
    info = inspect_dicom(path)
    raw = path.read_bytes()
    assert info.sha256 == info.original_sha256 == hashlib.sha256(raw).hexdigest()
    assert not info.preamble_was_nonzero and info.preamble_kind is None
    assert info.size == len(raw)
    assert (info.study_instance_uid, info.series_instance_uid, info.sop_instance_uid) == (
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
        ds.SOPInstanceUID,
    )
    assert info.sop_class_uid == F.CT_IMAGE and info.sop_class_label == "Scanner (CT)"
    assert info.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert (info.patient_name, info.patient_id) == ("DUPONT^JEANNE", "PAT-0001")
    assert (info.patient_birth_date, info.patient_sex) == ("19700101", "F")
    assert (info.modality, info.body_part, info.study_date) == ("CT", "CHEST", "20240315")
    assert (info.study_description, info.series_description) == ("TDM thorax", "Axial 1.25")
    assert (info.series_number, info.instance_number) == (3, 1)
    assert (info.rows, info.columns, info.number_of_frames) == (64, 64, 1)
    assert info.photometric_interpretation == "MONOCHROME2"
    assert (info.bits_allocated, info.bits_stored, info.pixel_representation) == (16, 12, 1)
    assert info.pixel_spacing == (0.7, 0.7) and info.slice_thickness == 1.25
    assert not info.lossy_compression
    first = info.window_presets[0]
    assert (first.label, first.center, first.width, first.from_file) == (
        "MEDIASTIN",
        40.0,
        400.0,
        True,
    )
    labels = {p.label for p in info.window_presets if not p.from_file}
    assert {"Poumon", "Os", "Tissus mous"} <= labels
    assert all(p.explanation for p in info.window_presets)


def test_script_in_names_is_returned_as_given() -> None:
    ds = F.ct_slice(32, 32)
    ds.PatientName = "<script>alert(1)</script>^É"
    ds.StudyDescription = "<img src=x onerror=alert(1)>"
    info = accepted(F.to_bytes(ds))
    assert info.patient_name == "<script>alert(1)</script>^É"
    assert info.study_description == "<img src=x onerror=alert(1)>"


def test_texts_lose_nul_and_are_capped() -> None:
    ds = F.ct_slice(32, 32)
    ds.StudyDescription = "A\0B" + "x" * 5000
    info = accepted(F.to_bytes(ds))
    assert info.study_description.startswith("AB") and len(info.study_description) == 1024


def test_caller_file_position_is_restored() -> None:
    stream = io.BytesIO(F.to_bytes(F.ct_slice(32, 32)))
    stream.seek(17)
    inspect_dicom(stream)
    render_frame(stream)
    assert stream.tell() == 17


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "JPEG2000.dcm",
        "JPGExtended.dcm",
        "693_J2KI.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "SC_rgb_jpeg_gdcm.dcm",
        "SC_rgb_dcmtk_+eb+cy+s2.dcm",
        "SC_rgb_rle_16bit_2frame.dcm",
        "SC_ybr_full_422_uncompressed.dcm",
        "examples_ybr_color.dcm",
        "examples_palette.dcm",
        "examples_jpeg2k.dcm",
        "examples_overlay.dcm",
    ],
)
def test_real_files_shipped_with_pydicom_are_accepted_and_rendered(name: str) -> None:
    path = F.local_testdata(name)
    info = inspect_dicom(path)
    image = render_frame(path, size=128)
    assert image.mode == ("L" if info.photometric_interpretation.startswith("MONO") else "RGB")
    assert max(image.size) == 128
    assert np.asarray(image).std() > 1  # an image, not a flat field


# ----------------------------------------------------------------------- hostile


def test_zero_byte_file() -> None:
    rejected(b"", "empty")


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\n" * 40, b"\x89PNG\r\n\x1a\n" + bytes(300), b"MZ" + bytes(200)],
)
def test_other_formats_are_not_dicom(data: bytes) -> None:
    rejected(data, "not_dicom")


def test_raw_dataset_without_preamble() -> None:
    rejected(F.no_preamble(F.ct_slice(32, 32)), "no_preamble_magic")


def test_dicm_misplaced() -> None:
    rejected(F.dicm_misplaced(F.to_bytes(F.ct_slice(32, 32))), "no_preamble_magic")


@pytest.mark.parametrize("keep", [133, 140, 150, 190])
def test_truncated_file_meta(keep: int) -> None:
    rejected(F.to_bytes(F.ct_slice(32, 32))[:keep], "truncated_meta")


def test_file_meta_without_transfer_syntax() -> None:
    rejected(F.local_testdata("meta_missing_tsyntax.dcm").read_bytes(), "truncated_meta")


@pytest.mark.parametrize("cut", [1, 2, 100, 2000])
def test_truncated_native_pixel_data(cut: int) -> None:
    rejected(F.to_bytes(F.ct_slice(32, 32))[:-cut], "truncated_pixels")


def test_truncated_pixel_data_of_a_real_file() -> None:
    rejected(F.local_testdata("MR_truncated.dcm"), "truncated_pixels")


def test_pixel_length_lying_about_the_data() -> None:
    raw = F.to_bytes(F.ct_slice(32, 32))
    pos = raw.rindex(b"\xe0\x7f\x10\x00OW")
    lie = raw[: pos + 8] + struct.pack("<I", 32 * 32 * 2 - 2) + raw[pos + 12 :]
    rejected(lie, "truncated_pixels")


def test_truncated_rle_fragment() -> None:
    raw = F.to_bytes(F.rle(F.ct_slice(64, 64)))
    rejected(raw[:-40], "truncated_pixels")


def test_missing_frames_in_encapsulated_data() -> None:
    ds = F.rle(F.multiframe(3, 32, 32))
    ds.NumberOfFrames = 4
    rejected(F.to_bytes(ds), "truncated_pixels")


def test_missing_pixel_data() -> None:
    ds = F.ct_slice(32, 32)
    del ds.PixelData
    rejected(F.to_bytes(ds), "no_pixel_data")


@pytest.mark.parametrize(
    ("preamble", "kind"), [(b"MZ\x90\x00\x03", "MZ"), (b"\x7fELF\x02\x01\x01", "ELF")]
)
def test_executable_preamble_is_accepted_flagged_and_zeroed(
    tmp_path: Path, preamble: bytes, kind: str
) -> None:
    raw = F.with_preamble(F.to_bytes(F.ct_slice(32, 32)), preamble)
    path = tmp_path / "polyglot.dcm"
    path.write_bytes(raw)
    info = inspect_dicom(path)
    assert info.preamble_was_nonzero and info.preamble_kind == kind
    assert info.original_sha256 == hashlib.sha256(raw).hexdigest()
    clean = zero_preamble(raw)
    assert clean[:128] == bytes(128) and clean[128:] == raw[128:]
    assert info.sha256 == hashlib.sha256(clean).hexdigest()
    assert sanitized_bytes(path) == clean
    out = io.BytesIO()
    assert copy_sanitized(path, out) == info.sha256 and out.getvalue() == clean
    again = accepted(clean)
    assert not again.preamble_was_nonzero and again.sha256 == info.sha256


def _cheap(call: object, budget_s: float = 1.0, budget_mb: float = 16.0) -> DicomRejected:
    """Run a call expected to be refused; check it stays fast and small."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DicomRejected) as caught:
            call()  # type: ignore[operator]
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < budget_s, elapsed
    assert peak < budget_mb * 1024 * 1024, peak
    return caught.value


def test_rle_declaring_20000_squared_is_refused_before_decoding() -> None:
    bomb = F.rle_bomb(20000, 20000)
    assert len(bomb) < 2000
    error = _cheap(lambda: inspect_dicom(io.BytesIO(bomb)))
    assert error.code == "dimensions_too_large"
    assert _cheap(lambda: render_frame(io.BytesIO(bomb))).code == "decode_failed"


@pytest.mark.parametrize(("side", "frames"), [(16000, 1), (4000, 3)])
def test_rle_bomb_within_the_caps_cannot_fill_its_frame(side: int, frames: int) -> None:
    bomb = F.rle_bomb(side, side, frames=frames)
    assert _cheap(lambda: inspect_dicom(io.BytesIO(bomb))).code == "truncated_pixels"
    error = _cheap(lambda: render_frame(io.BytesIO(bomb), frame=frames - 1))
    assert error.code == "decode_failed"
    assert isinstance(error.__cause__, DicomRejected)
    assert error.__cause__.code == "truncated_pixels"


def test_caps_are_configurable() -> None:
    raw = F.to_bytes(F.ct_slice(64, 64))
    rejected(raw, "dimensions_too_large", Limits(max_rows=32))
    rejected(F.to_bytes(F.multiframe(5, 16, 16)), "dimensions_too_large", Limits(max_frames=4))
    rejected(raw, "dimensions_too_large", Limits(max_frame_bytes=64 * 64 * 2 - 1))
    rejected(raw, "too_large", Limits(max_file_bytes=len(raw) - 1))


@pytest.mark.parametrize("implicit", [False, True])
def test_element_length_of_4_gb(tmp_path: Path, implicit: bool) -> None:
    path = tmp_path / "huge.dcm"
    path.write_bytes(F.huge_element_length(implicit=implicit))
    assert _cheap(lambda: inspect_dicom(path)).code == "element_too_long"


def test_header_budget_bounds_large_elements() -> None:
    ds = F.ct_slice(16, 16)
    ds.add_new(0x00291010, "OB", b"x" * 200_000)
    rejected(F.to_bytes(ds), "element_too_long", Limits(max_header_bytes=100_000))


@pytest.mark.parametrize("depth", [20, 5000])
def test_deeply_nested_sequences(depth: int) -> None:
    data = F.nested_sequences(depth)
    assert _cheap(lambda: inspect_dicom(io.BytesIO(data)), budget_mb=64).code == "too_deep"


def test_unterminated_sequence() -> None:
    data = F.nested_sequences(3, terminated=False)
    assert _cheap(lambda: inspect_dicom(io.BytesIO(data))).code == "unreadable"


def test_deflated_transfer_syntax_is_refused() -> None:
    rejected(F.deflated(F.ct_slice(32, 32)), "deflate_refused")
    rejected(F.local_testdata("image_dfl.dcm"), "deflate_refused")


def test_deflate_bomb_is_refused_without_inflating() -> None:
    bomb = F.deflate_bomb(64 * 1024 * 1024)
    assert len(bomb) < 200_000
    assert _cheap(lambda: inspect_dicom(io.BytesIO(bomb))).code == "deflate_refused"


@pytest.mark.parametrize(
    "uid",
    [
        "1.2.3.4.5.6",  # unknown
        "1.2.840.113619.5.2",  # GE private implicit big endian
        "1.2.840.10008.1.2.2",  # explicit big endian (retired)
        "1.2.840.10008.1.2.4.100",  # MPEG2
        "../../etc/passwd",
    ],
)
def test_unknown_or_private_transfer_syntax(uid: str) -> None:
    rejected(F.with_transfer_syntax_claim(F.ct_slice(16, 16), uid), "transfer_syntax_refused")


def test_big_endian_real_file_is_refused() -> None:
    rejected(F.local_testdata("MR_small_bigendian.dcm"), "transfer_syntax_refused")


@pytest.mark.parametrize("sop_class", [F.ENCAPSULATED_PDF, F.RT_PLAN, F.BASIC_TEXT_SR])
def test_non_image_sop_classes(sop_class: str) -> None:
    rejected(F.to_bytes(F.non_image(sop_class)), "sop_class_refused")


@pytest.mark.parametrize("name", ["rtplan.dcm", "test-SR.dcm", "rtdose.dcm", "waveform_ecg.dcm"])
def test_non_image_real_files(name: str) -> None:
    rejected(F.local_testdata(name), "sop_class_refused")


def test_unknown_sop_class_with_pixels() -> None:
    ds = F.ct_slice(16, 16)
    ds.SOPClassUID = "1.2.3.4.5"
    rejected(F.to_bytes(ds), "sop_class_refused")


def test_image_meta_disguising_a_pdf() -> None:
    pdf = F.header_bytes(F.non_image(F.ENCAPSULATED_PDF))
    dataset = pdf[pdf.index(b"\x08\x00\x05\x00CS") :]  # after its own file meta
    rejected(F.meta_bytes(sop_class=F.CT_IMAGE) + dataset, "sop_class_refused")


def test_dicomdir() -> None:
    rejected(F.dicomdir(), "dicomdir")
    rejected(F.local_testdata("dicomdirtests/DICOMDIR"), "dicomdir")


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"])
@pytest.mark.parametrize("value", ["../../x", "1" * 200, "1.02.3", "1..2", "1.2.a", ""])
def test_bad_uids(keyword: str, value: str) -> None:
    rejected(F.to_bytes(F.with_uids(F.ct_slice(16, 16), **{keyword: value})), "bad_uid")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Rows": 0}, "bad_header"),
        ({"SamplesPerPixel": 3}, "bad_header"),
        ({"BitsStored": 17}, "bad_header"),
        ({"NumberOfFrames": "0"}, "bad_header"),
        ({"PixelRepresentation": 7}, "bad_header"),
        ({"PhotometricInterpretation": "CMYK"}, "pixel_format_refused"),
        ({"BitsAllocated": 32, "BitsStored": 32}, "pixel_format_refused"),
    ],
)
def test_incoherent_image_attributes(change: dict[str, object], code: str) -> None:
    ds = F.ct_slice(16, 16)
    for keyword, value in change.items():
        setattr(ds, keyword, value)
    rejected(F.to_bytes(ds), code)


def test_codestream_larger_than_declared() -> None:
    ds = F.jpeg_baseline(F.rgb(F.colour_bars(64, 96)))
    ds.Columns = 64
    rejected(F.to_bytes(ds), "dimensions_mismatch")
    rejected(F.local_testdata("JPEG2000-embedded-sequence-delimiter.dcm"), "dimensions_mismatch")


def test_random_corruption_never_escapes_as_another_exception() -> None:
    rng = random.Random(1234)
    seeds = [
        F.to_bytes(F.ct_slice(32, 32)),
        F.to_bytes(F.rle(F.multiframe(3, 32, 32))),
        F.to_bytes(F.jpeg_baseline(F.rgb())),
        F.to_bytes(F.jpeg2000(F.ct_slice(32, 32))),
    ]
    outcomes = {"accepted": 0, "rejected": 0}
    for _ in range(240):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(128, len(data))
            action = rng.random()
            if action < 0.6:
                data[pos] = rng.randrange(256)
            elif action < 0.8:
                data[pos : pos + 4] = struct.pack("<I", rng.choice([0xFFFFFFFF, 0xFFFFFFF0, 1]))
            else:
                del data[pos : pos + rng.randint(1, 64)]
        try:
            inspect_dicom(io.BytesIO(bytes(data)))
            outcomes["accepted"] += 1
        except DicomRejected:
            outcomes["rejected"] += 1
        try:
            render_frame(io.BytesIO(bytes(data)), size=32)
        except DicomRejected as exc:
            assert exc.code == "decode_failed"
    assert outcomes["accepted"] and outcomes["rejected"]


# --------------------------------------------------------------------- rendering


def test_ct_window_maps_known_values() -> None:
    # Window 40/400 (DICOM linear): <= -160 -> 0, 40 -> 128, > 239 -> 255.
    hu = blocks([-1000, -160, 40, 240, 1000])
    out = render(ct_bytes(hu), size=hu.shape[1])
    assert out.shape == hu.shape
    assert [int(out[8, 8 + 16 * i]) for i in range(5)] == [0, 0, 128, 255, 255]


def test_signed_and_unsigned_storage_render_alike() -> None:
    hu = blocks([-500, 0, 100])
    signed = render(ct_bytes(hu, signed=True), size=hu.shape[1])
    unsigned = render(ct_bytes(hu, signed=False), size=hu.shape[1])
    assert np.array_equal(signed, unsigned)


def test_explicit_window_overrides_the_file() -> None:
    hu = blocks([-1000, 0, 49, 50])
    out = render(ct_bytes(hu), size=hu.shape[1], window=(0.0, 100.0))
    assert [int(out[8, 8 + 16 * i]) for i in range(4)] == [0, 129, 255, 255]


def test_first_of_several_windows_is_used() -> None:
    ds = F.ct_slice(16, 48, hu=blocks([-101, 0, 101]))
    ds.WindowCenter, ds.WindowWidth = [0, 500], [201, 2000]
    out = render(F.to_bytes(ds), size=48)
    assert [int(out[8, 8 + 16 * i]) for i in range(3)] == [0, 128, 255]


def test_rescale_slope_and_intercept() -> None:
    values = blocks([0, 100, 200]).astype(np.int16)
    ds = F.grey(values, bits_stored=16, sop_class=F.CT_IMAGE, modality="CT")
    ds.RescaleSlope, ds.RescaleIntercept = 2.0, -200.0  # -> -200, 0, 200
    ds.WindowCenter, ds.WindowWidth = 0.0, 401.0
    out = render(F.to_bytes(ds), size=48)
    assert [int(out[8, 8 + 16 * i]) for i in range(3)] == [0, 128, 255]


def test_unused_high_bits_are_ignored() -> None:
    hu = blocks([-160, 40, 240])
    clean = F.ct_slice(16, 48, hu=hu)
    dirty = F.ct_slice(16, 48, hu=hu)
    arr = np.frombuffer(dirty.PixelData, "<u2").copy()
    arr |= 0xF000  # garbage above the 12 stored bits (e.g. an overlay)
    dirty.PixelData = arr.tobytes()
    dirty.PixelRepresentation = 0
    clean.PixelRepresentation = 0
    assert np.array_equal(render(F.to_bytes(dirty), size=48), render(F.to_bytes(clean), size=48))


def test_twelve_bit_signed_values() -> None:
    values = blocks([-2048, 0, 2047]).astype(np.int16)
    ds = F.grey(values, bits_stored=12)
    ds.WindowCenter, ds.WindowWidth = 0.0, 4096.0
    out = render(F.to_bytes(ds), size=48)
    assert [int(out[8, 8 + 16 * i]) for i in range(3)] == [0, 128, 255]


def test_monochrome1_is_inverted() -> None:
    hu = blocks([-1000, 40, 1000])
    mono2 = render(ct_bytes(hu), size=48)
    ds = F.ct_slice(16, 48, hu=hu)
    ds.PhotometricInterpretation = "MONOCHROME1"
    mono1 = render(F.to_bytes(ds), size=48)
    assert np.array_equal(mono1, 255 - mono2)


def test_voi_lut_sequence() -> None:
    from pydicom.dataset import Dataset

    values = blocks([0, 1, 2, 3]).astype(np.uint16)
    ds = F.grey(values, bits_stored=16)
    item = Dataset()
    item.LUTDescriptor = [4, 0, 16]
    item.LUTData = np.array([0, 1000, 3000, 4000], "<u2").tobytes()
    item["LUTData"].VR = "OW"
    ds.VOILUTSequence = [item]
    ds.WindowCenter, ds.WindowWidth = 1000.0, 1.0  # the LUT takes precedence
    out = render(F.to_bytes(ds), size=64)
    # PS3.3 C.11.2.1.1: the output is scaled by the declared 16 bits (x * 255 / 65535), not
    # stretched between the table's minimum and maximum (see test_greyscale_vs_dcmtk.py).
    assert [int(out[8, 8 + 16 * i]) for i in range(4)] == [0, 4, 12, 16]


def test_sigmoid_voi_function() -> None:
    values = blocks([0, 500, 1000]).astype(np.uint16)
    ds = F.grey(values, bits_stored=16)
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 500.0, 200.0, "SIGMOID"
    out = render(F.to_bytes(ds), size=48)
    low, mid, high = (int(out[8, 8 + 16 * i]) for i in range(3))
    assert low < 5 and mid in (127, 128) and high > 250


def test_automatic_window_without_voi() -> None:
    ramp = F.ramp(32, 256, 0, 4000, np.uint16)
    out = render(F.to_bytes(F.grey(ramp, bits_stored=12)), size=256)
    assert out[:, 0].max() <= 1 and out[:, -1].min() >= 254
    assert np.all(np.diff(out[0].astype(int)) >= 0)


def test_automatic_window_ignores_outliers() -> None:
    ramp = F.ramp(64, 256, 1000, 2000, np.uint16)
    ramp[0, 0] = 65000  # one hot pixel must not crush the contrast
    out = render(F.to_bytes(F.grey(ramp, bits_stored=16)), size=256)
    assert out[32, 128] in range(100, 156)


def test_eight_bit_grey_without_window_is_shown_as_stored() -> None:
    values = blocks([0, 100, 255]).astype(np.uint8)
    out = render(F.to_bytes(F.grey(values, bits_stored=8)), size=48)
    assert [int(out[8, 8 + 16 * i]) for i in range(3)] == [0, 100, 255]


def test_uniform_image_renders() -> None:
    values = np.full((16, 16), 700, np.uint16)
    out = render(F.to_bytes(F.grey(values, bits_stored=16)), size=16)
    assert out.min() == out.max()


def test_rgb_colour_bars() -> None:
    out = render(F.to_bytes(F.rgb()), size=96)
    assert out.shape == (64, 96, 3)
    assert out[32, 16].tolist() == [255, 0, 0]
    assert out[32, 48].tolist() == [0, 255, 0]
    assert out[32, 80].tolist() == [0, 0, 255]


def test_rgb_planar_configuration_one() -> None:
    ds = F.rgb()
    arr = F.colour_bars()
    ds.PlanarConfiguration = 1
    ds.PixelData = np.ascontiguousarray(arr.transpose(2, 0, 1)).tobytes()
    out = render(F.to_bytes(ds), size=96)
    assert out[32, 16].tolist() == [255, 0, 0] and out[32, 80].tolist() == [0, 0, 255]


def test_ybr_full_is_converted_to_rgb() -> None:
    out = render(F.to_bytes(F.ybr_full()), size=96).astype(int)
    assert np.abs(out[32, 16] - [255, 0, 0]).max() <= 3
    assert np.abs(out[32, 48] - [0, 255, 0]).max() <= 3
    assert np.abs(out[32, 80] - [0, 0, 255]).max() <= 3


def test_ybr_full_422_native_real_file() -> None:
    path = F.local_testdata("SC_ybr_full_422_uncompressed.dcm")
    ours = np.asarray(render_frame(path, size=100)).astype(int)
    reference = np.asarray(
        render_frame(F.local_testdata("SC_rgb_dcmtk_+eb+cr.dcm"), size=100)
    ).astype(int)
    assert np.abs(ours - reference).mean() < 4


def test_palette_colour() -> None:
    out = render(F.to_bytes(F.palette()), size=64)
    assert out[16, 8].tolist() == [255, 0, 0]
    assert out[16, 56].tolist() == [0, 0, 255]


def test_sixteen_bit_rgb_real_file_matches_eight_bit() -> None:
    eight = np.asarray(render_frame(F.local_testdata("SC_rgb_rle.dcm"), size=100)).astype(int)
    sixteen = np.asarray(render_frame(F.local_testdata("SC_rgb_rle_16bit.dcm"), size=100))
    assert np.abs(eight - sixteen.astype(int)).max() <= 1


def _frames(values: list[int]) -> bytes:
    stack = np.stack([np.full((16, 16), v, np.int16) for v in values])
    ds = F.grey(stack, bits_stored=16, sop_class=F.MF_GRAYSCALE_WORD_SC)
    ds.WindowCenter, ds.WindowWidth = 128.0, 256.0  # grey level == stored value
    return F.to_bytes(ds)


def test_frame_selection_and_middle_default() -> None:
    data = _frames([10, 60, 110, 160, 210])
    assert int(render(data, size=16)[0, 0]) == 110  # middle frame
    assert [int(render(data, frame=i, size=16)[0, 0]) for i in (0, 4)] == [10, 210]
    with pytest.raises(DicomRejected) as caught:
        render_frame(io.BytesIO(data), frame=5)
    assert caught.value.code == "decode_failed"


@pytest.mark.parametrize("table", ["basic", "extended", "none"])
def test_frame_selection_rle_multiframe(table: str) -> None:
    native = F.to_bytes(F.multiframe(6, 32, 32))
    ds = F.multiframe(6, 32, 32)
    ds.compress("1.2.840.10008.1.2.5", encapsulate_ext=table == "extended")
    if table == "none":
        from pydicom.encaps import encapsulate, generate_frames

        frames = list(generate_frames(ds.PixelData, number_of_frames=6))
        ds.PixelData = encapsulate(frames, has_bot=False)
    data = F.to_bytes(ds)
    accepted(data)
    for index in (0, 3, 5):
        ours = render(data, frame=index, size=32)
        assert np.array_equal(ours, render(native, frame=index, size=32))


def test_offset_table_pointing_inside_a_fragment() -> None:
    raw = bytearray(F.to_bytes(F.rle(F.multiframe(3, 32, 32))))
    pos = raw.rindex(b"\xfe\xff\x00\xe0\x0c\x00\x00\x00")  # BOT item of 3 offsets
    second = struct.unpack_from("<I", raw, pos + 12)[0]
    raw[pos + 12 : pos + 16] = struct.pack("<I", second + 2)
    rejected(bytes(raw), "bad_pixel_data")
    with pytest.raises(DicomRejected) as caught:
        render_frame(io.BytesIO(bytes(raw)), frame=1)
    assert caught.value.code == "decode_failed"


def test_one_bit_frames() -> None:
    frames = np.zeros((3, 8, 12), np.uint8)
    frames[1, :, 6:] = 1
    ds = F.base_dataset(sop_class="1.2.840.10008.5.1.4.1.1.7.1", modality="OT")
    ds.Rows, ds.Columns, ds.NumberOfFrames, ds.SamplesPerPixel = 8, 12, 3, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 1
    ds.HighBit = ds.PixelRepresentation = 0
    ds.PixelData = np.packbits(frames.ravel(), bitorder="little").tobytes()
    out = render(F.to_bytes(ds), frame=1, size=12)
    assert out[:, :6].max() == 0 and out[:, 6:].min() == 255


def _enhanced_ct() -> bytes:
    """Enhanced CT: rescale and window per frame, spacing in the shared groups."""
    from pydicom.dataset import Dataset

    def item(**values: object) -> Dataset:
        ds = Dataset()
        for keyword, value in values.items():
            setattr(ds, keyword, value)
        return ds

    stack = np.stack([np.full((16, 32), 1000, np.int16) for _ in range(3)])
    ds = F.grey(stack, bits_stored=16, sop_class="1.2.840.10008.5.1.4.1.1.2.1", modality="CT")
    shared = item(PixelMeasuresSequence=[item(PixelSpacing=[1.0, 0.5], SliceThickness=2.0)])
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PerFrameFunctionalGroupsSequence = [
        item(
            PixelValueTransformationSequence=[
                item(RescaleIntercept=intercept, RescaleSlope=1.0, RescaleType="HU")
            ],
            FrameVOILUTSequence=[item(WindowCenter=0.0, WindowWidth=1001.0)],
        )
        for intercept in (-1500.0, -1000.0, -500.0)  # -> -500, 0, +500 HU
    ]
    return F.to_bytes(ds)


def test_enhanced_multiframe_uses_functional_groups() -> None:
    data = _enhanced_ct()
    info = accepted(data)
    assert info.pixel_spacing == (1.0, 0.5) and info.slice_thickness == 2.0
    assert (info.window_presets[0].center, info.window_presets[0].width) == (0.0, 1001.0)
    levels = [int(render(data, frame=i, size=32)[8, 8]) for i in range(3)]
    assert levels == [0, 128, 255]
    # 16 rows of 1 mm by 32 columns of 0.5 mm: square on screen, not 2:1.
    assert render_frame(io.BytesIO(data), size=64).size == (64, 64)


def test_sequence_depth_cap() -> None:
    rejected(_enhanced_ct(), "too_deep", Limits(max_sequence_depth=1))


def test_aspect_ratio_from_pixel_spacing() -> None:
    data = F.to_bytes(F.ct_slice(64, 64, spacing=(1.0, 0.5)))
    assert render_frame(io.BytesIO(data), size=256).size == (128, 256)
    data = F.to_bytes(F.ct_slice(64, 64, spacing=(0.5, 1.0)))
    assert render_frame(io.BytesIO(data), size=256).size == (256, 128)


def test_aspect_ratio_from_pixel_aspect_ratio() -> None:
    ds = F.ct_slice(64, 64, spacing=None)
    ds.PixelAspectRatio = [2, 1]
    assert render_frame(io.BytesIO(F.to_bytes(ds)), size=256).size == (128, 256)


def test_downscaled_large_image_keeps_its_content() -> None:
    hu = np.full((1024, 1024), -1000.0)
    hu[:, 512:] = 1000.0
    out = render(ct_bytes(hu), size=256)
    assert out.shape == (256, 256)
    assert out[:, :120].max() == 0 and out[:, 136:].min() == 255


@pytest.mark.parametrize("codec", ["rle", "jpeg2000"])
def test_lossless_codecs_render_like_native(codec: str) -> None:
    native = F.to_bytes(F.ct_slice(128, 128))
    compressed = F.to_bytes(getattr(F, codec)(F.ct_slice(128, 128)))
    info = accepted(compressed)
    assert info.transfer_syntax_uid != "1.2.840.10008.1.2.1"
    assert np.array_equal(render(compressed, size=128), render(native, size=128))


@pytest.mark.parametrize("signed", [True, False])
def test_jpeg_2000_thumbnail_decoded_at_reduced_resolution_matches_native(signed: bool) -> None:
    """A 1024² JPEG 2000 thumbnail (decoded 2 resolution levels down by openjpeg) looks like
    the thumbnail of the same pixels uncompressed (area-averaged): the same picture, only the
    sharpest edges differ (the wavelet's low-pass is not a 4 x 4 box)."""
    hu = np.clip(F.ct_phantom(1024, 1024, seed=3), -1000, 900)  # no 12-bit wrap in the ring
    native = F.to_bytes(F.ct_slice(1024, 1024, signed=signed, hu=hu))
    j2k = F.to_bytes(F.jpeg2000(F.ct_slice(1024, 1024, signed=signed, hu=hu)))
    from imaging.dicom.render import _j2k_reduced

    frame = pydicom.dcmread(io.BytesIO(j2k)).PixelData
    codestream = frame[frame.index(b"\xff\x4f\xff\x51") :]
    reduced = _j2k_reduced(codestream, 2)
    assert reduced is not None and reduced[0].shape == (256, 256)  # a quarter of each side
    difference = np.abs(render(j2k, size=256).astype(int) - render(native, size=256).astype(int))
    assert np.median(difference) <= 1 and np.percentile(difference, 95) <= 10
    assert float(difference.mean()) < 5


def test_lossy_jpeg_2000_is_close_and_flagged() -> None:
    ds = F.jpeg2000(F.ct_slice(128, 128), lossless=False)
    data = F.to_bytes(ds)
    assert accepted(data).lossy_compression
    native = render(F.to_bytes(F.ct_slice(128, 128)), size=128).astype(float)
    lossy = render(data, size=128).astype(float)
    assert np.corrcoef(native.ravel(), lossy.ravel())[0, 1] > 0.9


def test_jpeg_baseline_grey_and_colour() -> None:
    values = F.ramp(64, 64, 0, 255, np.uint8)
    grey = F.jpeg_baseline(F.grey(values, bits_stored=8))
    out = render(F.to_bytes(grey), size=64).astype(int)
    assert np.abs(out - values).mean() < 3
    colour = render(F.to_bytes(F.jpeg_baseline(F.rgb())), size=96).astype(int)
    assert np.abs(colour[32, 16] - [255, 0, 0]).max() < 12
    assert np.abs(colour[32, 80] - [0, 0, 255]).max() < 12


@pytest.mark.parametrize(
    ("data", "mode"),
    [(F.to_bytes(F.ct_slice(64, 64)), "L"), (F.to_bytes(F.ybr_full()), "RGB")],
)
def test_thumbnail_png_decodes_to_the_rendered_frame(data: bytes, mode: str) -> None:
    png = render_thumbnail_png(io.BytesIO(data), size=128)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()  # checks the CRCs and the zlib stream
    assert image.mode == mode and max(image.size) == 128
    assert np.array_equal(np.asarray(image), render(data, size=128))


def test_inspect_and_thumbnail_in_one_pass() -> None:
    data = F.to_bytes(F.ct_slice(64, 64))
    info, png = inspect_and_thumbnail(io.BytesIO(data), size=64)
    assert info == accepted(data)
    assert png == render_thumbnail_png(io.BytesIO(data), size=64)


def test_inspect_and_thumbnail_keeps_an_undecodable_instance(
    caplog: pytest.LogCaptureFixture,
) -> None:
    info, png = inspect_and_thumbnail(F.local_testdata("JPEG-lossy.dcm"))
    assert png is None and info.rows == 1024
    assert "aperçu indisponible" in caplog.text


def test_inspect_and_thumbnail_still_refuses() -> None:
    with pytest.raises(DicomRejected) as caught:
        inspect_and_thumbnail(io.BytesIO(F.rle_bomb()))
    assert caught.value.code == "dimensions_too_large"


def test_undecodable_frame_is_decode_failed() -> None:
    # Accepted structurally, but no installed codec can decode this stream.
    path = F.local_testdata("JPEG-lossy.dcm")
    inspect_dicom(path)
    with pytest.raises(DicomRejected) as caught:
        render_thumbnail_png(path)
    assert caught.value.code == "decode_failed"
    assert caught.value.message == "L'aperçu de cette image n'a pas pu être produit."


def test_corrupt_codestream_is_decode_failed() -> None:
    raw = bytearray(F.to_bytes(F.jpeg2000(F.ct_slice(64, 64))))
    start = raw.rindex(b"\xff\x4f\xff\x51")
    raw[start + 200 : start + 400] = bytes(200)
    raw[start + 60 : start + 80] = b"\xff" * 20
    with pytest.raises(DicomRejected) as caught:
        render_frame(io.BytesIO(bytes(raw)))
    assert caught.value.code == "decode_failed"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": (float("nan"), 400.0)},
        {"window": (40.0, 0.0)},
        {"window": (40.0, float("inf"))},
        {"size": 0},
        {"size": 100_000},
        {"frame": -1},
    ],
)
def test_bad_render_arguments_are_decode_failed(kwargs: dict[str, object]) -> None:
    with pytest.raises(DicomRejected) as caught:
        render_frame(io.BytesIO(F.to_bytes(F.ct_slice(16, 16))), **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == "decode_failed"


def test_render_of_a_hostile_file_is_decode_failed() -> None:
    for data in (b"", F.rle_bomb(), F.deflated(F.ct_slice(16, 16))):
        with pytest.raises(DicomRejected) as caught:
            render_frame(io.BytesIO(data))
        assert caught.value.code == "decode_failed"
        assert isinstance(caught.value.__cause__, DicomRejected)  # the reason is kept


# ------------------------------------------------------------------ I/O economy


class CountingReader(io.RawIOBase):
    """A seekable stream that counts the bytes handed out."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._inner = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


@pytest.mark.parametrize("compress", [False, True])
def test_one_frame_of_200_reads_about_one_frame(compress: bool) -> None:
    ds = F.multiframe(200, 64, 64)
    if compress:
        ds = F.rle(ds)
    data = F.to_bytes(ds)
    reader = CountingReader(data)
    render_frame(reader, frame=150, size=64)
    frame_bytes = 64 * 64 * 2
    assert reader.bytes_read < 4 * frame_bytes, (reader.bytes_read, len(data))


def test_large_native_image_decimated_reads_only_the_rows_it_needs() -> None:
    data = ct_bytes(np.zeros((2048, 2048)))
    reader = CountingReader(data)
    render_frame(reader, size=256, decimate=True)
    assert reader.bytes_read < len(data) / 3


def test_thumbnail_is_area_averaged_not_point_sampled() -> None:
    """Columns alternating -1000 / +1000 HU: a thumbnail is their average (mid-grey), not one
    of them (aliasing) as a point-sampled one is."""
    hu = np.zeros((1024, 1024))
    hu[:, 0::2], hu[:, 1::2] = -1000, 1000
    data = ct_bytes(hu)
    averaged = np.asarray(render_frame(io.BytesIO(data), size=128, window=(0.0, 2000.0)))
    assert abs(float(averaged.mean()) - 127.5) < 3 and int(averaged.std()) <= 1
    sampled = np.asarray(
        render_frame(io.BytesIO(data), size=128, window=(0.0, 2000.0), decimate=True)
    )
    assert abs(float(sampled.mean()) - 127.5) > 100  # what the old thumbnails showed


# --------------------------------------------------------------------- Pillow


def test_pillow_decompression_bomb_is_an_error() -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    def png_header(width: int, height: int) -> bytes:
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        idat = zlib.compress(bytes(64))
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)

    # pytest drops filters added while collecting: install again, as ready() does.
    install_pillow_guards()
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS <= 1 << 26
    for width in (10_000, 50_000):  # below and above twice the limit
        with pytest.raises((Image.DecompressionBombError, Image.DecompressionBombWarning)):
            Image.open(io.BytesIO(png_header(width, width)))
