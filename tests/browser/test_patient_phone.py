"""Every page of the patient, on a 390 px wide phone, with no horizontal scroll: the pages
are found through the URL resolver (every URL the access matrix lets a patient GET), each
one with Alice's demo records, her imaging study, and each of her documents for the pages
named by a document; in French and in English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from identity.models import Patient, Professional, User
from imaging.models import Series
from records import access
from records.demo import seed_records
from records.models import Observation
from records.services.care import emergency_declare
from tests.browser.conftest import screenshot
from tests.test_access_matrix import EXPECTED, project_urls

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
_FILES = (".csv", "pdf/", "cda/", ".png", ".dcm", ".json", ".py")


def _log_in(context: Any, base: str, user: User) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base}])


def patient_pages(alice: Patient) -> list[str]:
    """The URLs of every page a patient may GET, from the resolver and the access matrix:
    a page named by a document once per document of Alice's that it shows."""
    assert alice.user is not None
    entries = list(access.entries_for(alice.user, alice).filter(status="current"))
    analytes = sorted(
        set(
            Observation.objects.filter(lab_report__entry__patient=alice).values_list(
                "analyte_code", flat=True
            )
        )
    )
    series = Series.objects.filter(study__entry__patient=alice).values_list("public_id", flat=True)
    urls: list[str] = []
    for route, name in project_urls():
        if EXPECTED[name]["GET"]["alice"] != 200 or route.endswith(_FILES):
            continue  # not hers, or files rather than pages
        if route.startswith(("dicomweb/", "fhir/", "ohif/")):
            # protocols for software, not pages; and OHIF, a third-party viewer whose dozens of
            # parallel bundle requests the test server's one shared in-memory SQLite connection
            # cannot serve (tests/browser/test_ohif.py drives it)
            continue
        url = "/" + route
        if "<uuid:series_id>" in url:
            urls += [url.replace("<uuid:series_id>", str(pk)) for pk in series]
        elif "<str:measure>" in url:  # the profil's charts: a single measure and a pair
            urls += [url.replace("<str:measure>", key) for key in ("weight", "blood_pressure")]
        elif "<str:analyte_code>" in url:
            urls += [url.replace("<str:analyte_code>", code) for code in analytes[:3]]
        elif "<uuid:entry_id>" in url:
            for entry in entries:
                if route.startswith("imagerie/") != (entry.kind == "imaging_study"):
                    continue
                urls.append(url.replace("<uuid:entry_id>", str(entry.public_id)))
        else:
            urls.append(url)
    return urls


@pytest.fixture
def alice_with_everything(
    settings: Any,
    tmp_path: Path,
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    stranger_doctor: Professional,
) -> Patient:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path, "base_url": None},
        },
    }
    seed_records(
        {"alice.dupont": alice},
        {"dr.martin": doctor.user, "ide.moreau": authorised_doctor.user},
    )
    from tests.imaging.conftest import ct_series, deposit

    deposit(doctor.user, alice, ct_series(2), tmp_path / "imaging")
    emergency_declare(
        actor=stranger_doctor.user,
        patient=alice,
        samu=False,
        reason="other",
        reason_text="Accident de la voie publique, patiente inconsciente à l'arrivée",
    )
    return alice


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_patient_page_fits_a_phone(
    live_server: Any, browser: Any, alice_with_everything: Patient, language: str
) -> None:
    alice = alice_with_everything
    assert alice.user is not None
    base = live_server.url
    context = browser.new_context(locale=language, viewport=PHONE)
    context.add_cookies([{"name": "django_language", "value": language, "url": base}])
    _log_in(context, base, alice.user)
    page = context.new_page()
    page.set_default_timeout(15_000)
    urls = patient_pages(alice)
    assert len(urls) >= 12  # the resolver gave the pages, documents included
    too_wide = _fits_a_phone(page, base, urls, f"patient/phone-{language}")
    # The cards name their fields: the script copied the headers (the CSP let it run).
    page.goto(base + "/mon-dmp/acces/")
    assert page.locator("main td[data-label]").count() > 0
    assert page.locator("main thead").first.bounding_box()["width"] <= 1  # type: ignore[index]
    # The same pages on a desktop, for the record (screenshots), and still no scroll.
    page.set_viewport_size(DESKTOP)
    for url in urls:
        page.goto(base + url)
        if page.evaluate("document.documentElement.scrollWidth") > DESKTOP["width"]:
            too_wide.append(f"{url}: wider than a desktop")
        name = url.strip("/").replace("/", "_")[:60] or "home"
        screenshot(page, f"patient/desktop-{language}-{name}")
    context.close()
    assert not too_wide, "\n".join(too_wide)


def _fits_a_phone(page: Any, base: str, urls: list[str], shot: str) -> list[str]:
    """Each URL answers 200 and scrolls no wider than the phone; the URLs that do."""
    too_wide = []
    for url in urls:
        response = page.goto(base + url)
        assert response is not None and response.status == 200, url
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide.append(f"{url}: {width} px")
        screenshot(page, f"{shot}-{url.strip('/').replace('/', '_')[:60] or 'home'}")
    return too_wide


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_family_pages_fit_a_phone(
    live_server: Any, browser: Any, alice: Patient, doctor: Professional, language: str
) -> None:
    """The family page of a patient who gave a proxy and of a parent (and the child's DMP with
    its banner), the professional's representatives page, the review at 18: 390 px."""
    from allauth.mfa.totp.internal.auth import TOTP

    from records.services.family import majority_end
    from tests.cast import LEA_TRAITS, TOTP_SECRET, make_minor, make_proxy, make_user, take_over
    from tests.records.helpers import report

    husband = make_user("paul.dupont@test.example", first_name="Paul", last_name="Dupont")
    parent = make_user("bob.parent@test.example", first_name="Jean-Baptiste", last_name="Leroy")
    for user in (husband, parent):
        TOTP.activate(user, TOTP_SECRET)
    make_proxy(alice, husband)
    lea = make_minor(opened_by=doctor, parents=[parent])
    report(doctor, lea, title="Consultation — rappel DTCaP : bonne tolérance, prochain à 25 ans")
    assert alice.user is not None
    base = live_server.url
    too_wide: list[str] = []
    representatives = f"/pro/dmp/{lea.public_id}/representants/"

    def visit(user: User, urls: list[str], *, acting: Patient | None = None) -> None:
        context = browser.new_context(locale=language, viewport=PHONE)
        context.add_cookies([{"name": "django_language", "value": language, "url": base}])
        _log_in(context, base, user)
        page = context.new_page()
        page.set_default_timeout(15_000)
        if acting is not None:  # choose the child on the family page, as a parent does
            page.goto(base + "/mon-dmp/famille/")
            page.locator(f"button[name=dmp][value='{acting.public_id}']").click()
            page.wait_for_url("**/mon-dmp/")
        too_wide.extend(_fits_a_phone(page, base, urls, f"family/phone-{language}-{user.pk}"))
        context.close()

    visit(alice.user, ["/mon-dmp/famille/"])
    visit(parent, ["/mon-dmp/famille/"])
    visit(parent, ["/mon-dmp/", "/mon-dmp/notifications/"], acting=lea)
    visit(doctor.user, [representatives])
    # Léa comes of age and takes over: her first login leads to the review.
    birthday = LEA_TRAITS.birth_date.replace(year=LEA_TRAITS.birth_date.year + 18)
    majority_end(today=birthday)
    grown = take_over(lea, doctor=doctor, email="lea@test.example")
    visit(grown, ["/mon-dmp/majorite/"])
    assert not too_wide, "\n".join(too_wide)
