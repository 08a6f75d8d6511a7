"""Display helpers for records pages: numbers, unit labels, interpretation labels and the
labels of coded data (analytes, allergens), in the active language (French or English).

Codes are what is stored; labels are derived from the reference tables here, so an English
page shows English labels whatever the language of the professional who deposited the data.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from records import allergens, labs, reference, visits

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
def num(value: Any) -> str:
    """A number the active language's way (5,4 in French, 5.4 in English), with the
    precision it carries."""
    if value is None or value == "":
        return ""
    try:
        return labs.format_number(value)
    except (TypeError, ValueError):
        return str(value)


@register.filter
def unit_label(code: Any) -> str:
    """Display label of a UCUM unit in the active language (UI/L in French, U/L in English)."""
    return reference.display_unit_label(code) if code else ""


@register.filter
def flag_label(code: Any) -> str:
    """Label of an interpretation flag (H, L...) in the active language."""
    try:
        return labs.Flag(code).display_label()
    except ValueError:
        return ""


@register.filter
def analyte_label(observation: Any) -> str:
    """Label of an observation's analyte in the active language, from its LOINC code; the
    label stored with the result when the code is not in the reference table."""
    item = reference.find_analyte(getattr(observation, "analyte_code", "") or "")
    if item is not None:
        return item.display_label()
    return str(getattr(observation, "analyte_label", "") or "")


@register.filter
def substance_label(allergy: Any) -> str:
    """An allergy's substance in the active language when it is a listed allergen (by code);
    the label as recorded otherwise (free text)."""
    listed = allergens.allergen(getattr(allergy, "substance_code", "") or "")
    if listed is not None:
        return listed.display_label()
    return str(getattr(allergy, "substance_label", "") or "")


@register.simple_tag
def entry_badges(entry: Any, hidden: bool = False) -> SafeString:
    """The badges of one entry (``hidden``: invisible to the patient, decided by the view, for
    professionals only). A tag, not an included template: the timeline draws one per row, and
    an include per row cost about half of the page's rendering."""
    # Labels translated only for the badges shown: most rows show none.
    badges = [
        (css, label)
        for css, label, shown in (
            ("badge badge-masked", gettext_noop("Masqué aux professionnels"), entry.masked),
            ("badge badge-warning", gettext_noop("Invisible pour le patient"), hidden),
            ("badge", gettext_noop("Remplacé"), entry.status == "replaced"),
            ("badge badge-danger", gettext_noop("Résultat anormal"), entry.abnormal),
        )
        if shown
    ]
    return format_html_join("", '<span class="{}">{}</span>', ((c, _(t)) for c, t in badges))


@register.filter
def event_detail(event: Any, documents: Any) -> str:
    """An access event's document (by title) and detail, in the reader's language."""
    parts = [visits.document_title(event, documents), visits.detail_text(event.detail)]
    return " — ".join(part for part in parts if part)
