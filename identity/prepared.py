"""Statements built and compiled once, run with each call's values: the access funnel's, and
the two every signed-in request runs before it (its session, its user).

Django builds and compiles a queryset in Python on every call. For the funnel's one-statement
decisions (``dmp_for``, ``entry_for``: eight subqueries, some thirty parameters) that was
5–7 ms of a professional's page, for half a millisecond of SQL; for the session and the user,
two thirds of their cost. Yet such a statement's text depends only on who asks (their kind,
their ids, their profession), never on the data: so it is built once per worker and asker
with *marks* in place of what changes between two calls (the current time and day, the id or
key looked up), compiled, and kept; each call puts its own values in the marked places and
runs the statement through Django's own iterable (the same model instances, annotations and
``select_related`` rows as the queryset gives).

The rules themselves stay in ``records.access``, written as querysets; they read the time
from ``now()`` / ``today()`` here so that a statement can be prepared. A statement with a
mark this module cannot place (a value derived from the time, say ``now - 30 days``) is not
kept: that asker's queryset is built on every call, as before. With ``DMP_FUNNEL_CHECK`` (on
in the test suite) each call also builds the queryset afresh and requires the same SQL and
parameters as the kept statement with its values put in: every test that reaches a kept
statement checks it against the queryset as written.
"""

from __future__ import annotations

import copy
import datetime
import re
import threading
import uuid
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

# Marks: values no rule ever compares with (the year 1111, ids no row has).
MARK_NOW = datetime.datetime(1111, 11, 11, 11, 11, 11, 111111, tzinfo=datetime.UTC)
_MARK_YEAR = "1111-"
_MARK_INT = -1_111_111_100  # minus the value's rank: ids are positive
_MARK_UUID = "11111111-1111-4111-8111-1111111111"  # then the value's rank, two digits
_MARK_TEXT = "\x1fkept-statement-mark-"  # then the value's rank (no text key starts so)

_clock: ContextVar[datetime.datetime | None] = ContextVar("records_prepared_clock", default=None)

# Kept statements per database alias, kind and asker, least recently used first; None: that
# asker's statement cannot be kept. About 100 KiB each (the compiled query): at most ~25 MiB.
_kept: dict[tuple[Hashable, ...], _Statement | None] = {}
_kept_lock = threading.Lock()
KEPT_AT_MOST = 256

Values = dict[str, Any]  # UUIDs, ints, dates, texts

# Fixed delays the rules subtract from now() (the release of an entry invisible to the
# patient, 30 days after its deposit): ``now - delay`` is put back as now is.
_delays: set[datetime.timedelta] = set()


def delay(duration: datetime.timedelta) -> datetime.timedelta:
    """Declare a fixed delay the rules subtract from ``now()``; returns it."""
    _delays.add(duration)
    return duration


def now() -> datetime.datetime:
    """The time the funnel's rules compare with (the mark while a statement is prepared)."""
    return _clock.get() or timezone.now()


def today() -> datetime.date:
    """The day the funnel's rules compare with (the mark's day while one is prepared)."""
    return timezone.localdate(now())


class KeptStatementDiffers(AssertionError):
    """A kept statement, its values put in, differs from the queryset built afresh."""


@dataclass(frozen=True)
class _Statement:
    model: type[Model]
    compiler: SQLCompiler  # compiled once: its select, klass_info and annotations are set
    sql: str
    params: tuple[Any, ...]
    iterable_class: type[Any]  # model instances, or values() dicts
    fields: tuple[str, ...] | None
    slots: tuple[tuple[int, str], ...]  # (position in params, "now", "today", "now - 30 days,
    # 0:00:00" or a value's name)


class _Compiled:
    """Stands for a Query in a QuerySet: hands Django's iterable the kept compiler (and the
    kept query's names of columns, which ``values()`` reads)."""

    def __init__(self, compiler: SQLCompiler) -> None:
        self.compiler = compiler

    def get_compiler(self, using: str | None = None, **kwargs: Any) -> SQLCompiler:
        return self.compiler

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiler.query, name)


def _marks(values: Values) -> Values:
    """A mark for each value, of its type."""
    marks: Values = {}
    for rank, (name, value) in enumerate(values.items(), start=1):  # in the caller's order
        if isinstance(value, uuid.UUID):
            marks[name] = uuid.UUID(f"{_MARK_UUID}{rank:02d}")
        elif isinstance(value, datetime.datetime):
            raise TypeError("the time is now(), not a value")
        elif isinstance(value, datetime.date):
            marks[name] = datetime.date(1111, 1, rank)
        elif isinstance(value, int) and not isinstance(value, bool):
            marks[name] = _MARK_INT - rank
        elif isinstance(value, str):
            marks[name] = f"{_MARK_TEXT}{rank:02d}"
        else:
            raise TypeError(f"{name}: {type(value).__name__} cannot be marked")
    return marks


def _adapted(using: str, at: datetime.datetime, values: Values) -> dict[str, Any]:
    """The time, the day and the values as the database driver receives them (adapted as
    Django's fields adapt them)."""
    connection = connections[using]
    ops = connection.ops
    adapted: dict[str, Any] = {
        "now": ops.adapt_datetimefield_value(at),
        "today": ops.adapt_datefield_value(timezone.localdate(at)),
    }
    for duration in _delays:
        adapted[f"now - {duration}"] = ops.adapt_datetimefield_value(at - duration)
    for name, value in values.items():
        if isinstance(value, uuid.UUID):
            adapted[name] = value if connection.features.has_native_uuid_field else value.hex
        elif isinstance(value, datetime.date):
            adapted[name] = ops.adapt_datefield_value(value)
        else:
            adapted[name] = value
    return adapted


def _compile(
    build: Callable[[Values], QuerySet[Any]], values: Values, at: datetime.datetime, using: str
) -> tuple[QuerySet[Any], SQLCompiler, str, tuple[Any, ...]]:
    token = _clock.set(at)
    try:
        queryset = build(values)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
    finally:
        _clock.reset(token)
    return queryset, compiler, sql, tuple(params)


_A_TIME = re.compile(r"\d{4}-\d\d-\d\d")


def _not_kept(value: Any) -> bool:
    """Whether a parameter (not a mark) forbids keeping the statement: made from a mark
    (``now - 30 days``: it could not be put back), or any time or day at all (a rule that
    read the clock without ``now()`` would be frozen at the hour the statement was kept)."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return True
    if isinstance(value, str) and _A_TIME.match(value):
        return True  # SQLite receives its times and days as text
    if isinstance(value, uuid.UUID):
        return str(value).startswith(_MARK_UUID)
    if isinstance(value, int):
        return _MARK_INT - 100 <= value <= _MARK_INT + 100
    marked_hex = uuid.UUID(f"{_MARK_UUID}00").hex[:-2]
    return isinstance(value, str) and (marked_hex in value or _MARK_TEXT in value)


def _prepare(
    build: Callable[[Values], QuerySet[Any]], values: Values, using: str
) -> _Statement | None:
    """``build``'s statement compiled with marks, and where each value goes; None when it
    cannot be kept (``_not_kept``)."""
    marks = _marks(values)
    queryset, compiler, sql, params = _compile(build, marks, MARK_NOW, using)
    adapted = _adapted(using, MARK_NOW, marks)
    slots = []
    for position, param in enumerate(params):
        slot = next(
            (name for name, mark in adapted.items() if type(param) is type(mark) and param == mark),
            None,
        )
        if slot is not None:
            slots.append((position, slot))
        elif _not_kept(param):
            return None
    placed = {name for _, name in slots}
    if (
        _MARK_YEAR in sql
        or str(_MARK_INT)[:-2] in sql
        or _MARK_TEXT in sql
        or not placed >= set(values)
    ):
        return None  # a mark written into the SQL itself, or a value that went nowhere
    named = getattr(queryset, "_fields", None)  # values(): the names asked for
    fields = tuple(named) if named else None
    return _Statement(
        queryset.model, compiler, sql, params, queryset._iterable_class, fields, tuple(slots)
    )


def fetch(
    key: tuple[Hashable, ...],
    build: Callable[[Values], QuerySet[Any]],
    values: Values,
    *,
    using: str = "default",
) -> list[Any]:
    """The rows of ``build(values)`` (a queryset of the funnel, built for one asker), through
    the statement kept under ``key``: what the query is for and who asks, everything
    ``build`` reads of them but ``values`` and the time. ``values``: UUIDs, ints, dates,
    texts, each used as a query parameter (a malformed id is the caller's 404 before this)."""
    full_key = (using, *key)
    with _kept_lock:
        found = full_key in _kept
        statement = _kept.pop(full_key, None)
        if found:
            _kept[full_key] = statement  # now the most recently used
    if not found:
        statement = _prepare(build, values, using)
        with _kept_lock:
            while len(_kept) >= KEPT_AT_MOST:
                del _kept[next(iter(_kept))]  # the least recently used
            _kept[full_key] = statement
    if statement is None:
        return list(build(values))
    at = timezone.now()
    adapted = _adapted(using, at, values)
    params = list(statement.params)
    for position, slot in statement.slots:
        params[position] = adapted[slot]
    kept = (statement.sql, tuple(params))
    if settings.DMP_FUNNEL_CHECK:
        _, _, sql, fresh = _compile(build, values, at, using)
        if (sql, fresh) != kept:
            raise KeptStatementDiffers(f"{key!r}:\n{sql}\n{fresh!r}\n!=\n{kept[0]}\n{kept[1]!r}")
    compiler = copy.copy(statement.compiler)
    compiler.connection = connections[using]  # this thread's connection
    compiler.as_sql = lambda *args, **kwargs: kept  # type: ignore[method-assign]
    query: Any = _Compiled(compiler)
    rows: QuerySet[Any] = QuerySet(model=statement.model, query=query, using=using)
    rows._iterable_class = statement.iterable_class
    setattr(rows, "_fields", statement.fields)  # noqa: B010 - Django's own, not typed
    return list(rows)


def forget() -> None:
    """Forget every kept statement (the tests: a new database behind the same ids)."""
    with _kept_lock:
        _kept.clear()
