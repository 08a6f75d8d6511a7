"""Reference data of the records app: LOINC document types, lab analytes, UCUM units, conversions.

Framework-free (no Django import at module level): plain frozen dataclasses and tuples,
usable by models (choices), forms (validation), views and the trend chart alike.

Languages
---------
French is the source language: ``label`` / ``short_label`` are French and are what the
services store and what their (French) messages quote. Every label also has an English
twin (``label_en``...), used only for display: the ``display_*`` accessors below take a
``lang`` ("fr", "en", "en-GB"...) or, when it is ``None``, read the active Django language
(imported lazily, inside the accessor); anything else than English falls back to French.

Sources and conventions
-----------------------
* Document types: the DMP's LOINC type codes with the French labels of the ANS value set
  ``JDV_J279-Loinc-UPNOS`` (OID 1.2.250.1.213.1.1.5.800). The psychiatric note uses
  68599-0 "Synthèse psychiatrique" (a distinct code of that list, not 11488-4 which is the
  generic consultation note); rehabilitation reports use 47420-5 "CR de bilan fonctionnel";
  radiotherapy and other treatments use 11505-5 "CR d'acte thérapeutique (autre)".
* Analytes: ``code`` is the LOINC code most used for the analyte (often the
  mass-concentration one); ``alt_codes`` are other LOINC codes of the same clinical quantity
  (typically the molar-concentration code, or another method), so that an observation coded
  either way lands in the same trend. ``default_unit`` follows French laboratory usage
  (µmol/L for creatinine, mmol/L for calcium...) and may belong to an alternative code's
  property. Every code passes the LOINC mod-10 check digit (see ``loinc_check_digit_ok``).
* Units are UCUM codes (``umol/L``, ``10*9/L``, ``U/L``, ``m[IU]/L``...) with a French display
  label (µmol/L, G/L, UI/L, mUI/L...). ``normalize_unit`` maps what people type to the code.
* Conversions: within one kind of unit (mass concentration, substance concentration,
  counts...) by exact factors; across kinds only with the analyte's molar mass (mass <->
  substance), the creatinine molar mass for urinary ratios (mg/mmol <-> mg/g), or an affine
  formula (HbA1c % <-> mmol/mol, IFCC/NGSP master equation). Anything else is
  ``NotConvertible``: values are never converted on a guess (Lp(a) in nmol/L vs mg/dL, for
  instance, depends on the apolipoprotein(a) isoform and stays a separate series).
* Triglycerides use the triolein convention, 885.7 g/mol (1 mmol/L = 0.8857 g/L, the IFCC
  and US convention); some French laboratories use the rounded factor 1.14 (g/L -> mmol/L),
  i.e. ~877 g/mol: results may differ by about 1 %.

Data files
----------
The tables are data, not code: ``reference_data/`` holds ``document_categories.csv``,
``document_types.csv``, ``units.csv``, ``analyte_groups.csv``, ``molar_masses.csv`` and
``analytes.json`` (its rows nest: lists of units and codes, affine rules), described in
``reference_data/README.md``. They are read once, at import, by the ``_load_*`` functions
below, which check every row (LOINC check digits, unique codes, known categories, groups,
units and molar masses, unambiguous unit spellings...) and raise
``records.reference_io.ReferenceDataError`` naming the file and the row otherwise. The file
order is the table order (of ``choices``, groups, trend series...).
"""

from __future__ import annotations

import contextlib
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from records.reference_io import Row, read_csv, read_json

__all__ = [
    "ANALYTES",
    "ANALYTE_GROUPS",
    "CONVERSIONS",
    "DOCUMENT_CATEGORIES",
    "DOCUMENT_TYPES",
    "UNITS",
    "AffineConversion",
    "Analyte",
    "AnalyteGroup",
    "Conversion",
    "DocumentCategory",
    "DocumentType",
    "NotConvertible",
    "Unit",
    "UnknownCode",
    "analyte",
    "analytes_in_group",
    "can_convert",
    "convert",
    "convertible_units",
    "display_language",
    "display_unit_label",
    "document_type",
    "document_type_choices",
    "document_type_label",
    "find_analyte",
    "loinc_check_digit",
    "loinc_check_digit_ok",
    "normalize_unit",
    "translated",
    "unit",
    "unit_label",
]


class UnknownCode(LookupError):
    """A LOINC or UCUM code that is not in the reference tables (message in French)."""

    def __str__(self) -> str:  # LookupError's default repr-quotes the message
        return str(self.args[0]) if self.args else ""


class NotConvertible(ValueError):
    """The value cannot be converted between these units for this analyte (message in French)."""


# --------------------------------------------------------------------------------------------
# LOINC check digit
# --------------------------------------------------------------------------------------------

_LOINC_RE = re.compile(r"^([1-9][0-9]{0,6})-([0-9])$")


def loinc_check_digit(number: str) -> int:
    """Mod-10 check digit of the numeric part of a LOINC code (the part before the dash).

    LOINC's algorithm: counting from the right, the digits in odd positions are doubled
    (as one number), the digits in even positions appended, all digits of the result summed;
    the check digit brings the sum up to the next multiple of ten. This is the Luhn scheme.
    """
    if not number.isascii() or not number.isdigit():
        raise ValueError(f"Partie numérique LOINC invalide : « {number} ».")
    total = 0
    for position, char in enumerate(reversed(number), start=1):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


def loinc_check_digit_ok(code: str) -> bool:
    """True when ``code`` has the LOINC form ``NNNNN-C`` and ``C`` is its mod-10 check digit."""
    match = _LOINC_RE.match(code) if isinstance(code, str) else None
    if match is None:
        return False
    return loinc_check_digit(match.group(1)) == int(match.group(2))


# --------------------------------------------------------------------------------------------
# Reading the data files (reference_data/, through records.reference_io)
# --------------------------------------------------------------------------------------------


def _english(row: Row, name: str = "label_en") -> str:
    """An English twin: optional here (display falls back to French), required by the tests."""
    return row.text(name, required=False)


def _loinc(row: Row, name: str, code: str) -> str:
    if not loinc_check_digit_ok(code):
        raise row.error(f"{name} {code!r} is not a LOINC code (NNNNN-C, mod-10 check digit C)")
    return code


def _positive(row: Row, name: str) -> float:
    number = row.number(name)
    if number <= 0:
        raise row.error(f"{name} must be positive, not {number!r}")
    return number


# --------------------------------------------------------------------------------------------
# Display language
# --------------------------------------------------------------------------------------------


def display_language(lang: str | None = None) -> str:
    """``"en"`` for an English language tag, else ``"fr"`` (the source language).

    With ``lang=None`` the active Django language is used (``get_language()``), imported
    here so that this module stays usable without Django; without Django, or outside any
    configured project, French.
    """
    if lang is None:
        try:  # lazy: the module itself stays framework-free
            from django.core.exceptions import ImproperlyConfigured
            from django.utils.translation import get_language
        except ImportError:  # pragma: no cover - Django is installed with the portal
            return "fr"
        try:
            lang = get_language()
        except ImproperlyConfigured:  # settings not configured: the source language
            return "fr"
    if isinstance(lang, str) and lang.strip().lower()[:2] == "en":
        return "en"
    return "fr"


def translated(message: str, **params: object) -> str:
    """``message`` (a French source string of the catalogue) in the active language, with its
    ``params`` filled in: refusals reach the reader in the reader's language.

    Django's catalogue is imported here, lazily, so that the module stays framework-free;
    without Django or configured settings the French source is kept.
    """
    try:
        from django.core.exceptions import ImproperlyConfigured
        from django.utils.translation import gettext
    except ImportError:  # pragma: no cover - Django is installed with the portal
        return message % params if params else message
    with contextlib.suppress(ImproperlyConfigured):  # settings not configured: French
        message = gettext(message)
    return message % params if params else message


def _pick(french: str, english: str, lang: str | None) -> str:
    return english if english and display_language(lang) == "en" else french


# --------------------------------------------------------------------------------------------
# Document types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _KeyedLabel:
    """A keyed family with a French label and its English twin."""

    key: str
    label: str  # French
    label_en: str = ""

    def display_label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (default: the active language)."""
        return _pick(self.label, self.label_en, lang)


@dataclass(frozen=True, slots=True)
class DocumentCategory(_KeyedLabel):
    """A family of document types, the column of the profession x document-type matrix."""


@dataclass(frozen=True, slots=True)
class DocumentType:
    code: str  # LOINC
    label: str  # French label (ANS value set)
    category: str  # DocumentCategory.key
    label_en: str = ""  # English display label

    def display_label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (default: the active language)."""
        return _pick(self.label, self.label_en, lang)


def _load_keyed[K: _KeyedLabel](name: str, family: type[K]) -> tuple[K, ...]:
    """A ``key,label,label_en`` file (document categories, analyte groups)."""
    keys: dict[str, str] = {}
    return tuple(
        family(row.unique(row.key("key"), keys, "key"), row.text("label"), _english(row))
        for row in read_csv(name, ("key", "label", "label_en"))
    )


def _load_document_types() -> tuple[DocumentType, ...]:
    categories = {category.key for category in DOCUMENT_CATEGORIES}
    codes: dict[str, str] = {}
    return tuple(
        DocumentType(
            row.unique(_loinc(row, "code", row.text("code")), codes, "code"),
            row.text("label"),
            row.member(row.text("category"), categories, "document category"),
            _english(row),
        )
        for row in read_csv("document_types.csv", ("code", "category", "label", "label_en"))
    )


DOCUMENT_CATEGORIES: tuple[DocumentCategory, ...] = _load_keyed(
    "document_categories.csv", DocumentCategory
)

DOCUMENT_TYPES: tuple[DocumentType, ...] = _load_document_types()

_DOCUMENT_TYPES_BY_CODE: Mapping[str, DocumentType] = MappingProxyType(
    {doc.code: doc for doc in DOCUMENT_TYPES}
)


def document_type(code: str) -> DocumentType:
    """The document type of a LOINC code; ``UnknownCode`` (French message) otherwise."""
    try:
        return _DOCUMENT_TYPES_BY_CODE[code.strip()]
    except (KeyError, AttributeError):
        raise UnknownCode(f"Type de document inconnu : « {code} ».") from None


def document_type_choices(lang: str | None = "fr") -> tuple[tuple[str, str], ...]:
    """``(code, label)`` pairs, in table order, for a Django ``choices``.

    French by default (stable, e.g. for a model field); ``lang=None`` follows the active
    language: build such choices per request (a callable ``choices``), not at import time.
    """
    return tuple((doc.code, doc.display_label(lang)) for doc in DOCUMENT_TYPES)


def document_type_label(code: str, lang: str | None = None) -> str:
    """Display label of a document type in ``lang`` (default: the active language); an
    unknown code is shown as given."""
    found = _DOCUMENT_TYPES_BY_CODE.get(code.strip()) if isinstance(code, str) else None
    return found.display_label(lang) if found is not None else str(code or "")


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """A UCUM unit accepted by the portal.

    ``kind`` groups units convertible by a plain factor; ``factor`` multiplies a value in this
    unit to get it in the kind's base unit (g/L, mol/L, /L, U/L, mUI/L, g/g, g/mol, g/24 h...).
    """

    code: str  # UCUM
    label: str  # French display
    kind: str
    factor: float
    aliases: tuple[str, ...] = ()
    label_en: str = ""  # English display, only where it differs from the French one

    def display_label(self, lang: str | None = None) -> str:
        """The display label in ``lang`` (default: the active language)."""
        return _pick(self.label, self.label_en, lang)


UNIT_MAX_LENGTH = 40

_SPACES_RE = re.compile(r"\s+")


def _unit_key(text: str) -> str:
    """Spelling-insensitive key: NFKC (µ, ², ³...), micro -> u, no spaces, no * or ^, '.'."""
    key = unicodedata.normalize("NFKC", text)
    key = key.replace("\u03bc", "u").replace("×", "x")
    key = _SPACES_RE.sub("", key).replace("*", "").replace("^", "").replace(",", ".")
    return key


def _unit_spellings(u: Unit) -> tuple[str, ...]:
    return (u.code, u.label, *u.aliases, *((u.label_en,) if u.label_en else ()))


def _load_units() -> tuple[Unit, ...]:
    """``units.csv``; every spelling (code, labels, aliases) must name one unit only."""
    units: list[Unit] = []
    codes: dict[str, str] = {}
    spelled: dict[str, str] = {}  # _unit_key -> code
    for row in read_csv("units.csv", ("code", "label", "label_en", "kind", "factor", "aliases")):
        item = Unit(
            row.unique(row.text("code"), codes, "unit code"),
            row.text("label"),
            row.key("kind"),
            _positive(row, "factor"),
            row.texts("aliases"),
            row.text("label_en", required=False),  # only where it differs from the French
        )
        for spelling in _unit_spellings(item):
            if len(spelling) > UNIT_MAX_LENGTH:
                raise row.error(f"{spelling!r} is longer than {UNIT_MAX_LENGTH} characters")
            owner = spelled.setdefault(_unit_key(spelling), item.code)
            if owner != item.code:
                raise row.error(f"the spelling {spelling!r} already means the unit {owner!r}")
        units.append(item)
    return tuple(units)


UNITS: tuple[Unit, ...] = _load_units()

_UNITS_BY_CODE: Mapping[str, Unit] = MappingProxyType({u.code: u for u in UNITS})


def _build_unit_indexes() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    exact: dict[str, str] = {}  # unambiguous: checked by _load_units
    folded: dict[str, set[str]] = {}
    for u in UNITS:
        for spelling in _unit_spellings(u):
            key = _unit_key(spelling)
            exact[key] = u.code
            folded.setdefault(key.casefold(), set()).add(u.code)
    return exact, {k: frozenset(v) for k, v in folded.items()}


_UNIT_EXACT, _UNIT_FOLDED = _build_unit_indexes()


def normalize_unit(text: str) -> str:
    """The UCUM code of a unit as typed (``"µmol/l"`` -> ``"umol/L"``, ``"G/L"`` -> ``"10*9/L"``).

    Spelling is normalised (µ/u/μ, spaces, ², 10^9 or 10*9, decimal comma); case is ignored
    only where that leaves a single unit: "G/L" is giga per litre (blood counts) whereas
    "g/L" and "g/l" are grams per litre. Raises ``ValueError`` with a French message.
    """
    if not isinstance(text, str):
        raise ValueError("L'unité doit être un texte.")
    stripped = text.strip()
    if not stripped:
        raise ValueError("Unité manquante.")
    if len(stripped) > UNIT_MAX_LENGTH:
        raise ValueError(f"Unité trop longue ({UNIT_MAX_LENGTH} caractères au maximum).")
    key = _unit_key(stripped)
    if key in _UNIT_EXACT:
        return _UNIT_EXACT[key]
    candidates = _UNIT_FOLDED.get(key.casefold(), frozenset())
    if len(candidates) == 1:
        return next(iter(candidates))
    if candidates:
        labels = translated(" ou ").join(sorted(_UNITS_BY_CODE[c].label for c in candidates))
        raise ValueError(
            translated(
                "Unité ambiguë : « %(unit)s » (%(labels)s) ; respectez les majuscules.",
                unit=stripped,
                labels=labels,
            )
        )
    raise ValueError(
        translated(
            "Unité inconnue : « %(unit)s ». Exemples d'unités acceptées : "
            "mmol/L, g/L, µmol/L, G/L, UI/L, %%.",
            unit=stripped,
        )
    )


def unit(code: str) -> Unit:
    """The ``Unit`` of a UCUM code (or of any accepted spelling)."""
    try:
        return _UNITS_BY_CODE[normalize_unit(code)]
    except ValueError as exc:
        raise UnknownCode(str(exc)) from None


def unit_label(code: str) -> str:
    """French display label of a unit; an unknown unit is shown as given.

    Always French (the services quote it in their messages and in stored summaries); for
    display in the reader's language use ``display_unit_label``."""
    return display_unit_label(code, "fr")


def display_unit_label(code: str, lang: str | None = None) -> str:
    """Display label of a unit in ``lang`` (default: the active language); an unknown unit
    is shown as given."""
    found = _UNITS_BY_CODE.get(code)
    if found is None:
        try:
            found = _UNITS_BY_CODE[normalize_unit(code)]
        except ValueError:
            return code
    return found.display_label(lang)


# --------------------------------------------------------------------------------------------
# Analytes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnalyteGroup(_KeyedLabel):
    """A family of analytes (Hématologie, Ionogramme, …)."""


@dataclass(frozen=True, slots=True)
class AffineConversion:
    """``to = slope * from + intercept`` (used when a plain factor is wrong, e.g. HbA1c)."""

    from_unit: str
    to_unit: str
    slope: float
    intercept: float
    formula: str  # French, for display
    formula_en: str = ""  # English (decimal point)


@dataclass(frozen=True, slots=True)
class Analyte:
    code: str  # main LOINC code
    label: str  # French label
    short_label: str  # French abbreviation for tables and charts
    group: str  # AnalyteGroup.key
    default_unit: str  # UCUM, French usage
    units: tuple[str, ...]  # accepted UCUM units (default first)
    alt_codes: tuple[str, ...] = ()  # other LOINC codes of the same quantity
    molar_mass: float | None = None  # g/mol: mass <-> substance concentrations
    denominator_molar_mass: float | None = None  # g/mol of the ratio's denominator (mg/mmol)
    affine: tuple[AffineConversion, ...] = ()
    label_en: str = ""  # English label
    short_label_en: str = ""  # English abbreviation

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.code, *self.alt_codes)

    def display_label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (default: the active language)."""
        return _pick(self.label, self.label_en, lang)

    def display_short_label(self, lang: str | None = None) -> str:
        """The abbreviation in ``lang`` (default: the active language)."""
        return _pick(self.short_label, self.short_label_en, lang)


ANALYTE_GROUPS: tuple[AnalyteGroup, ...] = _load_keyed("analyte_groups.csv", AnalyteGroup)


def _load_molar_masses() -> Mapping[str, float]:
    """``molar_masses.csv``: g/mol by substance key (the ``note`` column is for readers)."""
    keys: dict[str, str] = {}
    masses: dict[str, float] = {}
    for row in read_csv("molar_masses.csv", ("key", "molar_mass_g_per_mol", "note")):
        key = row.unique(row.key("key"), keys, "key")
        masses[key] = _positive(row, "molar_mass_g_per_mol")
        row.text("note", required=False)
    return MappingProxyType(masses)


_ANALYTE_KEYS = (
    "code",
    "alt_codes",
    "group",
    "label",
    "label_en",
    "short_label",
    "short_label_en",
    "default_unit",
    "units",
    "molar_mass",
    "denominator_molar_mass",
    "affine",
)
_AFFINE_KEYS = ("from_unit", "to_unit", "slope", "intercept", "formula", "formula_en")


def _load_analytes(masses: Mapping[str, float]) -> tuple[Analyte, ...]:
    """``analytes.json``: LOINC codes unique across main and alternative codes, known group,
    units and molar masses (by key of ``molar_masses.csv``), affine rules between own units."""
    groups = {group.key for group in ANALYTE_GROUPS}
    codes: dict[str, str] = {}
    result: list[Analyte] = []
    for row in read_json("analytes.json", _ANALYTE_KEYS):
        code = row.unique(_loinc(row, "code", row.text("code")), codes, "LOINC code")
        alt_codes = tuple(
            row.unique(_loinc(row, "alt_codes", alt), codes, "LOINC code")
            for alt in row.texts("alt_codes")
        )
        units = _analyte_units(row)
        result.append(
            Analyte(
                code,
                row.text("label"),
                row.text("short_label"),
                row.member(row.text("group"), groups, "analyte group"),
                units[0],
                units,
                alt_codes,
                molar_mass=_molar_mass(row, "molar_mass", masses),
                denominator_molar_mass=_molar_mass(row, "denominator_molar_mass", masses),
                affine=_affine_rules(row, units),
                label_en=_english(row),
                short_label_en=_english(row, "short_label_en"),
            )
        )
    return tuple(result)


def _analyte_units(row: Row) -> tuple[str, ...]:
    """The accepted units, known UCUM codes, the default (``default_unit``) first."""
    units = tuple(row.member(code, _UNITS_BY_CODE, "unit") for code in row.texts("units"))
    default = row.member(row.text("default_unit"), _UNITS_BY_CODE, "unit")
    if not units or units[0] != default:
        raise row.error(f"units must start with the default_unit {default!r}")
    return units


def _molar_mass(row: Row, name: str, masses: Mapping[str, float]) -> float | None:
    key = row.text(name, required=False)
    return masses[row.member(key, masses, "molar mass (molar_masses.csv)")] if key else None


def _affine_rules(row: Row, units: tuple[str, ...]) -> tuple[AffineConversion, ...]:
    rules: list[AffineConversion] = []
    pairs: dict[str, str] = {}
    for rule in row.rows("affine", _AFFINE_KEYS):
        source = rule.member(rule.text("from_unit"), units, "unit of this analyte")
        target = rule.member(rule.text("to_unit"), units, "unit of this analyte")
        rule.unique(f"{source} -> {target}", pairs, "conversion")
        slope = rule.number("slope")
        if source == target or slope == 0:
            raise rule.error("an affine conversion maps one unit to another, slope not 0")
        formula = rule.text("formula")
        formula_en = _english(rule, "formula_en")
        rules.append(
            AffineConversion(source, target, slope, rule.number("intercept"), formula, formula_en)
        )
    return tuple(rules)


_MOLAR_MASSES = _load_molar_masses()

ANALYTES: tuple[Analyte, ...] = _load_analytes(_MOLAR_MASSES)


def _index_analytes() -> Mapping[str, Analyte]:
    # Codes are unique across main and alternative codes: checked by _load_analytes.
    return MappingProxyType({code: item for item in ANALYTES for code in item.codes})


_ANALYTES_BY_CODE = _index_analytes()


def find_analyte(code: str) -> Analyte | None:
    """The analyte of a LOINC code (main or alternative), or ``None``."""
    return _ANALYTES_BY_CODE.get(code.strip()) if isinstance(code, str) else None


def analyte(code: str) -> Analyte:
    """The analyte of a LOINC code (main or alternative); ``UnknownCode`` otherwise."""
    found = find_analyte(code)
    if found is None:
        raise UnknownCode(f"Analyse inconnue : code LOINC « {code} ».")
    return found


def analytes_in_group(group: str) -> tuple[Analyte, ...]:
    return tuple(item for item in ANALYTES if item.group == group)


# --------------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------------

_CROSS_KINDS = {
    frozenset({"mass_conc", "subst_conc"}),
    frozenset({"mass_ratio", "mass_per_substance"}),
}


def _to_float(value: float | int | Decimal) -> float:
    result = float(value)
    if not math.isfinite(result):
        raise ValueError("Valeur non finie : conversion impossible.")
    return result


def _canonical_unit(text: str) -> Unit:
    try:
        return _UNITS_BY_CODE[normalize_unit(text)]
    except ValueError as exc:
        raise NotConvertible(str(exc)) from None


def _cross_kind_factor(item: Analyte | None, source: Unit, target: Unit) -> float:
    """Factor from ``source``'s base unit to ``target``'s base unit across kinds."""
    kinds = frozenset({source.kind, target.kind})
    if kinds not in _CROSS_KINDS or item is None:
        raise NotConvertible(
            f"Conversion impossible de {source.label} en {target.label}"
            + (f" pour « {item.label} »." if item is not None else " sans analyse connue.")
        )
    if source.kind == "mass_conc" or source.kind == "subst_conc":
        mass = item.molar_mass
        if mass is None:
            raise NotConvertible(
                f"Conversion de {source.label} en {target.label} impossible pour "
                f"« {item.label} » : masse molaire non définie."
            )
        return 1 / mass if source.kind == "mass_conc" else mass
    ratio_mass = item.denominator_molar_mass
    if ratio_mass is None:
        raise NotConvertible(
            f"Conversion de {source.label} en {target.label} impossible pour « {item.label} »."
        )
    return ratio_mass if source.kind == "mass_ratio" else 1 / ratio_mass


def convert(analyte_code: str, value: float | int | Decimal, from_unit: str, to_unit: str) -> float:
    """``value`` expressed in ``from_unit`` converted to ``to_unit`` for this analyte.

    Units may be given as UCUM codes or any spelling ``normalize_unit`` accepts. Within one
    kind (g/L <-> mg/dL, G/L <-> /mm³...) the conversion does not depend on the analyte and
    also works for analytes missing from ``ANALYTES``; across kinds it needs the analyte's
    data. Raises ``NotConvertible`` (a ``ValueError``) with a French message otherwise.
    """
    number = _to_float(value)
    source, target = _canonical_unit(from_unit), _canonical_unit(to_unit)
    if source.code == target.code:
        return number
    item = find_analyte(analyte_code)
    if item is not None:
        for rule in item.affine:
            if rule.from_unit == source.code and rule.to_unit == target.code:
                return rule.slope * number + rule.intercept
    if source.kind == target.kind:
        return number * source.factor / target.factor
    return number * source.factor * _cross_kind_factor(item, source, target) / target.factor


def can_convert(analyte_code: str, from_unit: str, to_unit: str) -> bool:
    try:
        convert(analyte_code, 1, from_unit, to_unit)
    except NotConvertible:
        return False
    return True


def convertible_units(analyte_code: str, from_unit: str) -> tuple[str, ...]:
    """The analyte's accepted units that a value in ``from_unit`` converts to (itself excluded)."""
    item = analyte(analyte_code)
    source = normalize_unit(from_unit)
    return tuple(
        code for code in item.units if code != source and can_convert(item.code, source, code)
    )


@dataclass(frozen=True, slots=True)
class Conversion:
    """One convertible pair of an analyte's units, for display and documentation."""

    from_unit: str
    to_unit: str
    factor: float | None  # None for an affine conversion
    formula: str  # French
    formula_en: str = ""  # English (decimal point, English unit labels)

    def display_formula(self, lang: str | None = None) -> str:
        """The formula in ``lang`` (default: the active language)."""
        return _pick(self.formula, self.formula_en, lang)


def _format_factor(value: float, lang: str = "fr") -> str:
    text = f"{value:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa} × 10^{int(exponent)}"
    return text.replace(".", ",") if lang == "fr" else text


def _conversions_of(item: Analyte) -> tuple[Conversion, ...]:
    result: list[Conversion] = []
    affine = {(rule.from_unit, rule.to_unit): rule for rule in item.affine}
    for source in item.units:
        for target in item.units:
            if source == target or not can_convert(item.code, source, target):
                continue
            rule = affine.get((source, target))
            if rule is not None:
                result.append(Conversion(source, target, None, rule.formula, rule.formula_en))
                continue
            factor = convert(item.code, 1, source, target)
            formula, formula_en = (
                f"1 {display_unit_label(source, lang)} = {_format_factor(factor, lang)} "
                f"{display_unit_label(target, lang)}"
                for lang in ("fr", "en")
            )
            result.append(Conversion(source, target, factor, formula, formula_en))
    return tuple(result)


CONVERSIONS: Mapping[str, tuple[Conversion, ...]] = MappingProxyType(
    {item.code: _conversions_of(item) for item in ANALYTES}
)
