"""Judging an upload before anything is stored: ZIP expansion, validation, identity check.

Every uploaded file (or ZIP entry) is judged by its content only: ``imaging.dicom.inspect_dicom``
decides; the name is kept for display only (escaped by templates, never a storage key). A ZIP
is recognised by its magic bytes, expanded into a private temporary directory under hard caps
(entries, total and per-entry uncompressed size, compression ratio), and refused as a whole
when it holds a path escaping the archive (``../``, absolute, drive letters) or looks like a
bomb. Nothing here touches the database or the storage.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from identity.errors import UserError
from imaging.dicom import DicomInfo, DicomRejected, inspect_dicom

MIB = 1024 * 1024
GIB = 1024 * MIB

DISPLAY_NAME_LIMIT = 120
ZIP_MAX_ENTRIES = 2000
ZIP_MAX_TOTAL_BYTES = 2 * GIB
ZIP_MAX_ENTRY_BYTES = 512 * MIB
ZIP_MAX_RATIO = 200
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}

MESSAGES = {
    "zip_unreadable": "Cette archive ZIP est illisible ou corrompue.",
    "zip_path": (
        "Cette archive ZIP contient un chemin interdit (« ../ », chemin absolu ou lecteur) : "
        "elle est refusée en entier."
    ),
    "zip_bomb": (
        "Cette archive ZIP est refusée : son contenu décompressé dépasse les limites "
        "(taille totale, nombre de fichiers ou taux de compression anormal)."
    ),
    "zip_entry_method": "Ce fichier de l'archive utilise une compression non prise en charge.",
    "zip_entry_encrypted": "Ce fichier de l'archive est chiffré : il ne peut pas être lu.",
    "zip_entry_corrupt": "Ce fichier de l'archive est corrompu (somme de contrôle invalide).",
}


@dataclass(frozen=True)
class Refusal:
    """A file refused before storage: its display name, a stable code, a French message."""

    name: str
    code: str
    message: str


@dataclass(frozen=True)
class Candidate:
    """A file accepted by validation, not stored yet: a local path and what it says."""

    name: str
    path: str
    info: DicomInfo


@dataclass
class Inspection:
    """The verdict on a whole upload; ``close()`` removes every temporary file it made."""

    candidates: list[Candidate] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    workdir: Path | None = None

    def close(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Inspection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UploadedLike(Protocol):
    name: str | None

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]: ...


# ------------------------------------------------------------------------------- names


def _shown(ch: str) -> str:
    if ch.isprintable():
        return ch
    if unicodedata.category(ch) == "Zs":  # no-break and other spaces
        return " "
    return "\N{REPLACEMENT CHARACTER}"  # controls, CR/LF, bidi overrides, unassigned


def display_name(raw: str | None, limit: int = DISPLAY_NAME_LIMIT) -> str:
    """A file name fit for display: control, format (RTL override) and private characters
    replaced by "�", whitespace collapsed, long names shortened in the middle. Templates
    still escape it; it is never used as a storage key or a path."""
    text = "".join(_shown(ch) for ch in unicodedata.normalize("NFC", raw or ""))
    text = " ".join(text.split())
    if not text:
        return "(sans nom)"
    if len(text) > limit:
        keep = (limit - 1) // 2
        text = text[:keep] + "…" + text[-(limit - 1 - keep) :]
    return text


# ----------------------------------------------------------------------------- ZIP


class ArchiveRefused(UserError):
    """A ZIP upload refused as a whole (bomb, too many members, ``../`` paths...)."""

    def __init__(self, code: str) -> None:
        super().__init__(MESSAGES[code])
        self.code = code


def is_zip(path: str | Path) -> bool:
    """By content: ZIP magic at offset 0, and not a DICOM file (``DICM`` at 128 wins)."""
    with open(path, "rb") as fp:
        head = fp.read(132)
    if head[128:132] == b"DICM":
        return False
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _unsafe_member(name: str) -> bool:
    if "\x00" in name or "\\" in name or name.startswith("/"):
        return True
    first = name.split("/", 1)[0]
    if len(first) >= 2 and first[1] == ":":  # C:evil
        return True
    return any(part == ".." for part in PurePosixPath(name).parts)


def _skipped_member(info: zipfile.ZipInfo) -> bool:
    """Directories and macOS resource forks are not files of the study."""
    parts = PurePosixPath(info.filename).parts
    return info.is_dir() or (bool(parts) and parts[0] == "__MACOSX")


def _check_archive(members: list[zipfile.ZipInfo], budget: int, entries_left: int) -> None:
    """Refuse the whole archive on a hostile path or on anything that looks like a bomb,
    using the central directory (the extraction re-checks what it actually reads)."""
    if any(_unsafe_member(info.filename) for info in members):
        raise ArchiveRefused("zip_path")
    files = [info for info in members if not _skipped_member(info)]
    total = sum(info.file_size for info in files)
    compressed = sum(info.compress_size for info in files)
    if len(files) > entries_left or total > budget:
        raise ArchiveRefused("zip_bomb")
    if total > MIB and total > ZIP_MAX_RATIO * max(compressed, 1):
        raise ArchiveRefused("zip_bomb")
    for info in files:
        if info.file_size > min(ZIP_MAX_ENTRY_BYTES, budget):
            raise ArchiveRefused("zip_bomb")
        if info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1) and info.file_size > MIB:
            raise ArchiveRefused("zip_bomb")


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> str | None:
    """Copy one member to ``target`` reading at most its declared size; a refusal code or None."""
    if info.flag_bits & 0x1:
        return "zip_entry_encrypted"
    if info.compress_type not in _ZIP_METHODS:
        return "zip_entry_method"
    written = 0
    try:
        with archive.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(MIB):
                written += len(chunk)
                if written > info.file_size:  # pragma: no cover - zipfile stops at file_size
                    raise ArchiveRefused("zip_bomb")
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError):
        # RuntimeError: zipfile's "password required"; NotImplementedError derives from it.
        return "zip_entry_corrupt"
    return None


@dataclass
class _Budget:
    """What the ZIP archives of one upload may still expand to (read at call time)."""

    bytes_left: int = field(default_factory=lambda: ZIP_MAX_TOTAL_BYTES)
    entries_left: int = field(default_factory=lambda: ZIP_MAX_ENTRIES)


def _expand_zip(
    path: Path, label: str, workdir: Path, budget: _Budget
) -> tuple[list[tuple[str, Path]], list[Refusal]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ArchiveRefused("zip_unreadable") from None
    with archive:
        members = archive.infolist()
        _check_archive(members, budget.bytes_left, budget.entries_left)
        files: list[tuple[str, Path]] = []
        refusals: list[Refusal] = []
        for info in members:
            if _skipped_member(info):
                continue
            name = display_name(f"{label} › {info.filename}")
            target = workdir / f"z{uuid.uuid4().hex}"
            code = _extract_member(archive, info, target)
            if code is not None:
                target.unlink(missing_ok=True)
                refusals.append(Refusal(name, code, MESSAGES[code]))
                continue
            budget.bytes_left -= info.file_size
            budget.entries_left -= 1
            files.append((name, target))
    return files, refusals


# ----------------------------------------------------------------------- validation


def _local_path(upload: Any, workdir: Path, index: int) -> Path:
    """A path to the uploaded bytes (Django's temporary file, else a private copy)."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        return Path(temporary())
    target = workdir / f"u{index}"
    with open(target, "wb") as dst:
        for chunk in upload.chunks():
            dst.write(chunk)
    return target


def _judge(name: str, path: Path, inspection: Inspection) -> None:
    try:
        info = inspect_dicom(path)
    except DicomRejected as refused:
        inspection.refusals.append(Refusal(name, refused.code, refused.message))
        return
    inspection.candidates.append(Candidate(name, str(path), info))


def inspect_uploads(
    uploads: Iterable[UploadedLike], *, tempdir: str | Path | None = None
) -> Inspection:
    """Validate every uploaded file, expanding ZIP archives; nothing is stored.

    Expanded ZIP entries go to a new private directory inside ``tempdir`` (default: the
    system's), removed by ``Inspection.close()``.
    """
    workdir = Path(tempfile.mkdtemp(prefix="dmp-imaging-", dir=tempdir))
    inspection = Inspection(workdir=workdir)
    budget = _Budget()
    for index, upload in enumerate(uploads):
        name = display_name(upload.name)
        path = _local_path(upload, workdir, index)
        if not is_zip(path):
            _judge(name, path, inspection)
            continue
        try:
            files, refusals = _expand_zip(path, name, workdir, budget)
        except ArchiveRefused as refused:
            inspection.refusals.append(Refusal(name, refused.code, refused.message))
            continue
        inspection.refusals.extend(refusals)
        for member_name, member_path in files:
            _judge(member_name, member_path, inspection)
    return inspection


def inspect_paths(named_paths: Iterable[tuple[str, Path]]) -> Inspection:
    """Re-validate files already on local disk (staged files, the benchmark, the seed)."""
    inspection = Inspection()
    for name, path in named_paths:
        _judge(name, Path(path), inspection)
    return inspection


# ----------------------------------------------------------------------- identity


@dataclass(frozen=True)
class DicomIdentity:
    """The patient identity written in DICOM files (as given: escape when showing it)."""

    name: str
    birth_date: str
    sex: str
    patient_id: str

    @classmethod
    def of(cls, info: DicomInfo) -> DicomIdentity:
        return cls(info.patient_name, info.patient_birth_date, info.patient_sex, info.patient_id)

    @property
    def name_display(self) -> str:
        family, _, given = self.name.split("=", 1)[0].partition("^")
        return " ".join(f"{family.strip()} {given.replace('^', ' ').strip()}".split())

    @property
    def birth_date_display(self) -> str:
        parsed = parse_dicom_date(self.birth_date)
        return parsed.strftime("%d/%m/%Y") if parsed else self.birth_date

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "birth_date": self.birth_date,
            "sex": self.sex,
            "patient_id": self.patient_id,
        }


@dataclass(frozen=True)
class IdentityMismatch:
    identity: DicomIdentity
    problems: tuple[str, ...]
    files: int


def parse_dicom_date(value: str) -> datetime.date | None:
    text = value.strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _words(value: str) -> list[str]:
    """Upper-case words without accents: « Dupont-Léa » → ["DUPONT", "LEA"]."""
    decomposed = unicodedata.normalize("NFKD", value)
    letters = "".join(
        ch.upper() if ch.isalpha() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    return letters.split()


def _name_problems(name: str, patient: Any) -> list[str]:
    family, _, rest = name.split("=", 1)[0].partition("^")
    given = rest.split("^")[:2]
    if not _words(family):
        return ["le nom du patient est absent du fichier DICOM"]
    problems = []
    known = {tuple(_words(patient.birth_name)), tuple(_words(patient.used_name))}
    if tuple(_words(family)) not in known:
        problems.append("le nom de famille diffère")
    given_words = _words(" ".join(given))
    if not given_words:
        problems.append("le prénom est absent du fichier DICOM")
    elif given_words[0] not in _words(patient.first_names):
        problems.append("le prénom diffère")
    return problems


def identity_problems(identity: DicomIdentity, patient: Any) -> tuple[str, ...]:
    """What differs between a DICOM identity and the DMP's patient (French, empty if none).

    Names compare without accents, case or punctuation (birth or used name); the first
    DICOM given name must be one of the patient's first names. A missing name or birth date
    is a difference too: an anonymised file cannot be attached without a confirmation.
    """
    problems = _name_problems(identity.name, patient)
    birth = parse_dicom_date(identity.birth_date)
    if birth is None:
        problems.append("la date de naissance est absente ou invalide dans le fichier DICOM")
    elif patient.birth_date is not None and birth != patient.birth_date:
        problems.append("la date de naissance diffère")
    sex = identity.sex.strip().upper()
    if sex in {"M", "F"} and patient.sex in {"M", "F"} and sex != patient.sex:
        problems.append("le sexe diffère")
    matricule = getattr(patient, "matricule_ins", "")
    pid = identity.patient_id.replace(" ", "")
    if matricule and pid.isdigit() and len(pid) in (13, 15) and pid[:13] != matricule[:13]:
        problems.append("l'identifiant (matricule INS) diffère")
    return tuple(problems)


def identity_mismatches(candidates: Iterable[Candidate], patient: Any) -> list[IdentityMismatch]:
    """Each distinct DICOM identity of the upload that differs from the patient's."""
    counts: dict[DicomIdentity, int] = {}
    for candidate in candidates:
        identity = DicomIdentity.of(candidate.info)
        counts[identity] = counts.get(identity, 0) + 1
    mismatches = []
    for identity, files in counts.items():
        problems = identity_problems(identity, patient)
        if problems:
            mismatches.append(IdentityMismatch(identity, problems, files))
    return mismatches
