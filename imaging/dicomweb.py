"""DICOMweb (PS3.18) as spoken by viewers: content negotiation, QIDO-RS query parameters,
DICOM JSON and multipart/related bodies. No access decision and no query here: the views
(``imaging.dicomweb_views``) fetch rows through ``imaging.access`` first, then stream what
this module builds from them.
"""

from __future__ import annotations

import datetime
import logging
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from pydicom import dcmread

from identity.models import Patient
from imaging.models import ImagingStudy, Instance, Series
from imaging.storage import open_ranged

logger = logging.getLogger(__name__)

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
CHUNK = 256 * 1024  # bytes read from the storage at a time while streaming a file
MAX_LIMIT = 1000  # QIDO-RS: the most results one response may hold
DEFAULT_LIMIT = 100
MAX_PARAMETER = 256  # characters of one query value (a list of UIDs included)


# ------------------------------------------------------------------ content negotiation


@dataclass(frozen=True)
class MediaRange:
    type: str  # "multipart/related", "*/*", ...
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0


_RANGE = re.compile(r'(?:[^,"]|"[^"]*")+')
_PARAM = re.compile(r'\s*([^=;\s]+)\s*=\s*("([^"]*)"|[^;]*)')


def media_ranges(accept: str) -> list[MediaRange]:
    """The ranges of an ``Accept`` header (an empty header accepts anything)."""
    if not accept.strip():
        return [MediaRange("*/*")]
    ranges = []
    for part in _RANGE.findall(accept):
        kind, _sep, rest = part.partition(";")
        params: dict[str, str] = {}
        for match in _PARAM.finditer(rest):
            value = match.group(3) if match.group(3) is not None else match.group(2).strip()
            params[match.group(1).lower()] = value
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 0.0
        if kind.strip() and q > 0:
            ranges.append(MediaRange(kind.strip().lower(), params, q))
    return ranges


def accepts_json(accept: str) -> bool:
    """QIDO-RS results and metadata are DICOM JSON."""
    wanted = {"*/*", "application/*", DICOM_JSON, "application/json"}
    return any(r.type in wanted for r in media_ranges(accept))


def accepts_dicom(accept: str, syntaxes: set[str]) -> bool:
    """Whether stored files of these transfer syntaxes, as they are, satisfy ``accept``:
    ``multipart/related; type="application/dicom"`` with no transfer syntax, ``*``, or the one
    every file has (nothing is transcoded)."""
    for r in media_ranges(accept):
        if r.type == "*/*":
            return True
        if r.type != "multipart/related" or r.params.get("type", DICOM).lower() != DICOM:
            continue
        wanted = r.params.get("transfer-syntax", "*")
        if wanted == "*" or syntaxes == {wanted}:
            return True
    return False


def rendered_type(accept: str) -> str | None:
    """The image type a rendered resource is sent as (PNG unless JPEG is preferred)."""
    best: tuple[float, str] | None = None
    for r in media_ranges(accept):
        for kind in ("image/png", "image/jpeg"):
            if r.type in (kind, "image/*", "*/*"):
                score = r.q + (0.001 if r.type == kind else 0) + (0.0001 if "png" in kind else 0)
                if best is None or score > best[0]:
                    best = (score, kind)
    return best[1] if best else None


# ------------------------------------------------------------------ QIDO-RS parameters


class BadQuery(ValueError):
    """A query parameter that cannot be honoured; ``message`` is for the user (translated)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Keyword and tag of each attribute a search may filter on.
_KEYS = {
    "PatientID": "00100020",
    "StudyDate": "00080020",
    "ModalitiesInStudy": "00080061",
    "StudyInstanceUID": "0020000D",
    "AccessionNumber": "00080050",
    "SeriesInstanceUID": "0020000E",
    "Modality": "00080060",
    "SOPInstanceUID": "00080018",
}
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_CODE = re.compile(r"^[A-Z0-9 _]{1,16}$")
_DATE = re.compile(r"^[0-9]{8}$")


@dataclass(frozen=True)
class Query:
    """A validated QIDO-RS query: filters by keyword, then paging."""

    filters: dict[str, Any]
    limit: int
    offset: int


def parse_query(params: Any, allowed: Iterable[str]) -> Query:
    """Validate a QIDO-RS query string (``request.GET``). Unknown keys (``includefield``,
    ``fuzzymatching``, attributes we do not index) are ignored, as PS3.18 allows; a value we
    filter on that is not what it claims raises :class:`BadQuery`."""
    by_tag = {tag: keyword for keyword, tag in _KEYS.items()}
    filters: dict[str, Any] = {}
    for key in params:
        values = params.getlist(key)
        if any(len(v) > MAX_PARAMETER or "\x00" in v for v in values):
            raise BadQuery(
                _("Paramètre de recherche trop long ou invalide : %(key)s.") % {"key": key[:40]}
            )
        keyword = by_tag.get(key.upper(), key)
        if keyword not in allowed or not values or not values[-1]:
            continue
        filters[keyword] = _filter_value(keyword, values[-1])
    return Query(
        filters,
        _integer(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        _integer(params, "offset", 0, 0, 10**6),
    )


def _integer(params: Any, key: str, default: int, low: int, high: int) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not low <= int(raw) <= high:
        raise BadQuery(
            _("Paramètre « %(key)s » invalide : un entier de %(low)d à %(high)d est attendu.")
            % {"key": key, "low": low, "high": high}
        )
    return int(raw)


def _filter_value(keyword: str, value: str) -> Any:
    if keyword.endswith("UID"):
        uids = [uid.strip() for uid in value.split(",")]
        if not all(_UID.match(uid) and len(uid) <= 64 for uid in uids):
            raise BadQuery(_("Identifiant DICOM (UID) invalide dans la recherche."))
        return uids
    if keyword == "StudyDate":
        return _date_range(value)
    if keyword in ("ModalitiesInStudy", "Modality"):
        codes = [code.strip().upper() for code in value.split(",")]
        if not all(_CODE.match(code) for code in codes):
            raise BadQuery(_("Modalité invalide dans la recherche."))
        return codes
    if keyword == "PatientID":
        if not re.fullmatch(r"[0-9]{22}", value):
            raise BadQuery(_("Identifiant patient invalide : l'INS-C compte 22 chiffres."))
        return value
    return value.strip()


def _date_range(value: str) -> tuple[datetime.date | None, datetime.date | None]:
    """``YYYYMMDD``, ``A-B``, ``A-`` or ``-B`` (PS3.4 C.2.2.2.5)."""
    low, dash, high = value.partition("-")
    parts = (low, high) if dash else (low, low)
    if parts == ("", "") or not all(part == "" or _DATE.match(part) for part in parts):
        raise BadQuery(_("Date invalide dans la recherche : AAAAMMJJ ou AAAAMMJJ-AAAAMMJJ."))
    try:
        first, last = (
            datetime.date(int(part[:4]), int(part[4:6]), int(part[6:])) if part else None
            for part in parts
        )
    except ValueError:
        raise BadQuery(
            _("Date invalide dans la recherche : AAAAMMJJ ou AAAAMMJJ-AAAAMMJJ.")
        ) from None
    return first, last


# ------------------------------------------------------------------ DICOM JSON


def _element(vr: str, *values: Any) -> dict[str, Any]:
    kept = [v for v in values if v not in (None, "")]
    return {"vr": vr, "Value": kept} if kept else {"vr": vr}


def _da(date: datetime.date | None) -> dict[str, Any]:
    return _element("DA", date.strftime("%Y%m%d") if date else None)


def patient_attributes(patient: Patient) -> dict[str, Any]:
    """The DMP's identity of the patient (PatientID is the INS-C): what the DMP vouches for,
    not what each file says."""
    name = f"{patient.birth_name}^{patient.first_names.replace(' ', '^', 1)}".strip("^")
    return {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]} if name else {"vr": "PN"},
        "00100020": _element("LO", patient.insc),
        "00100021": _element("LO", "1.2.250.1.213.1.4.2"),  # issuer: the INS-C OID
        "00100030": _da(patient.birth_date),
        "00100040": _element("CS", patient.sex),
    }


def study_attributes(study: ImagingStudy, base: str) -> dict[str, Any]:
    """One QIDO-RS study result (``series_count``/``instance_count`` annotated)."""
    return {
        "00080020": _da(study.study_date),
        "00080050": _element("SH", study.accession_number),
        "00080061": _element("CS", *study.modalities),
        "00081030": _element("LO", study.description),
        "00081190": _element("UR", f"{base}/studies/{study.study_instance_uid}"),
        **patient_attributes(study.entry.patient),
        "0020000D": _element("UI", study.study_instance_uid),
        "00201206": _element("IS", getattr(study, "series_count", None)),
        "00201208": _element("IS", getattr(study, "instance_count", None)),
    }


def series_attributes(series: Series, base: str) -> dict[str, Any]:
    """One QIDO-RS series result (``instance_count`` annotated)."""
    study_uid = series.study.study_instance_uid
    return {
        "00080060": _element("CS", series.modality),
        "0008103E": _element("LO", series.description),
        "00081190": _element(
            "UR", f"{base}/studies/{study_uid}/series/{series.series_instance_uid}"
        ),
        "0020000D": _element("UI", study_uid),
        "0020000E": _element("UI", series.series_instance_uid),
        "00200011": _element("IS", series.number),
        "00201209": _element("IS", getattr(series, "instance_count", None)),
    }


def instance_url(instance: Instance, base: str) -> str:
    series = instance.series
    return (
        f"{base}/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}/instances/{instance.sop_instance_uid}"
    )


def instance_attributes(instance: Instance, base: str) -> dict[str, Any]:
    """One QIDO-RS instance result, from the row alone."""
    return {
        "00080016": _element("UI", instance.sop_class_uid),
        "00080018": _element("UI", instance.sop_instance_uid),
        "00081190": _element("UR", instance_url(instance, base)),
        "00083002": _element("UI", instance.transfer_syntax),
        "0020000D": _element("UI", instance.series.study.study_instance_uid),
        "0020000E": _element("UI", instance.series.series_instance_uid),
        "00200013": _element("IS", instance.instance_number),
        "00280008": _element("IS", instance.frames),
        "00280010": _element("US", instance.rows),
        "00280011": _element("US", instance.columns),
    }


def json_array(items: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """A JSON array, one item at a time (a 1000-instance series is never held whole)."""
    import json

    yield b"["
    for number, item in enumerate(items):
        yield (b"," if number else b"") + json.dumps(item, separators=(",", ":")).encode()
    yield b"]"


def instance_metadata(instance: Instance, base: str) -> dict[str, Any]:
    """The DICOM JSON of a stored file's header (the pixel data left out, pointed to)."""
    with open_ranged(instance.file.name or "") as fh:  # the header only, by range on S3
        ds = dcmread(fh, stop_before_pixels=True)
    metadata: dict[str, Any] = ds.to_json_dict(bulk_data_threshold=1 << 30)
    metadata["00083002"] = _element("UI", instance.transfer_syntax)
    metadata["00081190"] = _element("UR", instance_url(instance, base))
    metadata["7FE00010"] = {"vr": "OW", "BulkDataURI": f"{instance_url(instance, base)}/frames/1"}
    return metadata


# ------------------------------------------------------------------ multipart/related


def boundary() -> str:
    return f"dmp-{secrets.token_hex(16)}"


def multipart_files(instances: list[Instance], mark: str) -> Iterator[bytes]:
    """Each stored file as one ``application/dicom`` part, read a chunk at a time."""
    for instance in instances:
        head = (
            f"--{mark}\r\nContent-Type: {DICOM}; transfer-syntax={instance.transfer_syntax}"
            f"\r\nContent-Length: {instance.size}\r\n\r\n"
        )
        yield head.encode()
        with default_storage.open(instance.file.name or "", "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
        yield b"\r\n"
    yield f"--{mark}--\r\n".encode()


def multipart_parts(parts: Iterable[tuple[str, bytes]], mark: str) -> Iterator[bytes]:
    """Parts already in memory (frames), each with its content type."""
    for content_type, body in parts:
        yield f"--{mark}\r\nContent-Type: {content_type}\r\n\r\n".encode() + body + b"\r\n"
    yield f"--{mark}--\r\n".encode()
