"""One navigation for a DMP: the imaging pages show the same patient header and sub-menu as
the records pages (Imagerie in it); a study with its report attached does not offer to attach
one again."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from identity.models import Patient, Professional
from imaging.models import ImagingStudy
from records.services.content import report_deposit

from .conftest import logged_in

pytestmark = pytest.mark.django_db


def _menu(body: str) -> list[str]:
    nav = re.search(r'<nav class="records-nav.*?</nav>', body, re.S)
    assert nav is not None, "no patient sub-menu"
    return re.findall(r'<a href="[^"]+">([^<]+)</a>', nav.group(0))


def test_records_and_imaging_pages_share_the_patient_header(
    study: ImagingStudy, alice: Patient, doctor: Professional
) -> None:
    client = logged_in(doctor.user)
    series = study.series.first()
    assert series is not None
    pages = [
        reverse("records:patient_home", args=[alice.public_id]),
        reverse("records:timeline_pro", args=[alice.public_id]),
        reverse("imaging:patient_studies", args=[alice.public_id]),
        reverse("imaging:study_detail", args=[study.entry.public_id]),
        reverse("imaging:series_viewer", args=[series.public_id]),
    ]
    menus = []
    for url in pages:
        body = client.get(url).content.decode()
        assert "DUPONT Alice Marie" in body and alice.insc in body, url
        menus.append(_menu(body))
    assert all(menu == menus[0] for menu in menus)
    assert menus[0][:4] == ["Fiche du DMP", "Documents", "Carte des allergies", "Imagerie"]


def test_emergency_reader_sees_the_menu_without_deposits(
    study: ImagingStudy, alice: Patient, emergency_doctor: Professional
) -> None:
    body = logged_in(emergency_doctor.user).get(
        reverse("imaging:study_detail", args=[study.entry.public_id])
    )
    text = body.content.decode()
    assert _menu(text) == ["Fiche du DMP", "Documents", "Carte des allergies", "Imagerie"]
    assert "consultation seulement" in text
    assert "Rattacher ce compte rendu" not in text


def test_attach_is_offered_only_while_no_report_is_attached(
    study: ImagingStudy, alice: Patient, doctor: Professional
) -> None:
    client = logged_in(doctor.user)
    page = reverse("imaging:study_detail", args=[study.entry.public_id])
    assert "Rattacher ce compte rendu" in client.get(page).content.decode()
    report = report_deposit(
        actor=doctor.user,
        patient=alice,
        document_type="18748-4",
        title="CR du scanner",
        act_date=alice.opened_at.date(),
        body="Pas d'anomalie.",
    )
    attach = reverse("imaging:study_report", args=[study.entry.public_id])
    assert client.post(attach, {"report": str(report.public_id)}).status_code == 302
    body = client.get(page).content.decode()
    assert "CR du scanner" in body
    assert "Rattacher ce compte rendu" not in body
