"""Every page in the reader's language: each page of the URL-resolver matrix, rendered in
English for every member of the cast who may read it (and the admin's pages for the
administrator), shows no French word of the catalogue.

The French words are those of the catalogue's source strings (locale/en/…/django.po) that no
English translation uses: a page built from a new French string that was not translated, or
from a French sentence stored in the database, or typed in a template without {% translate %},
shows one of them. Data typed by people (names, document titles, free texts) is the cast's,
written so as to hold none of them.
"""

from __future__ import annotations

import html
import re
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import polib
import pytest
from django.conf import settings
from django.test import Client

from tests.test_access_matrix import (  # noqa: F401 - the matrix's fixtures, asked by name
    EXPECTED,
    ROLES,
    _admin_pages,
    _body,
    _url,
    admin_cast,
    cast,
    project_urls,
    staff_viewer,
)

pytestmark = pytest.mark.django_db

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿŒœ]{4,}")
# Shown as they are in every language: the name of the language itself in the switcher.
_NAMES = {"Français"}
# Words of both languages.
_BOTH = {"confirmation"}


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text))


@cache
def french_words() -> frozenset[str]:
    """Words of the catalogue's French source strings that no English translation uses."""
    catalogue = polib.pofile(str(Path(settings.BASE_DIR) / "locale/en/LC_MESSAGES/django.po"))
    french: set[str] = set()
    english: set[str] = set()
    for entry in catalogue:
        if entry.obsolete:
            continue
        french |= _words(entry.msgid) | _words(entry.msgid_plural or "")
        english |= _words(entry.msgstr)
        for form in entry.msgstr_plural.values():
            english |= _words(form)
    lower_english = {word.lower() for word in english}
    return frozenset(
        word
        for word in french - _NAMES - _BOTH
        if word.lower() not in lower_english and word.lower() != word.upper()
    )


_HIDDEN = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
_ATTRIBUTE = re.compile(r'\b(?:title|aria-label|placeholder|alt)="([^"]*)"')
_TAG = re.compile(r"<[^>]+>")


def visible_text(body: str) -> str:
    """What a reader sees or hears: the text, and the titles and labels of elements."""
    body = _HIDDEN.sub(" ", body)
    # The language switcher names each language in that language, on purpose.
    body = re.sub(r'<option value="fr" lang="fr"[^>]*>[^<]*</option>', " ", body)
    attributes = " ".join(_ATTRIBUTE.findall(body))
    return html.unescape(_TAG.sub(" ", body) + " " + attributes)


def people_names() -> set[str]:
    """The cast's names (Eli Urgence, Claire Martin…) and the free texts of its reports
    ("Examen normal."): data, shown as typed."""
    from identity.models import User
    from records.content import Report

    names = User.objects.values_list("first_name", "last_name", "email")
    texts = Report.objects.values_list("body", flat=True)
    return {word for row in names for part in row for word in _words(part)} | {
        word for text in texts for word in _words(text)
    }


def french_in(body: str, data: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    return sorted(_words(visible_text(body)) & french_words() - data)


def test_the_word_list_is_the_catalogues() -> None:
    words = french_words()
    assert {"Historique", "consulté", "Enregistrer"} <= words
    assert not {"Doctor", "Alice", "Français"} & words
    assert french_in("<p>Historique des accès</p>") == ["Historique", "accès"]
    assert french_in('<p title="Fermer">Access history</p>') == ["Fermer"]
    assert french_in("<script>var x = 'Historique';</script><p>Access history</p>") == []


def _english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _french_on(pages: list[tuple[str, str, Client]], data: set[str]) -> tuple[list[str], int]:
    """(what, url, client) → the pages showing French words, and how many pages were read."""
    failures, seen = [], 0
    for what, url, client in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        seen += 1
        found = french_in(_body(response).decode(), data)
        if found:
            failures.append(f"{url} ({what}): {found}")
    return failures, seen


def test_every_page_of_the_matrix_is_in_english(request: pytest.FixtureRequest) -> None:
    the_cast = request.getfixturevalue("cast")
    clients = {}
    for role in ROLES:
        clients[role] = _english(Client())
        if the_cast["users"][role] is not None:
            clients[role].force_login(the_cast["users"][role])
    pages = [
        (
            f"as {role}",
            _url(route, the_cast["alice"], the_cast["entry"].public_id, the_cast["study"]),
            clients[role],
        )
        for route, name in project_urls()
        for role in ROLES
        if EXPECTED[name]["GET"][role] == 200
    ]
    failures, seen = _french_on(pages, people_names())
    assert seen > 40
    assert not failures, "\n".join(failures)


def test_every_admin_page_is_in_english(request: pytest.FixtureRequest) -> None:
    the_cast = request.getfixturevalue("admin_cast")
    client = _english(Client())
    client.force_login(the_cast["users"]["administrator"])
    pages = [(what, url, client) for what, url in _admin_pages(the_cast)]
    failures, seen = _french_on(pages, people_names() | _group_words())
    assert seen > 50
    assert not failures, "\n".join(failures)


def _group_words() -> set[str]:
    """What the cast's administrators typed: group names, reasons of second-factor resets."""
    from django.contrib.auth.models import Group

    from identity.models import MfaResetRequest

    typed = [*Group.objects.values_list("name", flat=True)]
    typed += MfaResetRequest.objects.values_list("reason", flat=True)
    return {word for text in typed for word in _words(text)}


# --- Bad input, posted in English: the refusals are in English too ---------------------------


@pytest.fixture
def english_pro(doctor: Any, settings: Any, tmp_path: Path) -> Client:
    """The patient's doctor, in English, storing under tmp_path (files, staging, uploads)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private"), "base_url": None},
        },
    }
    (tmp_path / "uploads").mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    client = _english(Client())
    client.force_login(doctor.user)
    return client


def _bad_posts() -> dict[str, tuple[str, dict[str, Any]]]:
    """Mistaken or hostile input of the lab, report and allergy forms: (url name, data)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.records.helpers import days_ago, pdf_bytes
    from tests.records.test_pdf import ACTIVE
    from tests.records.test_pdf import _build as build_active_pdf
    from tests.records.test_records_bad_input import _lab_post, _report_post

    base = {"analyte_code": "4548-4", "value": "6,2", "unit": "%", "ref_low": "4", "ref_high": "6"}
    rows = {
        "nan": {"value": "NaN"},
        "1e309": {"value": "1e309"},
        "arabic-digits": {"value": "١٢"},
        "both-separators": {"value": "1.250,5"},
        "bad-grouping": {"value": "12 50"},
        "empty-value": {"value": ""},
        "unknown-unit": {"unit": "parsec"},
        "low-above-high": {"ref_low": "7", "ref_high": "4"},
        "infinite-bound": {"ref_low": "Infinity"},
        "analyte": {"analyte_code": "0000-0"},
    }
    posts: dict[str, tuple[str, dict[str, Any]]] = {
        f"lab-{name}": ("lab_report_new", _lab_post([{**base, **row}]))
        for name, row in rows.items()
    }
    future = f"{days_ago(-3):%Y-%m-%d}"
    posts["lab-future-specimen"] = (
        "lab_report_new",
        _lab_post([base], specimen_collected_at=f"{future}T08:00"),
    )
    pdfs = {
        "text-named-pdf": b"Bonjour, ceci n'est pas un PDF.",
        "encrypted": pdf_bytes().replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt 9 0 R"),
        "truncated": pdf_bytes()[:-200],
        "empty": b"",
        "javascript": build_active_pdf(ACTIVE["open-action-js"][0], "plain"),
        "embedded-file": build_active_pdf(ACTIVE["embedded-file"][0], "plain"),
    }
    for name, data in pdfs.items():
        upload = SimpleUploadedFile("cr.pdf", data, "application/pdf")
        posts[f"report-{name}"] = ("report_new", _report_post(pdf=upload))
    posts["report-future-act"] = ("report_new", _report_post(body="x", act_date=future))
    posts["report-nul"] = ("report_new", _report_post(title="CR\x00", body="x"))
    posts["report-too-long"] = ("report_new", _report_post(body="x" * 100_001))
    posts["report-empty"] = ("report_new", _report_post(title="", act_date=""))
    allergy = {"criticality": "high", "clinical_status": "active", "onset_date": future}
    allergy |= {"verification_status": "confirmed", "submission_key": "x"}
    posts["allergy-no-substance"] = ("allergy_new", {**allergy, "substance_code": ""})
    posts["allergy-unknown-substance"] = ("allergy_new", {**allergy, "substance_code": "atc:Z"})
    key = {"submission_key": str(uuid.uuid4())}
    posts["problem-unlisted-code"] = (
        "problem_new",
        {"cim10_code": "Q99.9", "label": "", "status": "active", "history": "medical", **key},
    )
    posts["treatment-end-before-start"] = (
        "treatment_new",
        {"medicine": "Metformine", "start_date": f"{days_ago(10):%Y-%m-%d}", **key}
        | {"end_date": f"{days_ago(20):%Y-%m-%d}"},
    )
    return posts


@pytest.mark.parametrize("case", sorted(_bad_posts()))
def test_bad_input_is_refused_in_english(english_pro: Client, alice: Any, case: str) -> None:
    from django.urls import reverse

    from records.models import Entry

    name, data = _bad_posts()[case]
    response = english_pro.post(reverse(f"records:{name}", args=[alice.public_id]), data)
    assert response.status_code in (400, 413), response.status_code
    page = _body(response).decode()
    assert 'class="errorlist' in page  # the refusal is shown, next to its field
    assert not Entry.objects.exists()
    assert french_in(page, people_names()) == [], french_in(page, people_names())


def test_refused_imaging_files_are_explained_in_english(english_pro: Client, alice: Any) -> None:
    """Every hostile file of QUALITY.md §1 in one upload: each row's reason is English."""
    from imaging.models import ImagingStudy
    from tests.imaging.conftest import upload
    from tests.imaging.test_upload import HOSTILE

    files = [(f"{case}.dcm", data) for case, (data, _code) in sorted(HOSTILE.items())]
    files.append(("corrupt.zip", b"PK\x03\x04 not a zip"))
    response = upload(english_pro, alice, files)
    assert response.status_code == 400
    page = _body(response).decode()
    assert page.count("refused") >= len(HOSTILE)
    assert not ImagingStudy.objects.exists()
    assert french_in(page, people_names()) == [], french_in(page, people_names())


def test_an_imaging_upload_without_files_is_refused_in_english(
    english_pro: Client, alice: Any
) -> None:
    from tests.imaging.conftest import upload

    response = upload(english_pro, alice, [])
    assert response.status_code == 400
    assert french_in(_body(response).decode(), people_names()) == []


def test_an_imaging_upload_result_is_in_english(english_pro: Client, alice: Any) -> None:
    """One image stored, the same again (duplicate), one refused: the result page after the
    redirect, and the study's default title (its files carry no description), are English."""
    from tests.imaging import dicom_factory as F
    from tests.imaging.conftest import alice_identity, upload
    from tests.imaging.test_upload import HOSTILE

    slice_ = F.ct_slice(16, 16)
    alice_identity(slice_)
    del slice_.StudyDescription
    image = F.to_bytes(slice_)
    upload(english_pro, alice, [("a.dcm", image)])
    response = upload(english_pro, alice, [("b.dcm", image), ("c.dcm", HOSTILE["pdf"][0])])
    assert response.status_code in (302, 303)
    page = _body(english_pro.get(response["Location"])).decode()
    assert "c.dcm" in page
    assert "CT imaging examination" in page  # stored "Examen d'imagerie CT", built again
    assert french_in(page, people_names()) == [], french_in(page, people_names())


# --- The trail keeps facts; each reader reads them in their language -------------------------


def test_a_refused_pdf_is_traced_as_facts_and_read_in_each_language(
    english_pro: Client, alice: Any
) -> None:
    """An English professional's refused PDF leaves no English sentence in the trail: a code
    (and its parameters), which the patient reads in French, and in English if she chooses."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from records.models import AccessAction, AccessEvent
    from tests.records.test_records_bad_input import _report_post

    upload = SimpleUploadedFile("cr.pdf", b"Bonjour, ceci n'est pas un PDF.", "application/pdf")
    url = reverse("records:report_new", args=[alice.public_id])
    assert english_pro.post(url, _report_post(pdf=upload)).status_code == 400
    event = AccessEvent.objects.get(action=AccessAction.DEPOSIT_REFUSED, patient=alice)
    assert event.detail == '{"fact":"pdf_refused","why":"not_pdf"}'

    patient = Client()
    patient.force_login(alice.user)
    history = reverse("records:my_history")
    french = _body(patient.get(history, {"details": "1"})).decode()
    assert "dépôt refusé : Ce fichier n&#x27;est pas un PDF" in french
    english = _body(_english(patient).get(history, {"details": "1"})).decode()
    assert "deposit refused: This file is not a PDF" in english
    assert french_in(english, people_names()) == [], french_in(english, people_names())
    csv = _body(patient.get(reverse("records:my_history_csv"))).decode()
    assert "deposit refused: This file is not a PDF" in csv


def test_an_imaging_upload_too_large_is_told_in_the_readers_units(
    english_pro: Client, alice: Any, settings: Any
) -> None:
    from tests.imaging.conftest import ct_series, upload

    files = ct_series(2, size=64)
    settings.DMP_IMAGING_MAX_UPLOAD_BYTES = 3 * (1 << 20)
    settings.DMP_IMAGING_MAX_FILE_BYTES = 2 * (1 << 30)
    big = [(f"{n}.dcm", data + b"\x00" * (3 << 20)) for n, data in enumerate(files)]
    response = upload(english_pro, alice, big)
    assert response.status_code == 413
    page = _body(response).decode()
    assert "3 MB in total, 2 GB per file" in page, page
    assert "Mio" not in page and "Gio" not in page
    assert french_in(page, people_names()) == [], french_in(page, people_names())
