"""Forms of the DMP's pages: opening with consent, finding a patient, activation, the
patient's settings, closing, access controls, emergency access and the history filter."""

from __future__ import annotations

import datetime
import unicodedata
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identity.ins import check_nir_against_traits, compute_insc, validate_insc, validate_nir
from identity.models import (
    Profession,
    Professional,
    Role,
    Sex,
    User,
    VerificationStatus,
)
from identity.names import clean_person_name
from identity.rpps import validate_rpps
from records.forms.fields import FilterDateField
from records.services.lifecycle import PatientTraits

_MIN_BIRTH_DATE = datetime.date(1880, 1, 1)


def _birth_date_checks(value: datetime.date) -> datetime.date:
    if value > timezone.localdate():
        raise ValidationError(_("La date de naissance est dans le futur."), code="future")
    if value < _MIN_BIRTH_DATE:
        raise ValidationError(
            _("La date de naissance est antérieure à 1880 : vérifiez l'année."), code="too_old"
        )
    return value


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class DmpOpenForm(forms.Form):
    """Opening a DMP: identity traits as on the Carte Vitale, NIR, consent and choices."""

    birth_name = forms.CharField(label=_("Nom de naissance"), max_length=100)
    first_names = forms.CharField(
        label=_("Prénom(s)"),
        max_length=100,
        required=False,
        help_text=_("Tels qu'inscrits sur la carte Vitale, dans l'ordre."),
    )
    used_name = forms.CharField(label=_("Nom d'usage (facultatif)"), max_length=100, required=False)
    sex = forms.ChoiceField(
        label=_("Sexe"),
        choices=[(Sex.FEMALE, _("Féminin")), (Sex.MALE, _("Masculin"))],
        widget=forms.RadioSelect,
    )
    birth_date = forms.DateField(label=_("Date de naissance"), widget=DateInput())
    birth_place_code = forms.CharField(
        label=_("Code du lieu de naissance (facultatif)"),
        max_length=5,
        required=False,
        help_text=_(
            "Code INSEE de la commune (5 caractères, 2A/2B pour la Corse, 99xxx à l'étranger)."
        ),
    )
    nir = forms.CharField(
        label=_("NIR (numéro de sécurité sociale du patient)"),
        max_length=30,
        help_text=_(
            "15 caractères, clé comprise, espaces permis. Il sert à calculer l'INS-C et n'est "
            "jamais conservé."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    consent = forms.BooleanField(
        label=_("J'ai expliqué le DMP au patient et il consent explicitement à son ouverture."),
        error_messages={
            "required": _(
                "Le consentement explicite du patient est nécessaire pour ouvrir son DMP."
            )
        },
    )
    opposes_bris_de_glace = forms.BooleanField(
        label=_("Le patient s'oppose à l'accès en urgence (bris de glace)."), required=False
    )
    opposes_samu = forms.BooleanField(
        label=_("Le patient s'oppose à l'accès par le médecin régulateur du SAMU."), required=False
    )
    medecin_traitant = forms.BooleanField(
        label=_("Le patient me désigne comme son médecin traitant."), required=False
    )
    confirm_warnings = forms.BooleanField(
        label=_("J'ai vérifié : les avertissements ci-dessus sont justifiés, ouvrir quand même."),
        required=False,
    )

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.warnings: list[str] = []
        if actor.professional.profession != Profession.MEDECIN:
            del self.fields["medecin_traitant"]

    def clean_birth_name(self) -> str:
        return clean_person_name(self.cleaned_data["birth_name"])

    def clean_first_names(self) -> str:
        return clean_person_name(self.cleaned_data["first_names"], required=False)

    def clean_used_name(self) -> str:
        return clean_person_name(self.cleaned_data["used_name"], required=False)

    def clean_birth_date(self) -> datetime.date:
        return _birth_date_checks(self.cleaned_data["birth_date"])

    def clean_birth_place_code(self) -> str:
        code: str = self.cleaned_data["birth_place_code"].strip().upper()
        if code and not (
            len(code) == 5 and (code.isdigit() or (code[:2] in {"2A", "2B"} and code[2:].isdigit()))
        ):
            raise ValidationError(
                _(
                    "Le code du lieu de naissance compte 5 caractères (chiffres, ou 2A/2B "
                    "suivi de 3 chiffres)."
                ),
                code="place_code",
            )
        return code

    def clean_nir(self) -> str:
        return validate_nir(self.cleaned_data["nir"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        nir, sex, birth_date = (cleaned.get(k) for k in ("nir", "sex", "birth_date"))
        if nir and sex and birth_date:
            try:
                self.warnings = [
                    str(w) for w in check_nir_against_traits(nir, sex=sex, birth_date=birth_date)
                ]
            except ValidationError as error:
                self.add_error("nir", error)
        if "first_names" in cleaned and not cleaned.get("first_names"):
            self.warnings.append(
                str(
                    _(
                        "Aucun prénom saisi : c'est possible (personne sans prénom à l'état "
                        "civil) mais rare. Vérifiez la carte Vitale."
                    )
                )
            )
        if self.warnings and not cleaned.get("confirm_warnings") and not self.errors:
            raise ValidationError(
                _("Vérifiez les avertissements ci-dessous, puis confirmez pour ouvrir le DMP."),
                code="warnings",
            )
        return cleaned

    def traits(self) -> PatientTraits:
        data = self.cleaned_data
        return PatientTraits(
            birth_name=data["birth_name"],
            first_names=data["first_names"],
            used_name=data["used_name"],
            sex=data["sex"],
            birth_date=data["birth_date"],
            birth_place_code=data["birth_place_code"],
        )


class InscSearchForm(forms.Form):
    insc = forms.CharField(
        label=_("INS-C (22 chiffres)"),
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_insc(self) -> str:
        return validate_insc(self.cleaned_data["insc"])


class NoEchoTextInput(forms.TextInput):
    """A text input that never writes its value back into the page: the NIR typed for a
    search is not kept anywhere, the result page included."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        return super().get_context(name, None, attrs)


class TraitsSearchForm(forms.Form):
    first_names = forms.CharField(label=_("Prénom(s)"), max_length=100, required=False)
    birth_date = forms.DateField(label=_("Date de naissance"), widget=DateInput())
    nir = forms.CharField(
        label=_("NIR"),
        max_length=30,
        help_text=_("Sert à calculer l'INS-C, n'est pas conservé."),
        widget=NoEchoTextInput(attrs={"autocomplete": "off"}),
    )

    def clean_first_names(self) -> str:
        return clean_person_name(self.cleaned_data["first_names"], required=False)

    def clean_birth_date(self) -> datetime.date:
        return _birth_date_checks(self.cleaned_data["birth_date"])

    def clean_nir(self) -> str:
        return validate_nir(self.cleaned_data["nir"])

    def insc(self) -> str:
        data = self.cleaned_data
        return compute_insc(data["first_names"], data["birth_date"], data["nir"])


class ReopenForm(forms.Form):
    insc = forms.CharField(widget=forms.HiddenInput)
    consent = forms.BooleanField(
        label=_("Le patient consent explicitement à la réouverture de son DMP."),
        error_messages={"required": _("Le consentement du patient est nécessaire.")},
    )

    def clean_insc(self) -> str:
        return validate_insc(self.cleaned_data["insc"])


class ActivationCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code d'activation"),
        max_length=20,
        help_text=_(
            "12 caractères, tels qu'imprimés sur le courrier remis par votre professionnel."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    birth_date = forms.DateField(label=_("Votre date de naissance"), widget=DateInput())

    def clean_birth_date(self) -> datetime.date:
        return _birth_date_checks(self.cleaned_data["birth_date"])


class PatientAccountForm(forms.Form):
    email = forms.EmailField(label=_("Adresse e-mail"), max_length=254)
    password1 = forms.CharField(
        label=_("Mot de passe"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("12 caractères au moins, ni trop courant ni uniquement des chiffres."),
    )
    password2 = forms.CharField(
        label=_("Mot de passe (confirmation)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip().lower()
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("Les deux mots de passe ne sont pas identiques."))
        elif first:
            try:
                password_validation.validate_password(
                    first, User(email=cleaned.get("email", ""), role=Role.PATIENT)
                )
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class OppositionsForm(forms.Form):
    opposes_bris_de_glace = forms.BooleanField(
        label=_("Je m'oppose à l'accès à mon DMP en urgence (bris de glace)."), required=False
    )
    opposes_samu = forms.BooleanField(
        label=_("Je m'oppose à l'accès à mon DMP par le médecin régulateur du SAMU."),
        required=False,
    )


class NotificationsForm(forms.Form):
    """What the patient is told, and how (emergencies are always told, both ways)."""

    accesses = forms.ChoiceField(
        label=_("Me prévenir"), widget=forms.RadioSelect, choices=(), initial="first"
    )
    by_email = forms.BooleanField(label=_("Par e-mail"), required=False)
    in_portal = forms.BooleanField(label=_("Dans le portail"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from records.models import NotifiedAccesses

        super().__init__(*args, **kwargs)
        accesses = self.fields["accesses"]
        assert isinstance(accesses, forms.ChoiceField)  # noqa: S101 - narrows the type
        accesses.choices = NotifiedAccesses.choices


class MedecinTraitantForm(forms.Form):
    rpps = forms.CharField(
        label=_("Numéro RPPS de votre médecin traitant"),
        max_length=20,
        required=False,
        help_text=_("Laissez vide pour ne désigner personne."),
    )

    def clean_rpps(self) -> Professional | None:
        raw = self.cleaned_data["rpps"].strip()
        if not raw:
            return None
        rpps = validate_rpps(raw)
        professional = (
            Professional.objects.select_related("user")
            .filter(rpps=rpps, verification_status=VerificationStatus.VERIFIED)
            .first()
        )
        if professional is None or professional.profession != Profession.MEDECIN:
            raise ValidationError(
                _("Aucun médecin vérifié ne porte ce numéro RPPS sur le portail."),
                code="unknown_doctor",
            )
        return professional


class DmpCloseForm(forms.Form):
    confirm = forms.BooleanField(
        label=_(
            "Je comprends que plus personne, ni moi ni les professionnels, ne pourra lire mon "
            "DMP tant qu'il est fermé."
        )
    )
    early_erasure = forms.BooleanField(
        label=_(
            "Je demande en plus sa suppression définitive anticipée (dans 30 jours, au lieu "
            "de 10 ans d'archivage)."
        ),
        required=False,
    )


class DirectorySearchForm(forms.Form):
    q = forms.CharField(
        label=_("Nom ou numéro RPPS du professionnel"),
        max_length=100,
        min_length=2,
        widget=forms.TextInput(attrs={"autocomplete": "off", "type": "search"}),
    )

    def clean_q(self) -> str:
        value = " ".join(self.cleaned_data["q"].split())
        if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value):
            raise ValidationError(_("Caractères non admis."), code="control")
        return value


class EmergencyForm(forms.Form):
    insc = forms.CharField(widget=forms.HiddenInput)
    reason = forms.ChoiceField(label=_("Motif de l'urgence"), choices=())
    reason_text = forms.CharField(
        label=_("Précisions"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Obligatoire pour le motif « Autre ». Le patient lira ce motif."),
    )

    def __init__(self, *args: Any, samu: bool, **kwargs: Any) -> None:
        from records.models import EmergencyReason

        super().__init__(*args, **kwargs)
        reason = self.fields["reason"]
        assert isinstance(reason, forms.ChoiceField)  # noqa: S101 - narrows the type
        # No default: the reason is a deliberate choice, never the first line left selected.
        reason.choices = [("", _("— Choisissez le motif —"))] + [
            (value, label)
            for value, label in EmergencyReason.choices
            if samu or value != EmergencyReason.SAMU_CALL
        ]
        reason.error_messages["required"] = _("Choisissez le motif de l'urgence.")

    def clean_insc(self) -> str:
        return validate_insc(self.cleaned_data["insc"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("reason") == "other" and not cleaned.get("reason_text", "").strip():
            self.add_error("reason_text", _("Précisez le motif de l'urgence."))
        return cleaned


class AttestConsentForm(forms.Form):
    insc = forms.CharField(widget=forms.HiddenInput)
    consent = forms.BooleanField(
        label=_(
            "Le patient, présent en consultation, consent à ce que j'accède à son DMP. Il en "
            "sera informé."
        ),
        error_messages={"required": _("Le consentement du patient est nécessaire.")},
    )

    def clean_insc(self) -> str:
        return validate_insc(self.cleaned_data["insc"])


class HistoryFilterForm(forms.Form):
    who = forms.CharField(label=_("Professionnel (nom ou RPPS)"), max_length=100, required=False)
    start = FilterDateField(label=_("Du"))
    end = FilterDateField(label=_("Au"))
    mode = forms.ChoiceField(label=_("Mode"), required=False, choices=())
    own = forms.BooleanField(label=_("Inclure mes propres consultations"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from records.models import AccessMode

        super().__init__(*args, **kwargs)
        mode = self.fields["mode"]
        assert isinstance(mode, forms.ChoiceField)  # noqa: S101 - narrows the type
        mode.choices = [("", _("Tous")), *AccessMode.choices]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", _("La date de fin précède la date de début."))
        return cleaned


class MyPatientsForm(forms.Form):
    """The professional's "Mes patients" list: search by name, sort, page."""

    q = forms.CharField(
        label=_("Nom du patient"),
        max_length=100,
        required=False,
        help_text=_("Le début du nom ou du prénom : « dup », « alice du »."),
    )
    tri = forms.ChoiceField(
        label=_("Trier par"),
        required=False,
        choices=[
            ("nom", _("Nom (A → Z)")),
            ("-nom", _("Nom (Z → A)")),
            ("-acces", _("Dernier accès (récent d'abord)")),
            ("acces", _("Dernier accès (ancien d'abord)")),
        ],
    )
    page = forms.IntegerField(
        min_value=1, max_value=100_000, required=False, widget=forms.HiddenInput
    )
