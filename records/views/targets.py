"""Opaque names for a DMP found by INS-C, for links that lead to an act on it (emergency
access) before the professional may read it, hence before they may use its public id.

The INS-C must not ride in the link: URLs land in access logs, browser history and Referer
headers. The search keeps the INS-C in the session under a random token and the link carries
the token; it means nothing elsewhere, to anyone else, or after a quarter of an hour.
"""

from __future__ import annotations

import secrets
import time

from django.http import HttpRequest

SESSION_KEY = "dmp_targets"
TTL_SECONDS = 15 * 60
MAX_KEPT = 10  # the last searches of the session; older tokens stop working


def target_token(request: HttpRequest, insc: str) -> str:
    """A new token naming ``insc`` in this session."""
    now = time.time()
    kept = _live(request, now)
    token = secrets.token_urlsafe(16)
    kept[token] = {"insc": insc, "at": now}
    request.session[SESSION_KEY] = dict(list(kept.items())[-MAX_KEPT:])
    return token


def target_insc(request: HttpRequest, token: str | None) -> str | None:
    """The INS-C a token of this session names, or None (unknown, forged or expired)."""
    if not token:
        return None
    target = _live(request, time.time()).get(token)
    return str(target["insc"]) if target else None


def _live(request: HttpRequest, now: float) -> dict[str, dict[str, str | float]]:
    kept = request.session.get(SESSION_KEY)
    if not isinstance(kept, dict):
        return {}
    return {
        token: target
        for token, target in kept.items()
        if isinstance(target, dict) and now - float(target.get("at", 0)) < TTL_SECONDS
    }
