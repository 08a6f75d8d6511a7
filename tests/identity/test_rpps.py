from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from identity.rpps import luhn_complete, luhn_is_valid, validate_rpps

VALID = luhn_complete("1000100001")


def test_a_luhn_completed_number_is_accepted_with_or_without_spaces() -> None:
    assert len(VALID) == 11
    assert validate_rpps(VALID) == VALID
    assert validate_rpps(f" {VALID[:3]} {VALID[3:7]} {VALID[7:]} ") == VALID


def test_known_valid_rpps() -> None:
    # Worked by hand: the Luhn-weighted digits of 1000345678 add up to 34, so the key is 6.
    assert luhn_is_valid("10003456786")
    assert not luhn_is_valid("10003456782")


@pytest.mark.parametrize(
    ("value", "code", "fragment"),
    [
        ("", "rpps_empty", "Saisissez"),
        ("1000100001", "rpps_length", "vous en avez saisi 10"),
        ("100010000190", "rpps_length", "vous en avez saisi 12"),
        ("1000A000019", "rpps_characters", "que des chiffres"),
        ("１０００１０００１９", "rpps_characters", "que des chiffres"),  # full-width digits
    ],
)
def test_malformed_rpps_get_a_precise_message(value: str, code: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_rpps(value)
    assert caught.value.code == code
    assert fragment in str(caught.value.messages[0])


def test_wrong_luhn_key_is_refused_with_its_own_message() -> None:
    wrong = VALID[:-1] + str((int(VALID[-1]) + 1) % 10)
    with pytest.raises(ValidationError) as caught:
        validate_rpps(wrong)
    assert caught.value.code == "rpps_key"
    assert "clé de Luhn" in str(caught.value.messages[0])


@given(
    st.text(alphabet="0123456789", min_size=10, max_size=10), st.integers(0, 10), st.integers(1, 9)
)
def test_any_single_digit_change_breaks_the_key(prefix: str, position: int, delta: int) -> None:
    number = luhn_complete(prefix)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    assert luhn_is_valid(number)
    assert not luhn_is_valid(changed)
