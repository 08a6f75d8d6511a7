"""Text search typed by a user, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from django.db.models import Q

MAX_WORDS = 5


def words_in(fields: tuple[str, ...], query: str) -> Q:
    """Every word of ``query`` (the first ``MAX_WORDS``) in one of ``fields``, whatever its
    case. SQLite folds only ASCII letters ("é" ≠ "É"), so the usual casings of each word are
    asked too (as typed, lower, upper, capitalised)."""
    condition = Q()
    for word in query.split()[:MAX_WORDS]:
        found = Q(pk__in=[])
        for variant in {word, word.lower(), word.upper(), word.capitalize()}:
            for field in fields:
                found |= Q(**{f"{field}__icontains": variant})
        condition &= found
    return condition
