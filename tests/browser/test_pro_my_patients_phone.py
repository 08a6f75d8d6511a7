"""A doctor in a hurry on "Mes patients", then on "Déposer un document CDA" with a document the
CI-SIS schematron refuses, and a worried patient reading why a deposit was refused: desktop and
a 390 px phone, French and English, no horizontal scroll. Screenshots go to
test-results/screenshots/pro2/ (the proofs of issues 16 and 11, not committed)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from identity.models import Patient, Professional
from records.services.lifecycle import PatientTraits
from tests.browser.conftest import screenshot
from tests.browser.test_patient_phone import DESKTOP, PHONE, _log_in
from tests.cast import make_patient
from tests.records.conftest import logged_in
from tests.records.helpers import report
from tests.records.test_my_patients import _nir
from tests.records.test_records_bad_input import _report_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def busy_doctor(alice: Patient, doctor: Professional) -> Professional:
    """Alice's médecin traitant, with a few more DMPs, some looked at, news in Alice's, and a
    refused PDF in her trail."""
    client = logged_in(doctor.user)
    for serial, name in enumerate(("LEROY", "ABADIE-DELACROIX-MONTESQUIEU", "NGUYEN"), 1):
        other = make_patient(
            opened_by=doctor,
            nir=_nir("1", 1960 + serial, 3, serial),
            traits=PatientTraits(
                birth_name=name,
                first_names="Jean-Baptiste Marie",
                sex="M",
                birth_date=datetime.date(1960 + serial, 3, 10),
            ),
            email=f"p{serial}@test.example",
        )
        client.get(reverse("records:patient_home", args=[other.public_id]))
    client.get(reverse("records:patient_home", args=[alice.public_id]))
    report(doctor, alice, title="Compte rendu de consultation")
    bad = SimpleUploadedFile("cr.pdf", b"Bonjour, ceci n'est pas un PDF.", "application/pdf")
    client.post(reverse("records:report_new", args=[alice.public_id]), _report_post(pdf=bad))
    return doctor


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_my_patients_and_a_refusal_in_the_history_fit_every_screen(
    live_server: Any,
    browser: Any,
    alice: Patient,
    busy_doctor: Professional,
    language: str,
    device: str,
) -> None:
    viewport = PHONE if device == "phone" else DESKTOP
    base = live_server.url
    for who, urls in (
        (busy_doctor.user, ["/", "/?tri=-acces", "/?q=leroy"]),
        (alice.user, [reverse("records:my_history")]),
    ):
        context = browser.new_context(locale=language, viewport=viewport)
        context.add_cookies([{"name": "django_language", "value": language, "url": base}])
        _log_in(context, base, who)
        page = context.new_page()
        page.set_default_timeout(30_000)
        for url in urls:
            response = page.goto(base + url)
            assert response is not None and response.status == 200, url
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"{url}: {width} px"
            name = url.strip("/").replace("/", "_").replace("?", "-")[:40] or "home"
            screenshot(page, f"pro2/after-{device}-{language}-{name}")
        if who == busy_doctor.user:
            _cda_refusal_fits(page, base, alice, busy_doctor, viewport, f"{device}-{language}")
        body = page.content()
        if who == alice.user:
            page.locator("details").first.evaluate("el => el.open = true")
            screenshot(page, f"pro2/after-{device}-{language}-history-details")
            refusal = "deposit refused" if language == "en" else "dépôt refusé"
            assert refusal in body
        context.close()


def _cda_refusal_fits(
    page: Any, base: str, alice: Patient, doctor: Professional, viewport: Any, name: str
) -> None:
    """The CDA deposit form, a CR-BIO failing its volet's schematron submitted: the refusal
    (the ANS's first failed assertions quoted) in the reader's language, and no scroll."""
    from tests.records.cda_ans import require_ans
    from tests.records.test_cda_in import _titled_bilan

    require_ans()
    data = _titled_bilan(doctor, alice)
    response = page.goto(base + reverse("records:cda_new", args=[alice.public_id]))
    assert response is not None and response.status == 200
    page.set_input_files(
        "input[type=file]", files=[{"name": "cr-bio.xml", "mimeType": "text/xml", "buffer": data}]
    )
    with page.expect_navigation(timeout=120_000) as sent:  # the first deposit compiles (~20 s)
        page.locator("main form button[type=submit]").click()
    assert sent.value is not None and sent.value.status == 400
    said = page.locator("main").inner_text()
    english = "does not follow the CI-SIS rules (CR-BIO volet)"
    french = "ne respecte pas les règles du CI-SIS (volet CR-BIO)"
    assert (english if "-en" in name else french) in said, said
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"CDA refusal: {width} px"
    screenshot(page, f"pro2/cda-refused-{name}")
