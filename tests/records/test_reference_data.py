"""The reference data files (records/reference_data/): their invariants, read straight from
the files, and the loaders that check them at import, fed broken copies."""

from __future__ import annotations

import csv
import fnmatch
import importlib.util
import json
import shutil
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from records import allergens, reference, reference_io
from records.reference import loinc_check_digit_ok
from records.reference_io import ReferenceDataError

DATA = Path(reference_io.DATA_DIR)
CSV_FILES = sorted(path.name for path in DATA.glob("*.csv"))


def _csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _analytes() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((DATA / "analytes.json").read_text("utf-8"))
    return rows


def _unique(values: list[str]) -> None:
    duplicates = sorted({value for value in values if values.count(value) > 1})
    assert not duplicates, duplicates


# --- Invariants of the files -----------------------------------------------------------------


def test_the_data_files_are_the_expected_ones() -> None:
    assert CSV_FILES == [
        "allergens.csv",
        "analyte_groups.csv",
        "cim10.csv",
        "document_categories.csv",
        "document_types.csv",
        "measures.csv",
        "molar_masses.csv",
        "units.csv",
        "vaccination_schedule.csv",
        "vaccines.csv",
    ]
    assert sorted(path.name for path in DATA.glob("*.json")) == ["analytes.json"]


def test_the_data_files_are_declared_as_package_data() -> None:
    with (DATA.parents[1] / "pyproject.toml").open("rb") as handle:
        patterns = tomllib.load(handle)["tool"]["setuptools"]["package-data"]["records"]
    for path in DATA.iterdir():
        assert any(fnmatch.fnmatch(f"reference_data/{path.name}", p) for p in patterns), path


@pytest.mark.parametrize("name", [*CSV_FILES, "analytes.json", "README.md"])
def test_files_are_plain_utf8_text_for_diffs(name: str) -> None:
    raw = (DATA / name).read_bytes()
    text = raw.decode("utf-8")  # not cp1252 from a spreadsheet
    assert not raw.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    assert "\r" not in text, "LF line ends"
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert all(line == line.rstrip() for line in text.split("\n"))


def test_codes_and_keys_are_unique() -> None:
    for name, column in [
        ("document_categories.csv", "key"),
        ("document_types.csv", "code"),
        ("units.csv", "code"),
        ("analyte_groups.csv", "key"),
        ("molar_masses.csv", "key"),
        ("allergens.csv", "code"),
    ]:
        _unique([row[column] for row in _csv(name)])
    _unique([code for row in _analytes() for code in [row["code"], *row.get("alt_codes", [])]])


def test_every_loinc_code_passes_its_check_digit() -> None:
    codes = [row["code"] for row in _csv("document_types.csv")]
    codes += [code for row in _analytes() for code in [row["code"], *row.get("alt_codes", [])]]
    assert len(codes) > 150
    assert [code for code in codes if not loinc_check_digit_ok(code)] == []


def test_every_referenced_unit_group_category_and_molar_mass_exists() -> None:
    units = {row["code"] for row in _csv("units.csv")}
    groups = {row["key"] for row in _csv("analyte_groups.csv")}
    masses = {row["key"] for row in _csv("molar_masses.csv")}
    used_masses: set[str] = set()
    for row in _analytes():
        assert row["group"] in groups, row["code"]
        assert row["units"] and set(row["units"]) <= units, row["code"]
        assert row["default_unit"] == row["units"][0], row["code"]
        for rule in row.get("affine", []):
            assert {rule["from_unit"], rule["to_unit"]} <= set(row["units"]), row["code"]
        for key in ("molar_mass", "denominator_molar_mass"):
            if key in row:
                assert row[key] in masses, row["code"]
                used_masses.add(row[key])
    assert used_masses == masses, "every molar mass is used"
    categories = {row["key"] for row in _csv("document_categories.csv")}
    assert {row["category"] for row in _csv("document_types.csv")} <= categories
    assert {row["category"] for row in _csv("allergens.csv")} == set(allergens.CATEGORY_LABELS)


def test_every_french_label_has_an_english_one() -> None:
    missing = [
        f"{name}: {row.get('code') or row.get('key')}"
        for name in (
            "document_categories.csv",
            "document_types.csv",
            "analyte_groups.csv",
            "allergens.csv",
        )
        for row in _csv(name)
        if not (row["label"] and row["label_en"])
    ]
    for row in _analytes():
        for french, english in [("label", "label_en"), ("short_label", "short_label_en")]:
            if not (row.get(french) and row.get(english)):
                missing.append(f"analytes.json: {row['code']} {english}")
        for rule in row.get("affine", []):
            if not (rule.get("formula") and rule.get("formula_en")):
                missing.append(f"analytes.json: {row['code']} formula_en")
    assert missing == []
    # A unit's English label is written only where it differs from the French one.
    assert all(row["label"] and row["label_en"] != row["label"] for row in _csv("units.csv"))


def test_unit_kinds_cover_the_cross_kind_conversions() -> None:
    kinds = {row["kind"] for row in _csv("units.csv")}
    assert set().union(*reference._CROSS_KINDS) <= kinds


def test_affine_rules_come_in_inverse_pairs() -> None:
    for row in _analytes():
        rules = {(r["from_unit"], r["to_unit"]): r for r in row.get("affine", [])}
        for (source, target), rule in rules.items():
            back = rules[(target, source)]
            assert rule["slope"] * back["slope"] == pytest.approx(1)
            assert rule["slope"] * back["intercept"] + rule["intercept"] == pytest.approx(0)


def test_the_tables_are_the_files_in_file_order() -> None:
    assert [d.code for d in reference.DOCUMENT_TYPES] == [
        row["code"] for row in _csv("document_types.csv")
    ]
    assert [u.code for u in reference.UNITS] == [row["code"] for row in _csv("units.csv")]
    assert [a.code for a in reference.ANALYTES] == [row["code"] for row in _analytes()]
    assert [a.code for a in allergens.ALLERGENS] == [row["code"] for row in _csv("allergens.csv")]
    assert reference.analyte("14682-9").molar_mass == 113.12  # creatinine, by its key
    assert reference.unit("ug/L").factor == 1e-6  # "1e-6" read exactly


# --- The loaders refuse a broken file, naming it and the row ---------------------------------


def _import_fresh(module: str, data: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Execute ``module`` anew (as a throwaway module) reading its data from ``data``."""
    monkeypatch.setattr(reference_io, "DATA_DIR", str(data))
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    name = f"_fresh_{module.replace('.', '_')}"
    fresh_spec = importlib.util.spec_from_file_location(name, spec.origin)
    assert fresh_spec is not None and fresh_spec.loader is not None
    fresh = importlib.util.module_from_spec(fresh_spec)
    monkeypatch.setitem(sys.modules, name, fresh)  # dataclasses look their module up
    fresh_spec.loader.exec_module(fresh)
    return fresh


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "reference_data"
    shutil.copytree(DATA, copy)
    return copy


def _edit(data: Path, name: str, old: str, new: str) -> None:
    path = data / name
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_an_unchanged_copy_loads_the_same_tables(
    data_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = _import_fresh("records.reference", data_copy, monkeypatch)
    assert [repr(a) for a in fresh.ANALYTES] == [repr(a) for a in reference.ANALYTES]
    assert [repr(u) for u in fresh.UNITS] == [repr(u) for u in reference.UNITS]
    assert repr(dict(fresh.CONVERSIONS)) == repr(dict(reference.CONVERSIONS))
    fresh_allergens = _import_fresh("records.allergens", data_copy, monkeypatch)
    assert repr(fresh_allergens.ALLERGENS) == repr(allergens.ALLERGENS)


BROKEN_REFERENCE = [
    # (file, text, replacement, expected message)
    (
        "document_types.csv",
        "11502-2,biologie",
        "11502-3,biologie",
        r"document_types\.csv, line 2: code '11502-3' is not a LOINC code",
    ),
    (
        "document_types.csv",
        "18748-4,imagerie",
        "11502-2,imagerie",
        r"document_types\.csv, line 3: duplicate code '11502-2' \(already at line 2\)",
    ),
    (
        "document_types.csv",
        "11502-2,biologie,CR d'examens biologiques,",
        "11502-2,biologie,,",
        r"document_types\.csv, line 2: label is missing",
    ),
    (
        "document_types.csv",
        "11502-2,biologie,",
        "11502-2,biology,",
        r"document_types\.csv, line 2: unknown document category 'biology'",
    ),
    (
        "document_types.csv",
        "11502-2,biologie,CR d'examens biologiques,Laboratory report",
        "11502-2,biologie,CR d'examens biologiques",
        r"document_types\.csv, line 2: 4 cells expected",
    ),
    (
        "document_categories.csv",
        "key,label,label_en",
        "key,label_fr,label_en",
        r"document_categories\.csv, line 1: columns",
    ),
    (
        "document_categories.csv",
        "imagerie,Imagerie,",
        "Imagerie,Imagerie,",
        r"document_categories\.csv, line 3: key 'Imagerie' is not a key",
    ),
    (
        "units.csv",
        "g/L,g/L,,mass_conc,1.0,",
        "g/L,g/L,,mass_conc,1.0,mg/100mL|",
        r"units\.csv, line 5: the spelling 'mg/100mL' already means the unit 'g/L'",
    ),
    (
        "units.csv",
        "mg/L,mg/L,,mass_conc,1e-3,",
        "mg/L,mg/L,,mass_conc,1e-3x,",
        r"units\.csv, line 4: factor '1e-3x' is not a number",
    ),
    (
        "units.csv",
        "mg/L,mg/L,,mass_conc,1e-3,",
        "mg/L,mg/L,,mass_conc,0,",
        r"units\.csv, line 4: factor must be positive",
    ),
    (
        "units.csv",
        "mg/L,mg/L,,mass_conc,1e-3,",
        "mg/L,mg/L,,mass_conc,1e-3,mgL|",
        r"units\.csv, line 4: aliases: '' is not a text",
    ),
    (
        "molar_masses.csv",
        "glucose,180.16,",
        "glucose,-180.16,",
        r"molar_masses\.csv, line 2: molar_mass_g_per_mol must be positive",
    ),
    (
        "analytes.json",
        '"units": ["g/dL", "g/L"]',
        '"units": ["g/dL", "g/l"]',
        r"analytes\.json, entry 1 \(718-7\): unknown unit 'g/l'",
    ),
    (
        "analytes.json",
        '"default_unit": "g/dL"',
        '"default_unit": "g/L"',
        r"analytes\.json, entry 1 \(718-7\): units must start with the default_unit 'g/L'",
    ),
    (
        "analytes.json",
        '"code": "4544-3"',
        '"code": "4544-4"',
        r"analytes\.json, entry 2 \(4544-4\): code '4544-4' is not a LOINC code",
    ),
    (
        "analytes.json",
        '"alt_codes": ["2000-8"]',
        '"alt_codes": ["718-7"]',
        r"analytes\.json, entry \d+ \(17861-6\): duplicate LOINC code '718-7' "
        r"\(already at entry 1 \(718-7\)\)",
    ),
    (
        "analytes.json",
        '"label": "Hémoglobine"',
        '"label": ""',
        r"analytes\.json, entry 1 \(718-7\): label is missing",
    ),
    (
        "analytes.json",
        '"label": "Hémoglobine"',
        '"label": "Hémoglobine "',
        r"analytes\.json, entry 1 \(718-7\): label 'Hémoglobine ' has leading or trailing",
    ),
    (
        "analytes.json",
        '"group": "hematologie"',
        '"group": "hematology"',
        r"analytes\.json, entry 1 \(718-7\): unknown analyte group 'hematology'",
    ),
    (
        "analytes.json",
        '"alt_codes": ["2000-8"]',
        '"alt_code": ["2000-8"]',
        r"analytes\.json, entry \d+ \(17861-6\): unknown key\(s\) \['alt_code'\]",
    ),
    (
        "analytes.json",
        '"short_label": "Hb"',
        '"short_label": "Hb", "label": "Hb"',
        r"analytes\.json: duplicate key 'label'",
    ),
    (
        "analytes.json",
        '"molar_mass": "calcium"',
        '"molar_mass": "calcum"',
        r"analytes\.json, entry \d+ \(17861-6\): unknown molar mass \(molar_masses\.csv\)",
    ),
    (
        "analytes.json",
        '"to_unit": "mmol/mol"',
        '"to_unit": "mmol/L"',
        r"analytes\.json, entry \d+ \(4548-4\), affine\[0\]: unknown unit of this analyte",
    ),
    (
        "analytes.json",
        '"slope": 10.929',
        '"slope": "10.929"',
        r"analytes\.json, entry \d+ \(4548-4\), affine\[0\]: slope must be a number",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "message"), BROKEN_REFERENCE)
def test_a_broken_reference_file_stops_the_import(
    data_copy: Path, monkeypatch: pytest.MonkeyPatch, name: str, old: str, new: str, message: str
) -> None:
    _edit(data_copy, name, old, new)
    with pytest.raises(ReferenceDataError, match=r"^records/reference_data/" + message):
        _import_fresh("records.reference", data_copy, monkeypatch)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("atc:J01CA04,", "atc:J01C,", r"line 3: duplicate code 'atc:J01C' \(already at line 2\)"),
        ("atc:J01CA04,", "atc:J01CA4,", r"line 3: code 'atc:J01CA4' is neither"),
        ("aliment:oeuf,", "aliment:Œuf,", r"line \d+: code 'aliment:Œuf' is neither"),
        ("atc:J01CA04,medication", "atc:J01CA04,drug", r"line 3: unknown allergen category"),
        ("Amoxicilline,Amoxicillin", ",Amoxicillin", r"line 3: label is missing"),
    ],
)
def test_a_broken_allergen_file_stops_the_import(
    data_copy: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, message: str
) -> None:
    _edit(data_copy, "allergens.csv", old, new)
    with pytest.raises(
        ReferenceDataError, match=r"^records/reference_data/allergens\.csv, " + message
    ):
        _import_fresh("records.allergens", data_copy, monkeypatch)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("units.csv", "code,label\nµ".encode("cp1252"), r"units\.csv: .*codec can't decode"),
        ("analytes.json", b'{"code": "718-7"}', r"analytes\.json: a JSON array of objects"),
        ("analytes.json", b'[{"code": "718-7",}]', r"analytes\.json: .*: line 1 column 19"),
        ("analytes.json", b'[["718-7"]]', r"analytes\.json, entry 1: a JSON object expected"),
        (
            "document_types.csv",
            b'code,category,label,label_en\n"1',
            r"document_types\.csv, line 2: unexpected end",
        ),
    ],
)
def test_an_unreadable_file_stops_the_import(
    data_copy: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes, message: str
) -> None:
    (data_copy / name).write_bytes(content)
    with pytest.raises(ReferenceDataError, match=r"^records/reference_data/" + message):
        _import_fresh("records.reference", data_copy, monkeypatch)
