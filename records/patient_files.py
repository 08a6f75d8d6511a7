"""Judging a file the patient adds to their DMP by its content (framework-free): a PDF (the
checks of ``records.pdf``), a JPEG or a PNG (signature, then Pillow reads the header and
verifies the data, with a pixel cap that turns a decompression bomb into a refusal). Nothing
else, whatever its name or declared type. Messages are French.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from records.pdf import PdfError, inspect_pdf

__all__ = ["MAX_PATIENT_FILE_BYTES", "PatientFile", "PatientFileError", "inspect_patient_file"]

MAX_PATIENT_FILE_BYTES = 5 * 1024 * 1024
# A 48-megapixel phone photo passes; a header declaring 50 000 x 50 000 pixels does not.
MAX_PIXELS = 1 << 26

_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
CONTENT_TYPES = {"PDF": "application/pdf", "JPEG": "image/jpeg", "PNG": "image/png"}
SUFFIXES = {"PDF": ".pdf", "JPEG": ".jpg", "PNG": ".png"}


class PatientFileError(ValueError):
    """The file is refused; ``str(error)`` is the French message."""


@dataclass(frozen=True, slots=True)
class PatientFile:
    format: str  # PDF, JPEG, PNG
    sha256: str
    size: int
    pages: int | None = None
    width: int | None = None
    height: int | None = None

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def _image(data: bytes, expected: str) -> PatientFile:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise PatientFileError(
                        _(
                            "Image trop grande (%(width)d × %(height)d pixels) : réduisez-la "
                            "puis réessayez."
                        )
                        % {"width": width, "height": height}
                    )
                image.verify()
    except PatientFileError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PatientFileError(_("Image trop grande : réduisez-la puis réessayez.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PatientFileError(
            _("Ce fichier n'est pas une image %(format)s lisible : il est endommagé ou incomplet.")
            % {"format": expected}
        ) from None
    return PatientFile(expected, hashlib.sha256(data).hexdigest(), len(data), None, width, height)


def inspect_patient_file(data: bytes) -> PatientFile:
    """What ``data`` is, judged by its content: a readable PDF, JPEG or PNG of at most 5 MB."""
    if not data:
        raise PatientFileError(_("Le fichier est vide."))
    if len(data) > MAX_PATIENT_FILE_BYTES:
        raise PatientFileError(
            _("Le fichier dépasse la taille maximale de %(size)d Mo.")
            % {"size": MAX_PATIENT_FILE_BYTES // (1024 * 1024)}
        )
    if data.startswith(b"%PDF-"):
        try:
            info = inspect_pdf(data, max_bytes=MAX_PATIENT_FILE_BYTES)
        except PdfError as error:
            raise PatientFileError(str(error)) from None
        return PatientFile("PDF", info.sha256, info.size, pages=info.pages)
    for signature, name in _SIGNATURES.items():
        if data.startswith(signature):
            return _image(data, name)
    raise PatientFileError(
        _(
            "Ce fichier n'est ni un PDF, ni une image JPEG ou PNG (d'après son contenu, quel "
            "que soit son nom) : seuls ces formats sont acceptés."
        )
    )
