"""Lab value logic: parsing typed results, interpretation flags, trends across reports.

Framework-free. ``parse_numeric`` / ``parse_result`` turn what a professional types into a
``Decimal`` (exact, precision kept: "5,40" stays 5.40) or a textual result; ``interpret``
computes the L/H/LL/HH/N flag from the reference range given with the result;
``build_trend`` gathers an analyte's values across reports into unit-consistent series for
the trend chart (``records.trend_svg``) and its accessible table.

Conventions
-----------
* Reference range boundaries are inclusive: ``low <= value <= high`` is N.
* Critical limits are strict: LL only *below* ``critical_low``, HH only *above*
  ``critical_high``. Without critical limits there is never LL/HH: the portal does not
  invent critical thresholds the laboratory did not give.
* "A" (abnormal) is never computed; it comes only from the laboratory (``Interpretation.given``).
* Censored results ("< 0,5", "> 1 000") are textual for storage but keep their bound;
  ``interpret_result`` classifies them when the bound decides (lab quantities are >= 0).
* Labels and messages are French; the ``display_*`` helpers (flag labels, numbers, change
  descriptions) follow ``lang`` or the active language (``reference.display_language``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from records import reference
from records.reference import translated as _say

__all__ = [
    "FLAG_CHOICES",
    "Change",
    "Flag",
    "Interpretation",
    "ObservationPoint",
    "ParsedResult",
    "Series",
    "Trend",
    "TrendPoint",
    "build_trend",
    "flag_choices",
    "format_date_fr",
    "format_number",
    "format_number_fr",
    "interpret",
    "interpret_result",
    "parse_numeric",
    "parse_result",
    "when_ordinal",
]


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

NUMERIC_MAX_LENGTH = 30
RESULT_MAX_LENGTH = 200

_GROUP_SPACES = " \u00a0\u202f\u2009"  # space, no-break space, narrow no-break, thin space
_MINUS_SIGNS = "\u2212\u2013"  # minus sign, en dash typed as minus
_NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)$")
_GROUPED_RE = re.compile(r"^[+-]?[0-9]{1,3}(?: [0-9]{3})+(?:[.,][0-9]+)?$")
_EXPONENT_RE = re.compile(r"^[+-]?[0-9]*[.,]?[0-9]+[eE][+-]?[0-9]+$")
_COMPARATOR_RE = re.compile(r"^(<=|>=|=<|=>|≤|≥|<|>)\s*(.+)$")
_NON_FINITE_WORDS = frozenset(
    {"nan", "inf", "infinity", "infini", "+inf", "-inf", "+infinity", "-infinity"}
)
_NUMBERISH_RE = re.compile(r"^[0-9\s.,+\-\u2212\u2013\u00a0\u202f\u2009]+$")
_COMPARATORS = {
    "<": "<",
    "<=": "<=",
    "=<": "<=",
    "≤": "<=",
    ">": ">",
    ">=": ">=",
    "=>": ">=",
    "≥": ">=",
}


def _has_foreign_digits(text: str) -> bool:
    """True for digits other than 0-9 (Arabic-Indic, Devanagari, full-width, superscripts...)."""
    return any(char.isnumeric() and not ("0" <= char <= "9") for char in text)


def _clean(text: str) -> str:
    stripped = text.strip()
    for char in _MINUS_SIGNS:
        stripped = stripped.replace(char, "-")
    return stripped


def _check_numeric_text(text: str) -> str:
    if not isinstance(text, str):
        raise ValueError(_say("La valeur doit être un texte."))
    stripped = _clean(text)
    if not stripped:
        raise ValueError(_say("Valeur vide : saisissez un nombre."))
    if len(stripped) > NUMERIC_MAX_LENGTH:
        raise ValueError(
            _say("Valeur trop longue (%(max)d caractères au maximum).", max=NUMERIC_MAX_LENGTH)
        )
    if _has_foreign_digits(stripped):
        raise ValueError(
            _say("Chiffres non reconnus : saisissez la valeur avec les chiffres occidentaux 0 à 9.")
        )
    return stripped


def _ungroup(text: str) -> str:
    """Remove thousands separators (spaces); reject spaces that do not group by three."""
    spaced = text
    for char in _GROUP_SPACES[1:]:
        spaced = spaced.replace(char, " ")
    if " " not in spaced or re.search(r"[^0-9 +.,-]", spaced):
        return spaced  # no grouping here; anything else is reported as "not a number"
    spaced = re.sub(r"(?<=[+-]) +", "", spaced)
    if not _GROUPED_RE.match(spaced):
        raise ValueError(
            _say("Séparateur de milliers mal placé : écrivez par exemple « 1 250 » ou « 1250 ».")
        )
    return spaced.replace(" ", "")


def parse_numeric(text: str) -> Decimal:
    """An exact numeric value typed with a decimal comma or point ("5,4", "1 250", "-2").

    Thousands may be separated by spaces (grouped by three). Comparators ("< 0,5"), words
    (NaN, Infinity), exponents (1e309) and digits other than 0-9 are refused with a French
    ``ValueError``. The precision typed is kept ("5,40" -> Decimal("5.40")).
    """
    stripped = _check_numeric_text(text)
    if stripped[0] in "<>≤≥":
        raise ValueError(
            _say(
                "Une valeur précédée de « < » ou « > » n'est pas un nombre exact : "
                "saisissez-la comme résultat textuel (par exemple « < 0,5 »)."
            )
        )
    if _EXPONENT_RE.match(stripped):
        raise ValueError(_say("Notation scientifique refusée : écrivez le nombre en entier."))
    compact = _ungroup(stripped)
    if "," in compact and "." in compact:
        raise ValueError(_say("Séparateur décimal ambigu : utilisez une seule virgule (ex. 5,4)."))
    if not _NUMBER_RE.match(compact):
        raise ValueError(
            _say("« %(value)s » n'est pas un nombre (exemple attendu : 5,4).", value=stripped)
        )
    try:
        number = Decimal(compact.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the regular expression already rules it out
        raise ValueError(_say("« %(value)s » n'est pas un nombre.", value=stripped)) from None
    if not number.is_finite():  # pragma: no cover - same
        raise ValueError(_say("Valeur non finie refusée."))
    return number


@dataclass(frozen=True, slots=True)
class ParsedResult:
    """A typed result: exact number, censored number ("< 0,5") or text ("Positif")."""

    numeric: Decimal | None
    comparator: str | None  # "<", "<=", ">", ">=" for a censored value
    text: str  # the result as typed (trimmed), for display and storage

    @property
    def is_numeric(self) -> bool:
        return self.numeric is not None and self.comparator is None

    @property
    def is_censored(self) -> bool:
        return self.comparator is not None

    @property
    def is_text(self) -> bool:
        return self.numeric is None


def parse_result(text: str) -> ParsedResult:
    """Split a typed result into numeric / censored / textual.

    "5,4" -> numeric 5.4; "<0,5" or "≤ 0,5" -> comparator "<" / "<=" with numeric 0.5;
    "Positif" or "10⁵ UFC/mL" -> text only (kept as typed, spaces normalised). Input that
    looks like a mistyped number ("12 3", "1e309", "NaN", "١٢", "< ١٢") is refused rather
    than silently stored as text.
    """
    if not isinstance(text, str):
        raise ValueError(_say("Le résultat doit être un texte."))
    typed = " ".join(text.split())
    if not typed:
        raise ValueError(_say("Résultat vide."))
    if len(typed) > RESULT_MAX_LENGTH:
        raise ValueError(
            _say("Résultat trop long (%(max)d caractères au maximum).", max=RESULT_MAX_LENGTH)
        )
    match = _COMPARATOR_RE.match(typed)
    if match is not None and _looks_numeric(match.group(2)):
        bound = parse_numeric(match.group(2))
        return ParsedResult(bound, _COMPARATORS[match.group(1)], typed)
    if _looks_numeric(typed):
        return ParsedResult(parse_numeric(typed), None, typed)
    return ParsedResult(None, None, typed)


def _looks_numeric(text: str) -> bool:
    """Digits of any script, signs, separators only; or an exponent, NaN or infinity."""
    digits_as_zero = "".join("0" if char.isnumeric() else char for char in text)
    return (
        bool(_NUMBERISH_RE.match(digits_as_zero))
        or bool(_EXPONENT_RE.match(text))
        or text.casefold() in _NON_FINITE_WORDS
    )


# --------------------------------------------------------------------------------------------
# Interpretation
# --------------------------------------------------------------------------------------------


class Flag(StrEnum):
    """HL7 v2 / FHIR observation interpretation codes used by the DMP."""

    LL = "LL"
    L = "L"
    N = "N"
    H = "H"
    HH = "HH"
    A = "A"

    @property
    def label(self) -> str:
        """French label (what the model's choices and the services use)."""
        return _FLAG_LABELS[self]

    def display_label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (default: the active language)."""
        if reference.display_language(lang) == "en":
            return _FLAG_LABELS_EN[self]
        return _FLAG_LABELS[self]

    @property
    def is_critical(self) -> bool:
        return self in (Flag.LL, Flag.HH)


_FLAG_LABELS = {
    Flag.LL: "Très bas (critique)",
    Flag.L: "Bas",
    Flag.N: "Normal",
    Flag.H: "Élevé",
    Flag.HH: "Très élevé (critique)",
    Flag.A: "Anormal",
}
_FLAG_LABELS_EN = {
    Flag.LL: "Critically low",
    Flag.L: "Low",
    Flag.N: "Normal",
    Flag.H: "High",
    Flag.HH: "Critically high",
    Flag.A: "Abnormal",
}

FLAG_CHOICES: tuple[tuple[str, str], ...] = tuple((flag.value, flag.label) for flag in Flag)


def flag_choices(lang: str | None = None) -> list[tuple[str, str]]:
    """``(code, label)`` pairs in ``lang`` (default: the active language), for a form's
    choices built per request (``FLAG_CHOICES`` stays French: it is the model field's)."""
    return [(flag.value, flag.display_label(lang)) for flag in Flag]


Number = Decimal | int | float


@dataclass(frozen=True, slots=True)
class Interpretation:
    flag: Flag | None  # None: no reference range to judge against
    critical: bool = False

    @property
    def abnormal(self) -> bool:
        return self.flag is not None and self.flag is not Flag.N

    @property
    def label(self) -> str:
        return self.flag.label if self.flag is not None else "Non interprété"

    @classmethod
    def given(cls, flag: Flag | str, *, critical: bool | None = None) -> Interpretation:
        """An interpretation stated by the laboratory (the only way to get ``Flag.A``)."""
        try:
            value = Flag(flag)
        except ValueError:
            raise ValueError(_say("Interprétation inconnue : « %(flag)s ».", flag=flag)) from None
        return cls(value, value.is_critical if critical is None else critical)


def _decimal(value: Number | None, what: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise ValueError(_say("%(what)s : nombre attendu.", what=_say(what)))
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError(_say("%(what)s : valeur non finie refusée.", what=_say(what)))
    return number


def _check_limits(
    low: Decimal | None,
    high: Decimal | None,
    critical_low: Decimal | None,
    critical_high: Decimal | None,
) -> None:
    def fr(number: Decimal) -> str:  # in the reader's format
        return format_number(number)

    if low is not None and high is not None and low > high:
        raise ValueError(
            _say(
                "Intervalle de référence invalide : la borne basse (%(low)s) dépasse "
                "la borne haute (%(high)s).",
                low=fr(low),
                high=fr(high),
            )
        )
    if critical_low is not None and low is not None and critical_low > low:
        raise ValueError(
            _say(
                "Seuil critique bas (%(critical)s) supérieur à la borne basse (%(low)s).",
                critical=fr(critical_low),
                low=fr(low),
            )
        )
    if critical_high is not None and high is not None and critical_high < high:
        raise ValueError(
            _say(
                "Seuil critique haut (%(critical)s) inférieur à la borne haute (%(high)s).",
                critical=fr(critical_high),
                high=fr(high),
            )
        )
    if critical_low is not None and critical_high is not None and critical_low > critical_high:
        raise ValueError(_say("Seuils critiques incohérents : le seuil bas dépasse le seuil haut."))


def _limits(
    low: Number | None,
    high: Number | None,
    critical_low: Number | None,
    critical_high: Number | None,
) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]:
    limits = (
        _decimal(low, "Borne basse"),
        _decimal(high, "Borne haute"),
        _decimal(critical_low, "Seuil critique bas"),
        _decimal(critical_high, "Seuil critique haut"),
    )
    _check_limits(*limits)
    return limits


def interpret(
    value: Number,
    low: Number | None,
    high: Number | None,
    *,
    critical_low: Number | None = None,
    critical_high: Number | None = None,
) -> Interpretation:
    """Flag of ``value`` against its reference range ``[low, high]`` (either bound optional).

    N inside the range (bounds inclusive), L below, H above; LL / HH beyond the critical
    limits (strictly), which are never invented. Without any range or limit: flag ``None``.
    Inconsistent limits raise ``ValueError`` with a French message.
    """
    number = _decimal(value, "Valeur")
    if number is None:
        raise ValueError(_say("Valeur manquante."))
    lo, hi, c_lo, c_hi = _limits(low, high, critical_low, critical_high)
    if c_lo is not None and number < c_lo:
        return Interpretation(Flag.LL, critical=True)
    if c_hi is not None and number > c_hi:
        return Interpretation(Flag.HH, critical=True)
    if lo is not None and number < lo:
        return Interpretation(Flag.L)
    if hi is not None and number > hi:
        return Interpretation(Flag.H)
    if lo is None and hi is None:
        return Interpretation(None)
    return Interpretation(Flag.N)


def interpret_result(
    result: ParsedResult,
    low: Number | None,
    high: Number | None,
    *,
    critical_low: Number | None = None,
    critical_high: Number | None = None,
) -> Interpretation:
    """Like ``interpret`` for a parsed result; censored values are judged when the bound
    decides ("< 0,5" with a range 0,5-5 is L; "< 5" with a range of at most 10 is N), else
    the flag is ``None``. Textual results are not interpreted (flag ``None``)."""
    limits = {"critical_low": critical_low, "critical_high": critical_high}
    if result.numeric is None:
        return Interpretation(None)
    if result.comparator is None:
        return interpret(result.numeric, low, high, **limits)
    lo, hi, c_lo, c_hi = _limits(low, high, critical_low, critical_high)
    if result.comparator in ("<", "<="):
        return _interpret_below(result.numeric, result.comparator == "<", lo, hi, c_lo)
    return _interpret_above(result.numeric, result.comparator == ">", lo, hi, c_hi)


def _entirely_below(bound: Decimal, strict: bool, limit: Decimal | None) -> bool:
    return limit is not None and (bound < limit or (strict and bound == limit))


def _interpret_below(
    bound: Decimal, strict: bool, lo: Decimal | None, hi: Decimal | None, c_lo: Decimal | None
) -> Interpretation:
    # The true value lies in [0, bound) or [0, bound].
    if _entirely_below(bound, strict, c_lo):
        return Interpretation(Flag.LL, critical=True)
    if _entirely_below(bound, strict, lo):
        return Interpretation(Flag.L)
    if (lo is None or lo <= 0) and (hi is None or bound <= hi) and (lo, hi) != (None, None):
        return Interpretation(Flag.N)
    return Interpretation(None)


def _interpret_above(
    bound: Decimal, strict: bool, lo: Decimal | None, hi: Decimal | None, c_hi: Decimal | None
) -> Interpretation:
    # The true value lies in (bound, +inf) or [bound, +inf).
    def entirely_above(limit: Decimal | None) -> bool:
        return limit is not None and (bound > limit or (strict and bound == limit))

    if entirely_above(c_hi):
        return Interpretation(Flag.HH, critical=True)
    if entirely_above(hi):
        return Interpretation(Flag.H)
    if hi is None and lo is not None and bound >= lo:
        return Interpretation(Flag.N)
    return Interpretation(None)


# --------------------------------------------------------------------------------------------
# French formatting (shared with the chart and the table)
# --------------------------------------------------------------------------------------------


def format_number_fr(value: Number, decimals: int | None = None, *, grouping: bool = True) -> str:
    """French number: decimal comma, narrow no-break space between thousands.

    A ``Decimal`` keeps its own precision unless ``decimals`` is given; a float without
    ``decimals`` is shown with up to 6 significant digits.
    """
    if decimals is not None:
        text = f"{float(value) if not isinstance(value, Decimal) else value:,.{decimals}f}"
    elif isinstance(value, Decimal):
        text = f"{value:,f}"
    elif isinstance(value, int):
        text = f"{value:,d}"
    else:
        text = _float_text(value)
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = text[1:]  # no "-0,0"
    text = text.replace(",", "\u202f" if grouping else "").replace(".", ",")
    return text


def format_number(
    value: Number, decimals: int | None = None, *, lang: str | None = None, grouping: bool = True
) -> str:
    """A number the way ``lang`` writes it (default: the active language): French decimal
    comma and narrow no-break space between thousands (``format_number_fr``), or English
    decimal point and comma between thousands. Same precision rules in both."""
    if reference.display_language(lang) == "fr":
        return format_number_fr(value, decimals, grouping=grouping)
    # French text back to English: thousands "\u202f" -> ",", decimal "," -> ".".
    text = format_number_fr(value, decimals, grouping=True)
    text = text.replace(",", ".").replace("\u202f", "," if grouping else "")
    return text


def _float_text(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    text = f"{value:,.6g}"
    if "e" in text:  # huge or tiny: plain digits are clearer to a reader than 1e+07
        text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return text


def format_date_fr(when: date) -> str:
    """dd/mm/yyyy (a datetime keeps only its date)."""
    return f"{when.day:02d}/{when.month:02d}/{when.year:04d}"


def when_ordinal(when: date) -> float:
    """Days since 0001-01-01 as a float: dates and datetimes (naive or aware) on one axis."""
    if isinstance(when, datetime):
        moment = when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
        seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
        return moment.toordinal() + (seconds + moment.microsecond / 1e6) / 86400
    return float(when.toordinal())


# --------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObservationPoint:
    """One numeric result of an analyte in one report, as stored with the result."""

    when: date  # date or datetime of the act (a datetime orders same-day results)
    value: Decimal
    unit: str  # UCUM code as stored
    low: Decimal | None = None
    high: Decimal | None = None
    href: str = ""  # link to the report
    report_id: str | int | None = None
    flag: Flag | None = None  # interpretation given with the result; computed when None


@dataclass(frozen=True, slots=True)
class TrendPoint:
    when: date
    value: float  # in the series unit
    unit: str  # the series unit (UCUM)
    low: float | None  # reference range in the series unit
    high: float | None
    original_value: Decimal
    original_unit: str
    original_low: Decimal | None
    original_high: Decimal | None
    href: str
    report_id: str | int | None
    flag: Flag | None
    unit_changed: bool = False  # original unit differs from the previous point of the series
    range_changed: bool = False  # reference range differs from the previous point of the series

    @property
    def out_of_range(self) -> bool:
        return self.flag is not None and self.flag is not Flag.N

    @property
    def converted(self) -> bool:
        return self.original_unit != self.unit


@dataclass(frozen=True, slots=True)
class Series:
    """Points of one trend sharing one unit (converted when needed), oldest first."""

    unit: str
    points: tuple[TrendPoint, ...]

    @property
    def unit_label(self) -> str:
        return reference.unit_label(self.unit)

    @property
    def has_range(self) -> bool:
        return any(p.low is not None or p.high is not None for p in self.points)


@dataclass(frozen=True, slots=True)
class Change:
    """A point where the unit or the reference range changed within a series."""

    when: date
    series_index: int
    unit_changed: bool
    range_changed: bool
    previous: TrendPoint
    current: TrendPoint

    @property
    def description(self) -> str:
        parts = []
        if self.unit_changed:
            parts.append(
                f"unité modifiée ({reference.unit_label(self.previous.original_unit)} → "
                f"{reference.unit_label(self.current.original_unit)})"
            )
        if self.range_changed:
            parts.append(
                f"intervalle de référence modifié ({_range_text(self.previous)} → "
                f"{_range_text(self.current)})"
            )
        return f"Le {format_date_fr(self.when)} : " + " ; ".join(parts) + "."

    def display_description(self, lang: str | None = None) -> str:
        """``description`` in ``lang`` (default: the active language)."""
        if reference.display_language(lang) == "fr":
            return self.description
        parts = []
        if self.unit_changed:
            parts.append(
                f"unit changed ({reference.display_unit_label(self.previous.original_unit, 'en')}"
                f" → {reference.display_unit_label(self.current.original_unit, 'en')})"
            )
        if self.range_changed:
            parts.append(
                f"reference range changed ({_range_text(self.previous, 'en')} → "
                f"{_range_text(self.current, 'en')})"
            )
        return f"On {format_date_fr(self.when)}: " + "; ".join(parts) + "."


def _range_text(point: TrendPoint, lang: str = "fr") -> str:
    low, high = point.original_low, point.original_high
    unit = reference.display_unit_label(point.original_unit, lang)
    if low is not None and high is not None:
        return f"{format_number(low, lang=lang)}–{format_number(high, lang=lang)} {unit}"
    if low is not None:
        return f"≥ {format_number(low, lang=lang)} {unit}"
    if high is not None:
        return f"≤ {format_number(high, lang=lang)} {unit}"
    return "aucun" if lang == "fr" else "none"


@dataclass(frozen=True, slots=True)
class Trend:
    analyte_code: str
    label: str
    unit: str | None  # unit of the first (main) series
    series: tuple[Series, ...]

    @property
    def is_empty(self) -> bool:
        return not any(s.points for s in self.series)

    @property
    def points(self) -> tuple[TrendPoint, ...]:
        """All points of all series, oldest first."""
        every = [p for s in self.series for p in s.points]
        return tuple(sorted(every, key=lambda p: when_ordinal(p.when)))

    @property
    def changes(self) -> tuple[Change, ...]:
        found: list[Change] = []
        for index, series in enumerate(self.series):
            for previous, current in zip(series.points, series.points[1:], strict=False):
                if current.unit_changed or current.range_changed:
                    found.append(
                        Change(
                            current.when,
                            index,
                            current.unit_changed,
                            current.range_changed,
                            previous,
                            current,
                        )
                    )
        return tuple(sorted(found, key=lambda c: (when_ordinal(c.when), c.series_index)))


def _unit_code(text: str) -> str:
    try:
        return reference.normalize_unit(text)
    except ValueError:
        return text.strip()


def _converter(analyte_code: str, source: str, target: str) -> bool:
    if source == target:
        return True
    return reference.can_convert(analyte_code, source, target)


def _convert_optional(
    analyte_code: str, value: Decimal | None, source: str, target: str
) -> float | None:
    if value is None:
        return None
    if source == target:
        return float(value)
    return reference.convert(analyte_code, value, source, target)


def _flag_of(point: ObservationPoint) -> Flag | None:
    if point.flag is not None:
        return Flag(point.flag)
    try:
        return interpret(point.value, point.low, point.high).flag
    except ValueError:  # an inconsistent stored range: show the value, do not judge it
        return None


RANGE_TOLERANCE_ACROSS_UNITS = 0.02


def _same_range(previous: TrendPoint, current: TrendPoint) -> bool:
    if previous.original_unit == current.original_unit:
        return (previous.original_low, previous.original_high) == (
            current.original_low,
            current.original_high,
        )

    # Limits stated in two units are rounded in each (6 % vs 42 mmol/mol for HbA1c,
    # 70-105 mg/dL vs 3,9-5,8 mmol/L for glucose): equivalent within 2 % is no change.
    def close(a: float | None, b: float | None) -> bool:
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=RANGE_TOLERANCE_ACROSS_UNITS, abs_tol=1e-12)

    return close(previous.low, current.low) and close(previous.high, current.high)


def _make_series(analyte_code: str, unit: str, points: Sequence[ObservationPoint]) -> Series:
    built: list[TrendPoint] = []
    for point in points:
        source = _unit_code(point.unit)
        value = _convert_optional(analyte_code, point.value, source, unit)
        draft = TrendPoint(
            when=point.when,
            value=float(point.value) if value is None else value,
            unit=unit,
            low=_convert_optional(analyte_code, point.low, source, unit),
            high=_convert_optional(analyte_code, point.high, source, unit),
            original_value=point.value,
            original_unit=source,
            original_low=point.low,
            original_high=point.high,
            href=point.href,
            report_id=point.report_id,
            flag=_flag_of(point),
        )
        if built:
            previous = built[-1]
            draft = replace(
                draft,
                unit_changed=previous.original_unit != source,
                range_changed=not _same_range(previous, draft),
            )
        built.append(draft)
    return Series(unit, tuple(built))


def _check_point(point: ObservationPoint) -> None:
    if not isinstance(point.value, Decimal) or not point.value.is_finite():
        raise ValueError("Chaque point de la courbe doit avoir une valeur numérique finie.")
    for bound in (point.low, point.high):
        if bound is not None and (not isinstance(bound, Decimal) or not bound.is_finite()):
            raise ValueError("Les bornes de référence doivent être des nombres finis.")


def build_trend(
    analyte_code: str,
    points: Iterable[ObservationPoint],
    preferred_unit: str | None = None,
    *,
    label: str | None = None,
) -> Trend:
    """Gather an analyte's numeric results into unit-consistent series, oldest first.

    Every point convertible to the target unit (``preferred_unit``, else the unit of the most
    recent point) joins the main series, converted; the others form further series, each in
    the unit of its most recent point, so that values are never mixed silently. Each point
    keeps its own reference range (converted too) and is marked when its original unit or
    its range differs from the previous point of its series.
    """
    ordered = sorted(points, key=lambda p: when_ordinal(p.when))
    for point in ordered:
        _check_point(point)
    item = reference.find_analyte(analyte_code)
    name = label or (item.label if item is not None else analyte_code)
    target = reference.normalize_unit(preferred_unit) if preferred_unit else None
    remaining = list(ordered)
    series: list[Series] = []
    while remaining:
        unit = target if target is not None and not series else _unit_code(remaining[-1].unit)
        fits = [_converter(analyte_code, _unit_code(p.unit), unit) for p in remaining]
        members = [p for p, ok in zip(remaining, fits, strict=True) if ok]
        if members:
            series.append(_make_series(analyte_code, unit, members))
        remaining = [p for p, ok in zip(remaining, fits, strict=True) if not ok]
        target = None  # a preferred unit that fits no point is dropped; later series too
    main_unit = series[0].unit if series else target
    return Trend(analyte_code, name, main_unit, tuple(series))
