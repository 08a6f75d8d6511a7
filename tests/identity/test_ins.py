"""INS-C and NIR: worked examples, the 2053 shared test vectors, error cases, properties.

Runs without a database (and without Django settings: see ``_ensure_translations``).
The vectors are read from ``<repo>/../shared/data/insc_test_vectors.csv`` (or
``$DMP_SHARED_DIR/data/insc_test_vectors.csv``), never copied into the repository.
"""

from __future__ import annotations

import csv
import datetime
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path

import django
import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from identity.ins import (
    OID_INSC,
    OID_INSC_DEMO,
    OID_INSC_TEST,
    OID_NIA,
    OID_NIR,
    OID_NIR_DEMO,
    OID_NIR_TEST,
    NirTraits,
    check_nir_against_traits,
    compute_insc,
    nir_key,
    nir_traits,
    normalize_first_names,
    validate_insc,
    validate_nir,
    validate_nir13,
)


def _ensure_translations() -> None:
    """Lazy messages need settings: use the project's if any, else a bare configuration."""
    try:
        use_i18n = settings.USE_I18N
    except (ImproperlyConfigured, ImportError):
        settings.configure(USE_I18N=False)
        return
    if use_i18n and not apps.ready:
        django.setup()


_ensure_translations()

PROPERTY = hypothesis_settings(max_examples=200, deadline=None)

INS_EXAMPLE_NIRS = [
    "2 95 10 99 126 111 93",
    "2 53 07 2B 073 004 70",
    "2 53 07 2A 073 004 43",
    "1 50 08 15 051 040 18",
]


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _vectors_path() -> Path:
    shared = os.environ.get("DMP_SHARED_DIR")
    if shared:
        return Path(shared) / "data" / "insc_test_vectors.csv"
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "insc_test_vectors.csv"


@pytest.fixture(scope="module")
def vectors() -> list[dict[str, str]]:
    path = _vectors_path()
    if not path.is_file():
        pytest.skip(
            f"INS-C test vectors not found at {path} "
            "(set DMP_SHARED_DIR to the directory holding data/insc_test_vectors.csv)"
        )
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert len(rows) == 2053
    return rows


def _reference_key(nir13: str) -> str:
    """Independent NIR key: 2A → 19 and 2B → 18 at positions 6-7, for the key only."""
    digits = nir13[:5] + {"2A": "19", "2B": "18"}.get(nir13[5:7], nir13[5:7]) + nir13[7:]
    return f"{97 - int(digits) % 97:02d}"


def _error(func: Callable[[str], object], value: str) -> tuple[str | None, str]:
    with pytest.raises(ValidationError) as info:
        func(value)
    return info.value.code, info.value.messages[0]


def _with_key(nir13: str) -> str:
    return nir13 + _reference_key(nir13)


# ---------------------------------------------------------------------------------------
# Worked examples
# ---------------------------------------------------------------------------------------


def test_worked_example_philippe() -> None:
    assert normalize_first_names("PHILIPPE") == "PHILIPPE  "
    assert compute_insc("PHILIPPE", "610217", "1610275754289") == "0833910461279517589858"


def test_jean_vector_with_date_object_and_keyed_nir() -> None:
    expected = "1541187387477485562488"
    assert compute_insc("JEAN", datetime.date(1950, 8, 1), "150081505104018") == expected
    assert compute_insc("Jean", datetime.date(1950, 8, 1), "1500815051040") == expected
    assert compute_insc("JEAN", "500801", "1 50 08 15 051 040 18") == expected
    assert compute_insc("JEAN", datetime.datetime(1950, 8, 1, 12, 30), "1500815051040") == (
        expected
    )


def test_insc_shape_and_own_validation() -> None:
    insc = compute_insc("PHILIPPE", "610217", "1610275754289")
    assert len(insc) == 22
    assert insc.isdigit()
    assert validate_insc(insc) == insc
    assert validate_insc("08339 10461 27951 75898 58") == insc


def test_oids() -> None:
    assert OID_NIR == "1.2.250.1.213.1.4.8"
    assert OID_NIA == "1.2.250.1.213.1.4.9"
    assert OID_NIR_TEST == "1.2.250.1.213.1.4.10"
    assert OID_NIR_DEMO == "1.2.250.1.213.1.4.11"
    assert OID_INSC == "1.2.250.1.213.1.4.2"
    assert OID_INSC_TEST == "1.2.250.1.213.1.4.6"
    assert OID_INSC_DEMO == "1.2.250.1.213.1.4.7"


# ---------------------------------------------------------------------------------------
# Shared test vectors
# ---------------------------------------------------------------------------------------


def test_every_vector_reproduces_with_nir13(vectors: list[dict[str, str]]) -> None:
    failures = [
        row
        for row in vectors
        if compute_insc(row["prenom"], row["date_naissance_aammjj"], row["nir13"])
        != row["insc_corps"] + row["insc_cle"]
    ]
    assert failures == []


def test_every_vector_reproduces_with_keyed_nir(vectors: list[dict[str, str]]) -> None:
    failures = [
        row
        for row in vectors
        if compute_insc(row["prenom"], row["date_naissance_aammjj"], row["nir13"] + row["cle_nir"])
        != row["insc_corps"] + row["insc_cle"]
    ]
    assert failures == []


def test_every_vector_nir_is_valid(vectors: list[dict[str, str]]) -> None:
    for row in vectors:
        nir = row["nir13"] + row["cle_nir"]
        assert validate_nir(nir) == nir
        assert validate_nir13(row["nir13"]) == row["nir13"]
        assert nir_key(row["nir13"]) == row["cle_nir"]


def test_every_vector_insc_is_valid(vectors: list[dict[str, str]]) -> None:
    for row in vectors:
        insc = row["insc_corps"] + row["insc_cle"]
        assert validate_insc(insc) == insc


def test_vectors_cover_the_pitfalls(vectors: list[dict[str, str]]) -> None:
    """The file holds Corsican NIRs, lunar dates and bodies starting with 0."""
    assert any(row["nir13"][5:7] in ("2A", "2B") for row in vectors)
    assert any(row["date_naissance_aammjj"][4:] == "00" for row in vectors)
    assert any(row["insc_corps"].startswith("0") for row in vectors)


def test_corsica_letters_stay_in_the_seed(vectors: list[dict[str, str]]) -> None:
    row = next(row for row in vectors if row["nir13"][5:7] == "2B")
    lower = row["nir13"].lower()
    expected = row["insc_corps"] + row["insc_cle"]
    assert compute_insc(row["prenom"], row["date_naissance_aammjj"], lower) == expected
    as_digits = row["nir13"][:5] + "18" + row["nir13"][7:]
    assert compute_insc(row["prenom"], row["date_naissance_aammjj"], as_digits) != expected


def test_lunar_dates_are_kept() -> None:
    assert compute_insc("VALERIE", "160230", "2160291761864") == "1262416990881906429531"
    assert compute_insc("STEPHAN", "761000", "1761072399240") == "0665887915359527989339"


# ---------------------------------------------------------------------------------------
# First names
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Jean-Pierre", "JEANPIERRE"),
        ("JEAN PIERRE", "JEANPIERRE"),
        ("Marie  Odile", "MARIEODILE"),
        ("Marie-Bernadette", "MARIEBERNA"),
        ("Zoé", "ZOE       "),
        ("Hélène", "HELENE    "),
        ("François", "FRANCOIS  "),
        ("Lætitia", "LAETITIA  "),
        ("Chloë", "CHLOE     "),
        ("Œdipe", "OEDIPE    "),
        ("Gaëlle d'Arc", "GAELLEDARC"),
        ("Straße", "STRASSE   "),
        ("Æsa", "AESA      "),
        ("Jean2", "JEAN      "),
        ("", "          "),
        ("  -  ", "          "),
        ("GUY ", "GUY       "),
    ],
)
def test_normalize_first_names(raw: str, normalised: str) -> None:
    assert normalize_first_names(raw) == normalised


# ---------------------------------------------------------------------------------------
# NIR: accepted forms
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("spaced", INS_EXAMPLE_NIRS)
def test_ins_md_nir_examples(spaced: str) -> None:
    compact = spaced.replace(" ", "")
    assert validate_nir(spaced) == compact
    assert validate_nir(compact) == compact
    assert validate_nir(compact.lower()) == compact
    assert validate_nir(f"\u00a0{spaced}\t") == compact
    assert nir_key(compact[:13]) == compact[13:]
    assert validate_nir13(spaced[:-3]) == compact[:13]


@pytest.mark.parametrize(
    "nir13",
    [
        "1502015051040",  # month 20: incomplete civil record
        "1504215051040",  # month 42
        "1505015051040",  # month 50
        "1509915051040",  # month 99
        "7500815051040",  # provisional number, man
        "8500815051040",  # provisional number, woman
        "3500815051040",  # rare
        "4500815051040",  # rare
        "1500897105140",  # overseas department
    ],
)
def test_nir_accepted_special_cases(nir13: str) -> None:
    nir = _with_key(nir13)
    assert validate_nir(nir) == nir


# ---------------------------------------------------------------------------------------
# NIR: errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code", "fragments"),
    [
        ("", "nir_empty", ["Saisissez le NIR"]),
        ("   ", "nir_empty", ["Saisissez le NIR"]),
        ("12345", "nir_length", ["15 caractères", "5 caractère(s) reçu(s)", "clé"]),
        ("1 50 08 15 051 040 1", "nir_length", ["14 caractère(s) reçu(s)"]),
        ("1500815051040", "nir_length", ["13 caractère(s) reçu(s)", "2 chiffres"]),
        ("1500815051040180", "nir_length", ["16 caractère(s) reçu(s)"]),
        ("150081505X04018", "nir_character", ["« X »", "position 10", "2A ou 2B"]),
        ("253072C07300470", "nir_character", ["« C »", "position 7", "positions 6 et 7"]),
        ("2530721A7300470", "nir_character", ["« A »", "position 8"]),
        ("25307A207300470", "nir_character", ["« A »", "position 6"]),
        ("253073A07300470", "nir_character", ["« A »", "position 7"]),
        ("A50081505104018", "nir_character", ["position 1"]),
        ("1500815051040A8", "nir_character", ["position 14"]),
        ("15008150510401é", "nir_character", ["« é »", "position 15"]),
        ("050081505104018", "nir_sex", ["vaut 0", "1 (homme)", "2 (femme)", "7 ou 8"]),
        ("550081505104018", "nir_sex", ["vaut 5"]),
        ("650081505104018", "nir_sex", ["vaut 6"]),
        ("950081505104018", "nir_sex", ["vaut 9"]),
        ("150001505104018", "nir_month", ["vaut 00", "01 à 12", "20 à 42", "50 à 99"]),
        ("150131505104018", "nir_month", ["vaut 13"]),
        ("150191505104018", "nir_month", ["vaut 19"]),
        ("150431505104018", "nir_month", ["vaut 43"]),
        ("150491505104018", "nir_month", ["vaut 49"]),
        ("150081505104019", "nir_key", ["ne correspond pas au numéro", "quinze caractères"]),
        ("253072A07300470", "nir_key", ["ne correspond pas"]),  # 2B's key on a 2A NIR
    ],
)
def test_validate_nir_errors(value: str, code: str, fragments: list[str]) -> None:
    error_code, message = _error(validate_nir, value)
    assert error_code == code
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("nir", INS_EXAMPLE_NIRS)
def test_wrong_key_message_never_reveals_the_key(nir: str) -> None:
    compact = nir.replace(" ", "")
    for wrong in range(100):
        if f"{wrong:02d}" == compact[13:]:
            continue
        code, message = _error(validate_nir, f"{compact[:13]}{wrong:02d}")
        assert code == "nir_key"
        assert compact[13:] not in message
        assert not any(char.isdigit() for char in message)


def test_validate_nir13_errors() -> None:
    assert _error(validate_nir13, "150081505104018")[0] == "nir_length"
    assert "13 caractères" in _error(validate_nir13, "150081505104018")[1]
    assert _error(validate_nir13, "")[0] == "nir_empty"
    assert _error(validate_nir13, "5500815051040")[0] == "nir_sex"
    assert _error(validate_nir13, "1501315051040")[0] == "nir_month"
    assert _error(validate_nir13, "15008150510X0")[0] == "nir_character"
    assert _error(nir_key, "15008150510")[0] == "nir_length"


def test_non_string_nir_is_a_validation_error() -> None:
    assert _error(validate_nir, 150081505104018)[0] == "nir_type"  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# compute_insc: bad inputs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_names", "birth_date", "nir", "code"),
    [
        ("JEAN", "5008", "1500815051040", "birth_date_format"),
        ("JEAN", "50-08-01", "1500815051040", "birth_date_format"),
        ("JEAN", "5008O1", "1500815051040", "birth_date_format"),
        ("JEAN", "５００８０１", "1500815051040", "birth_date_format"),
        ("JEAN", None, "1500815051040", "birth_date_type"),
        ("JEAN", 500801, "1500815051040", "birth_date_type"),
        ("JEAN", "500801", "150081505104", "nir_length"),
        ("JEAN", "500801", "", "nir_empty"),
        ("JEAN", "500801", "150081505104019", "nir_key"),
        ("JEAN", "500801", "5500815051040", "nir_sex"),
        ("JEAN", "500801", "1501315051040", "nir_month"),
        ("JEAN", "500801", "15008150510४0", "nir_character"),
        ("JEAN", "500801", 1500815051040, "nir_type"),
        (None, "500801", "1500815051040", "first_names_type"),
        (["JEAN"], "500801", "1500815051040", "first_names_type"),
    ],
)
def test_compute_insc_rejects_bad_inputs(
    first_names: object, birth_date: object, nir: object, code: str
) -> None:
    with pytest.raises(ValidationError) as info:
        compute_insc(first_names, birth_date, nir)  # type: ignore[arg-type]
    assert info.value.code == code
    assert info.value.messages[0]


def test_compute_insc_nir_length_message_mentions_both_forms() -> None:
    with pytest.raises(ValidationError) as info:
        compute_insc("JEAN", "500801", "15008150510")
    assert "15 caractères avec sa clé, ou 13 sans la clé" in info.value.messages[0]
    assert "11 caractère(s) reçu(s)" in info.value.messages[0]


# ---------------------------------------------------------------------------------------
# validate_insc
# ---------------------------------------------------------------------------------------


def _insc_of_body(body: int) -> str:
    return f"{body:020d}{97 - body % 97:02d}"


@pytest.mark.parametrize(
    ("value", "code", "fragment"),
    [
        ("", "insc_empty", "22 chiffres"),
        ("0833910461279517589858X", "insc_character", "position 23"),
        ("08339104612795175898-58", "insc_character", "« - »"),
        ("083391046127951758985", "insc_length", "21 chiffre(s) reçu(s)"),
        (_insc_of_body(2**64), "insc_range", "18446744073709551615"),
        (_insc_of_body(10**20 - 1), "insc_range", "dépassent"),
        ("0833910461279517589857", "insc_key", "ne correspond pas"),
        ("0833910461279517589800", "insc_key", "vingt-deux chiffres"),
    ],
)
def test_validate_insc_errors(value: str, code: str, fragment: str) -> None:
    error_code, message = _error(validate_insc, value)
    assert error_code == code
    assert fragment in message


def test_validate_insc_limits() -> None:
    assert validate_insc(_insc_of_body(2**64 - 1)) == _insc_of_body(2**64 - 1)
    assert validate_insc(_insc_of_body(0)) == "0000000000000000000097"
    wrong = _error(validate_insc, "0833910461279517589857")[1]
    assert "58" not in wrong


# ---------------------------------------------------------------------------------------
# Traits
# ---------------------------------------------------------------------------------------


def test_nir_traits() -> None:
    traits = nir_traits("1 50 08 15 051 040 18")
    assert traits == NirTraits(
        sex_digit="1",
        year="50",
        month=8,
        department="15",
        commune="051",
        order="040",
        provisional=False,
        month_unknown=False,
    )
    assert traits.sex == "M"
    assert traits.place_code == "15051"
    assert not traits.born_abroad
    abroad = nir_traits("295109912611193")
    assert (abroad.sex, abroad.department, abroad.commune, abroad.born_abroad) == (
        "F",
        "99",
        "126",
        True,
    )
    assert nir_traits("253072A073004").department == "2A"
    overseas = nir_traits(_with_key("8503097105140"))
    assert (overseas.department, overseas.commune, overseas.place_code) == ("971", "05", "97105")
    assert overseas.provisional
    assert overseas.month_unknown
    assert overseas.month == 30
    assert overseas.sex == "F"
    with pytest.raises(ValidationError):
        nir_traits("150081505104019")


def test_check_nir_against_traits_coherent() -> None:
    nir = "150081505104018"
    assert check_nir_against_traits(nir, sex="M", birth_date=datetime.date(1950, 8, 1)) == []
    assert check_nir_against_traits(nir, sex="U", birth_date=datetime.date(1950, 8, 31)) == []
    # A 2050 birth date has the same two-digit year: the century is not in the NIR.
    assert check_nir_against_traits(nir, sex="M", birth_date=datetime.date(2050, 8, 1)) == []


def test_check_nir_against_traits_sex_only_warns() -> None:
    warnings = check_nir_against_traits(
        "150081505104018", sex="F", birth_date=datetime.date(1950, 8, 1)
    )
    assert len(warnings) == 1
    assert isinstance(warnings[0], str)
    assert "masculin" in warnings[0]
    assert "féminin" in warnings[0]
    provisional_woman = _with_key("8500815051040")
    assert check_nir_against_traits(
        provisional_woman, sex="M", birth_date=datetime.date(1950, 8, 1)
    )
    assert not check_nir_against_traits(
        provisional_woman, sex="F", birth_date=datetime.date(1950, 8, 1)
    )


@pytest.mark.parametrize(
    ("birth_date", "fragments"),
    [
        (datetime.date(1951, 8, 1), ["l'année de naissance 50", "donne 51"]),
        (datetime.date(1950, 9, 1), ["le mois de naissance 08", "donne 09"]),
        (datetime.date(1951, 9, 1), ["l'année 50 et le mois 08", "l'année 51 et le mois 09"]),
    ],
)
def test_check_nir_against_traits_blocks_date_mismatch(
    birth_date: datetime.date, fragments: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        check_nir_against_traits("150081505104018", sex="M", birth_date=birth_date)
    assert info.value.code == "nir_incoherent"
    for fragment in fragments:
        assert fragment in info.value.messages[0]


def test_check_nir_against_traits_unknown_month_is_not_compared() -> None:
    nir = _with_key("1503515051040")
    assert check_nir_against_traits(nir, sex="M", birth_date=datetime.date(1950, 2, 1)) == []
    with pytest.raises(ValidationError):
        check_nir_against_traits(nir, sex="M", birth_date=datetime.date(1949, 2, 1))


def test_check_nir_against_traits_rejects_unknown_sex_code() -> None:
    with pytest.raises(ValueError, match="sex"):
        check_nir_against_traits("150081505104018", sex="X", birth_date=datetime.date(1950, 8, 1))


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

_VALID_MONTHS = [f"{m:02d}" for m in (*range(1, 13), *range(20, 43), *range(50, 100))]
_digits = st.integers(min_value=0, max_value=999)


@st.composite
def nir13s(draw: st.DrawFn) -> str:
    """Valid 13-character NIRs: every place-of-birth form, every accepted month."""
    sex = draw(st.sampled_from("1278"))
    year = f"{draw(st.integers(0, 99)):02d}"
    month = draw(st.sampled_from(_VALID_MONTHS))
    place = draw(
        st.one_of(
            st.builds(lambda d, c: f"{d:02d}{c:03d}", st.integers(1, 95), _digits),
            st.builds(lambda d, c: f"{d}{c:03d}", st.sampled_from(["2A", "2B"]), _digits),
            st.builds(lambda d, c: f"{d}{c:02d}", st.integers(971, 976), st.integers(0, 99)),
            st.builds(lambda c: f"99{c:03d}", st.integers(100, 999)),
        )
    )
    order = f"{draw(st.integers(1, 999)):03d}"
    return sex + year + month + place + order


@st.composite
def spaced(draw: st.DrawFn, value: str) -> str:
    """``value`` with arbitrary runs of spaces inserted anywhere (or none)."""
    gaps = draw(
        st.lists(
            st.sampled_from(["", "", " ", "  "]), min_size=len(value) + 1, max_size=len(value) + 1
        )
    )
    return "".join(gap + char for gap, char in zip(gaps, value, strict=False)) + gaps[-1]


@PROPERTY
@given(data=st.data(), nir13=nir13s())
def test_property_valid_nir_accepted_with_or_without_spaces(
    data: st.DataObject, nir13: str
) -> None:
    nir = _with_key(nir13)
    assert validate_nir(nir) == nir
    assert validate_nir(data.draw(spaced(nir))) == nir
    assert validate_nir13(data.draw(spaced(nir13))) == nir13
    assert nir_key(nir13) == nir[13:]


@PROPERTY
@given(data=st.data(), nir13=nir13s())
def test_property_single_digit_change_of_nir_rejected(data: st.DataObject, nir13: str) -> None:
    nir = _with_key(nir13)
    position = data.draw(st.sampled_from([i for i, c in enumerate(nir) if c.isdigit()]))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != nir[position]]))
    changed = nir[:position] + digit + nir[position + 1 :]
    with pytest.raises(ValidationError):
        validate_nir(changed)


@PROPERTY
@given(value=st.text(max_size=40))
def test_property_normalize_first_names_idempotent(value: str) -> None:
    normalised = normalize_first_names(value)
    assert len(normalised) == 10
    assert normalize_first_names(normalised) == normalised
    letters = normalised.rstrip(" ")
    assert all("A" <= char <= "Z" for char in letters)


_ACCENTED = {
    "A": "ÀÁÂÃÄÅàáâãäå",
    "C": "Çç",
    "E": "ÈÉÊËèéêë",
    "I": "ÌÍÎÏìíîï",
    "N": "Ññ",
    "O": "ÒÓÔÕÖòóôõö",
    "U": "ÙÚÛÜùúûü",
    "Y": "Ýýÿ",
}


@st.composite
def name_variants(draw: st.DrawFn) -> tuple[str, str]:
    """A plain upper-case name and the same name typed differently (accents, case, marks)."""
    words = draw(
        st.lists(
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8),
            min_size=1,
            max_size=3,
        )
    )
    plain = " ".join(words)
    typed: list[str] = []
    for char in plain:
        if char == " ":
            typed.append(draw(st.sampled_from([" ", "-", "'", "  ", " - ", "’", ""])))
            continue
        variants = [char, char.lower(), *_ACCENTED.get(char, "")]
        typed.append(draw(st.sampled_from(variants)))
        if draw(st.booleans()) and draw(st.booleans()):
            typed.append(draw(st.sampled_from(["-", "'", " ", "."])))
    typed_name = "".join(typed)
    # Ligatures: "AE" / "OE" may be typed Æ / Œ.
    typed_name = typed_name.replace("AE", draw(st.sampled_from(["AE", "Æ", "æ"])))
    typed_name = typed_name.replace("OE", draw(st.sampled_from(["OE", "Œ", "œ"])))
    return plain, typed_name


@PROPERTY
@given(names=name_variants(), nir13=nir13s(), date6=st.from_regex(r"\A[0-9]{6}\Z"))
def test_property_typing_variations_never_change_insc(
    names: tuple[str, str], nir13: str, date6: str
) -> None:
    plain, typed = names
    assert compute_insc(typed, date6, nir13) == compute_insc(plain, date6, nir13)
    nfd = unicodedata.normalize("NFD", typed)
    assert compute_insc(nfd, date6, _with_key(nir13)) == compute_insc(plain, date6, nir13)


@PROPERTY
@given(
    name=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ -", max_size=15),
    nir13=nir13s(),
    date6=st.from_regex(r"\A[0-9]{6}\Z"),
)
def test_property_insc_is_valid_and_single_digit_change_rejected(
    name: str, nir13: str, date6: str
) -> None:
    insc = compute_insc(name, date6, nir13)
    assert validate_insc(insc) == insc
    for position in range(22):
        for digit in "0123456789":
            if digit == insc[position]:
                continue
            with pytest.raises(ValidationError):
                validate_insc(insc[:position] + digit + insc[position + 1 :])


@PROPERTY
@given(
    value=st.text(alphabet="0123456789ABab2 ", min_size=10, max_size=16),
    date6=st.from_regex(r"\A[0-9]{6}\Z"),
)
def test_property_fast_path_agrees_with_validators(value: str, date6: str) -> None:
    """compute_insc's inline NIR check accepts exactly what the validators accept."""
    compact = "".join(value.split())
    try:
        nir13 = validate_nir(compact)[:13] if len(compact) == 15 else validate_nir13(compact)
    except ValidationError:
        with pytest.raises(ValidationError):
            compute_insc("JEAN", date6, value)
        return
    assert compute_insc("JEAN", date6, value) == compute_insc("JEAN", date6, nir13)
    assert compute_insc("JEAN", date6, value) == compute_insc("JEAN", date6, nir13.lower())
