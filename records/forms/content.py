"""Forms of the records pages. They only shape and check what was typed; the services decide
and write. No form carries the patient or the author: those come from the URL (through the
access layer) and from the logged-in user."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypedDict, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from records import allergens, facts, labs, reference
from records.content import (
    AllergyCategory,
    AllergyVerification,
    ClinicalStatus,
    Criticality,
    Severity,
)
from records.forms.fields import FilterDateField
from records.pdf import MAX_PDF_BYTES, PdfError, inspect_pdf
from records.services import content as content_services

MAX_ROWS = 60
DEFAULT_ROWS = 8
ADD_ROWS = 5

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
_DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"]


# Choices showing reference-data labels are callables: Django evaluates them when the field
# is rendered or validated, so they follow the language of the request (French or English).
# Built at import time they would be frozen in the default language.


def _analyte_choices() -> list[Any]:
    groups: list[Any] = [("", _("— choisir une analyse —"))]
    for group in reference.ANALYTE_GROUPS:
        items = reference.analytes_in_group(group.key)
        if items:
            groups.append(
                (
                    group.display_label(),
                    [(item.code, f"{item.display_label()} ({item.code})") for item in items],
                )
            )
    return groups


def _interpretation_choices() -> list[Any]:
    return [("", _("— calculée —")), *labs.flag_choices()]


def _document_type_choices() -> list[Any]:
    return [("", _("— choisir —")), *reference.document_type_choices(lang=None)]


def _document_type_filter_choices() -> list[Any]:
    return [("", _("Tous les types")), *reference.document_type_choices(lang=None)]


def _not_future_date(value: Any, label: str) -> None:
    if value is not None and value > timezone.localdate():
        raise ValidationError(_("%(label)s : la date est dans le futur.") % {"label": label})


class SubmissionKeyForm(forms.Form):
    """A one-time key per displayed form: submitting it twice makes one entry."""

    submission_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission_key", uuid.uuid4())


class MinorFlags(TypedDict):
    hidden_from_representatives: bool
    secret: bool


class MinorFlagsForm(SubmissionKeyForm):
    """A deposit form: on a minor's DMP (``minor=True``), the two flags of ``records.mandates``
    (kept from the legal representatives; the minor's secret consultation, CSP L1111-5),
    offered on every deposit form alike; elsewhere they do not exist (a forged one is
    ignored)."""

    hidden_from_representatives = forms.BooleanField(
        label=_("Invisible aux représentants légaux"), required=False
    )
    secret = forms.BooleanField(
        label=_("Consultation secrète à la demande du mineur (art. L1111-5 CSP)"),
        required=False,
    )

    def __init__(self, *args: Any, minor: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("hidden_from_representatives", "secret"):
            flag = self.fields.pop(name)
            if minor:  # after the form's own fields
                self.fields[name] = flag

    def minor_flags(self) -> MinorFlags:
        """The two flags as the services take them (False when not offered)."""
        return minor_flags_of(self.cleaned_data)


def minor_flags_of(data: Mapping[str, Any]) -> MinorFlags:
    """The two flags of a form's cleaned data, as the services take them (False when the form
    did not offer them)."""
    return {
        "hidden_from_representatives": bool(data.get("hidden_from_representatives")),
        "secret": bool(data.get("secret")),
    }


class LabReportForm(MinorFlagsForm):
    laboratory = forms.CharField(label=_("Laboratoire"), max_length=200)
    specimen_collected_at = forms.DateTimeField(
        label=_("Prélèvement (date et heure)"), widget=_DATETIME, input_formats=_DATETIME_FORMATS
    )
    reported_at = forms.DateField(label=_("Date du compte rendu"), widget=_DATE)
    invisible_to_patient = forms.BooleanField(
        label=_("Invisible pour le patient jusqu'à la consultation d'annonce"), required=False
    )

    def clean_specimen_collected_at(self) -> Any:
        value = self.cleaned_data["specimen_collected_at"]
        if value > timezone.now():
            raise ValidationError(_("Date du prélèvement : la date est dans le futur."))
        return value

    def clean_reported_at(self) -> Any:
        value = self.cleaned_data["reported_at"]
        _not_future_date(value, str(_("Date du compte rendu")))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        specimen, reported = data.get("specimen_collected_at"), data.get("reported_at")
        if specimen and reported and reported < timezone.localtime(specimen).date():
            self.add_error("reported_at", _("Le compte rendu ne peut pas précéder le prélèvement."))
        return data


class ObservationForm(forms.Form):
    analyte_code = forms.ChoiceField(label=_("Analyse"), choices=_analyte_choices)
    value = forms.CharField(label=_("Résultat"), max_length=200)
    unit = forms.CharField(
        label=_("Unité"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"list": "ucum-units", "autocomplete": "off"}),
    )
    ref_low = forms.CharField(label=_("Borne basse"), max_length=30, required=False)
    ref_high = forms.CharField(label=_("Borne haute"), max_length=30, required=False)
    ref_text = forms.CharField(label=_("Référence (texte)"), max_length=200, required=False)
    interpretation = forms.ChoiceField(
        label=_("Interprétation"),
        choices=_interpretation_choices,
        required=False,
    )
    critical = forms.BooleanField(label=_("Valeur critique"), required=False)

    observation_input: content_services.ObservationInput | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        row = content_services.ObservationInput(
            analyte_code=data["analyte_code"],
            value=data["value"],
            unit=data.get("unit", ""),
            ref_low=data.get("ref_low") or None,
            ref_high=data.get("ref_high") or None,
            ref_text=data.get("ref_text", ""),
            interpretation=data.get("interpretation", ""),
            critical=bool(data.get("critical")),
        )
        try:
            content_services.observation_build(row)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.observation_input = row
        return data


class BaseObservationFormSet(forms.BaseFormSet[ObservationForm]):
    def rows(self) -> list[content_services.ObservationInput]:
        return [
            form.observation_input
            for form in self.forms
            if form.has_changed() and form.observation_input is not None
        ]

    def clean(self) -> None:
        super().clean()
        if not any(form.has_changed() for form in self.forms):
            raise ValidationError(_("Saisissez au moins un résultat."))


ObservationFormSet = forms.formset_factory(
    ObservationForm,
    formset=BaseObservationFormSet,
    extra=DEFAULT_ROWS,
    max_num=MAX_ROWS,
    validate_max=True,
    absolute_max=MAX_ROWS,
)


class ReportForm(MinorFlagsForm):
    document_type = forms.ChoiceField(
        label=_("Type de document"),
        choices=_document_type_choices,
    )
    title = forms.CharField(label=_("Titre"), max_length=200)
    act_date = forms.DateField(label=_("Date de l'acte"), widget=_DATE)
    body = forms.CharField(
        label=_("Texte du compte rendu"),
        required=False,
        max_length=content_services.MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 14}),
    )
    pdf = forms.FileField(
        label=_("Document PDF"),
        required=False,
        help_text=_("Un fichier PDF non protégé, de 20 Mo au maximum."),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )
    keep_pdf = forms.BooleanField(
        label=_("Conserver le PDF de la version précédente"), required=False, initial=True
    )
    invisible_to_patient = forms.BooleanField(
        label=_("Invisible pour le patient jusqu'à la consultation d'annonce"), required=False
    )

    def __init__(
        self,
        *args: Any,
        document_types: frozenset[str],
        too_large: bool = False,
        previous_pdf: bool = False,
        minor: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, minor=minor, **kwargs)
        self.too_large = too_large
        self.previous_pdf = previous_pdf
        if not previous_pdf:
            del self.fields["keep_pdf"]
        # Only the types the depositor may read (the funnel's DmpAccess.deposit_types): a type
        # forged into the POST is refused like any unknown choice.
        field = cast(forms.ChoiceField, self.fields["document_type"])
        field.choices = [
            (code, label)
            for code, label in _document_type_choices()
            if not code or code in document_types
        ]

    def clean_act_date(self) -> Any:
        value = self.cleaned_data["act_date"]
        _not_future_date(value, str(_("Date de l'acte")))
        return value

    def clean_pdf(self) -> Any:
        if self.too_large:
            size = MAX_PDF_BYTES // (1024 * 1024)
            sentence = _(
                "Le fichier dépasse la taille maximale de %(size)d Mo : rien n'a été enregistré."
            ) % {"size": size}
            raise facts.pdf_validation_error(PdfError("too_large", size=size), sentence)
        upload = self.cleaned_data.get("pdf")
        if not upload:
            return None
        if upload.size > MAX_PDF_BYTES:
            raise facts.pdf_validation_error(
                PdfError("too_large", size=MAX_PDF_BYTES // (1024 * 1024))
            )
        upload.seek(0)
        try:
            inspect_pdf(upload.read(MAX_PDF_BYTES + 1))
        except PdfError as error:
            raise facts.pdf_validation_error(error) from None
        upload.seek(0)
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        keeps = self.previous_pdf and data.get("keep_pdf")
        has_content = data.get("body") or data.get("pdf") or keeps
        if not self.errors and not has_content:
            raise ValidationError(_("Saisissez le texte du compte rendu ou joignez un PDF."))
        return data


def _allergen_choices() -> list[Any]:
    return [("", _("— autre substance (saisie libre ci-dessous) —")), *allergens.allergen_choices()]


class AllergyForm(MinorFlagsForm):
    substance_code = forms.ChoiceField(
        label=_("Substance"), choices=_allergen_choices, required=False
    )
    substance_label = forms.CharField(
        label=_("Autre substance (saisie libre)"), max_length=200, required=False
    )
    category = forms.ChoiceField(
        label=_("Catégorie"),
        choices=[("", _("— déduite de la substance choisie —")), *AllergyCategory.choices],
        required=False,
    )
    reactions = forms.CharField(
        label=_("Réactions, manifestations"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    severity = forms.ChoiceField(
        label=_("Sévérité"), choices=[("", _("Non précisée")), *Severity.choices], required=False
    )
    criticality = forms.ChoiceField(
        label=_("Criticité"), choices=Criticality.choices, initial=Criticality.UNABLE
    )
    clinical_status = forms.ChoiceField(
        label=_("Statut clinique"), choices=ClinicalStatus.choices, initial=ClinicalStatus.ACTIVE
    )
    verification_status = forms.ChoiceField(
        label=_("Vérification"),
        choices=AllergyVerification.choices,
        initial=AllergyVerification.UNCONFIRMED,
    )
    onset_date = forms.DateField(label=_("Date d'apparition"), required=False, widget=_DATE)
    note = forms.CharField(
        label=_("Note"),
        max_length=content_services.MAX_NOTE,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_onset_date(self) -> Any:
        value = self.cleaned_data.get("onset_date")
        _not_future_date(value, str(_("Date d'apparition")))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        code, label = data.get("substance_code"), data.get("substance_label")
        if not code and not label and "substance_label" not in self.errors:
            self.add_error(
                "substance_code", _("Choisissez une substance dans la liste ou saisissez-la.")
            )
        if not code and label and not data.get("category"):
            self.add_error("category", _("Précisez la catégorie d'une substance saisie librement."))
        return data


class TimelineFilterForm(forms.Form):
    type = forms.ChoiceField(
        label=_("Type de document"),
        choices=_document_type_filter_choices,
        required=False,
    )
    auteur = forms.CharField(label=_("Auteur (nom)"), max_length=100, required=False)
    q = forms.CharField(label=_("Mots du titre ou de l'aperçu"), max_length=100, required=False)
    tri = forms.ChoiceField(
        label=_("Ordre"),
        required=False,
        choices=[("-date", _("Plus récents d'abord")), ("date", _("Plus anciens d'abord"))],
    )
    du = FilterDateField(label=_("Du"))
    au = FilterDateField(label=_("Au"))
    tout = forms.BooleanField(required=False, widget=forms.HiddenInput)
    page = forms.IntegerField(
        min_value=1, max_value=100_000, required=False, widget=forms.HiddenInput
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("du"), data.get("au")
        if start and end and start > end:
            self.add_error("au", _("La date de fin précède la date de début."))
        return data


class MaskForm(forms.Form):
    masquer = forms.BooleanField(required=False)
