"""Greyscale rendering checked against Debian's dcmtk (``dcmj2pnm``) on files built here:
VOI LUT scaled by its declared depth (PS3.3 C.11.2.1.1), signed first mapped values of Modality
and VOI LUTs, the file's VOI LUT function kept by the viewer's windows, overlays (60xx).

Each case renders the same file at its own size (no resampling) with ``render_frame`` and with
``dcmj2pnm``, and compares every pixel (±1 grey level for rounding).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from imaging.dicom import render_frame

from . import dicom_factory as F

DCMJ2PNM = shutil.which("dcmj2pnm")
pytestmark = pytest.mark.skipif(
    DCMJ2PNM is None, reason="dcmtk's dcmj2pnm is needed (apt-get install dcmtk)"
)


def ramp_image(values: np.ndarray, *, bits_stored: int = 12) -> Dataset:
    """A CT-like image whose stored values are ``values`` (no window in the file)."""
    ds = F.ct_slice(values.shape[0], values.shape[1], window=None, spacing=None)
    F.set_pixels(ds, values, photometric="MONOCHROME2", bits_stored=bits_stored)
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    return ds


def lut_item(first: int, data: np.ndarray, bits: int) -> Dataset:
    """A LUT item as a modality writes it: the descriptor in US (even for a negative first
    value, hence 64512 for -1024), the table as OW."""
    item = Dataset()
    item.add_new(0x00283002, "US", [len(data) % 65536, first, bits])
    item.add_new(0x00283006, "OW", np.asarray(data, "<u2").tobytes())
    return item


def dcmtk(path: Path, *options: str) -> np.ndarray:
    out = path.with_suffix(".png")
    subprocess.run(  # noqa: S603 - a fixed binary on files of the test
        [str(DCMJ2PNM), "+on", *options, str(path), str(out)], check=True, capture_output=True
    )
    return np.asarray(Image.open(out).convert("L"), dtype=np.int16)


def ours(path: Path, **kwargs: Any) -> np.ndarray:
    image = render_frame(path, size=max(_size(path)), **kwargs)
    return np.asarray(image.convert("L"), dtype=np.int16)


def _size(path: Path) -> tuple[int, int]:
    from pydicom import dcmread

    ds = dcmread(path, stop_before_pixels=True)
    return int(ds.Rows), int(ds.Columns)


def same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    worst = int(np.abs(a - b).max())
    assert worst <= 1, f"differs by up to {worst} grey levels"


def test_voi_lut_using_part_of_its_range_is_scaled_by_its_depth(tmp_path: Path) -> None:
    """A 12-bit VOI LUT whose entries only reach 2047: mid-grey at most, not full contrast."""
    values = np.tile(np.arange(0, 4096, 16, dtype=np.uint16), (16, 1))
    ds = ramp_image(values)
    ds.VOILUTSequence = Sequence([lut_item(0, np.arange(4096) // 2, 12)])
    path = F.write(tmp_path / "voi.dcm", ds)
    reference = dcmtk(path, "+Wl", "1")
    assert reference.max() <= 128  # the LUT's own meaning, per dcmtk
    same(ours(path), reference)


def test_signed_modality_lut_first_value_written_unsigned(tmp_path: Path) -> None:
    """Signed pixels, a Modality LUT starting at -1024 written as 64512: not solid black."""
    values = np.tile(np.arange(-1024, 1024, 8, dtype=np.int16), (16, 1))
    ds = ramp_image(values)
    del ds.RescaleSlope, ds.RescaleIntercept
    modality = lut_item(64512, np.arange(2048), 12)
    ds.ModalityLUTSequence = Sequence([modality])
    ds.WindowCenter, ds.WindowWidth = 1024, 2048
    path = F.write(tmp_path / "modality.dcm", ds)
    reference = dcmtk(path, "+Wi", "1")
    assert reference.std() > 30  # a ramp, per dcmtk
    same(ours(path), reference)


def test_signed_voi_lut_first_value_written_unsigned(tmp_path: Path) -> None:
    values = np.tile(np.arange(-1024, 1024, 8, dtype=np.int16), (16, 1))
    ds = ramp_image(values)
    ds.VOILUTSequence = Sequence([lut_item(64512, np.arange(2048) * 2, 12)])
    path = F.write(tmp_path / "voi-signed.dcm", ds)
    reference = dcmtk(path, "+Wl", "1")
    assert reference.std() > 30
    same(ours(path), reference)


@pytest.mark.parametrize(("function", "option"), [("SIGMOID", "+Wfs"), ("LINEAR", "+Wfl")])
def test_a_preset_window_keeps_the_files_voi_lut_function(
    tmp_path: Path, function: str, option: str
) -> None:
    values = np.tile(np.arange(0, 4096, 16, dtype=np.uint16), (16, 1))
    ds = ramp_image(values)
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.VOILUTFunction = function
    path = F.write(tmp_path / "function.dcm", ds)
    # The viewer's "bone" preset, say, on this file: dcmtk with the same window and function.
    reference = dcmtk(path, "+Ww", "1500", "1000", option)
    same(ours(path, window=(1500.0, 1000.0)), reference)
    same(ours(path), dcmtk(path, "+Wi", "1", option))


def test_overlays_are_drawn_as_dcmtk_does(tmp_path: Path) -> None:
    values = np.full((64, 64), 1000, dtype=np.uint16)
    ds = ramp_image(values)
    ds.WindowCenter, ds.WindowWidth = 1000, 2000
    plane = np.zeros((20, 30), dtype=np.uint8)
    plane[5:15, 3:27] = 1
    plane[0, :] = 1
    F.with_overlay(ds, plane, (11, 21))
    path = F.write(tmp_path / "overlay.dcm", ds)
    reference = dcmtk(path, "+Wi", "1")
    drawn = ours(path)
    assert (drawn == 255).sum() == int(plane.sum())  # every overlay pixel, nothing else
    same(drawn, reference)
    same(ours(path, overlays=False), dcmtk(path, "+Wi", "1", "-O"))
