"""Forms of the imaging pages. Files are judged by the services (content, not form fields);
the forms carry the choices: which imaging report to attach, confirm or cancel."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from identity.models import Patient, User
from imaging.access import report_choices
from records.forms.content import MinorFlags, MinorFlagsForm, minor_flags_of
from records.models import Entry

MINOR_FLAGS = ("hidden_from_representatives", "secret")


class ReportChoiceField(forms.ModelChoiceField[Entry]):
    def label_from_instance(self, obj: Entry) -> str:
        return f"{obj.title} — {obj.act_date:%d/%m/%Y}"


def _report_field(actor: User, patient: Patient) -> ReportChoiceField:
    return ReportChoiceField(
        label=_("Compte rendu d'imagerie à rattacher"),
        queryset=report_choices(actor, patient),
        to_field_name="public_id",  # never the sequential id in a form
        required=False,
        empty_label=_("Aucun pour l'instant"),
        help_text=_("Un compte rendu d'imagerie déjà déposé dans ce DMP (facultatif)."),
    )


class UploadForm(forms.Form):
    """The report to attach; the files themselves come from ``request.FILES["files"]``. On a
    minor's DMP (``minor``), the two flags every deposit form offers there (kept from the
    legal representatives; the secret consultation): the same fields as ``MinorFlagsForm``'s."""

    def __init__(
        self, *args: Any, actor: User, patient: Patient, minor: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["report"] = _report_field(actor, patient)
        if minor:
            for name in MINOR_FLAGS:
                self.fields[name] = copy.deepcopy(MinorFlagsForm.base_fields[name])

    def minor_flags(self) -> MinorFlags:
        """The two flags as the services take them (False when not offered)."""
        return minor_flags_of(self.cleaned_data)


class ReportForm(UploadForm):
    """Attach or change the report of an existing study."""


class ConfirmForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("confirm", _("Confirmer")), ("cancel", _("Annuler"))],
        widget=forms.HiddenInput,
    )
