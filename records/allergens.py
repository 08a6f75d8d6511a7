"""Seeded list of common allergens and intolerances: medications, foods, environment, biologics.

Framework-free constants. Codes carry their system as a prefix so they never collide:

* ``atc:`` — medications by their WHO ATC code (a substance such as ``atc:J01CA04``
  amoxicilline, or a class such as ``atc:J01C`` pénicillines, since allergies are often to a
  class); label: the French INN (DCI) or class name.
* ``aliment:`` — foods: the 14 allergens of EU regulation 1169/2011 (annex II) and a few
  others frequent in France; ``env:`` — environmental allergens; ``bio:`` — biologics
  without an ATC code of their own. These are the portal's own stable slugs.

Anything missing is entered as free text (empty code), never forced into the list. The list
itself is the data file ``reference_data/allergens.csv``, read and checked at import.

Labels are French (stored with the allergy when it is recorded); each also has an English
twin for display (``Allergen.display_label``, ``category_label``, ``allergen_choices``),
chosen with ``records.reference.display_language``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from records.reference import display_language
from records.reference_io import read_csv

__all__ = [
    "ALLERGENS",
    "CATEGORY_LABELS",
    "CATEGORY_LABELS_EN",
    "Allergen",
    "allergen",
    "allergen_choices",
    "category_label",
]

MEDICATION = "medication"
FOOD = "food"
ENVIRONMENT = "environment"
BIOLOGIC = "biologic"

CATEGORY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        MEDICATION: "Médicament",
        FOOD: "Aliment",
        ENVIRONMENT: "Environnement",
        BIOLOGIC: "Produit biologique",
    }
)

CATEGORY_LABELS_EN: Mapping[str, str] = MappingProxyType(
    {
        MEDICATION: "Medication",
        FOOD: "Food",
        ENVIRONMENT: "Environment",
        BIOLOGIC: "Biological product",
    }
)


def category_label(category: str, lang: str | None = None) -> str:
    """Display label of a category in ``lang`` (default: the active language)."""
    labels = CATEGORY_LABELS_EN if display_language(lang) == "en" else CATEGORY_LABELS
    return labels.get(category, category)


@dataclass(frozen=True, slots=True)
class Allergen:
    code: str
    label: str  # French (INN / DCI or class name)
    category: str
    label_en: str = ""  # English (INN or class name)

    def display_label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (default: the active language)."""
        if self.label_en and display_language(lang) == "en":
            return self.label_en
        return self.label


# ``atc:`` + a WHO ATC code of any level (A, A01, A01B, A01BC, A01BC02); the portal's slugs.
_CODE_RE = re.compile(
    r"atc:[A-Z](?:[0-9]{2}(?:[A-Z](?:[A-Z](?:[0-9]{2})?)?)?)?"
    r"|(?:aliment|env|bio):[a-z0-9]+(?:-[a-z0-9]+)*"
)


def _load_allergens() -> tuple[Allergen, ...]:
    """``reference_data/allergens.csv``, in list order (the order of the choices)."""
    codes: dict[str, str] = {}
    result: list[Allergen] = []
    for row in read_csv("allergens.csv", ("code", "category", "label", "label_en")):
        code = row.unique(row.text("code"), codes, "code")
        if not _CODE_RE.fullmatch(code):
            raise row.error(f"code {code!r} is neither atc:<ATC code> nor aliment:/env:/bio:<slug>")
        category = row.member(row.text("category"), CATEGORY_LABELS, "allergen category")
        # The English twin is optional here (display falls back to French), required by tests.
        result.append(
            Allergen(code, row.text("label"), category, row.text("label_en", required=False))
        )
    return tuple(result)


ALLERGENS: tuple[Allergen, ...] = _load_allergens()

_BY_CODE: Mapping[str, Allergen] = MappingProxyType({item.code: item for item in ALLERGENS})


def allergen(code: str) -> Allergen | None:
    """The listed allergen with this code, or None."""
    return _BY_CODE.get(code) if isinstance(code, str) else None


def allergen_choices(lang: str | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped ``(category label, [(code, label), …])`` choices for a select, list order,
    in ``lang`` (default: the active language; build them per request)."""
    return [
        (
            category_label(category, lang),
            [
                (item.code, item.display_label(lang))
                for item in ALLERGENS
                if item.category == category
            ],
        )
        for category in CATEGORY_LABELS
    ]
