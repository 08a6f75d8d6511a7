"""Facts the trail keeps in an event's ``detail`` instead of a sentence, and their sentence in
the reader's language, written when the event is read (as ``records.notices`` does for
notifications).

A fact is a small JSON object, ``{"fact": <code>, <parameters>…}``: the same bytes whatever
the language of the person whose act was traced. ``detail`` is covered by the event's salted
commitment and erased with the DMP's free texts, as any detail; events written before facts
keep their stored phrase (``records.visits.detail_text`` shows those).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from records import pdf
from records.cda import read as cda_read

__all__ = [
    "cda_validation_error",
    "encode",
    "pdf_refusals",
    "pdf_validation_error",
    "refusals",
    "render",
]

FACT = "fact"
PDF_REFUSED = "pdf_refused"
# Who speaks for a patient (records.services.family): the holder's name as it was, a date
# as ISO (shown in the reader's format).
REPRESENTATIVE_ADDED = "representative_added"  # holder, kind: representative or tutor
PROXY_GIVEN = "proxy_given"  # holder, until
MANDATE_ENDED = "mandate_ended"  # holder
MAJORITY_ENDED = "majority_ended"
MAJORITY_REVIEWED = "majority_reviewed"
CDA_REFUSED = "cda_refused"


def encode(code: str, **params: Any) -> str:
    """The fact as stored (compact JSON, keys sorted), at most 300 characters (a detail): a
    list too long for it (many reasons at once) keeps its first items, never a cut JSON."""
    text = _json({FACT: code, **params})
    lists = [value for value in params.values() if isinstance(value, list)]
    while len(text) > 300 and any(len(items) > 1 for items in lists):
        max(lists, key=len).pop()
        text = _json({FACT: code, **params})
    if len(text) > 300:
        raise ValueError(f"fact {code} does not fit in an event's detail")
    return text


def _json(fact: dict[str, Any]) -> str:
    return json.dumps(fact, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def render(detail: str) -> str | None:
    """The fact stored in ``detail`` as a sentence in the active language; None when
    ``detail`` holds no fact (a phrase written before facts, a free text)."""
    if not detail.startswith("{"):
        return None
    try:
        fact = json.loads(detail)
    except ValueError:
        return None
    if not isinstance(fact, dict):
        return None
    params = {key: value for key, value in fact.items() if key != FACT}
    if fact.get(FACT) == PDF_REFUSED:
        why = str(params.pop("why", ""))
        return _("dépôt refusé : %(reason)s") % {"reason": pdf.message(why, params)}
    if fact.get(FACT) == CDA_REFUSED:
        why = str(params.pop("why", ""))
        return _("dépôt refusé : %(reason)s") % {"reason": cda_read.message(why, params)}
    family = _FAMILY.get(str(fact.get(FACT)))
    return family(params) if family is not None else None


def _representative_added(params: dict[str, Any]) -> str:
    holder = {"holder": params.get("holder", "")}
    if params.get("kind") == "tutor":
        return _("tuteur enregistré : %(holder)s") % holder
    return _("représentant légal enregistré : %(holder)s") % holder


def _proxy_given(params: dict[str, Any]) -> str:
    try:
        until = date_format(datetime.date.fromisoformat(str(params.get("until"))), "DATE_FORMAT")
    except ValueError:
        until = str(params.get("until", ""))
    return _("procuration donnée à %(holder)s jusqu'au %(until)s") % {
        "holder": params.get("holder", ""),
        "until": until,
    }


_FAMILY: dict[str, Callable[[dict[str, Any]], str]] = {
    REPRESENTATIVE_ADDED: _representative_added,
    PROXY_GIVEN: _proxy_given,
    MANDATE_ENDED: lambda params: (
        _("fin de la représentation par %(holder)s") % {"holder": params.get("holder", "")}
    ),
    MAJORITY_ENDED: lambda _params: _("majorité : fin de l'accès des représentants légaux"),
    MAJORITY_REVIEWED: lambda _params: _(
        "revue à la majorité terminée : ce que les représentants pouvaient voir a été vérifié"
    ),
}


def pdf_validation_error(error: pdf.PdfError, sentence: str = "") -> ValidationError:
    """A form's error for a refused PDF: the sentence for the page (``sentence``, or the
    error's), the facts kept with it (``pdf_refusals`` finds them for the trail)."""
    refused = ValidationError(sentence or str(error), code=error.code)
    refused.pdf_facts = {"why": error.code, **error.params}  # type: ignore[attr-defined]
    return refused


def cda_validation_error(error: cda_read.CdaError) -> ValidationError:
    """A refused CDA document's error: its sentence, the facts kept with it (``refusals``
    finds them for the trail). The ANS's quoted assertions are kept short enough to fit."""
    refused = ValidationError(str(error), code=error.code)
    refused.cda_facts = {"why": error.code, **error.params}  # type: ignore[attr-defined]
    return refused


def refusals(errors: list[ValidationError]) -> list[str]:
    """The facts to trace for a form's refused file (PDF or CDA), from its errors (one per
    refusal)."""
    found = []
    for error in errors:
        cda = getattr(error, "cda_facts", None)
        if cda is not None:
            found.append(encode(CDA_REFUSED, **cda))
            continue
        facts = getattr(error, "pdf_facts", None)
        if facts is None and error.code == "empty":  # Django's FileField: an empty file
            facts = {"why": "empty"}
        if facts is not None:
            found.append(encode(PDF_REFUSED, **facts))
    return found


pdf_refusals = refusals  # the name its first callers know
