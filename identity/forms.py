"""Forms of the identity app. Forms validate; services write."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import SignupForm
from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from identity.models import (
    Profession,
    Professional,
    Specialty,
    User,
)
from identity.rpps import validate_rpps
from identity.services import professional_register


# allauth ships no type hints (no py.typed): its base class is Any to mypy.
class ProfessionalSignupForm(SignupForm):  # type: ignore[misc]
    """Self-registration of a health professional; an administrator verifies the profile."""

    first_name = forms.CharField(label=_("Prénom"), max_length=150, strip=True)
    last_name = forms.CharField(label=_("Nom"), max_length=150, strip=True)
    rpps = forms.CharField(
        label=_("Numéro RPPS"),
        max_length=20,
        help_text=_("11 chiffres, tels qu'inscrits sur votre carte CPS."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    profession = forms.ChoiceField(label=_("Profession"), choices=Profession.choices)
    specialty = forms.ChoiceField(
        label=_("Spécialité (médecins)"),
        choices=[("", _("— aucune —")), *Specialty.choices],
        required=False,
    )

    field_order = [
        "email",
        "first_name",
        "last_name",
        "rpps",
        "profession",
        "specialty",
        "password1",
        "password2",
    ]

    def clean_rpps(self) -> str:
        rpps = validate_rpps(self.cleaned_data["rpps"])
        if Professional.objects.filter(rpps=rpps).exists():
            raise ValidationError(
                _(
                    "Ce numéro RPPS est déjà enregistré. Contactez l'administrateur "
                    "si c'est le vôtre."
                ),
                code="rpps_taken",
            )
        return rpps

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("profession") == Profession.MEDECIN and not cleaned.get("specialty"):
            self.add_error("specialty", _("Indiquez la spécialité du médecin."))
        return cleaned

    def save(self, request: HttpRequest) -> User:
        with transaction.atomic():
            user: User = super().save(request)
            user.first_name = self.cleaned_data["first_name"]
            user.last_name = self.cleaned_data["last_name"]
            user.save(update_fields=["first_name", "last_name"])
            professional_register(
                user=user,
                rpps=self.cleaned_data["rpps"],
                profession=self.cleaned_data["profession"],
                specialty=self.cleaned_data.get("specialty", ""),
            )
        return user
