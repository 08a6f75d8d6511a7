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

The package is cut along the sections of the former ``dicom.py``, each
module importing only from the ones before it: :mod:`~imaging.dicom.rules`
(errors, limits, allow-lists, Pillow guards) <- :mod:`~imaging.dicom.parse`
(file access, meta and dataset parsing, geometry, pixel data) <-
:mod:`~imaging.dicom.inspect` (results, :func:`inspect_dicom`, preamble,
per-frame attributes) <- :mod:`~imaging.dicom.render` (rendering, PNG).
This module only re-exports the public names.
"""

from __future__ import annotations

from imaging.dicom.inspect import (
    DicomInfo,
    WindowPreset,
    copy_sanitized,
    inspect_dicom,
    sanitized_bytes,
    zero_preamble,
)
from imaging.dicom.render import (
    frame_data,
    inspect_and_thumbnail,
    render_frame,
    render_thumbnail_png,
)
from imaging.dicom.rules import (
    DEFAULT_LIMITS,
    MESSAGES,
    DicomRejected,
    Limits,
    Source,
    install_pillow_guards,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MESSAGES",
    "DicomInfo",
    "DicomRejected",
    "Limits",
    "Source",
    "WindowPreset",
    "copy_sanitized",
    "frame_data",
    "inspect_and_thumbnail",
    "inspect_dicom",
    "install_pillow_guards",
    "render_frame",
    "render_thumbnail_png",
    "sanitized_bytes",
    "zero_preamble",
]
