"""Forms of the profil médical. They shape what was typed (field names are the services'
keyword arguments); the services in ``records.services.profile`` check and write. No form
carries the patient or the author."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from records import profile_reference
from records.forms.content import _DATE, MinorFlagsForm, SubmissionKeyForm
from records.profile import HistoryKind, OrganDonation, PatientDocumentCategory, ProblemStatus


def _vaccine_choices() -> list[Any]:
    return [("", _("— choisir un vaccin —"))] + [
        (v.code, v.display_label()) for v in profile_reference.VACCINES
    ]


def _measure_choices() -> list[Any]:
    return [(m.key, f"{m.display_label()} ({m.unit_label})") for m in profile_reference.MEASURES]


class ProblemForm(MinorFlagsForm):
    """A CIM-10 code from the list (the browser suggests them: ``cim10-codes`` datalist) or a
    label typed freely, stored uncoded."""

    cim10_code = forms.CharField(
        label=_("Code CIM-10 (liste des codes courants)"),
        required=False,
        help_text=_("Tapez un code ou un mot : la liste propose les codes courants."),
        widget=forms.TextInput(attrs={"list": "cim10-codes", "autocomplete": "off"}),
    )
    label = forms.CharField(
        label=_("Libellé (obligatoire sans code : le problème est alors non codé)"),
        required=False,
    )
    status = forms.ChoiceField(label=_("Statut"), choices=ProblemStatus.choices)
    history = forms.ChoiceField(label=_("Nature"), choices=HistoryKind.choices)
    onset_date = forms.DateField(label=_("Début"), required=False, widget=_DATE)
    end_date = forms.DateField(label=_("Fin"), required=False, widget=_DATE)

    def clean_cim10_code(self) -> str:
        """ "E11 — Diabète sucré de type 2" (a suggestion picked) → "E11"."""
        typed = str(self.cleaned_data.get("cim10_code") or "").strip()
        return typed.split(" ", 1)[0] if typed else ""


class TreatmentForm(MinorFlagsForm):
    medicine = forms.CharField(label=_("Médicament"))
    atc_code = forms.CharField(label=_("Code ATC (facultatif)"), required=False)
    dose = forms.CharField(label=_("Dose"), required=False)
    frequency = forms.CharField(label=_("Fréquence"), required=False)
    start_date = forms.DateField(label=_("Début"), widget=_DATE)
    end_date = forms.DateField(label=_("Fin (traitement arrêté)"), required=False, widget=_DATE)
    prescriber = forms.CharField(label=_("Prescripteur"), required=False)


class VaccinationForm(MinorFlagsForm):
    vaccine_code = forms.ChoiceField(label=_("Vaccin"), choices=_vaccine_choices)
    given_on = forms.DateField(label=_("Date"), widget=_DATE)
    dose_number = forms.IntegerField(label=_("Numéro de dose"), required=False)
    lot = forms.CharField(label=_("Lot"), required=False)
    administered_by = forms.CharField(label=_("Administré par (par défaut : vous)"), required=False)


class PatientVaccinationForm(VaccinationForm):
    """The patient declares a vaccination: who administered it is "déclaré par le patient"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["administered_by"]


class MeasureForm(MinorFlagsForm):
    kind = forms.ChoiceField(label=_("Mesure"), choices=_measure_choices)
    value = forms.CharField(label=_("Valeur (systolique pour la pression artérielle)"))
    value2 = forms.CharField(label=_("Diastolique (pression artérielle)"), required=False)
    unit = forms.CharField(label=_("Unité (facultatif)"), required=False)
    measured_on = forms.DateField(label=_("Date de la mesure"), widget=_DATE)


class WishesForm(SubmissionKeyForm):
    directives = forms.CharField(
        label=_("Directives anticipées : où sont-elles conservées ?"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    directives_date = forms.DateField(
        label=_("Directives anticipées : date"), required=False, widget=_DATE
    )
    trusted_name = forms.CharField(label=_("Personne de confiance : nom"), required=False)
    trusted_relation = forms.CharField(label=_("Personne de confiance : lien"), required=False)
    trusted_contact = forms.CharField(
        label=_("Personne de confiance : téléphone ou adresse"), required=False
    )
    organ_donation = forms.ChoiceField(label=_("Don d'organes"), choices=OrganDonation.choices)
    emergency_contacts = forms.CharField(
        label=_("Personnes à prévenir en cas d'urgence"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class PatientDocumentForm(SubmissionKeyForm):
    """A document the patient adds: judged by its content by the service."""

    title = forms.CharField(label=_("Titre"))
    category = forms.ChoiceField(
        label=_("Type de document"), choices=PatientDocumentCategory.choices
    )
    upload = forms.FileField(
        label=_("Fichier (PDF, JPEG ou PNG, 5 Mo au plus)"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )

    def __init__(self, *args: Any, too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.too_large = too_large

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.too_large:
            self.add_error(None, _("Le fichier dépasse la taille maximale de 5 Mo."))
        return data
