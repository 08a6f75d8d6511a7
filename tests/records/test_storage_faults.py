"""Storage faults on the records write paths (QUALITY.md §5): a full disk, an I/O error, an
S3 5xx or a timeout while a report's PDF is written gives a clear French message (507 for a
full disk, 503 otherwise), no row, no file left in the storage tree, and the form keeps what
the doctor typed; a retry with the same form stores exactly one document. Lab reports,
allergies and a new version that keeps the previous PDF write no file: they go on."""

from __future__ import annotations

import errno
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from django.core.files.storage import FileSystemStorage
from django.core.files.storage import filesystem as filesystem_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional
from records import trail
from records.content import Allergy, LabReport, Report, SubmissionKey
from records.models import AccessAction, AccessEvent, Entry, EntryStatus
from tests.records.conftest import logged_in, stored_files
from tests.records.helpers import days_ago, pdf_bytes, report

pytestmark = pytest.mark.django_db

TITLE = "CR opératoire — cholécystectomie"
BODY = "Intervention sans incident.\nSortie prévue à J2 ; revoir à 6 semaines."

FULL = OSError(errno.ENOSPC, "No space left on device")
EIO = OSError(errno.EIO, "Input/output error")
S3_500 = ClientError(
    {
        "Error": {"Code": "InternalError", "Message": "We encountered an internal error"},
        "ResponseMetadata": {"HTTPStatusCode": 500},
    },
    "PutObject",
)
S3_TIMEOUT = ReadTimeoutError(endpoint_url="https://s3.example.invalid/bucket/key")
FAULTS = {"disk-full": FULL, "eio": EIO, "s3-500": S3_500, "timeout": S3_TIMEOUT}
STATUS = {"disk-full": 507, "eio": 503, "s3-500": 503, "timeout": 503}
MESSAGE = {
    507: "L&#x27;espace de stockage des documents est plein",
    503: "Le stockage des documents est momentanément indisponible",
}


@pytest.fixture
def pro(doctor: Professional) -> Client:
    return logged_in(doctor.user)


def _post(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "document_type": "11488-4",
        "title": TITLE,
        "act_date": f"{days_ago(1):%Y-%m-%d}",
        "body": BODY,
        "pdf": SimpleUploadedFile("cr.pdf", pdf_bytes(), "application/pdf"),
        "submission_key": str(uuid.uuid4()),
    }
    data.update(fields)
    return data


def _failing_save(error: BaseException) -> Callable[..., str]:
    """The backend refuses the object before writing a byte (S3, or a full disk at open)."""

    def save(self: FileSystemStorage, name: str, content: Any) -> str:
        raise error

    return save


def _failing_write(monkeypatch: pytest.MonkeyPatch, root: Path, error: OSError) -> None:
    """The disk fills up *while* the PDF is written: the file exists, half written, when the
    error comes (what ENOSPC really does), so a clean-up that only knows saved names misses it."""
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def write(self, chunk: bytes) -> int:
            self.handle.write(chunk[: len(chunk) // 2])
            self.handle.flush()
            raise error

        def close(self) -> None:
            self.handle.close()

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        handle = real_fdopen(fd, *args, **kwargs)
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(root)):
            return HalfWriter(handle)
        return handle

    monkeypatch.setattr(filesystem_storage.os, "fdopen", fdopen)


def _nothing_stored(root: Path) -> None:
    assert not Entry.objects.exists() and not Report.objects.exists()
    assert not SubmissionKey.objects.exists()  # the form's key is free again: a retry works
    assert not AccessEvent.objects.filter(action=AccessAction.ENTRY_CREATE).exists()
    assert stored_files(root) == []
    assert trail.verify_log().broken is None


def _kept_what_was_typed(page: str) -> None:
    assert "cholécystectomie" in page
    assert "Sortie prévue à J2 ; revoir à 6 semaines." in page
    assert "joignez de nouveau le PDF" in page


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_storage_fault_on_report_deposit(
    pro: Client,
    alice: Patient,
    private_storage: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    monkeypatch.setattr(FileSystemStorage, "_save", _failing_save(FAULTS[fault]))
    url = reverse("records:report_new", args=[alice.public_id])
    data = _post()
    response = pro.post(url, data)
    assert response.status_code == STATUS[fault]
    page = response.content.decode()
    assert MESSAGE[STATUS[fault]] in page
    _kept_what_was_typed(page)
    _nothing_stored(private_storage)
    monkeypatch.undo()
    # The same form sent again once the storage is back: exactly one document.
    data["pdf"] = SimpleUploadedFile("cr.pdf", pdf_bytes(), "application/pdf")
    assert pro.post(url, data).status_code == 302
    assert Entry.objects.count() == 1 and len(stored_files(private_storage)) == 1


@pytest.mark.parametrize("error", [FULL, EIO], ids=["disk-full", "eio"])
def test_disk_failing_mid_write_leaves_no_partial_file(
    pro: Client,
    alice: Patient,
    private_storage: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: OSError,
) -> None:
    _failing_write(monkeypatch, private_storage, error)
    response = pro.post(reverse("records:report_new", args=[alice.public_id]), _post())
    assert response.status_code == (507 if error.errno == errno.ENOSPC else 503)
    _kept_what_was_typed(response.content.decode())
    _nothing_stored(private_storage)


@pytest.fixture
def first_version(doctor: Professional, alice: Patient, monkeypatch: pytest.MonkeyPatch) -> Entry:
    """A report with its PDF, then the storage fails (a full disk) for what follows."""
    entry = report(doctor, alice, title="CR v1", pdf=pdf_bytes("v1"))
    monkeypatch.setattr(FileSystemStorage, "_save", _failing_save(FULL))
    return entry


def _new_version(client: Client, entry: Entry, **fields: Any) -> Any:
    url = reverse("records:entry_new_version", args=[entry.public_id])
    return client.post(url, _post(**fields))


def test_storage_fault_on_a_new_version_with_a_pdf(
    pro: Client, first_version: Entry, private_storage: Path
) -> None:
    files = stored_files(private_storage)
    response = _new_version(pro, first_version, keep_pdf="")
    assert response.status_code == 507
    _kept_what_was_typed(response.content.decode())
    assert list(Entry.objects.all()) == [first_version]
    first_version.refresh_from_db()
    assert first_version.status == EntryStatus.CURRENT
    assert stored_files(private_storage) == files
    # Reads keep working while writes fail.
    pdf = pro.get(reverse("records:report_pdf", args=[first_version.public_id]))
    assert pdf.status_code == 200


def test_a_new_version_keeping_the_pdf_writes_no_file(
    pro: Client, first_version: Entry, private_storage: Path
) -> None:
    files = stored_files(private_storage)
    response = _new_version(pro, first_version, pdf="", keep_pdf="on")
    assert response.status_code == 302
    new = Entry.objects.exclude(pk=first_version.pk).get()
    assert new.report.pdf.name == first_version.report.pdf.name
    assert stored_files(private_storage) == files


def test_lab_reports_and_allergies_write_no_file(
    pro: Client, alice: Patient, private_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing of theirs goes to storage: a broken storage does not stop them."""
    monkeypatch.setattr(FileSystemStorage, "_save", _failing_save(FULL))
    lab = {
        "laboratory": "Laboratoire du Parc",
        "specimen_collected_at": f"{days_ago(3):%Y-%m-%d}T08:30",
        "reported_at": f"{days_ago(2):%Y-%m-%d}",
        "submission_key": str(uuid.uuid4()),
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "60",
        "form-0-analyte_code": "4548-4",
        "form-0-value": "6,1",
        "form-0-unit": "%",
    }
    response = pro.post(reverse("records:lab_report_new", args=[alice.public_id]), lab)
    assert response.status_code == 302 and LabReport.objects.count() == 1
    allergy = {
        "substance_code": "atc:J01C",
        "criticality": "high",
        "clinical_status": "active",
        "verification_status": "confirmed",
        "submission_key": str(uuid.uuid4()),
    }
    response = pro.post(reverse("records:allergy_new", args=[alice.public_id]), allergy)
    assert response.status_code == 302 and Allergy.objects.count() == 1
    assert stored_files(private_storage) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_s3_endpoint_unreachable_on_report_deposit(
    settings: Any, pro: Client, alice: Patient
) -> None:
    """The real S3 backend, its endpoint down (connection refused, short timeouts)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "dmp-reports-test",
                "endpoint_url": f"http://127.0.0.1:{_free_port()}",  # nothing listens there
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "file_overwrite": False,
                "client_config": Config(
                    connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 0}
                ),
            },
        },
    }
    response = pro.post(reverse("records:report_new", args=[alice.public_id]), _post())
    assert response.status_code == 503
    _kept_what_was_typed(response.content.decode())
    assert not Entry.objects.exists() and not Report.objects.exists()
