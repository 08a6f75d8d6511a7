"""``history_rows`` asks the current time zone once a visit: it draws what it drew before (the
former implementation is kept below), across summer-time changes, in French and English, in
the portal's zone and another one, hostile texts escaped."""

from __future__ import annotations

import datetime
import uuid
from html import escape
from typing import Any

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.formats import get_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from records.models import AccessAction, AccessEvent, AccessMode
from records.templatetags.records_tags import event_detail, history_rows
from records.visits import Document, Visit

HOSTILE = '<script>alert("x")</script> O\'Brien & Fils'
_URL_SLOT = "00000000-0000-0000-0000-00000000d0c5"


# --- The former implementation (records_tags before this change), verbatim ----------------------
def _history_rows_before(visit: Any) -> str:
    proof_url = reverse("records:my_history_proof", kwargs={"event_id": _URL_SLOT})
    date, action, mode, proof = (escape(_(label)) for label in ("Date", "Action", "Mode", "Preuve"))
    short_format = get_format("SHORT_DATETIME_FORMAT")
    per_minute = not set(short_format) & set("suvUcr")
    shown_at: dict[Any, str] = {}
    labels: dict[tuple[str, str], str] = {}

    def label(event: Any, field: str) -> str:
        key = (field, getattr(event, field))
        if key not in labels:
            labels[key] = escape(str(getattr(event, f"get_{field}_display")()))
        return labels[key]

    sealing = download = ""
    lines = []
    for event in visit.events:
        at = localtime(event.at)
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
    return "".join(lines)


# -------------------------------------------------------------------------------------------------


def _visit() -> Visit:
    seen, hidden = uuid.uuid4(), uuid.uuid4()
    events = []
    # Around both summer-time changes of 2025 in Europe/Paris, and in bursts within a minute.
    for start in (
        datetime.datetime(2025, 3, 30, 0, 40, tzinfo=datetime.UTC),
        datetime.datetime(2025, 10, 26, 0, 40, tzinfo=datetime.UTC),
    ):
        for index in range(40):
            events.append(
                AccessEvent(
                    at=start + datetime.timedelta(seconds=97 * index),
                    action=[AccessAction.ENTRY_VIEW, AccessAction.ENTRY_CREATE][index % 2],
                    mode=[AccessMode.NORMAL, AccessMode.EMERGENCY][index % 3 == 0],
                    entry_public_id=[seen, hidden, None][index % 3],
                    detail=HOSTILE if index % 4 == 0 else "",
                    leaf_index=None if index % 5 == 0 else index,
                )
            )
    return Visit(events=events, documents={seen: Document(title=HOSTILE, kind="report")})


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York"])
def test_the_history_rows_are_drawn_as_before(language: str, zone: str) -> None:
    visit = _visit()
    with translation.override(language), timezone.override(zone):
        before = _history_rows_before(visit)
        now = history_rows(visit)
    assert now == before
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#x27;Brien &amp; Fils" in now
    assert "<script>" not in now
