""" "Télécharger en CDA R2" on a report or lab report page: through the funnel, traced like the
PDF download, an attachment; 404 for other kinds and for anyone out of scope."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from lxml import etree

from identity.models import Patient, Professional
from records.cda import codes
from records.models import AccessAction, AccessEvent
from records.services.content import ObservationInput
from tests.records.conftest import logged_in
from tests.records.helpers import allergy, lab, report


@pytest.mark.django_db
def test_patient_and_professional_download_the_cda_traced(
    doctor: Professional, alice: Patient
) -> None:
    entry = lab(doctor, alice)
    page = logged_in(alice.user).get(reverse("records:entry_detail", args=[entry.public_id]))  # type: ignore[arg-type]
    url = reverse("records:entry_cda", args=[entry.public_id])
    assert url in page.content.decode() and "Télécharger en CDA R2" in page.content.decode()
    for user in (alice.user, doctor.user):
        before = AccessEvent.objects.filter(action=AccessAction.DOWNLOAD).count()
        response = logged_in(user).get(url)  # type: ignore[arg-type]
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert ".xml" in response["Content-Disposition"]
        assert response["Content-Type"].startswith("text/xml")
        root = etree.fromstring(response.content)
        assert root.find(f"{{{codes.HL7}}}code").get("code") == "11502-2"  # type: ignore[union-attr]
        events = AccessEvent.objects.filter(action=AccessAction.DOWNLOAD)
        assert events.count() == before + 1
        event = events.latest("id")
        assert event.entry_public_id == entry.public_id and event.actor == user


@pytest.mark.django_db
def test_other_kinds_and_strangers_get_404(
    doctor: Professional, alice: Patient, stranger_doctor: Professional
) -> None:
    card = allergy(doctor, alice)
    client = logged_in(doctor.user)
    assert client.get(reverse("records:entry_cda", args=[card.public_id])).status_code == 404
    entry = report(doctor, alice)
    before = AccessEvent.objects.filter(action=AccessAction.DOWNLOAD).count()
    stranger = logged_in(stranger_doctor.user)
    assert stranger.get(reverse("records:entry_cda", args=[entry.public_id])).status_code == 404
    assert AccessEvent.objects.filter(action=AccessAction.DOWNLOAD).count() == before


@pytest.mark.django_db
def test_the_download_costs_the_same_queries_whatever_the_rows(
    doctor: Professional, alice: Patient
) -> None:
    small = lab(doctor, alice)
    rows = [
        ObservationInput("2160-0", str(60 + i), "umol/L", Decimal("45"), Decimal("90"))
        for i in range(12)
    ]
    big = lab(doctor, alice, rows)
    client = logged_in(doctor.user)
    client.get(reverse("records:entry_cda", args=[small.public_id]))  # the session, warm
    counts = []
    for entry in (small, big):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("records:entry_cda", args=[entry.public_id]))
            assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
