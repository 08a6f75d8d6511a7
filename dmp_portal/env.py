"""Typed readers for environment variables: a bad value stops start-up with a clear message.

Production configuration is environment variables only (see ``.env.example``); nothing here
reads a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on", "oui"}
_FALSE = {"0", "false", "no", "off", "non", ""}


def _raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    source = os.environ if environ is None else environ
    value = source.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off."
    )


_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


def env_oid(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    """An ISO object identifier (digits and dots, ``2.25.…``); anything else stops start-up."""
    value = env_str(name, default, environ=environ)
    if not _OID.match(value) or len(value) > 64:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not an OID (digits separated by dots, at most 64 characters)."
        )
    return value


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum {maximum}.")
    return number


def env_list(
    name: str, default: list[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> list[str]:
    value = _raw(name, environ)
    if value is None or value == "":
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


# SQLite for concurrent use (parallel thumbnail requests each write an access event):
# - WAL: readers never wait for the writer, and the writer never waits for readers;
# - IMMEDIATE: a transaction takes the write lock when it begins, so two transactions that
#   read then write never deadlock (a deferred one would fail at once, whatever the timeout);
# - a busy timeout: a writer waits its turn (seconds) instead of failing "database is locked".
# synchronous stays FULL (the default): "nothing committed is lost" holds on power loss too.
SQLITE_OPTIONS: dict[str, Any] = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL",
}


def env_database(
    name: str, default_sqlite_path: str, *, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A DATABASES entry from ``DATABASE_URL`` (PostgreSQL or SQLite), else embedded SQLite."""
    value = _raw(name, environ)
    if not value:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": default_sqlite_path,
            "OPTIONS": dict(SQLITE_OPTIONS),
        }
    scheme = urlsplit(value).scheme
    if scheme not in {"postgres", "postgresql", "sqlite"}:
        raise ImproperlyConfigured(
            f"{name} must start with postgres://, postgresql:// or sqlite:// (got {scheme!r})."
        )
    import dj_database_url

    try:
        config: dict[str, Any] = dict(dj_database_url.parse(value, conn_max_age=60))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.postgresql" and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database (…/dbname).")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
    else:
        config["OPTIONS"] = {**postgres_options(environ), **config.get("OPTIONS", {})}
    config["CONN_HEALTH_CHECKS"] = True
    return config


def postgres_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Server-side binding: psycopg sends a statement's values apart from its text, and
    prepares a statement run ``DATABASE_PREPARE_THRESHOLD`` times (default 2) on its
    connection (kept 60 s), so that PostgreSQL plans it once, not on every request: a lab
    report's entry query (about 25 joins) plans in tens of milliseconds and runs in one.
    Behind PgBouncer in transaction pooling (before 1.21, or without ``max_prepared_statements``)
    set ``DATABASE_PREPARE_THRESHOLD=off``: values still bound apart, nothing prepared."""
    threshold = env_str("DATABASE_PREPARE_THRESHOLD", "2", environ=environ).lower()
    if threshold in {"off", "none", "non"}:
        return {"server_side_binding": True, "prepare_threshold": None}
    return {
        "server_side_binding": True,
        "prepare_threshold": env_int(
            "DATABASE_PREPARE_THRESHOLD", 2, minimum=0, maximum=1000, environ=environ
        ),
    }


def env_redis_url(name: str, *, environ: Mapping[str, str] | None = None) -> str | None:
    value = _raw(name, environ)
    if not value:
        return None
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"{name} must be a redis://, rediss:// or unix:// URL.")
    return value


# eIDAS levels of assurance, lowest first: what Pro Santé Connect and FranceConnect put in acr.
OIDC_ACR_LEVELS = ("eidas1", "eidas2", "eidas3")
PSC_SCOPES = "openid scope_all"
FRANCECONNECT_SCOPES = "openid given_name family_name birthdate gender email"


def env_oidc_app(
    prefix: str,
    provider_id: str,
    name: str,
    scopes: str,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """An allauth OpenID Connect app from ``<prefix>_ISSUER``, ``_CLIENT_ID``,
    ``_CLIENT_SECRET``, ``_ACR`` (required level, default eidas1) and ``_SCOPES``; none when
    no issuer is set (the provider is off)."""
    issuer = env_str(f"{prefix}_ISSUER", environ=environ).rstrip("/")
    if not issuer:
        return []
    if urlsplit(issuer).scheme not in {"https", "http"}:
        raise ImproperlyConfigured(f"{prefix}_ISSUER must be an https:// URL.")
    acr = env_str(f"{prefix}_ACR", "eidas1", environ=environ)
    if acr not in OIDC_ACR_LEVELS:
        raise ImproperlyConfigured(f"{prefix}_ACR must be one of {', '.join(OIDC_ACR_LEVELS)}.")
    client_id = env_str(f"{prefix}_CLIENT_ID", environ=environ)
    secret = env_str(f"{prefix}_CLIENT_SECRET", environ=environ)
    if not (client_id and secret):
        raise ImproperlyConfigured(
            f"{prefix}_ISSUER is set: set {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET too."
        )
    return [
        {
            "provider_id": provider_id,
            "name": name,
            "client_id": client_id,
            "secret": secret,
            "settings": {
                "server_url": issuer,
                "scope": env_str(f"{prefix}_SCOPES", scopes, environ=environ).split(),
                "token_auth_method": "client_secret_post",
                "acr": acr,
            },
        }
    ]
