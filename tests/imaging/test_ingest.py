"""imaging/ingest.py and imaging/uploads.py without HTTP: names for display, ZIP rules,
identity comparison, the staging area."""

from __future__ import annotations

import datetime
import io
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imaging import ingest
from imaging.ingest import (
    DicomIdentity,
    display_name,
    identity_problems,
    inspect_uploads,
    is_zip,
    parse_dicom_date,
)

from . import dicom_factory as F
from .conftest import one_ct, zip_of

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ALICE = SimpleNamespace(
    birth_name="DUPONT",
    used_name="MARTIN",
    first_names="Alice Marie",
    birth_date=datetime.date(1985, 5, 14),
    sex="F",
    matricule_ins="",
)


class _Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self._data = data

    def chunks(self, chunk_size: int | None = None) -> Any:
        yield self._data


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("scan.dcm", "scan.dcm"),
        ("a\u202egpj.dcm", "a\ufffdgpj.dcm"),
        ("nul\x00.dcm", "nul\ufffd.dcm"),
        ("cr\r\nlf.dcm", "cr\ufffd\ufffdlf.dcm"),
        ("", "(sans nom)"),
        (None, "(sans nom)"),
        ("   ", "(sans nom)"),
    ],
)
def test_display_name(raw: str | None, shown: str) -> None:
    assert display_name(raw) == shown


def test_long_names_keep_both_ends() -> None:
    shown = display_name("d" * 150 + "x" * 150 + ".dcm")
    assert len(shown) == 120 and shown.startswith("ddd") and shown.endswith("x.dcm")
    assert "…" in shown


@given(st.text(max_size=400))
def test_display_name_is_always_printable_and_bounded(raw: str) -> None:
    shown = display_name(raw)
    assert 0 < len(shown) <= 120
    assert all(ch.isprintable() or ch == " " for ch in shown)


# ------------------------------------------------------------------------------ ZIP


def test_zip_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    archive = tmp_path / "scan.dcm"
    archive.write_bytes(zip_of([("a", b"x")]))
    dicom = tmp_path / "etude.zip"
    dicom.write_bytes(one_ct())
    assert is_zip(archive) and not is_zip(dicom)


def test_a_dicom_zip_polyglot_is_judged_as_dicom(tmp_path: Path) -> None:
    polyglot = tmp_path / "x"
    polyglot.write_bytes(F.with_preamble(one_ct(), b"PK\x03\x04"))
    assert not is_zip(polyglot)


@pytest.mark.parametrize(
    "member", ["../x", "a/../../x", "/abs", "C:x", "a\\b", "nul\x00x", "a/./../../b"]
)
def test_unsafe_members(member: str) -> None:
    assert ingest._unsafe_member(member)


@pytest.mark.parametrize("member", ["a", "a/b/c.dcm", "..a", "a..b/c", "DICOM/IM0001"])
def test_safe_members(member: str) -> None:
    assert not ingest._unsafe_member(member)


def test_high_ratio_entry_is_a_bomb() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros", bytes(4 * 1024 * 1024))
    with inspect_uploads([_Upload("z.zip", buffer.getvalue())]) as inspection:
        assert [r.code for r in inspection.refusals] == ["zip_bomb"]


def test_encrypted_and_unsupported_entries_are_refused_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = bytearray(zip_of([("IM1", one_ct()), ("IM2", one_ct())]))
    # Set the "encrypted" flag of the second entry in the central directory.
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1
    with inspect_uploads([_Upload("z.zip", bytes(data))]) as inspection:
        assert len(inspection.candidates) == 1
        assert [r.code for r in inspection.refusals] == ["zip_entry_encrypted"]
    lzma = zip_of([("IM1", one_ct())], method=zipfile.ZIP_LZMA)
    with inspect_uploads([_Upload("z.zip", lzma)]) as inspection:
        assert [r.code for r in inspection.refusals] == ["zip_entry_method"]


def test_inspection_cleans_its_temporary_files(tmp_path: Path) -> None:
    archive = zip_of([("IM1", one_ct()), ("IM2", b"nope")])
    folder = tmp_path / "work"
    folder.mkdir()
    with inspect_uploads([_Upload("z.zip", archive)], tempdir=folder) as inspection:
        assert len(inspection.candidates) == 1 and len(inspection.refusals) == 1
        assert any(folder.iterdir())
    assert list(folder.iterdir()) == []


# -------------------------------------------------------------------------- identity


def _identity(
    name: str = "DUPONT^ALICE", birth: str = "19850514", sex: str = "F", pid: str = ""
) -> DicomIdentity:
    return DicomIdentity(name, birth, sex, pid)


@pytest.mark.parametrize(
    "name",
    [
        "DUPONT^ALICE",
        "Dupont^Alice^Marie",
        "DUPONT^MARIE",
        "dupont^alice",
        "MARTIN^ALICE",
        "Dupont^Alice=デュポン^アリス",
        "DUPONT^ALICE-MARIE",
    ],
)
def test_matching_identities(name: str) -> None:
    assert identity_problems(_identity(name), ALICE) == ()


def test_accents_are_ignored() -> None:
    patient = SimpleNamespace(
        **{**vars(ALICE), "birth_name": "DUPONT-LÉGER", "first_names": "Élise"}
    )
    assert identity_problems(_identity("Dupont Leger^Elise"), patient) == ()


@pytest.mark.parametrize(
    ("identity", "problem"),
    [
        (_identity("DURAND^ALICE"), "le nom de famille diffère"),
        (_identity("DUPONT^JEANNE"), "le prénom diffère"),
        (_identity("DUPONT"), "le prénom est absent du fichier DICOM"),
        (_identity(""), "le nom du patient est absent du fichier DICOM"),
        (_identity(birth="19850515"), "la date de naissance diffère"),
        (_identity(birth=""), "la date de naissance est absente ou invalide dans le fichier DICOM"),
        (
            _identity(birth="19851345"),
            "la date de naissance est absente ou invalide dans le fichier DICOM",
        ),
        (_identity(sex="M"), "le sexe diffère"),
    ],
)
def test_mismatches(identity: DicomIdentity, problem: str) -> None:
    assert problem in identity_problems(identity, ALICE)


def test_unknown_sex_is_not_a_mismatch() -> None:
    assert identity_problems(_identity(sex="O"), ALICE) == ()
    assert identity_problems(_identity(sex=""), ALICE) == ()


def test_matricule_ins_is_compared_when_both_are_known() -> None:
    patient = SimpleNamespace(**{**vars(ALICE), "matricule_ins": "285057512345623"})
    assert identity_problems(_identity(pid="285057512345623"), patient) == ()
    assert "l'identifiant (matricule INS) diffère" in identity_problems(
        _identity(pid="185057512345623"), patient
    )
    assert identity_problems(_identity(pid="IPP-12"), patient) == ()


def test_dates() -> None:
    assert parse_dicom_date("19850514") == datetime.date(1985, 5, 14)
    assert parse_dicom_date("1985-05-14") is None and parse_dicom_date("20250230") is None


def test_display_of_a_dicom_identity() -> None:
    identity = _identity("DUPONT^ALICE^MARIE")
    assert identity.name_display == "DUPONT ALICE MARIE"
    assert identity.birth_date_display == "14/05/1985"
