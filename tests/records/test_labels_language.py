"""Reference-data labels follow the page's language: LOINC document types, analytes and their
groups, units, allergens and their categories, interpretation flags, numbers. Codes are
stored; labels are derived, in French on French pages and in English on English pages."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from identity.models import Patient, Professional
from records import allergens, labs, reference
from records.models import Entry
from records.services.content import ObservationInput
from records.templatetags import records_tags
from tests.records.conftest import logged_in
from tests.records.helpers import allergy, days_ago, lab, report

# --- The tables: every label has an English twin --------------------------------------------


def test_every_analyte_has_english_labels() -> None:
    assert len(reference.ANALYTES) == 108
    for item in reference.ANALYTES:
        assert item.label_en.strip(), item.code
        assert item.short_label_en.strip(), item.code
        assert item.display_label("en") == item.label_en
        assert item.display_label("fr") == item.label
        assert item.display_short_label("en") == item.short_label_en
        assert item.display_short_label("fr") == item.short_label
    for group in reference.ANALYTE_GROUPS:
        assert group.label_en.strip(), group.key
    assert reference.analyte("4548-4").display_label("en") == "Glycated haemoglobin (HbA1c)"
    assert reference.analyte("2160-0").display_label("en") == "Creatinine"
    assert reference.analyte("14682-9").display_label("en") == "Creatinine"  # alternative code


def test_every_document_type_and_category_has_an_english_label() -> None:
    for doc in reference.DOCUMENT_TYPES:
        assert doc.label_en.strip(), doc.code
        assert reference.document_type_label(doc.code, "en") == doc.label_en
        assert reference.document_type_label(doc.code, "fr") == doc.label
    for category in reference.DOCUMENT_CATEGORIES:
        assert category.label_en.strip(), category.key
    assert reference.document_type_label("34874-8", "en") == "Operative report"
    assert reference.document_type_label("99999-9", "en") == "99999-9"  # unknown: as stored
    # The default choices stay French (a model field's); lang=None follows the language.
    assert dict(reference.document_type_choices())["34874-8"] == "CR opératoire"
    with translation.override("en"):
        assert dict(reference.document_type_choices(lang=None))["34874-8"] == "Operative report"


def test_every_allergen_and_category_has_an_english_label() -> None:
    for item in allergens.ALLERGENS:
        assert item.label_en.strip(), item.code
        assert item.display_label("en") == item.label_en
        assert item.display_label("fr") == item.label
    assert set(allergens.CATEGORY_LABELS_EN) == set(allergens.CATEGORY_LABELS)
    assert allergens.allergen("atc:J01C").display_label("en") == "Penicillins (class)"  # type: ignore[union-attr]
    english = allergens.allergen_choices("en")
    assert [label for label, _ in english] == [
        "Medication",
        "Food",
        "Environment",
        "Biological product",
    ]
    assert sum(len(items) for _, items in english) == len(allergens.ALLERGENS)


def test_flags_units_and_numbers_in_both_languages() -> None:
    assert labs.Flag.H.display_label("en") == "High"
    assert labs.Flag.L.display_label("en") == "Low"
    assert labs.Flag.H.display_label("fr") == "Élevé"
    assert all(flag.display_label("en") for flag in labs.Flag)
    # FLAG_CHOICES is the model field's: French, unchanged.
    assert dict(labs.FLAG_CHOICES)["H"] == "Élevé"
    assert reference.display_unit_label("U/L", "en") == "U/L"
    assert reference.display_unit_label("U/L", "fr") == "UI/L"
    assert reference.display_unit_label("m[IU]/L", "en") == "mIU/L"
    assert reference.display_unit_label("mmol/L", "en") == "mmol/L"  # same in both
    assert reference.unit_label("U/L") == "UI/L"  # the services' label stays French
    for item in reference.UNITS:  # an English label typed back is understood
        assert reference.normalize_unit(item.display_label("en")) == item.code
    assert labs.format_number(Decimal("6.1"), lang="en") == "6.1"
    assert labs.format_number(Decimal("6.1"), lang="fr") == "6,1"
    assert labs.format_number(Decimal("1250.5"), lang="en") == "1,250.5"
    assert labs.format_number(6.998, 1, lang="en") == "7.0"
    conversion = reference.CONVERSIONS["2160-0"][0]
    assert "," in conversion.display_formula("fr") and "." in conversion.display_formula("en")


def test_display_language_defaults_to_the_active_language() -> None:
    assert reference.display_language("en-GB") == "en"
    assert reference.display_language("de") == "fr"
    with translation.override("en"):
        assert reference.display_language() == "en"
        assert reference.analyte("2160-0").display_label() == "Creatinine"
        assert records_tags.flag_label("H") == "High"
        assert records_tags.num(Decimal("6.1")) == "6.1"
    with translation.override("fr"):
        assert reference.display_language() == "fr"
        assert reference.analyte("2160-0").display_label() == "Créatinine"
        assert records_tags.num(Decimal("6.1")) == "6,1"


# --- The pages ---------------------------------------------------------------------------------


def _page(client: Client, url: str, lang: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _split_chart(page: str) -> tuple[str, str]:
    """(the inline SVG chart, the rest of the page): SVG coordinates are "x,y" pairs."""
    before, rest = page.split("<svg", 1)
    chart, after = rest.split("</svg>", 1)
    return chart, before + after


@pytest.mark.django_db
def test_timeline_document_types_follow_the_language(alice: Patient, doctor: Professional) -> None:
    report(doctor, alice, title="Appendicectomie", document_type="34874-8", day=days_ago(3))
    lab(doctor, alice, day=days_ago(5))
    client = logged_in(doctor.user)
    url = reverse("records:timeline_pro", args=[alice.public_id])
    english = _page(client, url, "en")
    assert "Operative report" in english and "Laboratory report" in english
    assert "Consultation or visit note" in english  # the filter's choices, built per request
    assert "CR opératoire" not in english and "CR d'examens biologiques" not in english
    assert "Appendicectomie" in english  # the title is data: as stored
    french = _page(client, url, "fr")
    assert "CR opératoire" in french and "CR d'examens biologiques" in french
    assert "Operative report" not in french and "Laboratory report" not in french


@pytest.mark.django_db
def test_lab_report_detail_follows_the_language(alice: Patient, doctor: Professional) -> None:
    entry = lab(doctor, alice)
    client = logged_in(doctor.user)
    url = reverse("records:entry_detail", args=[entry.public_id])
    english = _page(client, url, "en")
    assert "Glycated haemoglobin (HbA1c)" in english and "Creatinine" in english
    assert "Laboratory report" in english
    assert "High" in english  # HbA1c 6,1 % above 4-6: H
    for french_label in ("Hémoglobine glyquée", "Créatinine", "Élevé", "CR d'examens"):
        assert french_label not in english
    french = _page(client, url, "fr")
    assert "Hémoglobine glyquée (HbA1c)" in french and "Créatinine" in french
    assert "Élevé" in french and "CR d'examens biologiques" in french
    assert "Glycated haemoglobin" not in french and "Creatinine" not in french


@pytest.mark.django_db
def test_trend_page_follows_the_language_numbers_included(
    alice: Patient, doctor: Professional
) -> None:
    lab(doctor, alice, day=days_ago(40))
    lab(
        doctor,
        alice,
        [ObservationInput("4548-4", "6,8", "%", Decimal("4"), Decimal("6"))],
        day=days_ago(10),
    )
    client = logged_in(doctor.user)
    url = reverse("records:trend_pro", args=[alice.public_id, "4548-4"])
    english = _page(client, url, "en")
    assert "Glycated haemoglobin (HbA1c)" in english and "Hémoglobine glyquée" not in english
    chart, table = _split_chart(english)
    assert "6.1 %" in chart and "6.8 %" in chart  # the chart (its description, its points)
    assert ">6.1<" in table and ">6.8<" in table  # and the table under it, alike
    assert "6,1" not in table and "6,8" not in table
    assert "High" in english and "Élevé" not in english
    assert "4.0 – 6.0 %" in table  # the reference range, English numbers
    assert "(% − 2.15) × 10.929" in english  # the conversion formula
    french = _page(client, url, "fr")
    assert "Hémoglobine glyquée (HbA1c)" in french and "Glycated haemoglobin" not in french
    chart, table = _split_chart(french)
    assert "6,1 %" in chart and ">6,1<" in table and ">6,8<" in table
    assert "6.1" not in table and "4,0 – 6,0 %" in table
    assert "Élevé" in french
    assert "(% − 2,15) × 10,929" in french


@pytest.mark.django_db
def test_unit_labels_on_the_trend_page(alice: Patient, doctor: Professional) -> None:
    lab(
        doctor,
        alice,
        [ObservationInput("1742-6", "35", "U/L", Decimal("7"), Decimal("40"))],
        day=days_ago(10),
    )
    client = logged_in(doctor.user)
    url = reverse("records:trend_pro", args=[alice.public_id, "1742-6"])
    english = _page(client, url, "en")
    assert "Alanine aminotransferase (ALT)" in english
    assert "UI/L" not in english and "U/L" in english
    french = _page(client, url, "fr")
    assert "Alanine aminotransférase (ALAT, TGP)" in french and "UI/L" in french


@pytest.mark.django_db
def test_allergy_card_and_detail_follow_the_language(alice: Patient, doctor: Professional) -> None:
    entry = allergy(doctor, alice)  # atc:J01C, the penicillin class
    allergy(doctor, alice, substance_code="aliment:arachide", criticality="low")
    free = allergy(
        doctor, alice, substance_code="", substance_label="Pollen de frêne", category="environment"
    )
    assert free.allergy.substance_label == "Pollen de frêne"
    client = logged_in(doctor.user)
    card = reverse("records:allergy_card_pro", args=[alice.public_id])
    english = _page(client, card, "en")
    assert "Penicillins (class)" in english and "Peanut" in english
    assert "Medication" in english and "Food" in english
    assert "Pénicillines" not in english and "Arachide" not in english
    assert "Pollen de frêne" in english  # free text: as recorded
    french = _page(client, card, "fr")
    assert "Pénicillines (classe)" in french and "Arachide (cacahuète)" in french
    assert "Penicillins" not in french and "Peanut" not in french
    detail = _page(client, reverse("records:entry_detail", args=[entry.public_id]), "en")
    assert "Penicillins (class)" in detail and "Allergies and intolerances" in detail
    assert "Pénicillines" not in detail.split("<h1>", 1)[1].split("</h1>", 1)[1]
    # The stored data did not change: the code and the French label as recorded.
    stored = Entry.objects.get(pk=entry.pk).allergy
    assert (stored.substance_code, stored.substance_label) == ("atc:J01C", "Pénicillines (classe)")


@pytest.mark.django_db
def test_deposit_forms_offer_english_choices(alice: Patient, doctor: Professional) -> None:
    client = logged_in(doctor.user)
    args = [alice.public_id]
    report_form = _page(client, reverse("records:report_new", args=args), "en")
    assert "Operative report" in report_form and "CR opératoire" not in report_form
    lab_form = _page(client, reverse("records:lab_report_new", args=args), "en")
    assert "Haematology / full blood count" in lab_form and "Hématologie" not in lab_form
    assert "Creatinine (2160-0)" in lab_form and "Critically high" in lab_form
    assert "Très élevé" not in lab_form
    assert '<option value="mIU/L">' in lab_form and '<option value="mUI/L">' not in lab_form
    allergy_form = _page(client, reverse("records:allergy_new", args=args), "en")
    assert "Amoxicillin" in allergy_form and 'label="Medication"' in allergy_form
    assert "Amoxicilline" not in allergy_form
    french = _page(client, reverse("records:lab_report_new", args=args), "fr")
    assert "Créatinine (2160-0)" in french and "Très élevé (critique)" in french


@pytest.mark.django_db
def test_entry_document_type_label_follows_the_active_language(
    alice: Patient, doctor: Professional
) -> None:
    entry = report(doctor, alice, document_type="34874-8")
    with translation.override("en"):
        assert entry.document_type_label == "Operative report"
    with translation.override("fr"):
        assert entry.document_type_label == "CR opératoire"
    assert Entry.objects.get(pk=entry.pk).document_type == "34874-8"
