"""Form fields shared by the records forms."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Python dates run from year 1 to 9999, but a date at either end cannot be made aware and
# moved to UTC (OverflowError), and no date in a medical record lies outside these bounds.
FILTER_MIN_DATE = datetime.date(1900, 1, 1)
FILTER_MAX_DATE = datetime.date(2100, 12, 31)


class FilterDateField(forms.DateField):
    """A date typed into a list filter (from, to): a form error outside 1900-2100, so that
    nothing out of range reaches a query."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value is not None and not FILTER_MIN_DATE <= value <= FILTER_MAX_DATE:
            raise ValidationError(
                _("Choisissez une date entre %(start)s et %(end)s."),
                code="out_of_range",
                params={"start": FILTER_MIN_DATE.year, "end": FILTER_MAX_DATE.year},
            )
