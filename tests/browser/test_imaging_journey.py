"""A radiologist uploads a CT series in the browser, then scrolls it in the viewer with the
keyboard and switches to the lung window."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from identity.models import Patient, Professional
from imaging.demo import body_ct_slice
from imaging.models import Instance, PreviewStatus
from tests.browser.conftest import screenshot
from tests.cast import PASSWORD, totp_code
from tests.imaging import dicom_factory as F

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
    return location


@pytest.fixture(autouse=True)
def one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live server answers in threads that share the test's in-memory SQLite connection;
    the viewer may fetch two images at once, which that shared connection cannot take ("bad
    parameter or other API misuse"). Run Django for one request at a time (in production
    every thread has its own connection)."""
    from django.core.handlers.wsgi import WSGIHandler

    lock = threading.Lock()
    original = WSGIHandler.__call__

    def serial(self: WSGIHandler, environ: Any, start_response: Any) -> Any:
        with lock:
            return original(self, environ, start_response)

    monkeypatch.setattr(WSGIHandler, "__call__", serial)


def _ct_files(folder: Path, count: int = 12) -> list[Path]:
    """A small body CT with Alice's identity (tests/cast.py)."""
    study, series = F.generate_uid(), F.generate_uid()
    paths = []
    for z in range(count):
        ds = F.ct_slice(256, 256, hu=body_ct_slice(z * 3, 40, size=256))
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.InstanceNumber = z + 1
        ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "DUPONT^ALICE", "19850514", "F"
        ds.StudyDescription, ds.SeriesDescription = "TDM thoraco-abdominale", "Axial 5 mm"
        paths.append(F.write(folder / f"IM{z + 1:04d}.dcm", ds))
    return paths


def _login(page: Any, base: str, professional: Professional) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Courriel").fill(professional.user.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button", name="Connexion", exact=True).click()
    page.wait_for_url(f"{base}/")


def test_upload_then_scroll_in_the_viewer(
    live_server: Any, page: Any, doctor: Professional, alice: Patient, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    files = _ct_files(tmp_path)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    _login(page, base, doctor)
    page.goto(f"{base}/pro/dmp/{alice.public_id}/imagerie/")
    page.get_by_label("Fichiers DICOM ou archive ZIP d'un examen").set_input_files(
        [str(path) for path in files]
    )
    assert "12 fichiers, 1,5 Mio" in page.locator("[data-upload-status]").inner_text()
    page.get_by_role("button", name="Vérifier et déposer").click()
    page.wait_for_url(re.compile(r".*/imagerie/\?depot=.*"))
    assert "12 image(s) enregistrée(s)" in page.content()
    assert Instance.objects.filter(preview_status=PreviewStatus.READY).count() == 12
    screenshot(page, "imaging-upload-results")

    page.get_by_role("link", name=re.compile("Vignette de la série")).first.click()
    page.wait_for_url(re.compile(r".*/imagerie/serie/.*"))
    caption = page.locator("[data-viewer-position]")
    expect(caption).to_have_text("Image 1 / 12")
    image = page.locator("[data-viewer-image]")
    instances = list(
        Instance.objects.order_by("instance_number").values_list("public_id", flat=True)
    )
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    expect(caption).to_have_text("Image 6 / 12")
    # Keys pressed quickly: only the last image wanted is fetched, once the previous arrived.
    expect(image).to_have_attribute("src", re.compile(f"{instances[5]}/rendu.png\\?frame=0"))
    page.get_by_role("link", name=re.compile("^Poumon")).click()
    expect(image).to_have_attribute("src", re.compile(f"{instances[5]}.*wc=-600&ww=1500"))
    assert "n=5&w=" in page.url
    page.keyboard.press("End")
    expect(caption).to_have_text("Image 12 / 12")
    page.keyboard.press("PageUp")
    expect(caption).to_have_text("Image 2 / 12")
    page.keyboard.press("ArrowDown")
    expect(caption).to_have_text("Image 3 / 12")
    expect(image).to_have_attribute("src", re.compile(f"{instances[2]}.*wc=-600"))
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => img.naturalWidth") == 256  # never enlarged by the server
    page.wait_for_load_state("networkidle")  # the image rendered ahead has arrived too
    screenshot(page, "imaging-viewer")
    assert not [text for text in console if "Content Security Policy" in text], console
