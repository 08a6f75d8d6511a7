"""``timeline_rows`` draws what it drew before it kept labels, authors and dates once a page:
the former implementation is kept below and both are compared on rows that show everything a
row can show, in French and in English, hostile texts included."""

from __future__ import annotations

import datetime
from html import escape
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from identity.models import Professional, User
from records.models import Entry
from records.reference import DOCUMENT_TYPES
from records.templatetags.records_tags import timeline_rows
from records.views.documents import TimelineRow

HOSTILE = '<script>alert("x")</script> O\'Brien & Fils'
_URL_SLOT = "00000000-0000-0000-0000-00000000d0c5"


# --- The former implementation (records_tags before this change), verbatim ----------------------
def _badges_before(entry: Any, hidden: bool) -> str:
    return "".join(
        f'<span class="{css}">{escape(_(label))}</span>'
        for css, label, shown in (
            ("badge badge-masked", gettext_noop("Masqué aux professionnels"), entry.masked),
            ("badge badge-warning", gettext_noop("Invisible pour le patient"), hidden),
            ("badge", gettext_noop("Remplacé"), entry.status == "replaced"),
            ("badge badge-danger", gettext_noop("Résultat anormal"), entry.abnormal),
        )
        if shown
    )


def _rows_before(rows: Any, window_start: Any = None) -> str:
    entry_url = reverse("records:entry_detail", kwargs={"entry_id": _URL_SLOT})
    study_url = reverse("imaging:study_detail", kwargs={"entry_id": _URL_SLOT})
    still_shown = added = declared = ""
    lines = []
    for row in rows:
        entry = row.entry
        url = study_url if entry.kind == "imaging_study" else entry_url
        badges = _badges_before(entry, row.hidden_from_patient)
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
            who = escape((entry.author.display_name if entry.author else "") or "—")
        replaced = ' class="row-replaced"' if entry.status == "replaced" else ""
        lines.append(
            f'<tr{replaced}>\n<td class="nowrap">'
            f"{entry.act_date.strftime('%d/%m/%Y') if entry.act_date else ''}</td>\n<td>\n"
            f'<span class="doc-type">{escape(entry.document_type_label)}</span>\n'
            f'<a class="doc-title" href="{escape(url.replace(_URL_SLOT, str(entry.public_id)))}">'
            f"{escape(entry.display_title)}</a>\n{badges}\n</td>\n<td>{who}</td>\n</tr>\n"
        )
    return "".join(lines)


# -------------------------------------------------------------------------------------------------


def _author(pk: int, first: str, last: str, profession: str = "medecin") -> Professional:
    user = User(pk=pk, first_name=first, last_name=last, email=f"a{pk}@test.example")
    return Professional(pk=pk, user=user, profession=profession)


def _rows() -> list[TimelineRow]:
    martin = _author(1, "Paul", "Martin")
    hostile = _author(2, HOSTILE, "<b>Nom</b>", profession="infirmier")
    nameless = _author(3, "", "")
    types = [t.code for t in DOCUMENT_TYPES[:4]] + ["<i>code inconnu</i>", ""]
    day = datetime.date(2025, 3, 1)
    rows = []
    for index in range(60):
        kind = ["report", "lab_report", "imaging_study", "patient_document", "allergy"][index % 5]
        title = [
            f"CR {index}",
            HOSTILE,
            "Examen d'imagerie CT",
            "Examen d'imagerie",
        ][index % 4]
        entry = Entry(
            kind=kind,
            document_type=types[index % len(types)],
            title=title,
            summary=HOSTILE if index % 7 == 0 else "",
            act_date=day - datetime.timedelta(days=(index % 9) * 200),
            status="replaced" if index % 6 == 0 else "current",
            masked=index % 8 == 0,
            abnormal=index % 5 == 1,
            declared_by_patient=index % 11 in (0, 3),
            author=[martin, hostile, None, nameless, martin][(index // 2) % 5],
        )
        author = entry.author.display_name if entry.author else ""
        rows.append(TimelineRow(entry, index % 4 == 2, author))
    return rows


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("window_start", [None, datetime.date(2024, 1, 1)])
def test_the_rows_are_drawn_as_before(language: str, window_start: Any) -> None:
    rows = _rows()
    with translation.override(language):
        before = _rows_before(rows, window_start)
        now = timeline_rows(rows, window_start)
    assert now == before
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#x27;Brien &amp; Fils" in now
    assert "<script>" not in now and "&lt;i&gt;code inconnu&lt;/i&gt;" in now
    for marker in ("badge-masked", "badge-warning", "row-replaced", "badge-danger", "preview"):
        assert marker in now
