"""Reading the reference data files of ``records/reference_data/`` (framework-free).

The tables of ``records.reference`` and ``records.allergens`` are data files (CSV for flat
tables, JSON where rows nest), read once at import by those modules' loaders through the
``Row`` accessors below. A file or row that does not hold raises ``ReferenceDataError``,
whose message starts with the file and the row (``records/reference_data/units.csv, line
12: ...``): a typo in a data file stops the import, hence the start-up and the test suite,
instead of surfacing later as a missing label or a wrong conversion.

Conventions (see ``reference_data/README.md``): UTF-8, a header row naming exactly the
expected columns, an empty cell for "none", lists in a CSV cell separated by ``|``; in JSON
an array of objects, an absent key for "none". No value has leading or trailing spaces.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Container, Iterator, Mapping

__all__ = ["LIST_SEPARATOR", "ReferenceDataError", "Row", "read_csv", "read_json"]

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_data")
LIST_SEPARATOR = "|"
_SHOWN_DIR = "records/reference_data"
_KEY_RE = re.compile(r"[a-z][a-z0-9_]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class ReferenceDataError(ValueError):
    """An invalid reference data file or row; the message names the file and the row."""


class Row:
    """One row of a data file (a CSV line or a JSON object), with typed, checked accessors."""

    __slots__ = ("_cells", "_fields", "file", "position", "where")

    def __init__(
        self, file: str, position: str, fields: Mapping[str, object], *, cells: bool = False
    ) -> None:
        self.file = file  # "records/reference_data/units.csv"
        self.position = position  # "line 12", "entry 3 (718-7)"
        self.where = f"{file}, {position}"
        self._fields = fields
        self._cells = cells  # CSV: every value is a text (lists a|b, numbers as written)

    def error(self, message: str) -> ReferenceDataError:
        return ReferenceDataError(f"{self.where}: {message}")

    def text(self, name: str, *, required: bool = True) -> str:
        """A text field; empty (or absent) is an error unless ``required`` is false."""
        value = self._fields.get(name, "")
        if not isinstance(value, str):
            raise self.error(f"{name} must be a text, not {value!r}")
        if required and not value:
            raise self.error(f"{name} is missing")
        return self._clean(name, value)

    def key(self, name: str) -> str:
        """A key: a required text of lower-case letters, digits and ``_``, a letter first."""
        value = self.text(name)
        if not _KEY_RE.fullmatch(value):
            raise self.error(f"{name} {value!r} is not a key (a-z, 0-9, _; a letter first)")
        return value

    def member(self, value: str, known: Container[str], what: str) -> str:
        """``value`` if it is in ``known``; an error naming ``what`` it should be otherwise."""
        if value not in known:
            raise self.error(f"unknown {what} {value!r}")
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        """A list of texts: a JSON array, or a CSV cell ``a|b|c`` (empty or absent: none)."""
        value = self._fields.get(name)
        if value is None or (self._cells and value == ""):
            items: list[object] = []
        elif self._cells and isinstance(value, str):
            items = list(value.split(LIST_SEPARATOR))
        elif not self._cells and isinstance(value, list):
            items = value
        else:
            raise self.error(f"{name} must be a list of texts, not {value!r}")
        result: list[str] = []
        for item in items:
            if not isinstance(item, str) or not item:
                raise self.error(f"{name}: {item!r} is not a text")
            result.append(self._clean(name, item))
        if len(set(result)) != len(result):
            raise self.error(f"{name} lists a value twice: {result!r}")
        return tuple(result)

    def number(self, name: str) -> float:
        """A finite number: a JSON number, or a CSV cell Python's ``float`` reads exactly."""
        value = self._fields.get(name)
        if value is None or value == "":
            raise self.error(f"{name} is missing")
        if self._cells:
            written = self._clean(name, str(value))
            try:
                number = float(written)
            except ValueError:
                raise self.error(f"{name} {value!r} is not a number") from None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            raise self.error(f"{name} must be a number, not {value!r}")
        if not math.isfinite(number):
            raise self.error(f"{name} {value!r} is not a finite number")
        return number

    def rows(self, name: str, keys: tuple[str, ...]) -> tuple[Row, ...]:
        """Nested JSON objects (absent: none), each a ``Row`` located inside this one."""
        value = self._fields.get(name, [])
        if not isinstance(value, list):
            raise self.error(f"{name} must be a list of objects")
        return tuple(
            _json_row(self.file, f"{self.position}, {name}[{index}]", item, keys)
            for index, item in enumerate(value)
        )

    def _clean(self, name: str, value: str) -> str:
        if value != value.strip():
            raise self.error(f"{name} {value!r} has leading or trailing spaces")
        if _CONTROL_RE.search(value):
            raise self.error(f"{name} {value!r} holds a line break or a control character")
        return value

    def unique(self, value: str, seen: dict[str, str], what: str) -> str:
        """``value``, recorded in ``seen``; an error if an earlier row (or this one) had it."""
        if value in seen:
            raise self.error(f"duplicate {what} {value!r} (already at {seen[value]})")
        seen[value] = self.position
        return value


def read_csv(name: str, columns: tuple[str, ...]) -> Iterator[Row]:
    """The rows of ``reference_data/<name>``, whose header must be exactly ``columns``."""
    shown = f"{_SHOWN_DIR}/{name}"
    reader = csv.DictReader(io.StringIO(_read(name), newline=""), strict=True)
    if tuple(reader.fieldnames or ()) != columns:
        raise ReferenceDataError(
            f"{shown}, line 1: columns {reader.fieldnames!r}, expected {list(columns)!r}"
        )
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader, None)
        except csv.Error as exc:  # e.g. an unclosed quote
            raise ReferenceDataError(f"{shown}, line {start}: {exc}") from None
        if record is None:
            return
        row = Row(shown, f"line {reader.line_num}", record, cells=True)
        if None in record or None in record.values():
            raise row.error(f"{len(columns)} cells expected")
        yield row


def read_json(name: str, keys: tuple[str, ...]) -> Iterator[Row]:
    """The objects of ``reference_data/<name>`` (a JSON array), with keys among ``keys``."""
    shown = f"{_SHOWN_DIR}/{name}"
    try:
        data = json.loads(_read(name), object_pairs_hook=_no_duplicate_keys)
    except ValueError as exc:  # JSONDecodeError, or a duplicate key
        raise ReferenceDataError(f"{shown}: {exc}") from None
    if not isinstance(data, list):
        raise ReferenceDataError(f"{shown}: a JSON array of objects expected")
    for index, item in enumerate(data, start=1):
        code = item.get("code") if isinstance(item, dict) else None
        position = f"entry {index}" + (f" ({code})" if isinstance(code, str) else "")
        yield _json_row(shown, position, item, keys)


def _read(name: str) -> str:
    path = os.path.join(DATA_DIR, name)
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferenceDataError(f"{_SHOWN_DIR}/{name}: {exc}") from None


def _json_row(file: str, position: str, item: object, keys: tuple[str, ...]) -> Row:
    if not isinstance(item, dict):
        raise ReferenceDataError(f"{file}, {position}: a JSON object expected")
    row = Row(file, position, item)
    unknown = sorted(set(item) - set(keys))
    if unknown:
        raise row.error(f"unknown key(s) {unknown!r}; expected among {list(keys)!r}")
    return row


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r} in an object")
        result[key] = value
    return result
