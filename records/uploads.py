"""Upload size cap, enforced while the request body streams in (not after it is stored).

``capped_upload`` puts ``SizeCapUploadHandler`` in front of Django's handlers for one view: a
file beyond the cap is skipped as soon as its size passes the cap (its temporary file closed
and removed, the rest of its bytes read and dropped), and the view learns it through
``request.upload_too_large``. The CSRF check runs after the handler is installed (the
middleware would otherwise parse the body first, with the default handlers).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from records.pdf import MAX_PDF_BYTES

View = Callable[..., HttpResponseBase]


class SizeCapUploadHandler(FileUploadHandler):
    """Skips any uploaded file larger than ``cap`` bytes and flags the request."""

    def __init__(self, request: HttpRequest, cap: int = MAX_PDF_BYTES) -> None:
        super().__init__(request)
        self.cap = cap

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
        if content_length is not None and content_length > self.cap:
            self._refuse()  # a part that declares its own length beyond the cap

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.cap:
            self._refuse()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file

    def _refuse(self) -> None:
        self.request.upload_too_large = True  # type: ignore[union-attr]
        raise SkipFile


def capped_upload(view: View) -> View:
    """Install the size cap before the body is read, then check CSRF as usual."""
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        request.upload_too_large = False  # type: ignore[attr-defined]
        request.upload_handlers = [SizeCapUploadHandler(request), *request.upload_handlers]
        return protected(request, *args, **kwargs)

    return wrapper
