"""The S3 path against a real S3 API on loopback (moto's stand-alone server): upload, read,
download, sweep; a failing backend gives a clean French error, no row, and reads go on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from django.urls import reverse
from storages.backends.s3 import S3Storage

from identity.models import Patient, Professional
from imaging.models import ImagingStudy, Instance
from imaging.sweeper import orphans_sweep

from .conftest import ct_series, logged_in, upload

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]

BUCKET = "dmp-imaging-test"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto_server on a free loopback port for this module, stopped afterwards."""
    executable = Path(sys.executable).parent / "moto_server"
    if not executable.exists():
        pytest.skip("moto_server is not installed")
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own venv binary, loopback only
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("moto_server did not start")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _storage_settings(endpoint: str, **extra: Any) -> dict[str, Any]:
    # The same options as dmp_portal/settings.py builds from DMP_S3_* variables.
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "access_key": CREDENTIALS["aws_access_key_id"],
            "secret_key": CREDENTIALS["aws_secret_access_key"],
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"},
            **extra,
        },
    }


@pytest.fixture
def s3(settings: Any, s3_endpoint: str) -> Iterator[Any]:
    """The default storage on the moto bucket (emptied after each test)."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {**settings.STORAGES, "default": _storage_settings(s3_endpoint)}
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def _keys(client: Any) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_upload_read_download_and_sweep_on_s3(
    s3: Any,
    doctor: Professional,
    alice: Patient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    browser = logged_in(doctor.user)
    files = ct_series(2)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(browser, alice, files)
    assert response.status_code == 303
    keys = _keys(s3)
    assert len(keys) == 5  # 2 files, 2 previews, 1 series thumbnail
    assert all(key.startswith("imaging/") and "DUPONT" not in key for key in keys)
    head = s3.head_object(Bucket=BUCKET, Key=Instance.objects.first().file.name)  # type: ignore[union-attr]
    assert head["ServerSideEncryption"] == "AES256"

    instance = Instance.objects.order_by("instance_number").first()
    assert instance is not None
    render = browser.get(reverse("imaging:instance_render", args=[instance.public_id]))
    assert render.status_code == 200 and render.content.startswith(b"\x89PNG")
    series = instance.series
    thumb = browser.get(reverse("imaging:series_thumbnail", args=[series.public_id]))
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    download = browser.get(reverse("imaging:instance_download", args=[instance.public_id]))
    assert b"".join(download.streaming_content) == files[0]  # type: ignore[attr-defined]

    s3.put_object(Bucket=BUCKET, Key="imaging/ff/orphan.dcm", Body=b"left by a crash")
    time.sleep(1.1)  # S3 times have a one-second resolution
    report = orphans_sweep(grace_seconds=1)
    assert report.objects_removed == 1
    assert "imaging/ff/orphan.dcm" not in _keys(s3) and len(_keys(s3)) == 5


def test_s3_error_during_upload_is_clean(
    s3: Any, doctor: Professional, alice: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = logged_in(doctor.user)
    upload(browser, alice, ct_series(1))
    before = _keys(s3)

    def failing(self: S3Storage, name: str, content: Any) -> str:
        raise ClientError(
            {"Error": {"Code": "InternalError", "Message": "We encountered an internal error"}},
            "PutObject",
        )

    monkeypatch.setattr(S3Storage, "_save", failing)
    response = upload(browser, alice, ct_series(2))
    assert response.status_code == 400
    assert "stockage des images est momentanément indisponible" in response.content.decode()
    assert Instance.objects.count() == 1 and _keys(s3) == before
    # Reads keep working.
    instance = Instance.objects.get()
    render = browser.get(reverse("imaging:instance_render", args=[instance.public_id]))
    assert render.status_code == 200


def test_s3_endpoint_unreachable_is_clean(
    settings: Any, doctor: Professional, alice: Patient
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": _storage_settings(
            f"http://127.0.0.1:{_free_port()}",  # nothing listens there
            client_config=Config(
                connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 0}
            ),
        ),
    }
    browser = logged_in(doctor.user)
    response = upload(browser, alice, ct_series(3))
    assert response.status_code == 400
    assert "stockage des images est momentanément indisponible" in response.content.decode()
    assert Instance.objects.count() == 0 and ImagingStudy.objects.count() == 0
    page = browser.get(reverse("imaging:patient_studies", args=[alice.public_id]))
    assert page.status_code == 200


def test_dicomweb_frames_are_read_by_range_on_s3(
    s3: Any,
    doctor: Professional,
    alice: Patient,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One frame of a 4 MiB multi-frame file costs a few ranged requests, not the file."""
    import io

    import pydicom

    from imaging import storage

    from . import dicom_factory as F
    from .conftest import alice_identity

    ds = alice_identity(F.multiframe(16, 512, 256))
    data = F.to_bytes(ds)
    browser = logged_in(doctor.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(browser, alice, [data]).status_code == 303
    instance = Instance.objects.get()
    readers: list[Any] = []
    opened = storage._RangedObject.__init__

    def spied(self: Any, obj: Any, size: int) -> None:
        opened(self, obj, size)
        readers.append(self)

    monkeypatch.setattr(storage._RangedObject, "__init__", spied)
    series = instance.series
    url = (
        f"/dicomweb/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}/instances/{instance.sop_instance_uid}/frames/11"
    )
    response = browser.get(url)
    assert response.status_code == 200
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    frame_bytes = 512 * 256 * 2
    frame = pydicom.dcmread(io.BytesIO(data)).PixelData[10 * frame_bytes : 11 * frame_bytes]
    assert frame in content  # the 11th frame as stored
    assert len(readers) == 1
    assert readers[0].fetched < len(data) / 4, (readers[0].fetched, len(data))
