"""What the portal reads in Pro Santé Connect's and FranceConnect's claims. Pure functions.

Pro Santé Connect names the professional by ``SubjectNameID``, the national identifier IDNPS:
``8`` followed by the RPPS for professionals registered in the RPPS; ``otherIds`` may list the
RPPS itself. The structures they work for are the ``activities`` of their ``exercices`` in
``SubjectRefPro``, each with a FINESS or SIRET number and a name (``raisonSocialeSite``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_RPPS = re.compile(r"[0-9]{11}")


def merged_claims(extra_data: Mapping[str, Any]) -> dict[str, Any]:
    """The ID token's claims completed by the userinfo's (allauth keeps both)."""
    claims = dict(extra_data.get("id_token") or {})
    for key, value in (extra_data.get("userinfo") or {}).items():
        claims.setdefault(key, value)
    return claims


def rpps_from_claims(claims: Mapping[str, Any]) -> str | None:
    """The RPPS number the provider vouches for, or None (no RPPS: an ADELI-only
    professional, or a malformed claim)."""
    idnps = str(claims.get("SubjectNameID") or claims.get("preferred_username") or "")
    if len(idnps) == 12 and idnps.startswith("8") and _RPPS.fullmatch(idnps[1:]):
        return idnps[1:]
    for other in claims.get("otherIds") or []:
        if isinstance(other, Mapping) and str(other.get("origine", "")).upper() == "RPPS":
            number = str(other.get("identifiant", ""))
            if _RPPS.fullmatch(number):
                return number
    return None


@dataclass(frozen=True)
class Structure:
    """A structure a professional acts for: FINESS (health establishments) or SIRET."""

    kind: str
    number: str
    name: str

    @property
    def label(self) -> str:
        """As stored on access events and shown to patients: ``Clinique Y (FINESS 123)``."""
        return f"{self.name} ({self.kind} {self.number})"[:250]


def structures_from_claims(claims: Mapping[str, Any]) -> list[Structure]:
    """Every distinct structure of the professional's activities, in the provider's order."""
    found: list[Structure] = []
    refpro = claims.get("SubjectRefPro")
    exercices = refpro.get("exercices") if isinstance(refpro, Mapping) else None
    for exercice in _mappings(exercices):
        for activity in _mappings(exercice.get("activities")):
            name = str(activity.get("raisonSocialeSite") or "").strip()[:200]
            for kind, key in (("FINESS", "numeroFinessSite"), ("SIRET", "numeroSiretSite")):
                number = str(activity.get(key) or "").strip()
                if re.fullmatch(r"[0-9A-Z]{9,14}", number):
                    structure = Structure(kind, number, name or kind)
                    if structure not in found:
                        found.append(structure)
                    break
    return found


def _mappings(value: object) -> Iterable[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def acr_satisfies(acr: object, required: str, levels: tuple[str, ...]) -> bool:
    """Whether the ``acr`` the provider asserts reaches the ``required`` level (levels in
    increasing order; an absent or unknown value never does)."""
    if not isinstance(acr, str) or acr not in levels or required not in levels:
        return False
    return levels.index(acr) >= levels.index(required)


@dataclass(frozen=True)
class CivilIdentity:
    """FranceConnect's identity claims (pivot identity)."""

    family_name: str
    given_names: str
    birth_date: datetime.date | None
    sex: str  # "F", "M" or ""


def civil_identity(claims: Mapping[str, Any]) -> CivilIdentity:
    try:
        birth = datetime.date.fromisoformat(str(claims.get("birthdate") or ""))
    except ValueError:
        birth = None
    sex = {"female": "F", "male": "M"}.get(str(claims.get("gender") or "").lower(), "")
    return CivilIdentity(
        family_name=str(claims.get("family_name") or ""),
        given_names=str(claims.get("given_name") or ""),
        birth_date=birth,
        sex=sex,
    )
