"""Models of the imaging app (filled by its issue)."""

from __future__ import annotations
