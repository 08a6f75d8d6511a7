"""The French vaccination schedule as data: the calendar computed at many ages, from the
doses received (records/profile_reference.py, reference_data/vaccination_schedule.csv)."""

from __future__ import annotations

import datetime

import pytest

from records.profile_reference import (
    DONE,
    DUE,
    OVERDUE,
    SCHEDULE,
    UPCOMING,
    VACCINES,
    Dose,
    add_months,
    vaccination_calendar,
)

BIRTH = datetime.date(2000, 1, 15)


def _dose(code: str, day: datetime.date) -> Dose:
    vaccine = next(v for v in VACCINES if v.code == code)
    return Dose(day, vaccine.diseases)


def _at(months: int, doses: list[Dose] | None = None) -> dict[str, str]:
    today = add_months(BIRTH, months)
    return {i.rule.key: i.status for i in vaccination_calendar(BIRTH, today, doses or [])}


def _infant_series(until_months: int) -> list[Dose]:
    """Everything of the infant schedule, on time, up to an age."""
    plan = [
        ("hexavalent", 2),
        ("pneumo_conj", 2),
        ("menb", 3),
        ("hexavalent", 4),
        ("pneumo_conj", 4),
        ("menb", 5),
        ("menacwy", 6),
        ("hexavalent", 11),
        ("pneumo_conj", 11),
        ("menb", 12),
        ("menacwy", 12),
        ("ror", 12),
        ("ror", 16),
        ("dtcap", 72),
        ("dtcap_adult", 132),
        ("hpv", 132),
        ("hpv", 138),
    ]
    return [_dose(code, add_months(BIRTH, m)) for code, m in plan if m <= until_months]


def test_a_newborn_has_nothing_due_and_the_first_doses_coming() -> None:
    calendar = _at(0)
    assert set(calendar.values()) == {UPCOMING}
    assert {"dtp_1", "hib_1", "hepb_1", "pneumo_1", "menb_1", "men_1"} <= set(calendar)
    assert "ror_1" in calendar  # at 12 months: within the coming year
    assert "dtp_4" not in calendar  # at 6 years: not yet shown


@pytest.mark.parametrize(
    ("months", "due", "overdue"),
    [
        (2, {"dtp_1", "hib_1", "hepb_1", "pneumo_1"}, set()),
        (3, {"dtp_1", "hib_1", "hepb_1", "pneumo_1", "menb_1"}, set()),
        (
            5,
            {"dtp_2", "hib_2", "hepb_2", "pneumo_2", "menb_2"},
            {"dtp_1", "hib_1", "hepb_1", "pneumo_1", "menb_1"},
        ),
    ],
)
def test_an_infant_without_any_dose(months: int, due: set[str], overdue: set[str]) -> None:
    calendar = _at(months)
    assert {k for k, s in calendar.items() if s == DUE} == due
    assert {k for k, s in calendar.items() if s == OVERDUE} == overdue


@pytest.mark.parametrize("months", [2, 4, 6, 11, 12, 18, 24, 72, 100, 132, 150, 200])
def test_a_child_vaccinated_on_time_is_never_late(months: int) -> None:
    calendar = _at(months, _infant_series(months))
    assert OVERDUE not in calendar.values(), calendar
    assert all(calendar[key] == DONE for key in ("dtp_1", "hib_1") if key in calendar)


def test_infant_rules_end_at_their_age_limit() -> None:
    calendar = _at(30)  # two and a half, nothing received
    assert "pneumo_1" not in calendar and "menb_1" not in calendar  # until 24 months
    assert calendar["hib_1"] == OVERDUE and calendar["ror_2"] == OVERDUE


@pytest.mark.parametrize(
    ("age_years", "last_booster_age", "expected"),
    [
        (24, 11, {"dtp_25": UPCOMING}),
        (25, 11, {"dtp_25": DUE}),
        (27, 11, {"dtp_25": OVERDUE}),
        (27, 24, {"dtp_25": DONE}),  # a booster at 24 counts (from 23 years on)
        (44, 25, {"dtp_45": UPCOMING}),
        (46, 25, {"dtp_45": OVERDUE}),
        (46, 45, {"dtp_45": DONE}),
        (66, 45, {"dtp_65": OVERDUE}),
        (80, 75, {"dtp_75": DONE}),
        (86, 75, {"dtp_85": OVERDUE}),
    ],
)
def test_adult_boosters(age_years: int, last_booster_age: int, expected: dict[str, str]) -> None:
    doses = [*_infant_series(132), _dose("dtp_adult", add_months(BIRTH, 12 * last_booster_age))]
    calendar = _at(12 * age_years, doses)
    for key, status in expected.items():
        assert calendar[key] == status
    # Only the booster of the current decade is shown: an older one missed is superseded.
    boosters = [k for k in calendar if k.startswith("dtp_") and k[4:].isdigit() and len(k) > 5]
    assert len([k for k in boosters if calendar[k] != UPCOMING]) <= 1


def test_from_65_years_influenza_covid_pneumococcus_and_shingles() -> None:
    calendar = _at(12 * 65 + 1)
    for key in ("influenza_65", "covid_65"):
        assert calendar[key] == DUE  # seasonal: due, never "late"
    assert calendar["pneumo_65"] == DUE and calendar["zoster_1"] == DUE
    flu = [_dose("influenza", add_months(BIRTH, 12 * 65))]
    assert _at(12 * 65 + 3, flu)["influenza_65"] == DONE
    assert _at(12 * 66 + 1, flu)["influenza_65"] == DUE  # last year's dose no longer counts


def test_rsv_at_75_once() -> None:
    assert _at(12 * 75 + 2)["rsv_75"] == DUE
    assert _at(12 * 80, [_dose("rsv", add_months(BIRTH, 12 * 75 + 3))])["rsv_75"] == DONE


def test_hpv_catch_up_ends_at_26() -> None:
    assert _at(12 * 16)["hpv_1"] == OVERDUE
    assert "hpv_1" not in _at(12 * 27)


def test_a_vaccine_counts_for_every_disease_it_covers() -> None:
    calendar = _at(3, [_dose("hexavalent", add_months(BIRTH, 2))])
    for key in ("dtp_1", "hib_1", "hepb_1"):
        assert calendar[key] == DONE
    assert calendar["pneumo_1"] == DUE


def test_doses_before_birth_or_in_the_future_do_not_count() -> None:
    doses = [
        _dose("hexavalent", BIRTH - datetime.timedelta(days=1)),
        _dose("hexavalent", add_months(BIRTH, 10)),
    ]
    assert _at(3, doses)["dtp_1"] == DUE  # the dose at 10 months has not happened yet at 3


def test_the_schedule_is_well_formed() -> None:
    keys = [rule.key for rule in SCHEDULE]
    assert len(keys) == len(set(keys))
    covered = {d for v in VACCINES for d in v.diseases}
    assert all(rule.disease in covered for rule in SCHEDULE)
    assert all(rule.label and rule.label_en for rule in SCHEDULE)


def test_alice_of_the_demo_is_late_for_her_adult_booster() -> None:
    birth = datetime.date(1985, 5, 14)
    doses = [_dose("dtcap", add_months(birth, m)) for m in (2, 4, 11, 72, 132)]
    doses += [_dose("ror", add_months(birth, m)) for m in (12, 18)]
    items = vaccination_calendar(birth, datetime.date(2026, 12, 6), doses)
    late = [i.rule.key for i in items if i.status == OVERDUE]
    assert late == ["dtp_25"]
