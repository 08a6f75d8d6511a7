"""What the records pages show: timeline order, filters, window and badges; entry details
with versions, the announce warning, masking; the PDF download; the allergy card; trends."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from identity.errors import AccessDenied
from identity.models import Patient, Professional
from records.models import AccessAction, AccessEvent, Entry
from records.services.content import ObservationInput
from records.services.entries import entry_mask
from tests.cast import fresh_login
from tests.records.conftest import logged_in
from tests.records.helpers import allergy, days_ago, lab, pdf_bytes, report

pytestmark = pytest.mark.django_db


def _titles(response: object) -> list[str]:
    return [row.entry.title for row in response.context["rows"]]  # type: ignore[attr-defined]


def test_timeline_newest_first_with_filters(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    report(doctor, alice, title="Ancien", day=days_ago(400))
    report(authorised_doctor, alice, title="Récent", day=days_ago(3))
    lab(doctor, alice, day=days_ago(30), title="Bilan de mars")
    client = logged_in(doctor.user)
    url = reverse("records:timeline_pro", args=[alice.public_id])
    assert _titles(client.get(url)) == ["Récent", "Bilan de mars", "Ancien"]
    assert _titles(client.get(url, {"type": "11502-2"})) == ["Bilan de mars"]
    assert _titles(client.get(url, {"auteur": "auth"})) == ["Récent"]
    period = {"du": f"{days_ago(60):%Y-%m-%d}", "au": f"{days_ago(10):%Y-%m-%d}"}
    assert _titles(client.get(url, period)) == ["Bilan de mars"]
    wrong = client.get(url, {"du": "2026-13-45"})
    assert wrong.status_code == 200 and "Saisissez une date valide" in wrong.content.decode()
    assert AccessEvent.objects.filter(action=AccessAction.TIMELINE_VIEW, patient=alice).count() == 5


def test_professional_window_is_two_years_with_a_control_for_everything(
    alice: Patient, doctor: Professional
) -> None:
    report(doctor, alice, title="Il y a trois ans", day=days_ago(3 * 365))
    report(doctor, alice, title="Cette année", day=days_ago(20))
    client = logged_in(doctor.user)
    url = reverse("records:timeline_pro", args=[alice.public_id])
    response = client.get(url)
    assert _titles(response) == ["Cette année"]
    assert "Voir tout le dossier" in response.content.decode()
    assert _titles(client.get(url, {"tout": "on"})) == ["Cette année", "Il y a trois ans"]
    # The patient's own list has no window.
    mine = logged_in(alice.user).get(reverse("records:timeline_patient"))  # type: ignore[arg-type]
    assert _titles(mine) == ["Cette année", "Il y a trois ans"]


def test_pagination_by_fifty_without_count(alice: Patient, doctor: Professional) -> None:
    for index in range(51):
        report(doctor, alice, title=f"CR {index:02d}", day=days_ago(index))
    client = logged_in(doctor.user)
    url = reverse("records:timeline_pro", args=[alice.public_id])
    first = client.get(url)
    assert len(first.context["rows"]) == 50 and first.context["has_next"]
    assert 'rel="next"' in first.content.decode()
    second = client.get(url, {"page": 2})
    assert _titles(second) == ["CR 50"] and not second.context["has_next"]


def test_badges_and_what_each_viewer_sees(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    hidden = report(doctor, alice, title="Anapath", invisible_to_patient=True)
    masked = report(doctor, alice, title="Psy")
    entry_mask(actor=alice.user, entry=masked, masked=True)  # type: ignore[arg-type]
    first = report(doctor, alice, title="Version 1")
    report(doctor, alice, title="Version 2", replaces=first)
    lab(doctor, alice, [ObservationInput("4548-4", "8,2", "%", Decimal(4), Decimal(6))])
    body = (
        logged_in(doctor.user)
        .get(reverse("records:timeline_pro", args=[alice.public_id]))
        .content.decode()
    )
    for badge in (
        "Invisible pour le patient",
        "Masqué aux professionnels",
        "Remplacé",
        "Résultat anormal",
    ):
        assert badge in body
    other = logged_in(authorised_doctor.user).get(
        reverse("records:timeline_pro", args=[alice.public_id])
    )
    assert "Psy" not in _titles(other)  # masked: author and médecin traitant only
    patient_view = logged_in(alice.user).get(reverse("records:timeline_patient"))  # type: ignore[arg-type]
    assert "Anapath" not in _titles(patient_view)
    assert "Invisible pour le patient" not in patient_view.content.decode()
    detail = reverse("records:entry_detail", args=[hidden.public_id])
    assert logged_in(alice.user).get(detail).status_code == 404  # type: ignore[arg-type]


def test_invisible_entry_warning_and_announce(alice: Patient, doctor: Professional) -> None:
    hidden = report(doctor, alice, title="Anapath", invisible_to_patient=True)
    client = logged_in(doctor.user)
    url = reverse("records:entry_detail", args=[hidden.public_id])
    body = client.get(url).content.decode()
    assert "pas encore visible par le patient" in body and "Marquer comme annoncé" in body
    client.post(reverse("records:entry_announce", args=[hidden.public_id]))
    assert "Marquer comme annoncé" not in client.get(url).content.decode()
    assert logged_in(alice.user).get(url).status_code == 200  # type: ignore[arg-type]


def test_invisible_lab_values_are_not_in_the_patients_trend(
    alice: Patient, doctor: Professional
) -> None:
    lab(doctor, alice, [ObservationInput("4548-4", "6,1", "%")], day=days_ago(40))
    lab(doctor, alice, [ObservationInput("4548-4", "9,9", "%")], invisible_to_patient=True)
    mine = logged_in(alice.user).get(reverse("records:trend_patient", args=["4548-4"]))  # type: ignore[arg-type]
    assert len(mine.context["trend"].points) == 1
    pro = logged_in(doctor.user).get(reverse("records:trend_pro", args=[alice.public_id, "4548-4"]))
    assert len(pro.context["trend"].points) == 2


def test_pharmacist_does_not_see_an_operative_report(
    alice: Patient, doctor: Professional, pharmacist: Professional
) -> None:
    operative = report(
        doctor, alice, title="CR opératoire", document_type="34874-8", pdf=pdf_bytes(), body=""
    )
    lab(doctor, alice, title="Bilan")
    client = logged_in(pharmacist.user)
    assert _titles(client.get(reverse("records:timeline_pro", args=[alice.public_id]))) == ["Bilan"]
    for name in ("entry_detail", "report_pdf"):
        assert client.get(reverse(f"records:{name}", args=[operative.public_id])).status_code == 404


def test_pharmacist_deposits_only_what_he_may_read(
    alice: Patient, pharmacist: Professional
) -> None:
    """The DMP's rule: one deposits only the document types one may read. The matrix hides
    operative reports (34874-8) from pharmacists: the form does not offer the type, a forged
    POST is refused with nothing stored, and the service refuses it too."""
    client = logged_in(pharmacist.user)
    url = reverse("records:report_new", args=[alice.public_id])
    form = client.get(url)
    offered = [value for value, _label in form.context["form"].fields["document_type"].choices]
    assert "34874-8" not in offered and "11488-4" in offered
    before = Entry.objects.count()
    forged = client.post(
        url,
        {
            "document_type": "34874-8",
            "title": "CR opératoire",
            "act_date": f"{days_ago(1):%Y-%m-%d}",
            "body": "texte",
            "submission_key": "6b1f2c9e-3d4a-4b5c-8d7e-1f2a3b4c5d6e",
        },
    )
    assert forged.status_code == 400
    assert "Sélectionnez un choix valide" in forged.content.decode()
    assert Entry.objects.count() == before
    with pytest.raises(AccessDenied):
        report(pharmacist, alice, title="CR opératoire", document_type="34874-8", body="x")
    assert Entry.objects.count() == before
    # What he may read, he may deposit.
    report(pharmacist, alice, title="Conciliation", document_type="11488-4", body="x")
    assert Entry.objects.count() == before + 1


def test_pdf_download_headers_and_trace(alice: Patient, doctor: Professional) -> None:
    data = pdf_bytes("CR opératoire")
    entry = report(doctor, alice, title="CR opératoire", document_type="34874-8", pdf=data)
    response = logged_in(doctor.user).get(reverse("records:report_pdf", args=[entry.public_id]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="cr-operatoire.pdf"')
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    event = AccessEvent.objects.filter(action=AccessAction.DOWNLOAD).get()
    assert event.entry_public_id == entry.public_id and event.actor == doctor.user


def test_new_version_through_the_form_keeps_the_chain(alice: Patient, doctor: Professional) -> None:
    first = report(doctor, alice, title="CR de consultation", pdf=pdf_bytes(), body="Version 1")
    client = logged_in(doctor.user)
    form = client.get(reverse("records:entry_new_version", args=[first.public_id]))
    assert "Version 1" in form.content.decode()  # prefilled
    key = form.context["form"].initial["submission_key"]
    response = client.post(
        reverse("records:entry_new_version", args=[first.public_id]),
        {
            "document_type": "11488-4",
            "title": "CR de consultation (corrigé)",
            "act_date": f"{first.act_date:%Y-%m-%d}",
            "body": "Version 2",
            "keep_pdf": "on",
            "submission_key": str(key),
        },
    )
    assert response.status_code == 302
    second = Entry.objects.get(replaces=first)
    new_page = client.get(response["Location"]).content.decode()
    previous_link = reverse("records:entry_detail", args=[first.public_id])
    assert "version précédente" in new_page and previous_link in new_page
    assert "Télécharger le PDF" in new_page
    old_page = client.get(previous_link).content.decode()
    assert "Remplacé" in old_page
    assert reverse("records:entry_detail", args=[second.public_id]) in old_page
    assert "Déposer une nouvelle version" not in old_page


def test_patient_masks_from_the_detail_page_and_sees_who_can_see(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    entry = report(doctor, alice, title="CR")
    client = Client()
    fresh_login(client, alice.user)  # type: ignore[arg-type]
    url = reverse("records:entry_detail", args=[entry.public_id])
    body = client.get(url).content.decode()
    assert "Qui peut voir ce document" in body
    assert "Claire Martin" in body and "Ana Auth" in body and "Autorisé par le patient" in body
    client.post(reverse("records:entry_mask", args=[entry.public_id]), {"masquer": "on"})
    body = client.get(url).content.decode()
    assert "Ce document est masqué" in body and "Ana Auth" not in body
    assert logged_in(authorised_doctor.user).get(url).status_code == 404
    client.post(reverse("records:entry_mask", args=[entry.public_id]), {"masquer": ""})
    assert logged_in(authorised_doctor.user).get(url).status_code == 200


def test_allergy_card(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    allergy(
        doctor,
        alice,
        substance_code="aliment:arachide",
        severity="moderate",
        criticality="low",
        reactions="Urticaire",
    )
    allergy(doctor, alice)  # penicillins: severe, high criticality
    allergy(
        authorised_doctor,
        alice,
        substance_code="atc:V08A",
        verification_status="refuted",
        criticality="low",
    )
    allergy(doctor, alice, substance_code="env:chat", clinical_status="resolved")
    pages = [
        (logged_in(doctor.user), reverse("records:allergy_card_pro", args=[alice.public_id])),
        (logged_in(alice.user), reverse("records:allergy_card_patient")),  # type: ignore[arg-type]
    ]
    for client, url in pages:
        body = client.get(url).content.decode()
        assert alice.insc in body and "DUPONT Alice Marie" in body
        assert f"{timezone.localdate():%d/%m/%Y}" in body  # edited today, updated today
        assert body.index("Pénicillines") < body.index("Arachide")  # by criticality
        assert "Produits de contraste" not in body  # refuted
        assert "Chat" not in body  # resolved
        assert "Dr Claire Martin" in body  # who recorded each
        assert "Imprimer la carte" in body and "data-print" in body


def test_trend_converts_units_and_marks_range_changes(alice: Patient, doctor: Professional) -> None:
    lab(doctor, alice, [ObservationInput("4548-4", "6,5", "%", "4", "6")], day=days_ago(300))
    lab(
        doctor, alice, [ObservationInput("4548-4", "53", "mmol/mol", "20", "42")], day=days_ago(200)
    )
    lab(doctor, alice, [ObservationInput("4548-4", "6,9", "%", "4", "5,6")], day=days_ago(100))
    response = logged_in(doctor.user).get(
        reverse("records:trend_pro", args=[alice.public_id, "4548-4"])
    )
    body = response.content.decode()
    trend = response.context["trend"]
    assert len(trend.series) == 1 and trend.series[0].unit == "%"
    assert "<svg" in body and "style=" not in body.split("<svg", 1)[1].split("</svg>")[0]
    assert "7,0" in body or "7,00" in body  # 53 mmol/mol shown as ≈ 7,0 %
    assert "converti" in body
    assert "intervalle modifié" in body and "Changements d" in body
    links = re.findall(r'href="(/document/[^"]+/)"', body)
    assert len(set(links)) == 3  # each point links to its report


def test_unconvertible_units_make_separate_series(alice: Patient, doctor: Professional) -> None:
    lab(doctor, alice, [ObservationInput("10835-7", "0,45", "g/L")], day=days_ago(100))
    lab(doctor, alice, [ObservationInput("10835-7", "120", "nmol/L")], day=days_ago(50))
    response = logged_in(doctor.user).get(
        reverse("records:trend_pro", args=[alice.public_id, "10835-7"])
    )
    assert [s.unit for s in response.context["trend"].series] == ["g/L", "nmol/L"]
    assert "Série 2" in response.content.decode()


def test_unknown_analyte_trend_is_404(alice: Patient, doctor: Professional) -> None:
    url = reverse("records:trend_pro", args=[alice.public_id, "0000-0"])
    assert logged_in(doctor.user).get(url).status_code == 404


def test_every_read_leaves_one_event(alice: Patient, doctor: Professional) -> None:
    entry = lab(doctor, alice)
    client = logged_in(doctor.user)
    before = AccessEvent.objects.count()
    client.get(reverse("records:entry_detail", args=[entry.public_id]))
    event = AccessEvent.objects.order_by("-id").first()
    assert AccessEvent.objects.count() == before + 1
    assert event is not None and event.action == AccessAction.ENTRY_VIEW
    assert event.entry_public_id == entry.public_id


def test_lab_form_adds_rows_without_javascript(alice: Patient, doctor: Professional) -> None:
    client = logged_in(doctor.user)
    url = reverse("records:lab_report_new", args=[alice.public_id])
    page = client.get(url)
    body = page.content.decode()
    assert body.count("data-row") == 8 + 1  # eight rows and the template for the script
    assert "<script" in body and "records-formset.js" in body and "onclick" not in body
    more = client.post(
        url,
        {
            "form-TOTAL_FORMS": "8",
            "form-INITIAL_FORMS": "0",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "60",
            "ajouter_lignes": "1",
        },
    )
    assert more.status_code == 200 and len(more.context["rows"].forms) == 13
    assert not Entry.objects.exists()
