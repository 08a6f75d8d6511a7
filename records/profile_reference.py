"""Reference data of the profil médical, and the rules computed from it (framework-free).

* ``CIM10``: a shipped list of the common CIM-10 (ICD-10) codes, searchable (``cim10_search``);
  a problem outside the list is entered as free text and marked uncoded.
* ``VACCINES``: the vaccines used in France with the diseases they cover.
* ``SCHEDULE``: the French vaccination schedule as data (``vaccination_schedule.csv``) and
  ``vaccination_calendar``, which says for a birth date, a day and the doses received what is
  done, due, overdue or coming.
* ``MEASURES``: the measures a patient or a professional enters, with their UCUM unit and
  plausibility bounds (``measure_value`` refuses the implausible), and ``bmi``.

Each table is a data file of ``reference_data/`` read and checked at import (``reference_io``).
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from records.reference import display_language
from records.reference_io import Row, read_csv

# --- CIM-10 --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cim10:
    code: str
    label: str  # French: what is stored with the problem
    label_en: str

    def display_label(self, lang: str | None = None) -> str:
        return self.label_en if display_language(lang) == "en" else self.label


def _fold(text: str) -> str:
    """Lower case without accents: "Diabète" and "diabete" match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _load_cim10() -> tuple[Cim10, ...]:
    seen: dict[str, str] = {}
    result = []
    for row in read_csv("cim10.csv", ("code", "label", "label_en")):
        code = row.unique(row.text("code"), seen, "code")
        if not (code[0].isalpha() and code[1:3].isdigit() and len(code) <= 6):
            raise row.error(f"code {code!r} is not a CIM-10 code")
        result.append(Cim10(code, row.text("label"), row.text("label_en")))
    return tuple(result)


CIM10: tuple[Cim10, ...] = _load_cim10()
_CIM10_BY_CODE: Mapping[str, Cim10] = MappingProxyType({item.code: item for item in CIM10})


def cim10(code: str) -> Cim10 | None:
    """The listed CIM-10 entry of ``code`` (case-insensitive), or None."""
    return _CIM10_BY_CODE.get(code.strip().upper()) if isinstance(code, str) else None


def cim10_search(query: str, limit: int = 20) -> list[Cim10]:
    """Listed codes whose code starts with, or whose label (either language) contains,
    every word of ``query`` (accents and case ignored); code matches first."""
    words = _fold(query).split()
    if not words:
        return []
    found = []
    for item in CIM10:
        haystack = _fold(f"{item.code} {item.label} {item.label_en}")
        if all(word in haystack for word in words):
            found.append(item)
    found.sort(key=lambda item: not _fold(item.code).startswith(words[0]))
    return found[:limit]


# --- Vaccines and the French schedule -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vaccine:
    code: str
    label: str
    label_en: str
    diseases: tuple[str, ...]

    def display_label(self, lang: str | None = None) -> str:
        return self.label_en if display_language(lang) == "en" else self.label


def _load_vaccines() -> tuple[Vaccine, ...]:
    seen: dict[str, str] = {}
    result = []
    for row in read_csv("vaccines.csv", ("code", "label", "label_en", "diseases")):
        code = row.unique(row.key("code"), seen, "code")
        diseases = row.texts("diseases")
        if not diseases:
            raise row.error("diseases is missing")
        result.append(Vaccine(code, row.text("label"), row.text("label_en"), diseases))
    return tuple(result)


VACCINES: tuple[Vaccine, ...] = _load_vaccines()
_VACCINE_BY_CODE: Mapping[str, Vaccine] = MappingProxyType({v.code: v for v in VACCINES})
DISEASES: frozenset[str] = frozenset(d for v in VACCINES for d in v.diseases)


def vaccine(code: str) -> Vaccine | None:
    return _VACCINE_BY_CODE.get(code) if isinstance(code, str) else None


RULE_DOSE = "dose"  # the n-th dose of a disease's vaccines, at an age
RULE_BOOSTER = "booster"  # one dose received from an age on (adult boosters)
RULE_SEASONAL = "seasonal"  # one dose in the last twelve months, from an age on


@dataclass(frozen=True, slots=True)
class ScheduleRule:
    key: str
    disease: str
    rule: str
    dose: int  # for RULE_DOSE: how many doses of the disease make it done
    age_months: int  # recommended at this age
    grace_months: int  # overdue this long after
    until_months: int | None  # no longer recommended from this age (None: never ends)
    counts_from_months: int  # a booster given from this age on counts
    label: str
    label_en: str

    def display_label(self, lang: str | None = None) -> str:
        return self.label_en if display_language(lang) == "en" else self.label


def _months(row: Row, value: str, name: str, required: bool = True) -> int | None:
    if not value:
        if required:
            raise row.error(f"{name} is missing")
        return None
    if not value.isdigit():
        raise row.error(f"{name} {value!r} is not a number of months")
    return int(value)


_SCHEDULE_COLUMNS = (
    "key",
    "disease",
    "rule",
    "dose",
    "age_months",
    "grace_months",
    "until_months",
    "counts_from_months",
    "label",
    "label_en",
)


def _load_schedule() -> tuple[ScheduleRule, ...]:
    seen: dict[str, str] = {}
    result = []
    for row in read_csv("vaccination_schedule.csv", _SCHEDULE_COLUMNS):
        key = row.unique(row.key("key"), seen, "key")
        disease = row.member(row.text("disease"), DISEASES, "disease (of vaccines.csv)")
        kind = row.member(row.text("rule"), (RULE_DOSE, RULE_BOOSTER, RULE_SEASONAL), "rule")
        age = _months(row, row.text("age_months"), "age_months") or 0
        dose = _months(row, row.text("dose", required=False), "dose", kind == RULE_DOSE)
        grace = _months(row, row.text("grace_months", required=False), "grace", False)
        until = _months(row, row.text("until_months", required=False), "until", False)
        counts = _months(row, row.text("counts_from_months", required=False), "counts", False)
        if kind == RULE_BOOSTER and counts is None:
            raise row.error("a booster needs counts_from_months")
        if until is not None and until <= age:
            raise row.error("until_months must come after age_months")
        result.append(
            ScheduleRule(
                key=key,
                disease=disease,
                rule=kind,
                dose=dose or 1,
                age_months=age,
                grace_months=grace or 0,
                until_months=until,
                counts_from_months=counts if counts is not None else 0,
                label=row.text("label"),
                label_en=row.text("label_en"),
            )
        )
    return tuple(result)


SCHEDULE: tuple[ScheduleRule, ...] = _load_schedule()

DONE = "done"
DUE = "due"
OVERDUE = "overdue"
UPCOMING = "upcoming"


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus whole months (the 31st becomes the month's last day)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError("unreachable")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Dose:
    """One vaccination received: its date and the diseases its vaccine covers."""

    given_on: datetime.date
    diseases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CalendarItem:
    rule: ScheduleRule
    status: str  # DONE, DUE, OVERDUE, UPCOMING
    due_on: datetime.date  # when the schedule recommends it
    done_on: datetime.date | None = None


def _rule_status(
    rule: ScheduleRule, birth: datetime.date, today: datetime.date, doses: Sequence[Dose]
) -> CalendarItem | None:
    due_on = add_months(birth, rule.age_months)
    if rule.until_months is not None and today >= add_months(birth, rule.until_months):
        return None  # past the age where the schedule recommends it
    given = sorted(d.given_on for d in doses if rule.disease in d.diseases)
    done_on: datetime.date | None = None
    if rule.rule == RULE_DOSE:
        done_on = given[rule.dose - 1] if len(given) >= rule.dose else None
    elif rule.rule == RULE_BOOSTER:
        counts_from = add_months(birth, rule.counts_from_months)
        done_on = next((day for day in reversed(given) if day >= counts_from), None)
    else:  # seasonal: one dose in the last twelve months
        recent = [day for day in given if day > today - datetime.timedelta(days=365)]
        done_on = recent[-1] if recent and today >= due_on else None
        if done_on is None and today >= due_on:
            return CalendarItem(rule, DUE, today)
    if done_on is not None:
        return CalendarItem(rule, DONE, due_on, done_on)
    if today < due_on:
        return CalendarItem(rule, UPCOMING, due_on)
    overdue = today >= add_months(due_on, max(rule.grace_months, 0)) and rule.grace_months > 0
    return CalendarItem(rule, OVERDUE if overdue else DUE, due_on)


def vaccination_calendar(
    birth: datetime.date,
    today: datetime.date,
    doses: Iterable[Dose],
    *,
    upcoming_within_months: int = 12,
) -> list[CalendarItem]:
    """What the French schedule (``SCHEDULE``) says for a person born on ``birth``, on
    ``today``, given the ``doses`` received: each applicable rule done, due, overdue, or
    coming within ``upcoming_within_months``, in schedule order. Rules past their age limit
    are left out (an adult is not told about infant doses); doses before birth do not count.
    """
    received = [dose for dose in doses if birth <= dose.given_on <= today]
    horizon = add_months(today, upcoming_within_months)
    items = []
    for rule in SCHEDULE:
        item = _rule_status(rule, birth, today, received)
        if item is None or (item.status == UPCOMING and item.due_on > horizon):
            continue
        items.append(item)
    return items


# --- Measures -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeasureType:
    key: str
    label: str
    label_en: str
    unit: str  # UCUM code
    unit_label: str
    spellings: frozenset[str]  # accepted spellings of the unit (folded)
    low: Decimal
    high: Decimal
    decimals: int

    def display_label(self, lang: str | None = None) -> str:
        return self.label_en if display_language(lang) == "en" else self.label

    @property
    def paired(self) -> bool:
        """Blood pressure: a systolic / diastolic pair."""
        return self.key == BLOOD_PRESSURE


BLOOD_PRESSURE = "blood_pressure"
_MEASURE_COLUMNS = (
    "key",
    "label",
    "label_en",
    "unit",
    "unit_label",
    "aliases",
    "low",
    "high",
    "decimals",
)


def _unit_spelling(text: str) -> str:
    return _fold(text).replace(" ", "")


def _load_measures() -> tuple[MeasureType, ...]:
    seen: dict[str, str] = {}
    result = []
    for row in read_csv("measures.csv", _MEASURE_COLUMNS):
        key = row.unique(row.key("key"), seen, "key")
        low, high = Decimal(str(row.number("low"))), Decimal(str(row.number("high")))
        if low >= high:
            raise row.error("low must be below high")
        unit, unit_label = row.text("unit"), row.text("unit_label")
        spellings = {_unit_spelling(s) for s in (unit, unit_label, *row.texts("aliases"))}
        result.append(
            MeasureType(
                key=key,
                label=row.text("label"),
                label_en=row.text("label_en"),
                unit=unit,
                unit_label=unit_label,
                spellings=frozenset(spellings),
                low=low,
                high=high,
                decimals=int(row.number("decimals")),
            )
        )
    return tuple(result)


MEASURES: tuple[MeasureType, ...] = _load_measures()
_MEASURE_BY_KEY: Mapping[str, MeasureType] = MappingProxyType({m.key: m for m in MEASURES})


def measure_type(key: str) -> MeasureType | None:
    return _MEASURE_BY_KEY.get(key) if isinstance(key, str) else None


class MeasureError(ValueError):
    """A measure refused; the message is French and says why. ``template`` (a source string
    of the translation catalogue) and ``params`` let the caller show it in the reader's
    language: ``str(error)`` is ``template % params``."""

    def __init__(self, template: str, **params: str) -> None:
        super().__init__(template % params)
        self.template = template
        self.params = params


def measure_unit(kind: MeasureType, typed: str) -> str:
    """The measure's UCUM unit when ``typed`` is empty or one of its spellings."""
    if typed.strip() and _unit_spelling(typed) not in kind.spellings:
        raise MeasureError(
            "Unité « %(unit)s » inconnue pour « %(measure)s » (unité attendue : %(expected)s).",
            unit=typed.strip()[:20],
            measure=kind.label,
            expected=kind.unit_label,
        )
    return kind.unit


def measure_value(kind: MeasureType, typed: str | Decimal, what: str = "") -> Decimal:
    """A typed value (decimal comma accepted) within the plausibility bounds of ``kind``."""
    label = what or kind.label
    text = str(typed).strip().replace(",", ".").replace("\u00a0", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MeasureError(
            "%(label)s : « %(value)s » n'est pas un nombre.", label=label, value=text[:20]
        ) from None
    if not value.is_finite():
        raise MeasureError("%(label)s : valeur non finie refusée.", label=label)
    if not kind.low <= value <= kind.high:
        raise MeasureError(
            "%(label)s : %(value)s %(unit)s n'est pas plausible (entre %(low)s et %(high)s "
            "%(unit)s).",
            label=label,
            value=text[:20],
            unit=kind.unit_label,
            low=_fr(kind.low),
            high=_fr(kind.high),
        )
    return value.quantize(Decimal(1).scaleb(-kind.decimals))


def _fr(number: Decimal) -> str:
    return format(number.normalize(), "f").replace(".", ",")


def blood_pressure(systolic: str | Decimal, diastolic: str | Decimal) -> tuple[Decimal, Decimal]:
    """A systolic / diastolic pair: each within bounds, the systolic above the diastolic."""
    kind = _MEASURE_BY_KEY[BLOOD_PRESSURE]
    high = measure_value(kind, systolic, "Pression systolique")
    low = measure_value(kind, diastolic, "Pression diastolique")
    if high <= low:
        raise MeasureError(
            "Pression artérielle %(systolic)s/%(diastolic)s non plausible : la systolique "
            "doit dépasser la diastolique.",
            systolic=_fr(high),
            diastolic=_fr(low),
        )
    return high, low


def bmi(weight_kg: Decimal, height_cm: Decimal) -> Decimal | None:
    """Body-mass index (kg/m²), one decimal; None without a height."""
    if not height_cm:
        return None
    metres = height_cm / 100
    return (weight_kg / (metres * metres)).quantize(Decimal("0.1"))
