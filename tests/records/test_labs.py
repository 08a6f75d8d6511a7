"""Lab value logic: parsing, interpretation flags, trends."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from records.labs import (
    FLAG_CHOICES,
    Flag,
    Interpretation,
    ObservationPoint,
    ParsedResult,
    build_trend,
    format_date_fr,
    format_number_fr,
    interpret,
    interpret_result,
    parse_numeric,
    parse_result,
    when_ordinal,
)

D = Decimal

# --- parse_numeric ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("5,4", D("5.4")),
        ("5.4", D("5.4")),
        ("0,50", D("0.50")),
        ("  12 ", D("12")),
        ("-2,5", D("-2.5")),
        ("−2,5", D("-2.5")),  # U+2212 minus sign
        ("+3", D("3")),
        ("1 250", D("1250")),
        ("1\u00a0250,5", D("1250.5")),  # no-break space
        ("1\u202f250\u202f000", D("1250000")),  # narrow no-break space
        ("- 1 250", D("-1250")),
        (",5", D("0.5")),
        ("5,", D("5")),
        ("0", D("0")),
    ],
)
def test_parse_numeric_accepts_french_numbers(typed: str, expected: Decimal) -> None:
    assert parse_numeric(typed) == expected


def test_parse_numeric_keeps_the_typed_precision() -> None:
    assert str(parse_numeric("5,40")) == "5.40"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Valeur vide"),
        ("   ", "Valeur vide"),
        ("NaN", "n'est pas un nombre"),
        ("nan", "n'est pas un nombre"),
        ("Infinity", "n'est pas un nombre"),
        ("-inf", "n'est pas un nombre"),
        ("1e309", "Notation scientifique"),
        ("1E5", "Notation scientifique"),
        ("2,5e-3", "Notation scientifique"),
        ("١٢", "chiffres occidentaux"),  # Arabic-Indic
        ("۱۲", "chiffres occidentaux"),  # Extended Arabic-Indic (Persian)
        ("१२", "chiffres occidentaux"),  # Devanagari
        ("１２", "chiffres occidentaux"),  # full-width
        ("5²", "chiffres occidentaux"),  # superscript
        ("½", "chiffres occidentaux"),
        ("1" * 31, "trop longue"),
        ("<0,5", "textuel"),
        ("> 10", "textuel"),
        ("≤ 3", "textuel"),
        ("12 3", "milliers"),
        ("1 2345", "milliers"),
        ("1.234,5", "ambigu"),
        ("5,4,3", "n'est pas un nombre"),
        ("5..4", "n'est pas un nombre"),
        ("--1", "n'est pas un nombre"),
        ("abc", "n'est pas un nombre"),
        ("0x1F", "n'est pas un nombre"),
        ("5 mmol/L", "n'est pas un nombre"),
        ("=5", "n'est pas un nombre"),
    ],
)
def test_parse_numeric_refuses_with_a_french_message(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_numeric(typed)


def test_parse_numeric_refuses_non_text() -> None:
    with pytest.raises(ValueError, match="texte"):
        parse_numeric(5)  # type: ignore[arg-type]


def _fr(value: Decimal) -> str:
    return format(value, "f").replace(".", ",")


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_parse_numeric_round_trips_any_finite_decimal_written_with_a_comma(value: Decimal) -> None:
    typed = _fr(value)
    assume(len(typed) <= 30)
    parsed = parse_numeric(typed)
    assert parsed == value
    assert parsed.is_finite()


@given(st.decimals(allow_nan=False, allow_infinity=False, places=3))
def test_parse_numeric_round_trips_the_french_display(value: Decimal) -> None:
    typed = format_number_fr(value)
    assume(len(typed) <= 30)
    assert parse_numeric(typed) == value


@given(st.text(max_size=40))
def test_parse_numeric_returns_a_finite_decimal_or_a_value_error(text: str) -> None:
    try:
        result = parse_numeric(text)
    except ValueError:
        return
    assert isinstance(result, Decimal)
    assert result.is_finite()


# --- parse_result -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "numeric", "comparator"),
    [
        ("<0,5", D("0.5"), "<"),
        ("< 0,5", D("0.5"), "<"),
        ("≤ 3", D("3"), "<="),
        ("<=3", D("3"), "<="),
        ("> 1 000", D("1000"), ">"),
        ("≥2,5", D("2.5"), ">="),
        (">= 90", D("90"), ">="),
    ],
)
def test_parse_result_censored_values(typed: str, numeric: Decimal, comparator: str) -> None:
    result = parse_result(typed)
    assert result == ParsedResult(numeric, comparator, typed.strip())
    assert result.is_censored and not result.is_numeric and not result.is_text


def test_parse_result_numeric_and_text() -> None:
    numeric = parse_result(" 5,4 ")
    assert numeric == ParsedResult(D("5.4"), None, "5,4")
    assert numeric.is_numeric and not numeric.is_text
    text = parse_result("  Présence   de cristaux ")
    assert text == ParsedResult(None, None, "Présence de cristaux")
    assert text.is_text and not text.is_numeric
    assert parse_result("Positif 1/80").is_text
    # Text results are kept as typed: dashes, superscripts, censored text with a unit.
    assert parse_result("Présence – rare").text == "Présence – rare"
    assert parse_result("10⁵ UFC/mL") == ParsedResult(None, None, "10⁵ UFC/mL")
    assert parse_result("< 10⁵ UFC/mL").is_text
    assert parse_result("< seuil").is_text
    assert parse_result("−2,5") == ParsedResult(D("-2.5"), None, "−2,5")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "vide"),
        ("NaN", "n'est pas un nombre"),
        ("Infinity", "n'est pas un nombre"),
        ("1e309", "Notation scientifique"),
        ("١٢", "chiffres occidentaux"),
        ("< ١٢", "chiffres occidentaux"),
        ("12 3", "milliers"),
        ("< 1e5", "Notation scientifique"),
        ("≥ NaN", "n'est pas un nombre"),
        ("x" * 201, "trop long"),
    ],
)
def test_parse_result_refuses_mistyped_numbers(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_result(typed)


def test_parse_result_refuses_non_text() -> None:
    with pytest.raises(ValueError, match="texte"):
        parse_result(None)  # type: ignore[arg-type]


# --- interpret --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        ("3.5", Flag.N),  # bounds inclusive
        ("5.0", Flag.N),
        ("4.2", Flag.N),
        ("3.49", Flag.L),
        ("5.01", Flag.H),
        ("2.5", Flag.L),  # the critical limit itself is not beyond it
        ("2.49", Flag.LL),
        ("6.5", Flag.H),
        ("6.51", Flag.HH),
    ],
)
def test_interpret_potassium(value: str, flag: Flag) -> None:
    result = interpret(D(value), D("3.5"), D("5.0"), critical_low=D("2.5"), critical_high=D("6.5"))
    assert result.flag is flag
    assert result.critical is (flag in (Flag.LL, Flag.HH))
    assert result.abnormal is (flag is not Flag.N)


def test_interpret_without_critical_limits_never_says_critical() -> None:
    assert interpret(D("0.1"), D("3.5"), D("5")) == Interpretation(Flag.L, False)
    assert interpret(D("900"), D("3.5"), D("5")) == Interpretation(Flag.H, False)


def test_interpret_one_sided_ranges() -> None:
    assert interpret(D("3"), None, D("5")).flag is Flag.N  # "< 5"
    assert interpret(D("6"), None, D("5")).flag is Flag.H
    assert interpret(D("0"), None, D("5")).flag is Flag.N
    assert interpret(D("90"), D("60"), None).flag is Flag.N  # DFG "> 60"
    assert interpret(D("45"), D("60"), None).flag is Flag.L
    assert interpret(D("10"), D("60"), None, critical_low=D("15")).flag is Flag.LL


def test_interpret_without_range() -> None:
    assert interpret(D("5"), None, None) == Interpretation(None, False)
    assert interpret(D("5"), None, None).label == "Non interprété"
    assert interpret(D("50"), None, None, critical_high=D("40")).flag is Flag.HH
    assert interpret(D("5"), None, None, critical_high=D("40")).flag is None


def test_interpret_accepts_ints_and_floats() -> None:
    assert interpret(4, 3.5, 5).flag is Flag.N
    assert interpret(0.1 + 0.2, 0.3, 1).flag is Flag.N  # no binary noise: 0.30000000000000004


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"low": D("5"), "high": D("3")}, "borne basse"),
        ({"low": D("3"), "high": D("5"), "critical_low": D("4")}, "Seuil critique bas"),
        ({"low": D("3"), "high": D("5"), "critical_high": D("4")}, "Seuil critique haut"),
        ({"low": None, "high": None, "critical_low": D("5"), "critical_high": D("4")}, "incoh"),
    ],
)
def test_interpret_refuses_inconsistent_limits(kwargs: dict[str, Decimal], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        interpret(D("4"), **kwargs)


def test_interpret_refuses_non_finite_and_non_numbers() -> None:
    with pytest.raises(ValueError, match="non finie"):
        interpret(D("NaN"), 1, 2)
    with pytest.raises(ValueError, match="non finie"):
        interpret(1, float("inf"), None)
    with pytest.raises(ValueError, match="nombre attendu"):
        interpret("5", 1, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nombre attendu"):
        interpret(True, 1, 2)
    with pytest.raises(ValueError, match="manquante"):
        interpret(None, 1, 2)  # type: ignore[arg-type]


def test_low_equal_high_is_a_valid_range() -> None:
    assert interpret(D("1"), D("1"), D("1")).flag is Flag.N


_SEVERITY = {Flag.LL: -2, Flag.L: -1, Flag.N: 0, Flag.H: 1, Flag.HH: 2}
_numbers = st.decimals(min_value=-1000, max_value=1000, allow_nan=False, places=2)


@given(
    values=st.lists(_numbers, min_size=2, max_size=8),
    limits=st.lists(_numbers, min_size=4, max_size=4, unique=True),
)
def test_interpret_is_monotonic(values: list[Decimal], limits: list[Decimal]) -> None:
    critical_low, low, high, critical_high = sorted(limits)
    flags = [
        interpret(v, low, high, critical_low=critical_low, critical_high=critical_high).flag
        for v in sorted(values)
    ]
    severities = [_SEVERITY[f] for f in flags if f is not None]
    assert len(severities) == len(flags)
    assert severities == sorted(severities)


@given(value=_numbers, low=st.none() | _numbers, high=st.none() | _numbers)
def test_interpret_flag_matches_the_definition(
    value: Decimal, low: Decimal | None, high: Decimal | None
) -> None:
    assume(low is None or high is None or low <= high)
    flag = interpret(value, low, high).flag
    if low is None and high is None:
        assert flag is None
    elif low is not None and value < low:
        assert flag is Flag.L
    elif high is not None and value > high:
        assert flag is Flag.H
    else:
        assert flag is Flag.N


def test_abnormal_comes_only_from_the_laboratory() -> None:
    given_a = Interpretation.given("A")
    assert given_a.flag is Flag.A and not given_a.critical and given_a.abnormal
    assert Interpretation.given(Flag.HH).critical
    assert Interpretation.given("H", critical=True).critical
    with pytest.raises(ValueError, match="Interprétation inconnue"):
        Interpretation.given("X")


def test_flag_labels_and_choices() -> None:
    assert Flag.H.label == "Élevé"
    assert Flag.LL.is_critical and not Flag.L.is_critical
    assert ("N", "Normal") in FLAG_CHOICES
    assert {code for code, _ in FLAG_CHOICES} == {"L", "H", "LL", "HH", "N", "A"}


# --- interpret_result -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "low", "high", "expected"),
    [
        ("5,4", "3.5", "5", Flag.H),
        ("< 5", "0", "10", Flag.N),  # CRP "< 5" with 0-10: surely normal
        ("< 5", None, "5", Flag.N),
        ("<= 5", None, "5", Flag.N),
        ("< 5", None, "3", None),  # could be 2 or 4: undecided
        ("< 0,5", "0.5", "5", Flag.L),  # strictly below the low bound
        ("<= 0,5", "0.5", "5", None),  # 0.5 itself would be normal
        ("< 0,4", "0.5", "5", Flag.L),
        ("< 5", "1", "10", None),  # could be 0.5 (L) or 3 (N)
        ("> 1 000", "0", "200", Flag.H),
        (">= 200", "0", "200", None),
        ("> 200", "0", "200", Flag.H),
        ("> 90", "60", None, Flag.N),  # DFG "> 90" with "> 60"
        ("> 50", "60", None, None),
        ("> 5", "0", "10", None),
        ("Positif", "0", "10", None),
    ],
)
def test_interpret_result(
    typed: str, low: str | None, high: str | None, expected: Flag | None
) -> None:
    to_d = lambda text: None if text is None else D(text)  # noqa: E731
    assert interpret_result(parse_result(typed), to_d(low), to_d(high)).flag is expected


def test_interpret_result_critical_censored_values() -> None:
    below = interpret_result(parse_result("< 1"), D("3.5"), D("5"), critical_low=D("2.5"))
    assert below == Interpretation(Flag.LL, True)
    above = interpret_result(parse_result("> 10"), D("3.5"), D("5"), critical_high=D("6.5"))
    assert above == Interpretation(Flag.HH, True)
    with pytest.raises(ValueError, match="borne basse"):
        interpret_result(parse_result("< 1"), D("5"), D("3"))


# --- formatting -------------------------------------------------------------------------------


def test_french_formatting() -> None:
    assert format_number_fr(D("1234.50")) == "1\u202f234,50"
    assert format_number_fr(D("-0")) == "0"
    assert format_number_fr(5.5506) == "5,5506"
    assert format_number_fr(0.1 + 0.2) == "0,3"
    assert format_number_fr(-0.001, 1) == "0,0"
    assert format_number_fr(2.25, 1) == "2,2"  # round-half-even on the binary value
    assert format_number_fr(1234567.0) == "1\u202f234\u202f567"
    assert format_number_fr(1234, grouping=False) == "1234"
    assert format_number_fr(D("12.5"), 2) == "12,50"
    assert format_date_fr(date(2024, 3, 5)) == "05/03/2024"
    assert format_date_fr(datetime(2024, 3, 5, 23, 59)) == "05/03/2024"


def test_when_ordinal_orders_dates_and_datetimes() -> None:
    day = date(2024, 1, 1)
    assert when_ordinal(day) == day.toordinal()
    assert when_ordinal(datetime(2024, 1, 1, 12)) == day.toordinal() + 0.5
    paris = timezone(timedelta(hours=1))
    assert when_ordinal(datetime(2024, 1, 1, 13, tzinfo=paris)) == day.toordinal() + 0.5
    assert when_ordinal(datetime(2024, 1, 1, 12, tzinfo=UTC)) == day.toordinal() + 0.5


# --- build_trend ------------------------------------------------------------------------------


def point(
    day: date,
    value: str,
    unit: str,
    low: str | None = None,
    high: str | None = None,
    href: str = "",
    flag: Flag | None = None,
) -> ObservationPoint:
    return ObservationPoint(
        when=day,
        value=D(value),
        unit=unit,
        low=None if low is None else D(low),
        high=None if high is None else D(high),
        href=href,
        report_id=href or None,
        flag=flag,
    )


def test_empty_trend() -> None:
    trend = build_trend("2345-7", [])
    assert trend.is_empty
    assert trend.series == ()
    assert trend.points == ()
    assert trend.changes == ()
    assert trend.label == "Glucose (glycémie)"
    assert trend.unit is None


def test_trend_converts_to_the_most_recent_unit_and_sorts() -> None:
    points = [
        point(date(2024, 1, 10), "5.5", "mmol/L", "3.9", "5.8", "/r/3"),
        point(date(2022, 1, 10), "1.00", "g/L", "0.70", "1.05", "/r/1"),
        point(date(2023, 1, 10), "100", "mg/dL", "70", "105", "/r/2"),
    ]
    trend = build_trend("2345-7", points)
    assert trend.unit == "mmol/L"
    assert len(trend.series) == 1
    series = trend.series[0]
    assert series.unit_label == "mmol/L"
    assert [p.href for p in series.points] == ["/r/1", "/r/2", "/r/3"]
    first = series.points[0]
    assert math.isclose(first.value, 5.5506, rel_tol=1e-4)
    assert math.isclose(first.high or 0, 5.828, rel_tol=1e-3)
    assert first.original_value == D("1.00") and first.original_unit == "g/L"
    assert first.converted and not series.points[-1].converted
    # g/L -> mg/dL: unit changed, same range once converted (0.70-1.05 g/L = 70-105 mg/dL).
    second = series.points[1]
    assert second.unit_changed and not second.range_changed
    # 3,9-5,8 mmol/L is 70-105 mg/dL rounded in another unit: not a range change.
    third = series.points[2]
    assert third.unit_changed and not third.range_changed
    assert not first.unit_changed and not first.range_changed


def test_trend_preferred_unit() -> None:
    points = [
        point(date(2022, 1, 1), "1.00", "g/L"),
        point(date(2023, 1, 1), "5.0", "mmol/L"),
    ]
    trend = build_trend("2345-7", points, preferred_unit="g/l")
    assert trend.unit == "g/L"
    assert [round(p.value, 3) for p in trend.series[0].points] == [1.0, 0.901]
    with pytest.raises(ValueError, match="Unité inconnue"):
        build_trend("2345-7", points, preferred_unit="bananas")


def test_preferred_unit_that_fits_no_point_falls_back() -> None:
    points = [point(date(2022, 1, 1), "40", "g/L")]
    trend = build_trend("1751-7", points, preferred_unit="mmol/L")
    assert trend.unit == "g/L"


def test_non_convertible_units_make_separate_series() -> None:
    points = [
        point(date(2020, 1, 1), "0.30", "g/L", None, "0.5", "/r/1"),
        point(date(2021, 1, 1), "45", "mg/dL", None, "50", "/r/2"),
        point(date(2022, 1, 1), "120", "nmol/L", None, "75", "/r/3"),
        point(date(2023, 1, 1), "0.62", "g/L", None, "0.5", "/r/4"),
        point(date(2023, 6, 1), "60", "nmol/L", None, "75", "/r/5"),
    ]
    trend = build_trend("10835-7", points)  # Lp(a): mass vs molar never converted
    assert trend.unit == "nmol/L"  # the most recent point's unit
    assert [(s.unit, len(s.points)) for s in trend.series] == [("nmol/L", 2), ("g/L", 3)]
    mass = trend.series[1]
    assert [p.value for p in mass.points] == pytest.approx([0.30, 0.45, 0.62])
    assert [p.unit_changed for p in mass.points] == [False, True, True]
    assert not any(p.range_changed for p in mass.points)  # 0.5 g/L == 50 mg/dL
    assert len(trend.points) == 5
    assert [p.href for p in trend.points] == ["/r/1", "/r/2", "/r/3", "/r/4", "/r/5"]


def test_unknown_units_and_analytes_are_never_mixed() -> None:
    points = [
        point(date(2020, 1, 1), "3", "bananas"),
        point(date(2021, 1, 1), "4", "mg/L"),
        point(date(2022, 1, 1), "500", "ug/L"),
        point(date(2023, 1, 1), "5", "bananas"),
    ]
    trend = build_trend("99999-0", points, label="Analyse maison")
    assert trend.label == "Analyse maison"
    assert [(s.unit, len(s.points)) for s in trend.series] == [("bananas", 2), ("ug/L", 2)]
    assert [p.value for p in trend.series[1].points] == pytest.approx([4000, 500])


def test_range_changes_are_marked_and_kept_per_point() -> None:
    points = [
        point(date(2020, 1, 1), "80", "umol/L", "60", "110"),
        point(date(2021, 1, 1), "85", "umol/L", "60", "110"),
        point(date(2022, 1, 1), "85", "umol/L", "45", "90"),
        point(date(2023, 1, 1), "95", "umol/L", "45", "90"),
        point(date(2024, 1, 1), "95", "umol/L"),
    ]
    trend = build_trend("2160-0", points)
    series = trend.series[0]
    assert [p.range_changed for p in series.points] == [False, False, True, False, True]
    assert [(p.low, p.high) for p in series.points] == [
        (60, 110),
        (60, 110),
        (45, 90),
        (45, 90),
        (None, None),
    ]
    assert [p.flag for p in series.points] == [Flag.N, Flag.N, Flag.N, Flag.H, None]
    changes = trend.changes
    assert [c.when for c in changes] == [date(2022, 1, 1), date(2024, 1, 1)]
    assert changes[0].description == (
        "Le 01/01/2022 : intervalle de référence modifié (60–110 µmol/L → 45–90 µmol/L)."
    )
    assert "aucun" in changes[1].description


def test_range_equivalence_across_units_tolerates_rounding_only() -> None:
    points = [
        point(date(2020, 1, 1), "6.1", "%", None, "6"),
        point(date(2021, 1, 1), "48", "mmol/mol", None, "42"),  # 42 mmol/mol = 5,99 %
        point(date(2022, 1, 1), "50", "mmol/mol", None, "48"),  # a real change
        point(date(2023, 1, 1), "88", "umol/L", "60", "110"),
    ]
    series = build_trend("4548-4", points[:3]).series[0]
    assert [p.range_changed for p in series.points] == [False, False, True]
    creatinine = build_trend(
        "2160-0", [point(date(2022, 1, 1), "9", "mg/L", "6", "12"), points[3]]
    ).series[0]
    assert creatinine.points[1].range_changed  # 60-110 µmol/L is 6,8-12,4 mg/L, not 6-12


def test_unit_change_description() -> None:
    points = [
        point(date(2020, 1, 1), "9", "mg/L", "6", "12"),
        point(date(2021, 1, 1), "80", "umol/L", None, "110"),
    ]
    change = build_trend("2160-0", points).changes[0]
    assert change.unit_changed and change.range_changed
    assert change.description == (
        "Le 01/01/2021 : unité modifiée (mg/L → µmol/L) ; intervalle de référence modifié "
        "(6–12 mg/L → ≤ 110 µmol/L)."
    )


def test_flags_given_with_the_result_win_and_bad_ranges_are_not_judged() -> None:
    points = [
        point(date(2020, 1, 1), "5", "mmol/L", "3", "6", flag=Flag.A),
        point(date(2021, 1, 1), "5", "mmol/L", "6", "3"),  # inverted range as stored
    ]
    series = build_trend("2823-3", points).series[0]
    assert series.points[0].flag is Flag.A and series.points[0].out_of_range
    assert series.points[1].flag is None and not series.points[1].out_of_range


def test_same_day_results_are_ordered_by_time() -> None:
    points = [
        point(datetime(2024, 5, 1, 11, 0), "60", "ng/L", None, "34", "/h3"),
        point(datetime(2024, 5, 1, 8, 0), "20", "ng/L", None, "34", "/h0"),
    ]
    trend = build_trend("89579-7", points)
    assert [p.href for p in trend.points] == ["/h0", "/h3"]
    assert [p.flag for p in trend.points] == [Flag.N, Flag.H]


def test_trend_refuses_non_finite_points() -> None:
    with pytest.raises(ValueError, match="finie"):
        build_trend("2345-7", [point(date(2020, 1, 1), "NaN", "g/L")])
    bad_bound = ObservationPoint(date(2020, 1, 1), D("1"), "g/L", low=D("Infinity"))
    with pytest.raises(ValueError, match="bornes"):
        build_trend("2345-7", [bad_bound])


_units = st.sampled_from(["g/L", "mmol/L", "mg/dL", "bananas", "%"])


@given(
    st.lists(
        st.tuples(
            st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)),
            st.decimals(min_value=0, max_value=100, places=2),
            _units,
        ),
        max_size=12,
    ),
    st.none() | st.sampled_from(["g/L", "mmol/L"]),
)
def test_trend_invariants(raw: list[tuple[date, Decimal, str]], preferred: str | None) -> None:
    points = [ObservationPoint(day, value, unit) for day, value, unit in raw]
    trend = build_trend("2345-7", points, preferred)
    assert len(trend.points) == len(points)
    times = [when_ordinal(p.when) for p in trend.points]
    assert times == sorted(times)
    for series in trend.series:
        assert series.points, "no empty series"
        assert len({p.unit for p in series.points}) == 1
        # Every point of a series is its original value converted, never a different quantity.
        for p in series.points:
            if p.original_unit == series.unit:
                assert p.value == float(p.original_value)
    units = [s.unit for s in trend.series]
    assert len(units) == len(set(units))
