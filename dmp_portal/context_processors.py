from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from identity.auth import has_second_factor


def portal(request: HttpRequest) -> dict[str, Any]:
    """Role flags for the navigation. Decided once here, never per row in templates."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_role": "anonymous"}
    role = "administrator" if user.is_staff else user.role
    return {
        "nav_role": role,
        "nav_prompt_second_factor": user.is_patient
        and not user.email_code_login
        and not has_second_factor(user, request.session),
        "emergency_banners": _emergency_banners(request) if user.is_professional else [],
    }


def _emergency_banners(request: HttpRequest) -> list[dict[str, Any]]:
    """Emergency accesses declared in this session and not yet expired (from the session: no
    query; the access layer stays the authority on what may be read)."""
    now = time.time()
    banners = []
    for banner in request.session.get("dmp_emergencies", []):
        if banner["until"] > now:
            until = datetime.fromtimestamp(banner["until"], tz=UTC)
            banners.append({**banner, "until": until})
    return banners
