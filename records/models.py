"""Models of the records app (filled by its issue)."""

from __future__ import annotations
