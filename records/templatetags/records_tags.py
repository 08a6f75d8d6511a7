"""Display helpers for records pages: numbers, unit labels, interpretation labels and the
labels of coded data (analytes, allergens), in the active language (French or English).

Codes are what is stored; labels are derived from the reference tables here, so an English
page shows English labels whatever the language of the professional who deposited the data.
"""

from __future__ import annotations

from html import escape
from typing import Any

from django import template
from django.template.loader import get_template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import dateformat
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import get_current_timezone, localtime
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _

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
    return mark_safe(_badges(entry, hidden))  # noqa: S308 - escaped by _badges


# The badges a row may show, in their order; labels translated only for the badges shown.
_BADGES = (
    ("badge badge-masked", gettext_noop("Masqué aux professionnels")),
    ("badge badge-warning", gettext_noop("Invisible pour le patient")),
    ("badge", gettext_noop("Remplacé")),
    ("badge badge-danger", gettext_noop("Résultat anormal")),
)


def _badges(entry: Any, hidden: bool) -> str:
    shown = (entry.masked, hidden, entry.status == "replaced", entry.abnormal)
    if not any(shown):  # most rows
        return ""
    return "".join(
        f'<span class="{css}">{escape(_(label))}</span>'
        for (css, label), show in zip(_BADGES, shown, strict=True)
        if show
    )


# A UUID no entry has: its page's URL is reversed once per page, then each row's id put in.
_URL_SLOT = "00000000-0000-0000-0000-00000000d0c5"

# The patient header's links (records/_records_nav.html) by language, URL configuration and
# set of links: the same for every DMP but its id, put in afterwards. Rendering them (twelve
# reversed URLs, as many labels translated) cost about a fifth of the timeline's template.
_NAV_LINKS = ("lab", "report", "allergy", "problem", "treatment", "vaccination", "measure")
_NAV_KEPT = 256  # far more than the sets of links a process sees; cleared when reached
_navs_seen: dict[tuple[Any, ...], str] = {}


@register.simple_tag(takes_context=True)
def records_nav(context: template.Context) -> SafeString:
    """The navigation of the patient header (``records/_patient_header.html``), for the
    context's ``patient``, ``professional``, ``nav_deposit`` and ``nav_mode``: the same markup
    the template draws, rendered once per language and set of links."""
    deposit = context.get("nav_deposit") or {}
    professional = bool(context.get("professional"))
    links = tuple(bool(deposit.get(name)) for name in _NAV_LINKS) if professional else ()
    mode = context.get("nav_mode")
    key = (get_language(), get_script_prefix(), get_urlconf(), professional, links, mode)
    html = _navs_seen.get(key)
    if html is None:
        html = get_template("records/_records_nav.html").render(
            {
                "patient_id": _URL_SLOT,
                "professional": professional,
                "nav_deposit": dict(zip(_NAV_LINKS, links, strict=False)),
                "nav_mode": mode,
            }
        )
        if len(_navs_seen) >= _NAV_KEPT:
            _navs_seen.clear()
        _navs_seen[key] = html
    # A UUID's text has nothing to escape.
    return mark_safe(html.replace(_URL_SLOT, str(context["patient"].public_id)))  # noqa: S308


@register.simple_tag
def timeline_rows(rows: Any, window_start: Any = None) -> SafeString:
    """The timeline's rows (``records.views.documents.TimelineRow``), drawn in Python: the
    same markup the loop in ``records/entry_list.html`` drew, at a tenth of its cost (a
    template loop resolved about 25 variables per row and reversed one URL per row). Every
    text is escaped (``html.escape``, as Django's ``escape``); fixed labels once a page, and
    what rows share (a document type's label, an author, a date) drawn once a page too."""
    entry_url = reverse("records:entry_detail", kwargs={"entry_id": _URL_SLOT})
    study_url = reverse("imaging:study_detail", kwargs={"entry_id": _URL_SLOT})
    still_shown = added = declared = ""  # translated only when a row shows them
    type_labels: dict[str, str] = {}  # document type -> its label, escaped
    authors: dict[str, str] = {}  # author's name -> escaped
    dates: dict[Any, str] = {}
    lines = []
    for row in rows:
        entry = row.entry
        url = study_url if entry.kind == "imaging_study" else entry_url
        badges = _badges(entry, row.hidden_from_patient)
        if window_start and entry.act_date < window_start:
            still_shown = still_shown or escape(_("toujours affiché (actif)"))
            badges += f'<span class="badge badge-warning">{still_shown}</span>'
        if entry.summary:
            badges += f'<p class="preview">{escape(entry.summary)}</p>'
        if entry.declared_by_patient:
            if entry.kind == "patient_document":
                added = added or escape(_("ajouté par le patient"))
                who = f'<span class="badge">{added}</span>'
            else:
                declared = declared or escape(_("déclaré par le patient"))
                who = f'<span class="badge">{declared}</span>'
        else:
            who = authors.get(row.author_name, "")
            if not who:
                who = authors[row.author_name] = escape(row.author_name or "—")
        type_label = type_labels.get(entry.document_type)
        if type_label is None:
            type_label = type_labels[entry.document_type] = escape(entry.document_type_label)
        day = dates.get(entry.act_date)
        if day is None:
            day = dates[entry.act_date] = (
                entry.act_date.strftime("%d/%m/%Y") if entry.act_date else ""
            )
        replaced = ' class="row-replaced"' if entry.status == "replaced" else ""
        lines.append(
            f'<tr{replaced}>\n<td class="nowrap">{day}</td>\n<td>\n'
            f'<span class="doc-type">{type_label}</span>\n'
            f'<a class="doc-title" href="{escape(url.replace(_URL_SLOT, str(entry.public_id)))}">'
            f"{escape(entry.display_title)}</a>\n{badges}\n</td>\n<td>{who}</td>\n</tr>\n"
        )
    return mark_safe("".join(lines))  # noqa: S308 - every text escaped above


@register.filter
def event_detail(event: Any, documents: Any) -> str:
    """An access event's document (by title) and detail, in the reader's language."""
    parts = [visits.document_title(event, documents), visits.detail_text(event.detail)]
    return " — ".join(part for part in parts if part)


@register.simple_tag
def history_rows(visit: Any) -> SafeString:
    """The raw events of one visit of the access history (``records.visits.Visit``), drawn in
    Python: the same markup the template loop drew, at a fraction of its cost (a window holds
    up to a thousand events; the loop formatted two dates, translated two labels and reversed
    one URL for each). Every text is escaped (``html.escape``, as Django's ``escape``); each
    label is translated and escaped once per visit."""
    proof_url = reverse("records:my_history_proof", kwargs={"event_id": _URL_SLOT})
    date, action, mode, proof = (escape(_(label)) for label in ("Date", "Action", "Mode", "Preuve"))
    short_format = get_format("SHORT_DATETIME_FORMAT")
    # Events come in bursts: a format without seconds is formatted once per minute shown.
    per_minute = not set(short_format) & set("suvUcr")
    shown_at: dict[Any, str] = {}
    labels: dict[tuple[str, str], str] = {}  # (field, value) -> escaped label

    def label(event: Any, field: str) -> str:
        key = (field, getattr(event, field))
        if key not in labels:
            labels[key] = escape(str(getattr(event, f"get_{field}_display")()))
        return labels[key]

    sealing = download = ""  # translated only when a row shows them
    zone = get_current_timezone()  # once a visit, not once an event (up to a thousand)
    lines = []
    for event in visit.events:
        at = localtime(event.at, zone)
        minute = at.replace(second=0, microsecond=0) if per_minute else at
        if minute not in shown_at:
            shown_at[minute] = escape(dateformat.format(at, short_format))
        detail = event_detail(event, visit.documents)
        if event.leaf_index is None:
            sealing = sealing or escape(_("en cours de scellement"))
            sealed = f'<span class="helptext">{sealing}</span>'
        else:
            download = download or escape(_("Télécharger"))
            href = escape(proof_url.replace(_URL_SLOT, str(event.public_id)))
            sealed = f'<a href="{href}" download>{download}</a>'
        shown = f'<br><span class="helptext">{escape(detail)}</span>' if detail else ""
        lines.append(
            f'<tr>\n<td data-label="{date}"><time datetime="{escape(at.isoformat())}">'
            f"{shown_at[minute]}</time></td>\n"
            f'<td data-label="{action}">{label(event, "action")}{shown}</td>\n'
            f'<td data-label="{mode}">{label(event, "mode")}</td>\n'
            f'<td data-label="{proof}">{sealed}</td>\n</tr>\n'
        )
    return mark_safe("".join(lines))  # noqa: S308 - every text escaped above
