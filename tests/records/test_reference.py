"""Reference data: LOINC codes are real-looking (mod-10), units normalise, conversions hold."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from records import reference
from records.reference import (
    ANALYTE_GROUPS,
    ANALYTES,
    CONVERSIONS,
    DOCUMENT_CATEGORIES,
    DOCUMENT_TYPES,
    UNITS,
    NotConvertible,
    UnknownCode,
    analyte,
    can_convert,
    convert,
    convertible_units,
    document_type,
    loinc_check_digit,
    loinc_check_digit_ok,
    normalize_unit,
    unit_label,
)

# --- LOINC check digit -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["718-7", "2345-7", "2160-0", "4548-4", "34874-8", "11502-2", "98979-8", "101881-1", "1-8"],
)
def test_known_loinc_codes_pass_the_check_digit(code: str) -> None:
    assert loinc_check_digit_ok(code)


@pytest.mark.parametrize(
    "code",
    [
        "718-6",  # wrong check digit
        "2345-1",
        "34874-9",
        "7187",  # no dash
        "718-77",
        "0718-7",  # LOINC numbers have no leading zero
        "-7",
        "abc-1",
        "718 -7",
        "١٢-3",  # non-ASCII digits
        "",
        "12345678-1",  # too long
    ],
)
def test_malformed_or_wrong_loinc_codes_fail(code: str) -> None:
    assert not loinc_check_digit_ok(code)


def test_loinc_check_digit_follows_the_published_example() -> None:
    # LOINC's own worked example: 12345 -> check digit 5.
    assert loinc_check_digit("12345") == 5
    assert loinc_check_digit("718") == 7
    with pytest.raises(ValueError, match="LOINC"):
        loinc_check_digit("12a")


def test_loinc_check_digit_ok_rejects_non_strings() -> None:
    assert not loinc_check_digit_ok(7187)  # type: ignore[arg-type]


@given(st.integers(min_value=1, max_value=9_999_999))
def test_every_number_has_exactly_one_valid_check_digit(number: int) -> None:
    valid = [d for d in range(10) if loinc_check_digit_ok(f"{number}-{d}")]
    assert valid == [loinc_check_digit(str(number))]


# --- Document types ---------------------------------------------------------------------------


def test_document_type_codes_are_valid_and_unique() -> None:
    codes = [doc.code for doc in DOCUMENT_TYPES]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert loinc_check_digit_ok(code), code


def test_document_types_cover_the_dmp_essentials() -> None:
    expected = {
        "34874-8": "CR opératoire",
        "11502-2": "CR d'examens biologiques",
        "18748-4": "CR d'imagerie médicale",
        "60568-3": "CR d'anatomie et de cytologie pathologiques",
        "11490-0": "Lettre de liaison à la sortie d'un établissement de soins",
        "60591-5": "Synthèse médicale",
        "11488-4": "CR ou fiche de consultation ou de visite",
        "34112-3": "CR hospitalier (séjour)",
        "15507-7": "CR de passage aux urgences",
        "77436-4": "CR d'anesthésie",
        "11369-6": "Historique des vaccinations",
        "57833-6": "Prescription de produits de santé",
        "60593-1": "Dispensation médicamenteuse",
        "68599-0": "Synthèse psychiatrique",
        "89601-9": "Certificat médical",
        "47420-5": "CR de bilan fonctionnel",
    }
    for code, label in expected.items():
        assert document_type(code).label == label


def test_document_categories_are_known_and_all_used() -> None:
    keys = [c.key for c in DOCUMENT_CATEGORIES]
    assert len(keys) == len(set(keys))
    used = {doc.category for doc in DOCUMENT_TYPES}
    assert used == set(keys)
    assert all(c.label for c in DOCUMENT_CATEGORIES)


def test_document_type_lookup() -> None:
    assert document_type(" 11502-2 ").category == "biologie"
    assert document_type("34874-8").category == "chirurgie"
    with pytest.raises(UnknownCode, match="Type de document inconnu"):
        document_type("99999-9")
    with pytest.raises(UnknownCode):
        document_type(None)  # type: ignore[arg-type]
    choices = reference.document_type_choices()
    assert choices[0] == ("11502-2", "CR d'examens biologiques")
    assert len(choices) == len(DOCUMENT_TYPES)


# --- Analytes ---------------------------------------------------------------------------------


def _all_analyte_codes() -> list[str]:
    return [code for item in ANALYTES for code in item.codes]


def test_at_least_seventy_analytes() -> None:
    assert len(ANALYTES) >= 70


def test_every_analyte_code_is_valid_loinc_and_unique() -> None:
    codes = _all_analyte_codes()
    assert len(codes) == len(set(codes)), "a LOINC code appears twice"
    bad = [code for code in codes if not loinc_check_digit_ok(code)]
    assert bad == []


def test_analyte_and_document_codes_do_not_overlap() -> None:
    assert not set(_all_analyte_codes()) & {doc.code for doc in DOCUMENT_TYPES}


def test_analyte_tables_are_consistent() -> None:
    groups = {g.key for g in ANALYTE_GROUPS}
    unit_codes = {u.code for u in UNITS}
    for item in ANALYTES:
        assert item.label and item.short_label, item.code
        assert item.group in groups, item.code
        assert item.units[0] == item.default_unit, item.code
        assert len(item.units) == len(set(item.units)), item.code
        assert set(item.units) <= unit_codes, item.code
        assert item.molar_mass is None or item.molar_mass > 0
    assert {item.group for item in ANALYTES} == groups


@pytest.mark.parametrize(
    ("code", "short"),
    [
        # NFS
        ("718-7", "Hb"),
        ("4544-3", "Ht"),
        ("789-8", "GR"),
        ("6690-2", "GB"),
        ("777-3", "Plaq"),
        ("787-2", "VGM"),
        ("785-6", "TCMH"),
        ("786-4", "CCMH"),
        ("751-8", "PNN"),
        ("711-2", "PNE"),
        ("704-7", "PNB"),
        ("731-0", "Lympho"),
        ("742-7", "Mono"),
        # Ionogramme
        ("2951-2", "Na"),
        ("2823-3", "K"),
        ("2075-0", "Cl"),
        ("1963-8", "HCO3"),
        ("17861-6", "Ca"),
        ("2777-1", "P"),
        ("19123-9", "Mg"),
        # Rein, glycémie, lipides
        ("2160-0", "Créat"),
        ("62238-1", "DFG CKD-EPI"),
        ("98979-8", "DFG CKD-EPI 2021"),
        ("3091-6", "Urée"),
        ("2345-7", "Glycémie"),
        ("1558-6", "Glycémie à jeun"),
        ("4548-4", "HbA1c"),
        ("2093-3", "CT"),
        ("2085-9", "HDL-c"),
        ("13457-7", "LDL-c calc."),
        ("2089-1", "LDL-c"),
        ("2571-8", "TG"),
        # Foie, thyroïde, inflammation, coagulation, fer, vitamines
        ("1920-8", "ASAT"),
        ("1742-6", "ALAT"),
        ("2324-2", "GGT"),
        ("6768-6", "PAL"),
        ("1975-2", "Bili. totale"),
        ("1751-7", "Alb"),
        ("2885-2", "Prot"),
        ("3016-3", "TSH"),
        ("3024-7", "T4L"),
        ("1988-5", "CRP"),
        ("4537-7", "VS"),
        ("6301-6", "INR"),
        ("5894-1", "TP"),
        ("14979-9", "TCA"),
        ("3255-7", "Fib"),
        ("2276-4", "Ferritine"),
        ("2498-4", "Fer"),
        ("3034-6", "Trf"),
        ("2502-3", "CST"),
        ("62292-8", "25-OH vit. D"),
        ("2132-9", "Vit. B12"),
        ("2284-8", "Folates"),
        # Marqueurs, cœur, urines, divers
        ("2857-1", "PSA total"),
        ("89579-7", "TnI us"),
        ("33762-6", "NT-proBNP"),
        ("2157-6", "CK"),
        ("2532-0", "LDH"),
        ("3084-1", "Ac. urique"),
        ("3040-3", "Lipase"),
        ("14959-1", "RAC"),
        ("2889-4", "Protéinurie 24 h"),
    ],
)
def test_required_analytes_are_present(code: str, short: str) -> None:
    assert analyte(code).short_label == short


def test_alternative_codes_resolve_to_the_same_analyte() -> None:
    assert analyte("14749-6") is analyte("2345-7")  # glucose, molar
    assert analyte("2000-8") is analyte("17861-6")  # calcium, molar
    assert analyte("34714-6") is analyte("6301-6")  # INR in blood
    assert analyte("59261-8") is analyte("4548-4")  # HbA1c IFCC
    assert analyte("14682-9").default_unit == "umol/L"


def test_unknown_analyte() -> None:
    assert reference.find_analyte("0000-0") is None
    assert reference.find_analyte(None) is None  # type: ignore[arg-type]
    with pytest.raises(UnknownCode, match="Analyse inconnue"):
        analyte("1234-5")
    assert str(UnknownCode("message")) == "message"


def test_analytes_in_group() -> None:
    nfs = reference.analytes_in_group("hematologie")
    assert {"718-7", "6690-2", "777-3"} <= {a.code for a in nfs}
    assert reference.analytes_in_group("nope") == ()


# --- Units ------------------------------------------------------------------------------------


def test_unit_table_is_consistent() -> None:
    codes = [u.code for u in UNITS]
    assert len(codes) == len(set(codes))
    labels = [u.label for u in UNITS]
    assert len(labels) == len(set(labels)), "two units share a display label"
    for u in UNITS:
        assert u.factor > 0
        assert normalize_unit(u.code) == u.code
        assert normalize_unit(u.label) == u.code
        for alias in u.aliases:
            assert normalize_unit(alias) == u.code, alias


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("µmol/l", "umol/L"),
        ("μmol/L", "umol/L"),  # Greek mu
        ("umol/L", "umol/L"),
        (" mmol/l ", "mmol/L"),
        ("MMOL/L", "mmol/L"),
        ("G/L", "10*9/L"),
        ("G/l", "10*9/L"),
        ("10^9/L", "10*9/L"),
        ("10⁹/L", "10*9/L"),
        ("x10*9/L", "10*9/L"),
        ("g/L", "g/L"),
        ("g/l", "g/L"),
        ("T/L", "10*12/L"),
        ("10¹²/L", "10*12/L"),
        ("/mm³", "/mm3"),
        ("UI/L", "U/L"),
        ("ui/l", "U/L"),
        ("IU/L", "U/L"),
        ("mUI/L", "m[IU]/L"),
        ("mU/L", "m[IU]/L"),
        ("µUI/mL", "u[IU]/mL"),
        ("UI/mL", "[IU]/mL"),
        ("ml/min/1,73 m²", "mL/min/{1.73_m2}"),
        ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
        ("%", "%"),
        ("fl", "fL"),
        ("INR", "{INR}"),
        ("g/24h", "g/(24.h)"),
        ("mg/24 h", "mg/(24.h)"),
        ("mm/h", "mm/h"),
        ("secondes", "s"),
        ("µg/L", "ug/L"),
        ("mcg/L", "ug/L"),
        ("mg/mmol", "mg/mmol"),
    ],
)
def test_normalize_unit(typed: str, code: str) -> None:
    assert normalize_unit(typed) == code


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Unité manquante"),
        ("   ", "Unité manquante"),
        ("furlongs", "Unité inconnue"),
        ("mEq/L", "Unité inconnue"),  # mEq/L != mmol/L for calcium or magnesium
        ("mL/min", "Unité inconnue"),  # a clearance not normalised to 1,73 m²
        ("x" * 41, "trop longue"),
        ("mmol/L" * 10, "trop longue"),
    ],
)
def test_normalize_unit_errors(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_unit(typed)


def test_normalize_unit_refuses_non_text() -> None:
    with pytest.raises(ValueError, match="texte"):
        normalize_unit(None)  # type: ignore[arg-type]


def test_unit_labels_are_french() -> None:
    assert unit_label("10*9/L") == "G/L"
    assert unit_label("umol/L") == "µmol/L"
    assert unit_label("U/L") == "UI/L"
    assert unit_label("m[IU]/L") == "mUI/L"
    assert unit_label("mL/min/{1.73_m2}") == "mL/min/1,73 m²"
    assert unit_label("µmol/l") == "µmol/L"  # any accepted spelling
    assert unit_label("bananas/L") == "bananas/L"  # unknown: shown as given
    assert reference.unit("G/L").kind == "number_conc"
    with pytest.raises(UnknownCode):
        reference.unit("bananas")


# --- Conversions ------------------------------------------------------------------------------


def close(a: float, b: float, tolerance: float = 1e-3) -> bool:
    return math.isclose(a, b, rel_tol=tolerance)


def test_glucose_conversions() -> None:
    assert close(convert("2345-7", 1, "g/L", "mmol/L"), 5.5506)
    assert close(convert("2345-7", Decimal("5.5"), "mmol/L", "g/L"), 0.99088)
    assert close(convert("2345-7", 100, "mg/dL", "mmol/L"), 5.5506)
    assert close(convert("14749-6", 1, "g/L", "mmol/L"), 5.5506)  # alternative code


def test_creatinine_conversions() -> None:
    assert close(convert("2160-0", 88.4, "umol/L", "mg/L"), 10.0)
    assert close(convert("2160-0", 1, "mg/dL", "umol/L"), 88.40)
    assert close(convert("2160-0", 10, "mg/L", "mg/dL"), 1.0)


def test_lipid_conversions() -> None:
    assert close(convert("2093-3", 2, "g/L", "mmol/L"), 5.1726)  # 386.65 g/mol
    assert close(convert("2085-9", 1, "mmol/L", "mg/dL"), 38.665)
    # Triglycerides: triolein convention, 885.7 g/mol.
    assert close(convert("2571-8", 1, "g/L", "mmol/L"), 1.12905)
    assert close(convert("2571-8", 1, "mmol/L", "mg/dL"), 88.57)


def test_other_molar_conversions() -> None:
    assert close(convert("3091-6", 6, "mmol/L", "g/L"), 0.36036)  # urea 60.06
    assert close(convert("3094-0", 14, "mg/dL", "mmol/L"), 4.9975)  # BUN: 2 N per urea
    assert close(convert("17861-6", Decimal("2.5"), "mmol/L", "mg/L"), 100.2)  # calcium
    assert close(convert("1975-2", 17.1, "umol/L", "mg/dL"), 1.0, 1e-2)  # bilirubin
    assert close(convert("62292-8", 30, "ng/mL", "nmol/L"), 74.88)  # vitamin D
    assert close(convert("3024-7", 1, "ng/dL", "pmol/L"), 12.872)  # free T4


def test_hba1c_is_affine_not_a_factor() -> None:
    assert close(convert("4548-4", 7, "%", "mmol/mol"), 53.0, 1e-2)
    assert close(convert("4548-4", 6.5, "%", "mmol/mol"), 47.5, 1e-2)
    assert close(convert("4548-4", 48, "mmol/mol", "%"), 6.54, 1e-2)
    assert close(convert("59261-8", 53, "mmol/mol", "%"), 7.0, 1e-2)
    formulas = [c.formula for c in CONVERSIONS["4548-4"]]
    assert "mmol/mol = (% − 2,15) × 10,929" in formulas
    assert all(c.factor is None for c in CONVERSIONS["4548-4"])


def test_generic_conversions_within_one_kind() -> None:
    assert convert("1751-7", 40, "g/L", "mg/L") == pytest.approx(40000)
    assert convert("1751-7", 4, "g/dL", "g/L") == pytest.approx(40)
    assert convert("6690-2", 7500, "/mm3", "10*9/L") == pytest.approx(7.5)
    assert convert("6690-2", 7.5, "10*3/uL", "G/L") == pytest.approx(7.5)
    assert convert("1920-8", 1, "ukat/L", "U/L") == pytest.approx(60)
    assert convert("3016-3", 2.1, "u[IU]/mL", "m[IU]/L") == pytest.approx(2.1)
    assert convert("99999-0", 5, "mg/L", "mg/dL") == pytest.approx(0.5)  # unknown analyte
    assert convert("2345-7", 5, "mmol/L", "mmol/L") == 5  # same unit
    assert convert("2345-7", 5, "mmol/l", "µmol/L") == pytest.approx(5000)  # typed spellings


def test_urinary_ratio_uses_creatinine_molar_mass() -> None:
    assert close(convert("14959-1", 3, "mg/mmol", "mg/g"), 26.52)
    assert close(convert("2890-2", 0.5, "g/g", "mg/mmol"), 56.56)


@pytest.mark.parametrize(
    ("code", "source", "target"),
    [
        ("10835-7", "nmol/L", "mg/dL"),  # Lp(a): depends on the isoform
        ("2951-2", "mmol/L", "g/L"),  # sodium: no molar mass kept, not a usage
        ("1751-7", "g/L", "%"),  # different kinds
        ("718-7", "%", "mmol/mol"),  # the HbA1c formula is for HbA1c only
        ("99999-0", "mmol/L", "g/L"),  # unknown analyte: no molar mass
        ("2345-7", "mmol/L", "bananas"),  # unknown unit
        ("2157-6", "U/L", "m[IU]/L"),
    ],
)
def test_not_convertible(code: str, source: str, target: str) -> None:
    with pytest.raises(NotConvertible):
        convert(code, 1, source, target)
    assert not can_convert(code, source, target)


def test_not_convertible_is_a_value_error_with_a_french_message() -> None:
    with pytest.raises(ValueError, match="Conversion"):
        convert("10835-7", 1, "nmol/L", "g/L")
    with pytest.raises(ValueError, match="non finie"):
        convert("2345-7", float("nan"), "g/L", "mmol/L")


def test_convertible_units() -> None:
    assert set(convertible_units("2345-7", "g/L")) == {"mmol/L", "mg/dL"}
    assert convertible_units("10835-7", "nmol/L") == ()
    assert set(convertible_units("10835-7", "g/L")) == {"mg/L", "mg/dL"}


def test_every_listed_conversion_is_consistent() -> None:
    for item in ANALYTES:
        pairs = {(c.from_unit, c.to_unit) for c in CONVERSIONS[item.code]}
        for conversion in CONVERSIONS[item.code]:
            assert (conversion.to_unit, conversion.from_unit) in pairs  # both ways
            assert conversion.from_unit in item.units and conversion.to_unit in item.units
            if conversion.factor is not None:
                assert conversion.factor > 0
                assert conversion.formula.startswith("1 ")
                assert re.search(r"\d", conversion.formula)


def test_every_analyte_with_a_molar_mass_converts_mass_and_substance() -> None:
    for item in ANALYTES:
        kinds = {reference.unit(u).kind for u in item.units}
        if item.molar_mass is not None:
            assert {"mass_conc", "subst_conc"} <= kinds, item.code


_PAIRS = [(item.code, c.from_unit, c.to_unit) for item in ANALYTES for c in CONVERSIONS[item.code]]


@given(
    pair=st.sampled_from(_PAIRS),
    value=st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
)
def test_conversions_round_trip(pair: tuple[str, str, str], value: float) -> None:
    code, source, target = pair
    there = convert(code, value, source, target)
    back = convert(code, there, target, source)
    assert math.isclose(back, value, rel_tol=1e-9, abs_tol=1e-9)


@given(
    pair=st.sampled_from([p for p in _PAIRS if p[0] != "4548-4"]),
    a=st.floats(min_value=0, max_value=1e6),
    b=st.floats(min_value=0, max_value=1e6),
)
def test_factor_conversions_are_linear_and_monotonic(
    pair: tuple[str, str, str], a: float, b: float
) -> None:
    code, source, target = pair
    ca, cb = convert(code, a, source, target), convert(code, b, source, target)
    if a < b:
        assert ca <= cb
    assert math.isclose(convert(code, a + b, source, target), ca + cb, rel_tol=1e-9, abs_tol=1e-12)
