"""The protocol side of the FHIR API: errors as OperationOutcome, request bodies read within
bounds, JSON answers, searchset Bundles with ``next`` links.

Every refusal is a ``FhirError`` (status, issue code, French message translated under
``Accept-Language: en``): a view never answers an error any other way, and nothing is stored
before the body has been read, parsed and checked whole.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from records.pdf import MAX_PDF_BYTES

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
# A PDF at the cap, base64 (4/3), plus room for the rest of the resource or Bundle.
MAX_BODY_BYTES = math.ceil(MAX_PDF_BYTES * 4 / 3) + 256 * 1024
MAX_DEPTH = 32  # the deepest real resource we take is a Bundle entry's attachment (~8)
MAX_COUNT = 100
DEFAULT_COUNT = 50


class FhirError(Exception):
    """A refusal of the API: ``status``, FHIR issue ``code``, a message for the user."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found() -> FhirError:
    """The one answer for missing *and* out of scope: same status, same body."""
    return FhirError(404, "not-found", _("Ressource introuvable."))


def json_response(body: dict[str, Any], status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_plain),
        status=status,
        content_type=f"{FHIR_JSON}; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value) if value == value.to_integral_value() else float(str(value))
    raise TypeError(type(value).__name__)


def outcome(error: FhirError) -> HttpResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": error.code, "diagnostics": error.message}],
    }
    response = json_response(body, status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="DMP", error="invalid_token"'
    if error.status == 429:
        response["Retry-After"] = "60"
    return response


# --- Request bodies ------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise FhirError(
        400, "invalid", _("JSON invalide : %(value)s n'est pas un nombre.") % {"value": name}
    )


def _depth(value: Any) -> int:
    """The nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        children: Iterable[Any] = ()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def read_json(request: HttpRequest, expected: str | Callable[[str], bool]) -> dict[str, Any]:
    """The request's JSON resource, bounded and checked: 415 for another content type, 413
    beyond ``MAX_BODY_BYTES`` (declared or sent), 400 for bytes that are not JSON (NaN and
    Infinity included) or nest beyond ``MAX_DEPTH``, 422 for a JSON that is not a resource of
    the ``expected`` type."""
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type not in (FHIR_JSON, "application/json"):
        raise FhirError(
            415,
            "not-supported",
            _("Type de contenu non pris en charge : envoyez du JSON FHIR (%(type)s).")
            % {"type": FHIR_JSON},
        )
    too_big = FhirError(
        413,
        "too-costly",
        _("Requête trop volumineuse (%(max)d Mo au maximum).") % {"max": MAX_BODY_BYTES // 2**20},
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise too_big
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise too_big
    try:
        parsed = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise FhirError(
            400, "invalid", _("Le corps de la requête n'est pas un JSON valide.")
        ) from None
    if _depth(parsed) > MAX_DEPTH:
        raise FhirError(
            400,
            "too-costly",
            _("JSON trop imbriqué (%(max)d niveaux au maximum).") % {"max": MAX_DEPTH},
        )
    kind = parsed.get("resourceType") if isinstance(parsed, dict) else None
    accepted = expected(kind) if callable(expected) and isinstance(kind, str) else kind == expected
    if not isinstance(parsed, dict) or not accepted:
        raise FhirError(
            422,
            "invalid",
            _("Ressource attendue : %(type)s.")
            % {"type": expected if isinstance(expected, str) else "Bundle"},
        )
    return parsed


# --- Searches ------------------------------------------------------------------------------------


def page_params(request: HttpRequest) -> tuple[int, int]:
    """``_count`` (1–100, 50 by default) and ``_offset`` (≥ 0) of a search; 400 otherwise."""
    try:
        count = int(request.GET.get("_count", DEFAULT_COUNT))
        offset = int(request.GET.get("_offset", 0))
    except ValueError:
        raise FhirError(400, "invalid", _("_count et _offset doivent être des entiers.")) from None
    if not 1 <= count <= MAX_COUNT or not 0 <= offset <= 10_000_000:
        raise FhirError(
            400, "invalid", _("_count doit être entre 1 et %(max)d.") % {"max": MAX_COUNT}
        )
    return count, offset


def check_params(request: HttpRequest, known: Iterable[str]) -> None:
    """400 for a search parameter this endpoint does not support (never silently ignored:
    a filter ignored would return more than the caller asked for)."""
    allowed = set(known) | {"_count", "_offset", "_format"}
    unknown = sorted(set(request.GET) - allowed)
    if unknown:
        raise FhirError(
            400,
            "not-supported",
            _("Paramètre de recherche non pris en charge : %(names)s.")
            % {"names": ", ".join(unknown)},
        )


def searchset(
    request: HttpRequest, resources: list[dict[str, Any]], *, count: int, offset: int, more: bool
) -> dict[str, Any]:
    """A searchset Bundle of one page, with ``self`` and (when there is more) ``next`` links."""
    base = request.build_absolute_uri(request.path)
    query = request.GET.copy()
    # An INS-C is not echoed into links (URLs end up in logs); it finds one DMP at most, so
    # such a search has no next page to link to.
    query.pop("identifier", None)
    query["_count"] = str(count)
    query["_offset"] = str(offset)
    links = [{"relation": "self", "url": f"{base}?{query.urlencode()}"}]
    if more:
        query["_offset"] = str(offset + count)
        links.append({"relation": "next", "url": f"{base}?{query.urlencode()}"})
    root = request.build_absolute_uri("/fhir/")
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {
                "fullUrl": f"{root}{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }
