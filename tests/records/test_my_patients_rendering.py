"""The home page's template translates its four column labels once per page, not once per row
(a tenth of its rendering at 25 rows): it renders byte for byte what the template translating
them in each row renders, in French and in English, names escaped."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.template import engines
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import translation

from identity.models import Patient, Professional
from records.forms.dmp import MyPatientsForm
from records.services.patients import PatientPage, PatientRow
from tests.cast import without_csrf

pytestmark = pytest.mark.django_db

TEMPLATE = Path(__file__).parents[2] / "templates" / "dmp_portal" / "home_professional.html"
LABELS = {
    "label_patient": "Patient",
    "label_access": "Accès",
    "label_last": "Mon dernier accès",
    "label_new": "Nouveau depuis",
}


def _translated_in_each_row() -> str:
    """The template as it was: each row's ``data-label`` translated in the row."""
    text = TEMPLATE.read_text()
    hoisted = re.compile(r'\{% translate "[^"]+" as label_\w+ %\}')
    assert len(hoisted.findall(text)) == len(LABELS)
    text = hoisted.sub("", text)
    for name, label in LABELS.items():
        assert text.count(f"{{{{ {name} }}}}") == 1
        text = text.replace(f"{{{{ {name} }}}}", f"{{% translate '{label}' %}}")
    return text


def _page() -> PatientPage:
    names = ["DUPONT", "<script>alert(1)</script>", "O'BRIEN & FILS", 'Guillemets "doubles"']
    held = ["traitant", "opened", "consultation", "emergency", "samu", "patient"]
    at = datetime.datetime(2026, 3, 4, 5, 6, tzinfo=datetime.UTC)
    rows = [
        PatientRow(
            patient=Patient(
                birth_name=names[index % len(names)],
                used_name="D'ARC" if index == 2 else "",
                first_names="Zoé <b>",
                birth_date=datetime.date(1960, 1, 2) if index % 2 else None,
            ),
            held_as=held[index % len(held)],
            last_access=at if index % 3 else None,
            new_by_kind={"report": 2, "lab_report": 1} if index % 2 else {},
        )
        for index in range(8)
    ]
    return PatientPage(rows=rows, number=2, has_next=True, sort="-acces", query="du <i>")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_page_renders_as_before(doctor: Professional, language: str) -> None:
    request = RequestFactory().get("/", {"q": "du <i>", "tri": "-acces", "page": "2"})
    request.user = doctor.user
    request.session = {}  # type: ignore[assignment]
    page = _page()
    with translation.override(language):
        context = {"filters": MyPatientsForm(request.GET), "patients": page}
        after = render_to_string("dmp_portal/home_professional.html", context, request=request)
        before = engines["django"].from_string(_translated_in_each_row()).render(context, request)
    assert "&lt;script&gt;" in after and "<script>alert" not in after
    assert after.count('data-label="') >= 4 * len(page.rows)
    assert without_csrf(after.encode()) == without_csrf(before.encode())
