""" "Télécharger mon DMP": the archive unzipped and every file parsed, who may ask and fetch,
what the patient may see (and only that), once-only download, expiry, failure, queries."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from identity.models import Patient, Professional
from imaging.models import Instance
from records.exports import DmpExport, ExportStatus
from records.models import AccessAction, AccessEvent, Notification, NotificationKind
from records.portability import RIM
from records.services import export as export_services
from records.services.entries import entry_mask
from records.services.profile import patient_document_add
from tests.imaging.conftest import ct_series, deposit
from tests.records.helpers import allergy, lab, pdf_bytes, report

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_storage(settings: Any, tmp_path: Path) -> Path:
    location = tmp_path / "private"
    location.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location), "base_url": None},
        },
    }
    settings.DMP_IMAGING_STAGING_DIR = str(tmp_path / "staging")
    return location


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def full_dmp(alice: Patient, doctor: Professional, tmp_path: Path) -> dict[str, Any]:
    """Alice's DMP with one of each: a PDF report, a text report, a lab report, an allergy, a
    masked report, a document hidden from her, a file she added, a 3-image CT study."""
    pdf = pdf_bytes("CR opératoire")
    with_pdf = report(doctor, alice, title="CR opératoire", pdf=pdf)
    text = report(doctor, alice, title="CR de consultation")
    masked = report(doctor, alice, title="CR masqué", pdf=pdf_bytes("Masqué"))
    entry_mask(actor=alice.user, entry=masked, masked=True)
    hidden = report(doctor, alice, title="Annonce à faire", invisible_to_patient=True)
    lab_entry = lab(doctor, alice)
    allergy_entry = allergy(doctor, alice)
    png = _png()
    added = patient_document_add(
        actor=alice.user, patient=alice, title="Ordonnance", category="prescription", upload=png
    )
    study = deposit(doctor.user, alice, ct_series(3), tmp_path / "dicom", previews=False)
    return {
        "pdf": pdf,
        "with_pdf": with_pdf,
        "text": text,
        "masked": masked,
        "hidden": hidden,
        "lab": lab_entry,
        "allergy": allergy_entry,
        "added": added,
        "png": png,
        "study": study,
    }


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, "PNG")
    return buffer.getvalue()


def _ask(client: Client, url: str) -> DmpExport:
    with TestCase.captureOnCommitCallbacks(execute=True):  # the task, after the commit
        response = client.post(url)
    assert response.status_code == 302, response.content[:500]
    return DmpExport.objects.get(public_id=response.url.rstrip("/").split("/")[-1])


def _download(client: Client, export: DmpExport) -> bytes:
    response = client.get(reverse("records:export_download", args=[export.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    # Consumed to the end, the test client closes the response (as a server would).
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)
        if tag in ("script", "link", "img", "iframe"):
            self.external.append(tag)


def _parse_every_member(archive: zipfile.ZipFile) -> dict[str, Any]:
    """Parse every file of the archive by its kind; return what was parsed."""
    parsed: dict[str, Any] = {}
    for name in archive.namelist():
        data = archive.read(name)
        upper = name.upper()
        if upper.endswith(".XML"):
            parsed[name] = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
        elif upper.endswith(".JSON"):
            parsed[name] = json.loads(data)
        elif upper.endswith((".HTM", ".HTML")):
            links = _Links()
            links.feed(data.decode())
            parsed[name] = links
        elif upper.endswith(".PDF"):
            assert data.startswith(b"%PDF-"), name
        elif upper.endswith(".DCM"):
            assert data[128:132] == b"DICM", name
        elif upper.endswith(".PNG"):
            assert data.startswith(b"\x89PNG"), name
        elif upper.endswith(".TXT"):
            parsed[name] = data.decode()
        else:
            raise AssertionError(f"unexpected member {name}")
    return parsed


def test_archive_layout_every_file_parsed(
    alice: Patient, full_dmp: dict[str, Any], private_storage: Path
) -> None:
    client = logged_in(alice.user)
    export = _ask(client, reverse("records:my_export"))
    export.refresh_from_db()
    assert export.status == ExportStatus.READY  # the embedded backend ran the task at once
    body = _download(client, export)
    archive = zipfile.ZipFile(io.BytesIO(body))
    names = set(archive.namelist())
    assert {
        "INDEX.HTM",
        "README.TXT",
        "index.html",
        "IHE_XDM/SUBSET01/METADATA.XML",
        "FHIR/BUNDLE.JSON",
    } <= names
    parsed = _parse_every_member(archive)

    # index.html and INDEX.HTM: every link resolves inside the ZIP; no script, no external.
    for page in ("index.html", "INDEX.HTM"):
        links = parsed[page]
        assert links.links and not links.external
        for link in links.links:
            assert not re.match(r"^[a-z]+:", link), link
            assert link in names, (page, link)
    index_text = archive.read("index.html").decode()
    for title in ("CR opératoire", "CR de consultation", "CR masqué", "Ordonnance"):
        assert title in index_text
    assert "Annonce à faire" not in index_text  # hidden from Alice: not in her archive

    # METADATA.XML: one DocumentEntry per document of the subset, the SubmissionSet, HasMember.
    metadata = parsed["IHE_XDM/SUBSET01/METADATA.XML"]
    ns = {"rim": RIM}
    documents = metadata.findall(".//rim:ExtrinsicObject", ns)
    subset = sorted(n for n in names if n.startswith("IHE_XDM/SUBSET01/DOC"))
    assert len(documents) == len(subset) >= 4
    for document in documents:
        uri = document.find("rim:Slot[@name='URI']/rim:ValueList/rim:Value", ns).text
        member = f"IHE_XDM/SUBSET01/{uri}"
        data = archive.read(member)
        slot = {
            s.get("name"): s.find("rim:ValueList/rim:Value", ns).text
            for s in document.findall("rim:Slot", ns)
        }
        assert slot["hash"] == hashlib.sha1(data, usedforsecurity=False).hexdigest()
        assert slot["size"] == str(len(data))
        assert slot["sourcePatientId"].startswith(alice.insc)
    cdas = [n for n in subset if n.endswith(".XML")]
    assert len(cdas) == 4  # 3 reports (one masked) and the lab report, as CDA R2
    for name in cdas:
        assert parsed[name].tag == "{urn:hl7-org:v3}ClinicalDocument", name
    assert len(metadata.findall(".//rim:RegistryPackage", ns)) == 1
    assert len(metadata.findall(".//rim:Association", ns)) == len(documents)
    codes = {c.get("nodeRepresentation") for c in metadata.iter(f"{{{RIM}}}Classification")}
    assert "MASQUE_PS" in codes  # the visibility code of the masked report

    # The FHIR Bundle: a collection with the patient, the documents, results, allergy, study.
    bundle = parsed["FHIR/BUNDLE.JSON"]
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    kinds = [item["resource"]["resourceType"] for item in bundle["entry"]]
    for kind in (
        "Patient",
        "Practitioner",
        "DocumentReference",
        "DiagnosticReport",
        "Observation",
        "AllergyIntolerance",
        "ImagingStudy",
    ):
        assert kind in kinds, kind
    ids = {item["resource"]["id"] for item in bundle["entry"]}
    assert str(full_dmp["hidden"].public_id) not in ids
    assert str(full_dmp["masked"].public_id) in ids
    for item in bundle["entry"]:
        url = item["resource"].get("content", [{}])[0].get("attachment", {}).get("url")
        if url:
            assert url in names
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)  # valid FHIR R4 (R4B models of fhir.resources, a dev requirement)

    # Originals: PDF and PNG bytes equal to the stored ones; every DICOM file, as stored.
    pdfs = [archive.read(n) for n in names if n.startswith("DOCUMENTS/") and n.endswith(".pdf")]
    assert full_dmp["pdf"] in pdfs
    assert full_dmp["png"] in [archive.read(n) for n in names if n.endswith(".png")]
    stored = {
        default_storage.open(i.file.name).read()
        for i in Instance.objects.filter(series__study=full_dmp["study"])
    }
    dicoms = {archive.read(n) for n in names if n.endswith(".dcm")}
    assert dicoms == stored and len(dicoms) == 3

    # README.TXT says what it is.
    assert "index.html" in parsed["README.TXT"]


def test_download_works_once_then_the_archive_is_gone(
    alice: Patient, full_dmp: dict[str, Any], private_storage: Path
) -> None:
    client = logged_in(alice.user)
    export = _ask(client, reverse("records:my_export"))
    export.refresh_from_db()
    key = export.file
    assert default_storage.exists(key)
    _download(client, export)
    export.refresh_from_db()
    assert export.status == ExportStatus.DOWNLOADED
    assert not default_storage.exists(key)
    again = client.get(reverse("records:export_download", args=[export.public_id]))
    assert again.status_code == 410
    assert "déjà été téléchargée" in again.content.decode()
    actions = list(
        AccessEvent.objects.filter(patient=alice, action=AccessAction.EXPORT)
        .order_by("id")
        .values_list("detail", flat=True)
    )
    assert actions == ["archive demandée", "archive préparée : 7 documents", "archive téléchargée"]
    history = client.get(reverse("records:my_history")).content.decode()
    assert "Export" in history
    notice = Notification.objects.get(recipient=alice.user, kind=NotificationKind.EXPORT_READY)
    assert notice.patient == alice


def test_interrupted_download_leaves_the_link_usable(
    alice: Patient, full_dmp: dict[str, Any]
) -> None:
    from records.views.exports import _Sent

    client = logged_in(alice.user)
    export = _ask(client, reverse("records:my_export"))
    export.refresh_from_db()
    # What the download view streams, closed by the server after the first block (the
    # client went away).
    handover = export_services.export_download_start(actor=alice.user, export=export)
    assert handover is not None
    sent = _Sent(handover)
    assert sent.read(1024).startswith(b"PK")
    sent.close()
    export.refresh_from_db()
    assert export.status == ExportStatus.READY and default_storage.exists(export.file)
    assert zipfile.is_zipfile(io.BytesIO(_download(client, export)))  # then it works


def test_expired_link_is_swept(alice: Patient, full_dmp: dict[str, Any]) -> None:
    client = logged_in(alice.user)
    export = _ask(client, reverse("records:my_export"))
    export.refresh_from_db()
    later = timezone.now() + datetime.timedelta(hours=25)
    assert export_services.exports_sweep(now=later) == 1
    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED and not default_storage.exists(export.file or "x")
    response = client.get(reverse("records:export_download", args=[export.public_id]))
    assert response.status_code == 410


def test_someone_elses_export_is_404(
    alice: Patient, doctor: Professional, stranger_doctor: Professional
) -> None:
    export = _ask(logged_in(alice.user), reverse("records:my_export"))
    for user in (doctor.user, stranger_doctor.user):
        client = logged_in(user)
        for name in ("export_status", "export_download"):
            response = client.get(reverse(f"records:{name}", args=[export.public_id]))
            assert response.status_code == 404
    export.refresh_from_db()
    assert export.status == ExportStatus.READY


def test_a_professional_asks_for_the_patient_sees_what_she_sees(
    alice: Patient, doctor: Professional, full_dmp: dict[str, Any]
) -> None:
    client = logged_in(doctor.user)
    export = _ask(client, reverse("records:export_pro", args=[alice.public_id]))
    assert export.requested_by == doctor.user
    archive = zipfile.ZipFile(io.BytesIO(_download(client, export)))
    index_text = archive.read("index.html").decode()
    assert "Annonce à faire" not in index_text  # the doctor sees it; the patient does not yet
    assert "CR masqué" in index_text  # masked from professionals, visible to the patient
    events = AccessEvent.objects.filter(
        patient=alice, action=AccessAction.EXPORT, actor=doctor.user
    )
    assert events.count() == 3


def test_emergency_access_does_not_export(alice: Patient, emergency_doctor: Professional) -> None:
    response = logged_in(emergency_doctor.user).post(
        reverse("records:export_pro", args=[alice.public_id])
    )
    assert response.status_code == 403
    assert not DmpExport.objects.exists()


def test_second_request_while_running_returns_the_running_one(
    alice: Patient, settings: Any
) -> None:
    from records import access
    from records.services.export import export_request

    dmp = access.own_dmp(alice.user)
    first = DmpExport.objects.create(patient=alice, requested_by=alice.user)  # still pending
    again = export_request(actor=alice.user, dmp=dmp)
    assert again.pk == first.pk
    assert DmpExport.objects.count() == 1


def test_failure_halfway_leaves_no_archive(
    alice: Patient, full_dmp: dict[str, Any], private_storage: Path
) -> None:
    # A stored PDF lost from storage: the build stops halfway through.
    default_storage.delete(full_dmp["with_pdf"].report.pdf.name)
    before = {p for p in private_storage.rglob("*") if p.is_file()}
    client = logged_in(alice.user)
    export = _ask(client, reverse("records:my_export"))
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED and export.file == ""
    after = {p for p in private_storage.rglob("*") if p.is_file()}
    assert after == before  # no archive, no partial file
    page = client.get(reverse("records:export_status", args=[export.public_id]))
    assert "aucune archive partielle" in page.content.decode()
    # Asked again: a new export (the failed one does not block).
    assert _ask(client, reverse("records:my_export")).pk != export.pk


def test_progress_is_shown_while_running(alice: Patient) -> None:
    export = DmpExport.objects.create(
        patient=alice, requested_by=alice.user, status=ExportStatus.RUNNING, done=100, total=400
    )
    page = logged_in(alice.user).get(reverse("records:export_status", args=[export.public_id]))
    text = page.content.decode()
    assert "100 sur 400 documents" in text
    assert 'http-equiv="refresh"' in text


def _entries(doctor: Professional, patient: Patient, count: int) -> None:
    for number in range(count):
        kind = number % 3
        if kind == 0:
            report(doctor, patient, title=f"CR {number}", pdf=pdf_bytes(f"CR {number}"))
        elif kind == 1:
            lab(doctor, patient)
        else:
            report(doctor, patient, title=f"Note {number}")


def _build_queries(alice: Patient, django_assert_max_num_queries: Any) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    export = DmpExport.objects.create(patient=alice, requested_by=alice.user)
    with CaptureQueriesContext(connection) as captured:
        assert export_services.export_build(export_id=export.pk) == "ready"
    export.delete()
    return len(captured)


def test_build_queries_constant_in_entries(alice: Patient, doctor: Professional) -> None:
    _entries(doctor, alice, 3)
    three = _build_queries(alice, None)
    _entries(doctor, alice, 27)
    thirty = _build_queries(alice, None)
    assert three == thirty, (three, thirty)


def test_in_english_the_pages_and_the_archive(
    alice: Patient, full_dmp: dict[str, Any], settings: Any
) -> None:
    from tests.test_english_pages import french_words, visible_text

    client = logged_in(alice.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("records:my_export"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Download my DMP" in page.content.decode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("records:my_export"), HTTP_ACCEPT_LANGUAGE="en")
    status = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Download the archive" in status
    words = set(re.findall(r"[A-Za-zÀ-ÖØ-öø-ÿŒœ]{4,}", visible_text(status)))
    assert not words & french_words(), words & french_words()
    export = DmpExport.objects.get()
    archive = zipfile.ZipFile(io.BytesIO(_download(client, export)))
    assert "List of documents" in archive.read("INDEX.HTM").decode()
    assert "Open index.html" in archive.read("README.TXT").decode()


def test_sweeper_deletes_orphan_archives_and_marks_lost_preparations(
    alice: Patient, private_storage: Path
) -> None:
    from django.core.files.base import ContentFile

    orphan = default_storage.save("exports/orphan.zip", ContentFile(b"PK"))
    lost = DmpExport.objects.create(
        patient=alice,
        requested_by=alice.user,
        status=ExportStatus.RUNNING,
        created_at=timezone.now() - datetime.timedelta(hours=7),
    )
    later = timezone.now() + datetime.timedelta(hours=7)
    assert export_services.exports_sweep(now=later) == 1
    assert not default_storage.exists(orphan)
    lost.refresh_from_db()
    assert lost.status == ExportStatus.FAILED
