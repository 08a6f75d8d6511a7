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
from tests.live import RoundRobinProxy

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


@pytest.fixture
def counted_s3(settings: Any, s3_endpoint: str) -> Iterator[tuple[Any, RoundRobinProxy]]:
    """The default storage on the moto bucket through a proxy that counts the bytes moto sends
    (what the portal fetched, measured outside the portal's code)."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    with RoundRobinProxy([s3_endpoint]) as proxy:
        settings.STORAGES = {**settings.STORAGES, "default": _storage_settings(proxy.url)}
        yield client, proxy
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def _fetched(proxy: RoundRobinProxy) -> int:
    return sum(proxy.sent.values())


@pytest.mark.parametrize("compression", ["native", "rle"])
def test_renders_read_one_frame_by_range_on_s3(
    counted_s3: tuple[Any, RoundRobinProxy],
    doctor: Professional,
    alice: Patient,
    django_capture_on_commit_callbacks: Any,
    compression: str,
) -> None:
    """A viewer frame and a preview of a 200-frame file stored on S3 fetch the header and that
    frame (< ¼ of the object, counted by a proxy in front of moto), and their pixels are those
    of the same render from a local disk."""
    import io

    from imaging.dicom import render_thumbnail_png
    from imaging.previews import PREVIEW_SIZE, previews_make

    from . import dicom_factory as F
    from .conftest import alice_identity

    client, proxy = counted_s3
    ds = alice_identity(F.multiframe(200, 128, 128))
    data = F.to_bytes(F.rle(ds) if compression == "rle" else ds)
    assert len(data) > 2 * 1024 * 1024
    browser = logged_in(doctor.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(browser, alice, [data]).status_code == 303
    instance = Instance.objects.get()
    stored = client.head_object(Bucket=BUCKET, Key=instance.file.name)["ContentLength"]
    assert stored == len(data)

    # The viewer: frame 137 at the viewer's size.
    before = _fetched(proxy)
    url = reverse("imaging:instance_render", args=[instance.public_id])
    response = browser.get(url, {"frame": 137, "size": 512})
    assert response.status_code == 200
    fetched = _fetched(proxy) - before
    assert 0 < fetched < stored / 4, (fetched, stored)
    local = render_thumbnail_png(io.BytesIO(data), frame=137, size=128)
    assert response.content == local

    # The preview task (the middle frame), made again from S3.
    Instance.objects.filter(pk=instance.pk).update(preview="", preview_status="pending")
    before = _fetched(proxy)
    assert previews_make(instance_ids=[instance.pk])["ready"] == 1
    fetched = _fetched(proxy) - before
    assert 0 < fetched < stored / 4, (fetched, stored)
    instance.refresh_from_db()
    preview = client.get_object(Bucket=BUCKET, Key=instance.preview.name)["Body"].read()
    assert preview == render_thumbnail_png(io.BytesIO(data), size=PREVIEW_SIZE)


def test_a_frame_without_offsets_is_rendered_whole_from_s3(
    counted_s3: tuple[Any, RoundRobinProxy],
    doctor: Professional,
    alice: Patient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A multi-fragment JPEG frame with no offset table cannot be located by range: the file
    is fetched whole and drawn as from a local disk (never refused for being on S3)."""
    import io

    from imaging.dicom import render_thumbnail_png

    from . import dicom_factory as F
    from .conftest import alice_identity

    _client, proxy = counted_s3
    import numpy as np
    from pydicom.encaps import encapsulate, generate_frames

    values = (np.arange(3 * 64 * 64).reshape(3, 64, 64) % 251).astype(np.uint8)
    ds = alice_identity(F.grey(values, bits_stored=8))
    ds.NumberOfFrames = 3
    ds = F.jpeg_baseline(ds)
    frames = list(generate_frames(ds.PixelData, number_of_frames=3))
    ds.PixelData = encapsulate(frames, fragments_per_frame=2, has_bot=False)
    data = F.to_bytes(ds)
    browser = logged_in(doctor.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(browser, alice, [data]).status_code == 303
    instance = Instance.objects.get()
    before = _fetched(proxy)
    response = browser.get(
        reverse("imaging:instance_render", args=[instance.public_id]), {"frame": 1, "size": 64}
    )
    assert response.status_code == 200
    assert _fetched(proxy) - before >= len(data)
    assert response.content == render_thumbnail_png(io.BytesIO(data), frame=1, size=64)


def _staged(client: Any) -> list[str]:
    return [key for key in _keys(client) if key.startswith("imaging-staging/")]


def test_identity_confirmation_staged_on_s3(
    s3: Any,
    doctor: Professional,
    alice: Patient,
    django_capture_on_commit_callbacks: Any,
    tmp_path: Path,
    settings: Any,
) -> None:
    """Files awaiting an identity confirmation are on the shared storage (any web server can
    take the decision); confirmed, cancelled or abandoned: none is left there."""
    from . import dicom_factory as F

    # This "server" has a fresh local disk: nothing of the staging may depend on it.
    disk = tmp_path / "this-server"
    disk.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(disk)
    stranger = F.to_bytes(F.ct_slice(32, 32))  # DUPONT^JEANNE, born 1970: not Alice
    browser = logged_in(doctor.user)

    staged = upload(browser, alice, [stranger, ct_series(1)[0]])
    assert staged.status_code == 303 and "/confirmer/" in staged["Location"]
    assert len(_staged(s3)) == 2 and Instance.objects.count() == 0
    assert list(disk.iterdir()) == []
    with django_capture_on_commit_callbacks(execute=True):
        done = browser.post(staged["Location"], {"decision": "confirm"})
    assert done.status_code == 303 and Instance.objects.count() == 2
    assert _staged(s3) == [] and list(disk.iterdir()) == []

    cancelled = upload(browser, alice, [F.to_bytes(F.ct_slice(32, 32, seed=3))])
    assert len(_staged(s3)) == 1
    browser.post(cancelled["Location"], {"decision": "cancel"})
    assert _staged(s3) == [] and Instance.objects.count() == 2

    upload(browser, alice, [F.to_bytes(F.ct_slice(32, 32, seed=4))])  # never decided
    assert len(_staged(s3)) == 1
    time.sleep(1.1)  # S3 times have a one-second resolution
    assert orphans_sweep(grace_seconds=1).staged_removed == 1
    assert _staged(s3) == [] and Instance.objects.count() == 2


def test_staging_failure_on_s3_keeps_nothing(
    s3: Any, doctor: Professional, alice: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storage fails after the first staged file: a clear French error, nothing left."""
    from . import dicom_factory as F

    saved = S3Storage._save
    calls: list[str] = []

    def second_fails(self: S3Storage, name: str, content: Any) -> str:
        calls.append(name)
        if len(calls) == 2:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "PutObject")
        return saved(self, name, content)

    monkeypatch.setattr(S3Storage, "_save", second_fails)
    browser = logged_in(doctor.user)
    stranger = [F.to_bytes(F.ct_slice(32, 32, seed=n)) for n in (1, 2)]
    response = upload(browser, alice, stranger)
    assert response.status_code == 503
    assert "stockage des images est momentanément indisponible" in response.content.decode()
    assert len(calls) == 2 and _keys(s3) == [] and Instance.objects.count() == 0
