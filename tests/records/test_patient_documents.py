"""Documents added by the patient: a PDF, JPEG or PNG judged by its content (5 MB at most),
shown everywhere as added by the patient, deletable by her only; a refused file leaves
nothing but an access event with the reason."""

from __future__ import annotations

import html
import io
import struct
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from identity.models import Patient, Professional
from records.models import AccessAction, AccessEvent, Entry
from records.profile import PatientDocument
from tests.records.conftest import logged_in, stored_files
from tests.records.helpers import pdf_bytes

pytestmark = pytest.mark.django_db

URL = "records:my_documents"


def _image(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge image (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _post(client: Any, name: str, data: bytes, content_type: str, **extra: str) -> Any:
    fields = {
        "title": extra.get("title", "Ordonnance du Dr X"),
        "category": extra.get("category", "prescription"),
        "submission_key": extra.get("key", str(uuid.uuid4())),
        "upload": SimpleUploadedFile(name, data, content_type=content_type),
    }
    return client.post(reverse(URL), fields)


@pytest.mark.parametrize(
    ("name", "data", "content_type", "suffix"),
    [
        ("ordonnance.pdf", pdf_bytes(), "application/pdf", ".pdf"),
        ("photo.jpg", _image("JPEG"), "image/jpeg", ".jpg"),
        ("scan.png", _image("PNG"), "image/png", ".png"),
        ("sans-extension", _image("PNG"), "application/octet-stream", ".png"),  # by content
    ],
)
def test_the_patient_adds_a_pdf_jpeg_or_png(
    alice: Patient, private_storage: Path, name: str, data: bytes, content_type: str, suffix: str
) -> None:
    client = logged_in(alice.user)  # type: ignore[arg-type]
    response = _post(client, name, data, content_type)
    assert response.status_code == 302
    document = PatientDocument.objects.get()
    assert document.entry.declared_by_patient and document.entry.author is None
    assert document.file.name.endswith(suffix) and name not in document.file.name
    [stored] = stored_files(private_storage)
    assert stored.read_bytes() == data


@pytest.mark.parametrize(
    ("name", "data", "content_type", "message"),
    [
        ("vide.pdf", b"", "application/pdf", "est vide"),
        ("faux.pdf", b"MZ\x90\x00" + b"\x00" * 100, "application/pdf", "ni un PDF"),
        ("page.pdf", b"<html><script>alert(1)</script></html>", "application/pdf", "ni un PDF"),
        (
            "dessin.png",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
            "image/png",
            "ni un PDF",
        ),
        ("image.gif", b"GIF89a" + b"\x00" * 50, "image/gif", "ni un PDF"),
        ("bombe.png", _png_declaring(50_000, 50_000), "image/png", "Image trop grande"),
        ("tronque.jpg", _image("JPEG")[:40], "image/jpeg", "n'est pas une image JPEG lisible"),
        ("grand.pdf", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024), "application/pdf", "5 Mo"),
    ],
)
def test_a_file_that_is_not_what_it_says_is_refused(
    alice: Patient, private_storage: Path, name: str, data: bytes, content_type: str, message: str
) -> None:
    client = logged_in(alice.user)  # type: ignore[arg-type]
    response = _post(client, name, data, content_type)
    assert response.status_code in (400, 413)
    assert message in html.unescape(response.content.decode())
    assert not Entry.objects.exists() and stored_files(private_storage) == []
    refused = AccessEvent.objects.filter(action=AccessAction.DEPOSIT_REFUSED)
    assert refused.count() == 1


def test_bad_fields_are_refused_in_french(alice: Patient, private_storage: Path) -> None:
    client = logged_in(alice.user)  # type: ignore[arg-type]
    response = _post(client, "a.pdf", pdf_bytes(), "application/pdf", title="x\x00y")
    assert response.status_code == 400
    response = _post(client, "a.pdf", pdf_bytes(), "application/pdf", category="forged")
    assert response.status_code == 400
    assert not Entry.objects.exists() and stored_files(private_storage) == []


def test_a_double_submission_keeps_one_document(alice: Patient, private_storage: Path) -> None:
    client = logged_in(alice.user)  # type: ignore[arg-type]
    key = str(uuid.uuid4())
    for _attempt in range(2):
        assert _post(client, "a.pdf", pdf_bytes(), "application/pdf", key=key).status_code == 302
    assert PatientDocument.objects.count() == 1 and len(stored_files(private_storage)) == 1


def test_professionals_see_it_as_added_by_the_patient_and_cannot_delete_it(
    alice: Patient, doctor: Professional, private_storage: Path
) -> None:
    _post(logged_in(alice.user), "a.pdf", pdf_bytes(), "application/pdf")  # type: ignore[arg-type]
    entry = Entry.objects.get()
    pro = logged_in(doctor.user)
    timeline = pro.get(reverse("records:timeline_pro", args=[alice.public_id])).content.decode()
    assert "ajouté par le patient" in timeline
    download = pro.get(reverse("records:patient_document_file", args=[entry.public_id]))
    assert download.status_code == 200
    assert download["Content-Security-Policy"] == "sandbox"
    assert b"".join(download.streaming_content).startswith(b"%PDF-")  # type: ignore[attr-defined]
    delete = reverse("records:patient_document_delete", args=[entry.public_id])
    assert pro.post(delete).status_code == 403
    assert Entry.objects.filter(pk=entry.pk).exists()


def test_the_patient_deletes_her_document(alice: Patient, private_storage: Path) -> None:
    client = logged_in(alice.user)  # type: ignore[arg-type]
    _post(client, "a.png", _image("PNG"), "image/png")
    entry = Entry.objects.get()
    with_commit = reverse("records:patient_document_delete", args=[entry.public_id])
    assert client.post(with_commit).status_code == 302
    assert not Entry.objects.exists() and not PatientDocument.objects.exists()
    events = AccessEvent.objects.filter(entry_public_id=entry.public_id)
    assert "document supprimé par le patient" in [e.detail for e in events]
