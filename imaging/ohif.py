"""The OHIF viewer (a radiologist's DICOMweb viewer), served behind login from the prebuilt
``dist/`` that the npm package ``@ohif/app`` publishes (no build step): ``./dev ohif``
unpacks it into ``DMP_OHIF_DIR``. Nothing of it is committed.

OHIF reads our DICOMweb base (``/dicomweb``) with the session's cookie, so it shows exactly
what the pages would (the same funnel, the same access events). Its built ``index.html``
assumes it lives at ``/``: it is served under ``/ohif/`` with its absolute paths rewritten and
our ``app-config.js``. Its own Content-Security-Policy: it runs WebAssembly codecs and workers
and inline styles; still no other origin.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import re
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.utils.csp import CSP
from django.views.decorators.cache import never_cache
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET

PREFIX = "/ohif/"
OHIF_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.UNSAFE_INLINE, CSP.UNSAFE_EVAL, "'wasm-unsafe-eval'"],
    "worker-src": [CSP.SELF, "blob:"],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF, "data:", "blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}


def ohif_root() -> Path | None:
    """The unpacked ``dist/`` directory, or None when OHIF is not installed."""
    configured = getattr(settings, "DMP_OHIF_DIR", "")
    root = Path(configured) if configured else Path(settings.VAR_DIR) / "ohif" / "dist"
    return root if (root / "index.html").is_file() else None


def app_config(dicomweb: str) -> str:
    """OHIF's configuration: one DICOMweb data source, ours, read with the session cookie."""
    source = {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "dmp",
        "configuration": {
            "friendlyName": "DMP",
            "name": "dmp",
            "wadoUriRoot": dicomweb,
            "qidoRoot": dicomweb,
            "wadoRoot": dicomweb,
            "qidoSupportsIncludeField": False,
            "imageRendering": "wadors",
            "thumbnailRendering": "wadors",
            "enableStudyLazyLoad": True,
            "supportsFuzzyMatching": False,
            "supportsWildcard": False,
            "staticWado": False,
            "singlepart": "",
            "bulkDataURI": {"enabled": False},
            "omitQuotationForMultipartRequest": True,
            "requestOptions": {"requestCredentials": "same-origin"},
        },
    }
    config = {
        "routerBasename": PREFIX.rstrip("/"),
        "extensions": [],
        "modes": [],
        "showStudyList": False,
        "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": True,
        "showLoadingIndicator": True,
        "maxNumberOfWebWorkers": 2,
        "defaultDataSourceName": "dmp",
        "dataSources": [source],
    }
    return f"window.config = {json.dumps(config, indent=2)};\n"


_ABSOLUTE = re.compile(r'((?:src|href)=")/(?!/)')


def _index(root: Path) -> str:
    html = (root / "index.html").read_text(encoding="utf-8")
    html = html.replace('window.PUBLIC_URL="/"', f'window.PUBLIC_URL="{PREFIX}"')
    return _ABSOLUTE.sub(rf"\1{PREFIX}", html)


@functools.lru_cache(maxsize=32)
def _rebased(path: str) -> bytes:
    """A bundle with webpack's public path (built as "/") rewritten for ``/ohif/``: the
    chunks, workers and WebAssembly codecs it loads are there."""
    code = Path(path).read_bytes()
    return code.replace(
        b'__webpack_require__.p = "/";', f'__webpack_require__.p = "{PREFIX}";'.encode()
    )


@never_cache
@login_required
@require_GET
@csp_override(OHIF_CSP)
def viewer(request: HttpRequest, path: str = "") -> HttpResponse | FileResponse:
    """A file of OHIF's ``dist/``, its configuration, or its page for any route of its own."""
    if path == "app-config.js":
        return HttpResponse(app_config("/dicomweb"), content_type="text/javascript")
    root = ohif_root()
    if root is None:
        raise Http404("OHIF is not installed")
    target = (root / path).resolve()
    if path and target.is_file() and target.is_relative_to(root.resolve()):
        if target.suffix == ".js":
            return HttpResponse(_rebased(str(target)), content_type="text/javascript")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".wasm":
            kind = "application/wasm"
        return FileResponse(target.open("rb"), content_type=kind)
    return HttpResponse(_index(root), content_type="text/html; charset=utf-8")
