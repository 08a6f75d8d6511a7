"""Display helpers for records pages: French numbers, unit labels, interpretation labels."""

from __future__ import annotations

from typing import Any

from django import template

from records import labs, reference

register = template.Library()


@register.filter
def frnum(value: Any) -> str:
    """A number the French way (decimal comma), with the precision it carries."""
    if value is None or value == "":
        return ""
    try:
        return labs.format_number_fr(value)
    except (TypeError, ValueError):
        return str(value)


@register.filter
def unit_label(code: Any) -> str:
    return reference.unit_label(code) if code else ""


@register.filter
def flag_label(code: Any) -> str:
    try:
        return labs.Flag(code).label
    except ValueError:
        return ""
