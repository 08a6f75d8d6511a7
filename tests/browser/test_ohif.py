"""The OHIF viewer (npm ``@ohif/app``'s prebuilt dist, unpacked by ``./dev ohif``) on our
DICOMweb in Chromium: it opens a study the doctor may read and draws its images. Skipped when
OHIF is not installed (``DMP_REQUIRE_OHIF=1`` makes that a failure)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from identity.models import Patient, Professional
from imaging.ohif import ohif_root
from tests.browser.conftest import screenshot
from tests.browser.test_imaging_journey import (  # noqa: F401 - fixtures
    _ct_files,
    _login,
    one_request_at_a_time,
    private_storage,
)
from tests.imaging.conftest import deposit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ohif_opens_a_study_from_our_dicomweb(
    live_server: Any, page: Any, doctor: Professional, alice: Patient, tmp_path: Path
) -> None:
    if ohif_root() is None:
        if os.environ.get("DMP_REQUIRE_OHIF") == "1":
            pytest.fail("OHIF is not installed (./dev ohif)")
        pytest.skip("OHIF is not installed (./dev ohif)")
    files = [path.read_bytes() for path in _ct_files(tmp_path, 6)]
    study = deposit(doctor.user, alice, files, tmp_path / "work")
    assert study is not None
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    requests: list[str] = []
    page.on("response", lambda r: requests.append(f"{r.status} {r.url}"))
    base = live_server.url
    _login(page, base, doctor)
    page.goto(f"{base}/ohif/viewer?StudyInstanceUIDs={study.study_instance_uid}")
    deadline = time.monotonic() + 90
    drawn = False
    while time.monotonic() < deadline and not drawn:
        page.wait_for_timeout(1000)
        drawn = page.evaluate(
            """() => [...document.querySelectorAll('canvas')].some(c => {
                if (c.width < 64 || c.height < 64) return false;
                const x = c.getContext('2d', {willReadFrequently: true});
                if (!x) return false;
                const d = x.getImageData(0, 0, c.width, c.height).data;
                let lit = 0;
                for (let i = 0; i < d.length; i += 4 * 97) if (d[i] > 30) lit++;
                return lit > 50;
            })"""
        )
    screenshot(page, "ohif-study")
    assert drawn, "\n".join(console[-30:] + [r for r in requests if "/dicomweb" in r][-30:])
