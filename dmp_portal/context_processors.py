from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from dmp_portal.auth import has_second_factor


def portal(request: HttpRequest) -> dict[str, Any]:
    """Role flags for the navigation. Decided once here, never per row in templates."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_role": "anonymous"}
    role = "administrator" if user.is_staff else user.role
    return {
        "nav_role": role,
        "nav_prompt_second_factor": user.is_patient and not has_second_factor(user),
    }
