"""The OHIF viewer's files behind login (imaging/ohif.py), on a stand-in of its dist/: the
page and bundles rebased on /ohif/, our DICOMweb in its configuration, nothing outside its
directory, 404 when it is not installed. The real viewer in Chromium: tests/browser/test_ohif.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from identity.models import Professional

from .conftest import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def dist(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    root.mkdir()
    (root / "index.html").write_text(
        '<script>window.PUBLIC_URL="/"</script><link rel="manifest" href="/manifest.json">'
        '<script defer src="/app.bundle.abc.js"></script><a href="//example.org/">x</a>'
    )
    (root / "app.bundle.abc.js").write_text('__webpack_require__.p = "/";\nrun();\n')
    (root / "codec.wasm").write_bytes(b"\0asm")
    (tmp_path / "secret.txt").write_text("outside")
    settings.DMP_OHIF_DIR = str(root)
    return root


def test_ohif_is_served_rebased_behind_login(dist: Path, doctor: Professional) -> None:
    assert Client().get("/ohif/viewer").status_code == 302  # to the login page
    browser = logged_in(doctor.user)
    page = browser.get("/ohif/viewer?StudyInstanceUIDs=1.2.3")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'window.PUBLIC_URL="/ohif/"' in html and 'src="/ohif/app.bundle.abc.js"' in html
    assert 'href="/ohif/manifest.json"' in html and 'href="//example.org/"' in html
    assert "'unsafe-eval'" in page["Content-Security-Policy"]
    bundle = browser.get("/ohif/app.bundle.abc.js")
    assert bundle.content == b'__webpack_require__.p = "/ohif/";\nrun();\n'
    wasm = browser.get("/ohif/codec.wasm")
    assert wasm["Content-Type"] == "application/wasm"
    assert b"".join(wasm.streaming_content) == b"\0asm"  # type: ignore[attr-defined]
    config = browser.get("/ohif/app-config.js").content.decode()
    assert '"qidoRoot": "/dicomweb"' in config and '"routerBasename": "/ohif"' in config
    # Nothing outside its directory: a path that leaves it is one of its routes (the page).
    escaped = browser.get("/ohif/../secret.txt")
    assert b"outside" not in escaped.content


def test_ohif_not_installed_is_404(settings: Any, tmp_path: Path, doctor: Professional) -> None:
    settings.DMP_OHIF_DIR = str(tmp_path / "absent")
    assert logged_in(doctor.user).get("/ohif/viewer").status_code == 404
