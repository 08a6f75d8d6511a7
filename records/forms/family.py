"""Forms of the family pages (records.mandates): a proxy's grant, a representative's record."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from records.forms.dmp import DateInput
from records.mandates import MandateKind, MandateProof
from records.models import EntryKind


class ProxyGrantForm(forms.Form):
    email = forms.EmailField(label=_("Adresse e-mail du compte de la personne"))
    read_only = forms.TypedChoiceField(
        label=_("Ce qu'elle peut faire"),
        choices=[
            ("1", _("Lire seulement")),
            ("0", _("Lire et agir pour moi (autoriser, bloquer, masquer)")),
        ],
        coerce=lambda value: value == "1",
        initial="1",
        widget=forms.RadioSelect,
    )
    kinds = forms.MultipleChoiceField(
        label=_("Natures de documents"),
        choices=EntryKind.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    ends_on = forms.DateField(label=_("Jusqu'au (un an au plus)"), widget=DateInput)


class RepresentativeForm(forms.Form):
    email = forms.EmailField(label=_("Adresse e-mail du compte du représentant"))
    kind = forms.ChoiceField(
        label=_("Qualité"),
        choices=[
            (MandateKind.REPRESENTATIVE.value, MandateKind.REPRESENTATIVE.label),
            (MandateKind.TUTOR.value, MandateKind.TUTOR.label),
        ],
    )
    basis = forms.CharField(label=_("Fondement (autorité parentale, jugement…)"), max_length=300)
    proof = forms.ChoiceField(
        label=_("Pièce justificative"),
        choices=[c for c in MandateProof.choices if c[0] != MandateProof.PATIENT_CHOICE],
    )
    consent = forms.BooleanField(
        label=_("Le représentant consent à l'ouverture et à la tenue de ce DMP"),
        required=True,
    )
