"""Structured logs: one JSON line per request (with its request id) and per log record.

What a request line holds is chosen, not collected: the method, the URL *pattern* (never the
path or the query string, which carry ids and search terms), the view's name, the status, the
duration, the user's internal number. Never the NIR, a name, an INS-C or clinical content. The
request id comes from the proxy's ``X-Request-ID`` when it is well formed, else is made here;
it is answered in ``X-Request-ID`` and written on the access events of the request
(records/trail.py reads it), so that a log line and the trail meet.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

request_logger = logging.getLogger("dmp.request")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
# Attributes every LogRecord has: the rest came through ``extra`` and go into the line.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ``extra``
    fields, and the exception's type and traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def request_id_of(request: HttpRequest) -> str:
    """The proxy's request id if well formed, else a new one (stored back on the request)."""
    given = str(request.META.get("HTTP_X_REQUEST_ID", ""))
    if not _REQUEST_ID.fullmatch(given):
        given = uuid.uuid4().hex
        request.META["HTTP_X_REQUEST_ID"] = given
    return given


class RequestLogMiddleware:
    """First in the chain: gives every request its id and logs one line when it is answered."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_of(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        match = getattr(request, "resolver_match", None)
        user = getattr(request, "user", None)
        fields = {
            "request_id": request_id,
            "method": request.method,
            "route": f"/{match.route}" if match is not None else None,
            "view": match.view_name if match is not None else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "user_id": user.pk if user is not None and user.is_authenticated else None,
        }
        request_logger.info(
            "%(method)s %(route)s %(status)s %(duration_ms)s ms [%(request_id)s]",
            fields,
            extra=fields,
        )
        return response
