"""Who calls the API: the bearer token of a registered OAuth 2.0 application.

``api_user(request, scope)`` is the one door of every token-authenticated endpoint (the FHIR
API, later DICOMweb): it reads the ``Authorization: Bearer`` header only (never the session
cookie: a page's cookie must not let another site drive the API), has django-oauth-toolkit
check the token (known, unexpired, not revoked, its application still registered), counts the
token's requests against a per-minute limit, and checks that the token's SMART v2 scopes grant
the interaction asked. What data the user may then reach is the funnel's decision
(``records.access``), exactly as for the pages: a token adds no right, it only narrows them.

Scopes (SMART App Launch v2 style): ``<context>/<resource>.<interactions>`` where the context is
``user`` for a professional's software and ``patient`` for a patient's app (the token's user is
that patient), the resource a FHIR type or ``*``, and the interactions a subset of ``cruds``
written in that order (create, read, update, delete, search).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes

from identity import prepared
from identity.models import User

# The resource types a scope may name (the FHIR API's, and ``*``).
RESOURCES = (
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "DocumentReference",
    "Binary",
    "DiagnosticReport",
    "Observation",
    "AllergyIntolerance",
    "ImagingStudy",
    "AuditEvent",
    "*",
)
INTERACTIONS = "cruds"
CONTEXTS = ("user", "patient")


def _permission_strings() -> list[str]:
    """Every non-empty subset of ``cruds``, its letters in that order (31 strings)."""
    return [
        "".join(letters)
        for size in range(1, len(INTERACTIONS) + 1)
        for letters in itertools.combinations(INTERACTIONS, size)
    ]


def all_scopes() -> dict[str, str]:
    """Every scope an application may ask, with its description (shown when approving)."""
    scopes: dict[str, str] = {}
    for context, resource, perms in itertools.product(CONTEXTS, RESOURCES, _permission_strings()):
        who = "les dossiers auxquels vous avez accès" if context == "user" else "votre dossier"
        what = "toutes les ressources" if resource == "*" else resource
        scopes[f"{context}/{resource}.{perms}"] = f"{what} ({perms}) — {who}"
    return scopes


class SmartScopes(BaseScopes):  # type: ignore[misc]  # the toolkit ships no type hints
    """django-oauth-toolkit's scopes backend (``SCOPES_BACKEND_CLASS``): the SMART v2 scopes
    above. No default scope: an application asks for what it needs, the user sees it."""

    def get_all_scopes(self) -> dict[str, str]:
        return all_scopes()

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return list(all_scopes())

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        return []


class ApiUnauthorized(Exception):
    """No usable bearer token (missing, unknown, expired, revoked): 401."""


class ApiForbidden(Exception):
    """The token's scopes do not grant this interaction, or not to this kind of user: 403."""


class ApiRateLimited(Exception):
    """The token made too many requests this minute: 429."""


@dataclass(frozen=True)
class ApiClient:
    """Who calls: the token's user, the application acting for them, the token's scopes."""

    user: User
    application_name: str
    scopes: frozenset[str]
    token_id: int

    @property
    def context(self) -> str:
        """``patient`` for a patient's app, ``user`` for a professional's software."""
        return "patient" if self.user.is_patient else "user"

    def grants(self, resource: str, interaction: str) -> bool:
        """True when a scope of the token grants ``interaction`` (one of ``cruds``) on
        ``resource`` in the user's own context."""
        for scope in self.scopes:
            context, _, rest = scope.partition("/")
            name, _, perms = rest.partition(".")
            if context == self.context and name in (resource, "*") and interaction in perms:
                return True
        return False


class TokenValidator(OAuth2Validator):  # type: ignore[misc]  # the toolkit has no hints
    """django-oauth-toolkit's validator, a bearer token loaded with its user's professional
    profile in the same query (the funnel and the trail read it on every API request: one
    query less each; the session backend does the same for pages, identity/backends.py)."""

    def _load_access_token(self, token: str) -> AccessToken | None:
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()  # as the toolkit's
        # A kept statement (identity.prepared), as the session's and the user's: building the
        # query again on every API request cost more than running it.
        found = prepared.fetch(("bearer token",), _token, {"checksum": checksum})
        return found[0] if found else None


def _token(values: prepared.Values) -> QuerySet[AccessToken]:
    tokens: QuerySet[AccessToken] = AccessToken.objects.select_related(
        "application", "user__professional"
    )
    return tokens.filter(token_checksum=values["checksum"])[:1]


def _rate_limit(token_id: int) -> None:
    minute = timezone.now().strftime("%Y%m%d%H%M")
    key = f"api-rate:{token_id}:{minute}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: a new minute
        count = 1
    if count > settings.DMP_API_RATE_PER_MINUTE:
        raise ApiRateLimited


def api_user(request: HttpRequest, resource: str, interaction: str) -> ApiClient:
    """The caller of a token-authenticated endpoint, allowed ``interaction`` (one letter of
    ``cruds``) on ``resource`` by their token's scopes.

    Raises ``ApiUnauthorized`` without a valid bearer token (the session is never looked at),
    ``ApiRateLimited`` beyond the token's per-minute limit, ``ApiForbidden`` when no scope
    grants the interaction in the user's context (``patient/`` scopes for patients, ``user/``
    for professionals). Which data the user reaches is then the funnel's decision.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.lower().startswith("bearer ") or len(header) > 4096:
        raise ApiUnauthorized
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    token = getattr(oauth_request, "access_token", None) if valid else None
    if token is None or token.user is None or not token.user.is_active:
        raise ApiUnauthorized
    _rate_limit(token.pk)
    client = ApiClient(
        user=token.user,
        application_name=token.application.name if token.application else "",
        scopes=frozenset(token.scope.split()),
        token_id=token.pk,
    )
    if not client.grants(resource, interaction):
        raise ApiForbidden
    return client


# --- "Applications autorisées": what the user approved, and taking it back ---------------------


@dataclass(frozen=True)
class AuthorisedApplication:
    """A software that holds a live token of the user: its name and the scopes it holds."""

    application_id: int
    name: str
    scopes: tuple[str, ...]


def authorised_applications(user: User) -> list[AuthorisedApplication]:
    """The applications holding an unexpired access token or an unrevoked refresh token of
    ``user`` (two queries, whatever the number of tokens)."""
    now = timezone.now()
    live = Q(user=user) & (Q(expires__gt=now) | Q(refresh_token__revoked__isnull=True))
    scopes: dict[int, set[str]] = {}
    for application_id, scope in AccessToken.objects.filter(live).values_list(
        "application_id", "scope"
    ):
        if application_id is not None:
            scopes.setdefault(application_id, set()).update(scope.split())
    for application_id in RefreshToken.objects.filter(user=user, revoked__isnull=True).values_list(
        "application_id", flat=True
    ):
        scopes.setdefault(application_id, set())
    names = dict(
        Application.objects.filter(pk__in=scopes).values_list("pk", "name").order_by("name")
    )
    return [
        AuthorisedApplication(pk, names[pk], tuple(sorted(scopes[pk])))
        for pk in sorted(names, key=lambda pk: names[pk].lower())
    ]


def application_revoke(*, actor: User, application_id: int) -> int:
    """Withdraw every token and pending code ``actor`` gave ``application_id``: the software
    reads nothing more until the user approves it again. Who may: the user, for their own
    tokens only (another user's are never touched). Returns how many rows went."""
    with transaction.atomic():
        removed = 0
        for model in (RefreshToken, AccessToken, Grant):
            count, _by_model = model.objects.filter(
                user=actor, application_id=application_id
            ).delete()
            removed += count
    return removed
