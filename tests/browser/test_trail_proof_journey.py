"""The patient's access history on a phone (390 px): every access listed at once, the proof of
one downloaded from the page and checked by the standalone checker the page links to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from identity.models import Patient, Professional
from records.models import AccessAction
from records.trail import log_integrate, record_access
from tests.browser.conftest import screenshot
from tests.browser.test_records_pages import _log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_history_proof_on_a_phone(
    live_server: Any, page: Any, alice: Patient, doctor: Professional, tmp_path: Path
) -> None:
    record_access(actor=doctor.user, patient=alice, action=AccessAction.DMP_VIEW)
    log_integrate()
    record_access(actor=doctor.user, patient=alice, action=AccessAction.TIMELINE_VIEW)
    base = live_server.url
    assert alice.user is not None
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, base, alice.user)
    page.goto(f"{base}/mon-dmp/historique/")
    page.locator(".visit details summary").first.click()  # the raw events of the visit
    assert page.get_by_text("en cours de scellement").first.is_visible()  # the latest read
    page.get_by_text("Vérifier vous-même").click()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"
    screenshot(page, "records-history-phone")
    with page.expect_download() as proof_download:
        page.get_by_role("link", name="Télécharger").first.click()
    proof = tmp_path / "preuve.json"
    proof_download.value.save_as(proof)
    assert json.loads(proof.read_text())["format"] == "dmp-portal-inclusion-proof/1"
    with page.expect_download() as checker_download:
        page.get_by_role("link", name="programme de vérification").click()
    checker = tmp_path / "verifier-preuve.py"
    checker_download.value.save_as(checker)
    result = subprocess.run(  # noqa: S603 - the script the page offered
        [sys.executable, "-I", str(checker), str(proof)], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("OK: event"), result.stderr
