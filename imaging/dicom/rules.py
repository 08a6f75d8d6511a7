"""Rules of the DICOM core: what is refused, and the caps that apply.

The :class:`DicomRejected` error with its stable codes and French messages
(and :func:`_failures_as`, which turns any other failure into one), the
:class:`Limits` caps and their defaults, the allow-lists (SOP classes,
photometric interpretations, CT window presets), the accepted transfer
syntaxes, and the Pillow decompression-bomb guards, installed at import.
Nothing here reads a file.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO

from PIL import Image

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
