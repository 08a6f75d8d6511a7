"""The one streaming upload cap, shared by every upload of the portal (reports, images).

``CappedUploadHandler`` sits first in the request's upload handlers and counts the bytes of a
multipart body as it arrives, before anything is stored:

* a body declared (Content-Length) or found larger than ``max_request`` (when given) stops
  the parse at once: the rest is never read, nothing is kept, ``too_large`` says so;
* a file beyond ``max_file`` (declared in its part, or counted) is skipped as soon as it
  passes the cap (its temporary file closed and removed) and named in ``oversized``.

``install_capped_upload`` puts it in place for one request (the view then reads
``request.FILES``); ``capped_upload(max_file=...)`` does it for a form view, with the CSRF
check after the handler is installed (the middleware would otherwise parse the body first,
with the default handlers), and ``upload_too_large(request)`` tells the form what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.files.uploadhandler import (
    FileUploadHandler,
    SkipFile,
    StopUpload,
    TemporaryFileUploadHandler,
)
from django.http import HttpRequest, QueryDict
from django.http.response import HttpResponseBase
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt, csrf_protect

View = Callable[..., HttpResponseBase]
MIB = 1024**2
FORM_FIELDS_ALLOWANCE = MIB  # the form's other fields, beside its files


class CappedUploadHandler(FileUploadHandler):
    """First handler of an upload: enforces the byte caps, passes chunks on."""

    def __init__(self, request: Any, *, max_request: int | None, max_file: int) -> None:
        super().__init__(request)
        self.max_request = max_request
        self.max_file = max_file
        self.total = 0
        self.file_bytes = 0
        self.too_large = False
        self.oversized: list[str] = []

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> tuple[QueryDict, MultiValueDict[str, Any]] | None:
        if self.max_request is not None and content_length > (
            self.max_request + FORM_FIELDS_ALLOWANCE
        ):
            # Declared too large: answer without reading a byte of the body.
            self.too_large = True
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    def new_file(
        self,
        field_name: str,
        file_name: str,
        content_type: str,
        content_length: int | None,
        charset: str | None = None,
        content_type_extra: dict[str, bytes] | None = None,
    ) -> None:
        super().new_file(
            field_name, file_name, content_type, content_length, charset, content_type_extra
        )
        self.file_bytes = 0
        if content_length is not None and content_length > self.max_file:
            self._skip()  # a part that declares its own length beyond the cap

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.total += len(raw_data)
        self.file_bytes += len(raw_data)
        if self.max_request is not None and self.total > self.max_request:
            self.too_large = True
            raise StopUpload(connection_reset=True)
        if self.file_bytes > self.max_file:
            self._skip()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file

    def _skip(self) -> None:
        self.oversized.append(str(self.file_name or ""))
        raise SkipFile


def install_capped_upload(
    request: HttpRequest, *, max_request: int | None, max_file: int, on_disk: bool = False
) -> CappedUploadHandler:
    """Before the body is read: the cap first, then Django's handlers (``on_disk``: files on
    disk only, never in memory, so 500 small files cannot fill the worker's memory)."""
    capped = CappedUploadHandler(request, max_request=max_request, max_file=max_file)
    rest = [TemporaryFileUploadHandler(request)] if on_disk else list(request.upload_handlers)
    request.upload_handlers = [capped, *rest]
    return capped


def upload_cap(request: HttpRequest) -> CappedUploadHandler | None:
    """The cap installed on this request, if any."""
    for handler in request.upload_handlers:
        if isinstance(handler, CappedUploadHandler):
            return handler
    return None


def upload_too_large(request: HttpRequest) -> bool:
    """Whether the cap refused the body or one of its files (the form says so, 413)."""
    cap = upload_cap(request)
    return cap is not None and (cap.too_large or bool(cap.oversized))


def capped_upload(*, max_file: int) -> Callable[[View], View]:
    """A form view's upload cap: a file beyond ``max_file`` bytes is skipped while it streams
    in, the form's other fields are kept (a typed report is never lost to its attachment);
    then the CSRF check as usual."""

    def decorate(view: View) -> View:
        protected = csrf_protect(view)

        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            install_capped_upload(request, max_request=None, max_file=max_file)
            return protected(request, *args, **kwargs)

        return wrapper

    return decorate
