"""Uploading DICOM through the view: grouping, dedup, conflicts, partial failure, hostile files
(QUALITY.md §1), hostile names, ZIP studies and bombs, size and count caps, identity checks.

Every refusal: a French message, HTTP 4xx (or the page re-rendered with the file's line),
nothing stored (rows counted, storage and temporary folders listed), an access event."""

from __future__ import annotations

import io
import re
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image
from pydicom.uid import generate_uid

from identity.models import Patient, Professional
from imaging.models import ImagingStudy, Instance, PreviewStatus, Series
from records.models import AccessAction, AccessEvent, Entry

from . import dicom_factory as F
from .conftest import (
    EMPTY,
    Census,
    alice_identity,
    ct_series,
    logged_in,
    one_ct,
    stored_files,
    upload,
    upload_url,
    zip_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]


@pytest.fixture
def client(doctor: Professional) -> Client:
    return logged_in(doctor.user)


def _follow(client: Client, response: Any) -> Any:
    assert response.status_code == 303, response.content[:500]
    return client.get(response["Location"])


def _text(response: Any) -> str:
    return response.content.decode()


# ---------------------------------------------------------------------------- happy paths


def test_one_file_makes_a_study_entry_series_and_instance(
    client: Client, alice: Patient, private_storage: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, alice, [one_ct()])
    page = _follow(client, response)
    assert page.status_code == 200
    assert "1 image(s) enregistrée(s)" in _text(page)
    study = ImagingStudy.objects.select_related("entry").get()
    assert study.entry.kind == "imaging_study" and study.entry.document_type == "18748-4"
    assert study.entry.patient == alice and study.modalities == ["CT"]
    instance = Instance.objects.get()
    assert instance.preview_status == PreviewStatus.READY and instance.preview
    assert Series.objects.get().thumbnail
    assert Census.take(private_storage).files == 3  # the file, its preview, the thumbnail
    assert AccessEvent.objects.filter(action=AccessAction.ENTRY_CREATE, patient=alice).exists()


def test_many_files_are_grouped_by_study_and_series(
    client: Client, alice: Patient, private_storage: Path
) -> None:
    study = generate_uid()
    files = ct_series(3, study_uid=study) + ct_series(2, study_uid=study) + ct_series(2)
    response = upload(client, alice, files)
    assert response.status_code == 303
    assert ImagingStudy.objects.count() == 2
    assert Series.objects.count() == 3
    assert Instance.objects.count() == 7
    assert Entry.objects.filter(kind="imaging_study").count() == 2
    assert len(stored_files(private_storage)) == 7  # previews wait for the commit


def test_a_zip_of_a_study_is_expanded(client: Client, alice: Patient) -> None:
    files = ct_series(4)
    archive = zip_of([(f"ETUDE/SERIE1/IM{n}", data) for n, data in enumerate(files)])
    response = upload(client, alice, [("etude.zip", archive)])
    assert response.status_code == 303
    assert Instance.objects.count() == 4
    assert sorted(Instance.objects.values_list("instance_number", flat=True)) == [1, 2, 3, 4]


def test_storage_keys_are_random_and_say_nothing(
    client: Client, alice: Patient, private_storage: Path
) -> None:
    data = one_ct()
    upload(client, alice, [("DUPONT_ALICE_19850514.dcm", data)])
    instance = Instance.objects.get()
    for path in stored_files(private_storage):
        text = str(path.relative_to(private_storage))
        assert "DUPONT" not in text.upper() and alice.insc not in text
        assert instance.sop_instance_uid not in text and "1.2." not in text
    assert instance.file.name.startswith("imaging/")


def test_file_is_stored_as_uploaded(client: Client, alice: Patient) -> None:
    data = one_ct()
    upload(client, alice, [data])
    instance = Instance.objects.get()
    with instance.file.open("rb") as fh:
        assert fh.read() == data
    assert instance.sha256 == instance.original_sha256


@pytest.mark.parametrize("preamble", [b"MZ\x90\x00", b"\x7fELF\x02\x01\x01"])
def test_executable_preamble_is_zeroed_with_the_original_hash_kept(
    client: Client, alice: Patient, preamble: bytes
) -> None:
    import hashlib

    data = F.with_preamble(one_ct(), preamble)
    response = upload(client, alice, [data])
    assert response.status_code == 303
    instance = Instance.objects.get()
    with instance.file.open("rb") as fh:
        stored = fh.read()
    assert stored[:128] == bytes(128) and stored[128:] == data[128:]
    assert instance.original_sha256 == hashlib.sha256(data).hexdigest()
    assert instance.sha256 == hashlib.sha256(stored).hexdigest()
    assert instance.preamble_kind in {"MZ", "ELF"}


def test_report_is_attached_at_upload(client: Client, alice: Patient, doctor: Professional) -> None:
    from records.models import EntryKind
    from records.services.entries import entry_deposit

    report = entry_deposit(
        actor=doctor.user,
        patient=alice,
        kind=EntryKind.REPORT,
        document_type="18748-4",
        title="CR scanner",
        act_date=alice.opened_at.date(),
    )
    response = upload(client, alice, [one_ct()], report=str(report.public_id))
    assert response.status_code == 303
    assert ImagingStudy.objects.get().report == report


def test_a_report_of_another_type_or_patient_is_refused(client: Client, alice: Patient) -> None:
    response = upload(client, alice, [one_ct()], report=str(generate_uid()[:36]))
    assert response.status_code == 400
    assert Census.take(Path("/nonexistent")).instances == 0


# ---------------------------------------------------------------- dedup and conflicts


def test_same_file_twice_in_one_upload_is_kept_once(
    client: Client, alice: Patient, private_storage: Path
) -> None:
    data = one_ct()
    response = upload(client, alice, [data, data])
    page = _follow(client, response)
    assert Instance.objects.count() == 1 and len(stored_files(private_storage)) == 1
    assert "Même image déposée deux fois" in _text(page)


def test_reupload_stores_nothing_new(client: Client, alice: Patient, private_storage: Path) -> None:
    files = ct_series(3)
    upload(client, alice, files)
    before = Census.take(private_storage)
    response = upload(client, alice, files)
    page = _follow(client, response)
    assert Census.take(private_storage) == before
    assert "3 déjà présente(s)" in _text(page)


def test_same_uid_with_other_content_is_refused_with_an_explanation(
    client: Client, alice: Patient, private_storage: Path
) -> None:
    ds = alice_identity(F.ct_slice(32, 32))
    original = F.to_bytes(ds)
    upload(client, alice, [original])
    ds.StudyDescription = "modifiée"
    response = upload(client, alice, [("modifie.dcm", F.to_bytes(ds))])
    assert response.status_code == 400
    assert "même identifiant DICOM" in _text(response)
    assert Instance.objects.count() == 1 and len(stored_files(private_storage)) == 1


def test_more_files_for_an_existing_study_join_it(client: Client, alice: Patient) -> None:
    study = generate_uid()
    upload(client, alice, ct_series(2, study_uid=study))
    upload(client, alice, ct_series(2, study_uid=study))
    assert ImagingStudy.objects.count() == 1 and Series.objects.count() == 2
    assert AccessEvent.objects.filter(
        action=AccessAction.ENTRY_UPDATE, detail__contains="2 image(s) ajoutée(s)"
    ).exists()


def test_partial_failure_stores_the_good_and_reports_the_bad(
    client: Client, alice: Patient, private_storage: Path
) -> None:
    good = ct_series(10)
    bad = good[0][:-100]  # truncated pixel data
    response = upload(client, alice, [*good, ("tronque.dcm", bad)])
    page = _follow(client, response)
    text = _text(page)
    assert Instance.objects.count() == 10 and len(stored_files(private_storage)) == 10
    assert "tronque.dcm" in text and "tronqué" in text
    assert "10 image(s) enregistrée(s)" in text and "1 refusée(s)" in text
    assert AccessEvent.objects.filter(
        action=AccessAction.DEPOSIT_REFUSED, detail__contains="truncated_pixels"
    ).exists()


# -------------------------------------------------------------------- hostile files


def _png_header(width: int, height: int) -> bytes:
    body = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = (
        struct.pack(">I", len(body))
        + b"IHDR"
        + body
        + struct.pack(">I", zlib.crc32(b"IHDR" + body))
    )
    return b"\x89PNG\r\n\x1a\n" + chunk


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _hostile() -> dict[str, tuple[bytes, str]]:
    """name → (bytes, expected refusal code)."""
    valid = one_ct()
    ct = alice_identity(F.ct_slice(32, 32))
    return {
        "zero-byte": (b"", "empty"),
        "dicm-missing": (bytes(128) + b"XXXX" + valid[132:], "not_dicom"),
        "dicm-misplaced": (F.dicm_misplaced(valid), "no_preamble_magic"),
        "raw-dataset": (F.no_preamble(ct), "no_preamble_magic"),
        "meta-truncated": (valid[:150], "truncated_meta"),
        "pixels-truncated": (valid[:-37], "truncated_pixels"),
        "rle-20000-squared": (F.rle_bomb(), "dimensions_too_large"),
        "element-4gb": (F.huge_element_length(), "element_too_long"),
        "nested-5000": (F.nested_sequences(5000), "too_deep"),
        "unterminated-sequence": (F.nested_sequences(3, terminated=False), "unreadable"),
        "deflated": (F.deflated(alice_identity(F.ct_slice(32, 32))), "deflate_refused"),
        "deflate-bomb": (F.deflate_bomb(8 * 1024 * 1024), "deflate_refused"),
        "encapsulated-pdf": (F.to_bytes(F.non_image(F.ENCAPSULATED_PDF)), "sop_class_refused"),
        "rt-plan": (F.to_bytes(F.non_image(F.RT_PLAN)), "sop_class_refused"),
        "structured-report": (F.to_bytes(F.non_image(F.BASIC_TEXT_SR)), "sop_class_refused"),
        "dicomdir": (F.dicomdir(), "dicomdir"),
        "private-syntax": (
            F.with_transfer_syntax_claim(ct, "1.2.3.4.5.6"),
            "transfer_syntax_refused",
        ),
        "jpeg-xl-no-codec": (
            F.with_transfer_syntax_claim(ct, "1.2.840.10008.1.2.4.110"),
            "transfer_syntax_refused",
        ),
        "uid-traversal": (
            F.to_bytes(F.with_uids(F.ct_slice(16, 16), SOPInstanceUID="../../x")),
            "bad_uid",
        ),
        "uid-200-chars": (
            F.to_bytes(F.with_uids(F.ct_slice(16, 16), StudyInstanceUID="1" * 200)),
            "bad_uid",
        ),
        "png-50000-squared": (_png_header(50000, 50000), "not_dicom"),
        "jpeg-as-dcm": (_jpeg(), "not_dicom"),
        "html-as-dicom": (b"<html><script>alert(1)</script></html>", "not_dicom"),
        "svg-with-script": (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "not_dicom",
        ),
        "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n", "not_dicom"),
        "eps": (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not_dicom"),
        "fits": (b"SIMPLE  =                    T" + b" " * 2850, "not_dicom"),
    }


with warnings.catch_warnings():  # pydicom warns while writing the invalid UIDs on purpose
    warnings.simplefilter("ignore", UserWarning)
    HOSTILE = _hostile()


def _row(text: str, name: str) -> str:
    """The result table's row of one file."""
    cell = f'<td class="file-name">{name}</td>'
    rows = [row for row in re.findall(r"<tr[^>]*>.*?</tr>", text, flags=re.S) if cell in row]
    assert len(rows) == 1, name
    return rows[0]


def test_every_hostile_file_is_refused_and_nothing_is_kept(
    client: Client,
    alice: Patient,
    private_storage: Path,
    upload_tmp: Path,
    staging_dir: Path,
) -> None:
    """All of QUALITY.md §1's hostile files in one upload: each refused with its French
    reason, HTTP 400, nothing stored, temporary files gone, the reasons in the trail."""
    from imaging.dicom import MESSAGES

    files = [(f"{case}.dcm", data) for case, (data, _code) in sorted(HOSTILE.items())]
    response = upload(client, alice, files)
    assert response.status_code == 400
    text = _text(response)
    for case, (_data, code) in HOSTILE.items():
        row = _row(text, f"{case}.dcm")
        assert MESSAGES[code].replace("'", "&#x27;") in row, (case, code)
        assert "refusé" in row
    assert Census.take(private_storage, staging_dir) == EMPTY
    assert list(upload_tmp.iterdir()) == []  # temporary files gone
    event = AccessEvent.objects.get(patient=alice, action=AccessAction.DEPOSIT_REFUSED)
    for _data, code in HOSTILE.values():
        assert code in event.detail


@pytest.mark.parametrize("case", ["zero-byte", "rle-20000-squared", "html-as-dicom"])
def test_a_single_hostile_file_is_refused(
    client: Client, alice: Patient, private_storage: Path, case: str
) -> None:
    data, _code = HOSTILE[case]
    response = upload(client, alice, [(f"{case}.dcm", data)])
    assert response.status_code == 400
    assert "Aucun fichier n&#x27;a été enregistré" in _text(response)
    assert Census.take(private_storage) == EMPTY


def test_rle_bomb_upload_stays_small_in_memory(client: Client, alice: Patient) -> None:
    import tracemalloc

    bomb = F.rle_bomb(20000, 20000)
    tracemalloc.start()
    try:
        response = upload(client, alice, [bomb])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 400
    assert peak < 64 * 1024 * 1024  # decoding it naively would take ~400 MB


def test_script_in_dicom_names_is_stored_as_text_and_shown_escaped(
    client: Client, alice: Patient
) -> None:
    ds = alice_identity(F.ct_slice(32, 32))
    ds.StudyDescription = "<script>alert('étude')</script>"
    ds.SeriesDescription = "<img src=x onerror=alert(1)>"
    upload(client, alice, [F.to_bytes(ds)])
    study = ImagingStudy.objects.get()
    assert study.description == "<script>alert('étude')</script>"
    page = client.get(reverse("imaging:study_detail", args=[study.entry.public_id]))
    text = _text(page)
    assert "<script>alert" not in text and "&lt;script&gt;alert(&#x27;étude&#x27;)" in text
    assert "<img src=x" not in text


# --------------------------------------------------------------------- hostile names


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.dcm",
        "nul\x00byte.dcm",
        "image\u202egpj.dcm",
        "retour\r\nchariot.dcm",
        "x" * 300 + ".dcm",
        "<script>alert(1)</script>.dcm",
    ],
)
def test_hostile_file_names_are_shown_safely_and_never_used_as_keys(
    client: Client, alice: Patient, private_storage: Path, name: str
) -> None:
    response = upload(client, alice, [(name, one_ct()), (name, b"not dicom")])
    page = _follow(client, response)
    text = _text(page)
    assert "\u202e" not in text and "\x00" not in text and "<script>alert(1)" not in text
    assert "x" * 200 not in text  # long names shortened for display
    instance = Instance.objects.get()
    assert len(instance.original_name) <= 200
    for path in stored_files(private_storage):
        relative = str(path.relative_to(private_storage))
        assert ".." not in relative and "passwd" not in relative and "script" not in relative


# ------------------------------------------------------------------------- ZIP


def _zip_bomb(size: int = 300 * 1024 * 1024) -> bytes:
    """One entry inflating to ``size`` bytes of zeros (ratio ~1000)."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("bomb.dcm", "w", force_zip64=True) as entry,
    ):
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            entry.write(chunk)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    return _zip_bomb()


def test_zip_bomb_is_refused_without_inflating(
    client: Client, alice: Patient, private_storage: Path, upload_tmp: Path, zip_bomb: bytes
) -> None:
    response = upload(client, alice, [("etude.zip", zip_bomb)])
    assert response.status_code == 400
    assert "taux de compression" in _text(response)
    assert Census.take(private_storage) == EMPTY
    assert list(upload_tmp.iterdir()) == []


def test_zip_with_too_many_entries_is_refused(
    client: Client, alice: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging import ingest

    monkeypatch.setattr(ingest, "ZIP_MAX_ENTRIES", 3)
    archive = zip_of([(f"IM{n}", b"x") for n in range(4)])
    response = upload(client, alice, [("etude.zip", archive)])
    assert response.status_code == 400 and "nombre de fichiers" in _text(response)


def test_zip_beyond_the_total_uncompressed_cap_is_refused(
    client: Client, alice: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging import ingest

    monkeypatch.setattr(ingest, "ZIP_MAX_TOTAL_BYTES", 10_000)
    archive = zip_of([(f"IM{n}", data) for n, data in enumerate(ct_series(4))])
    response = upload(client, alice, [("etude.zip", archive)])
    assert response.status_code == 400 and Instance.objects.count() == 0


@pytest.mark.parametrize(
    "member", ["../evil.dcm", "ok/../../evil.dcm", "/etc/evil.dcm", "C:evil.dcm", "a\\..\\b.dcm"]
)
def test_zip_with_escaping_paths_is_refused_whole(
    client: Client, alice: Patient, private_storage: Path, member: str
) -> None:
    archive = zip_of([("IM1", one_ct()), (member, one_ct())])
    response = upload(client, alice, [("etude.zip", archive)])
    assert response.status_code == 400
    assert "chemin interdit" in _text(response)
    assert Census.take(private_storage) == EMPTY


def test_zip_entries_are_judged_one_by_one(client: Client, alice: Patient) -> None:
    archive = zip_of(
        [("IM1", one_ct()), ("README.txt", b"hello"), ("__MACOSX/._IM1", b"junk"), ("dir/", b"")]
    )
    response = upload(client, alice, [("etude.zip", archive)])
    page = _follow(client, response)
    assert Instance.objects.count() == 1
    assert "README.txt" in _text(page) and "__MACOSX" not in _text(page)


def test_corrupt_zip_is_refused(client: Client, alice: Patient) -> None:
    archive = bytearray(zip_of([("IM1", one_ct())]))
    archive[40:60] = bytes(20)
    response = upload(client, alice, [("etude.zip", bytes(archive))])
    assert response.status_code == 400 and Instance.objects.count() == 0


# -------------------------------------------------------------------------- caps


def test_a_file_beyond_the_per_file_cap_is_skipped_and_reported(
    client: Client, alice: Patient, settings: Any, private_storage: Path, upload_tmp: Path
) -> None:
    small = one_ct(size=16)
    settings.DMP_IMAGING_MAX_FILE_BYTES = len(small) + 10
    response = upload(client, alice, [("petit.dcm", small), ("gros.dcm", one_ct(size=128))])
    page = _follow(client, response)
    assert Instance.objects.count() == 1
    assert "gros.dcm" in _text(page) and "taille maximale" in _text(page)
    assert list(upload_tmp.iterdir()) == []


def test_a_request_beyond_the_total_cap_is_cut_off(
    client: Client, alice: Patient, settings: Any, private_storage: Path, upload_tmp: Path
) -> None:
    files = ct_series(3, size=64)
    settings.DMP_IMAGING_MAX_UPLOAD_BYTES = len(files[0]) + 100
    response = upload(client, alice, files)
    assert response.status_code == 413
    assert "taille maximale autorisée" in _text(response)
    assert Census.take(private_storage) == EMPTY
    assert list(upload_tmp.iterdir()) == []
    assert AccessEvent.objects.filter(
        action=AccessAction.DEPOSIT_REFUSED, detail__contains="upload_too_large"
    ).exists()


def test_a_declared_length_beyond_the_cap_is_refused_unread(
    client: Client, alice: Patient, settings: Any
) -> None:
    settings.DMP_IMAGING_MAX_UPLOAD_BYTES = 1000
    response = upload(client, alice, [bytes(300_000)])
    assert response.status_code == 413 and Instance.objects.count() == 0


def test_too_many_files_are_refused(
    client: Client, alice: Patient, settings: Any, private_storage: Path
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    response = upload(client, alice, ct_series(4))
    assert response.status_code == 400
    assert "trop de fichiers" in _text(response)
    assert Census.take(private_storage) == EMPTY
    assert AccessEvent.objects.filter(detail__contains="too_many_files").exists()


def test_an_upload_without_files_re_renders_the_form(client: Client, alice: Patient) -> None:
    response = client.post(upload_url(alice), {})
    assert response.status_code == 400
    assert "Choisissez au moins un fichier" in _text(response)


def test_upload_without_csrf_token_is_refused(doctor: Professional, alice: Patient) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(doctor.user)
    response = upload(client, alice, [one_ct()])
    assert response.status_code == 403 and Instance.objects.count() == 0


def test_the_upload_script_gets_a_json_address(client: Client, alice: Patient) -> None:
    from .conftest import as_uploads

    response = client.post(
        upload_url(alice),
        {"files": as_uploads([one_ct()])},
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert response.status_code == 200 and response.json()["location"].startswith(upload_url(alice))


# ----------------------------------------------------------------------- identity


def _stranger_ct() -> bytes:
    ds = F.ct_slice(32, 32)  # DUPONT^JEANNE, born 1970
    return F.to_bytes(ds)


def test_identity_mismatch_is_shown_and_nothing_is_attached(
    client: Client, alice: Patient, private_storage: Path, staging_dir: Path
) -> None:
    response = upload(client, alice, [_stranger_ct(), one_ct()])
    assert response.status_code == 303 and "/confirmer/" in response["Location"]
    page = client.get(response["Location"])
    text = _text(page)
    assert "le prénom diffère" in text.lower() or "Le prénom diffère" in text
    assert "date de naissance diffère" in text
    assert "DUPONT JEANNE" in text
    # The two files are staged in the private storage (shared by every web server), nothing
    # else is stored.
    assert Census.take(private_storage).instances == 0
    assert stored_files(private_storage) == stored_files(staging_dir)
    assert len(list(staging_dir.iterdir())) == 1 and len(stored_files(staging_dir)) == 2


def test_identity_mismatch_confirmed_is_ingested(
    client: Client, alice: Patient, private_storage: Path, staging_dir: Path
) -> None:
    response = upload(client, alice, [_stranger_ct(), one_ct(), b"junk"])
    confirm_url = response["Location"]
    done = client.post(confirm_url, {"decision": "confirm"})
    page = _follow(client, done)
    assert Instance.objects.count() == 2
    assert ImagingStudy.objects.filter(identity_mismatch_confirmed=True).count() == 1
    assert list(staging_dir.iterdir()) == []
    assert "2 image(s) enregistrée(s)" in _text(page) and "1 refusée(s)" in _text(page)
    # The token is single use.
    again = client.post(confirm_url, {"decision": "confirm"})
    assert again.status_code == 302 and Instance.objects.count() == 2


def test_identity_mismatch_cancelled_keeps_nothing(
    client: Client, alice: Patient, private_storage: Path, staging_dir: Path
) -> None:
    response = upload(client, alice, [_stranger_ct()])
    done = client.post(response["Location"], {"decision": "cancel"})
    assert done.status_code == 302
    assert Census.take(private_storage, staging_dir) == EMPTY


def test_staged_upload_expires(client: Client, alice: Patient, staging_dir: Path) -> None:
    from imaging import uploads

    response = upload(client, alice, [_stranger_ct()])
    session = client.session
    staged = session[uploads.STAGED_KEY]
    for entry in staged.values():
        entry["created"] -= uploads.STAGING_TTL + 1
    session[uploads.STAGED_KEY] = staged
    session.save()
    done = client.post(response["Location"], {"decision": "confirm"})
    assert done.status_code == 302 and Instance.objects.count() == 0
    assert list(staging_dir.iterdir()) == []


def test_another_session_cannot_use_the_token(
    client: Client, alice: Patient, authorised_doctor: Professional
) -> None:
    response = upload(client, alice, [_stranger_ct()])
    other = logged_in(authorised_doctor.user)
    done = other.post(response["Location"], {"decision": "confirm"})
    assert done.status_code == 302 and Instance.objects.count() == 0


def test_anonymised_files_need_a_confirmation(client: Client, alice: Patient) -> None:
    ds = F.ct_slice(32, 32)
    ds.PatientName, ds.PatientBirthDate = "", ""
    response = upload(client, alice, [F.to_bytes(ds)])
    page = client.get(response["Location"])
    assert "nom du patient est absent" in _text(page)


def test_accents_case_and_used_name_still_match(client: Client, alice: Patient) -> None:
    ds = alice_identity(F.ct_slice(32, 32))
    ds.PatientName = "Dupont^Alice-Marie"
    response = upload(client, alice, [F.to_bytes(ds)])
    assert "/confirmer/" not in response["Location"]
