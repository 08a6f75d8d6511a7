""" "Télécharger mon DMP": the patient's page, a professional's request for a patient who asks,
the progress of an archive (the page refreshes itself, no script) and its one download."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identity.auth import AuthenticatedHttpRequest, patient_required, professional_required
from identity.errors import AccessDenied
from records import access
from records.models import AccessAction
from records.services import care, export

# Shown on the patient's page: their latest archives.
RECENT = 5
REFRESH_SECONDS = 3


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
def my_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's "Télécharger mon DMP": what the archive holds, a button to ask for it
    (POST), and their recent archives. The patient's own act: someone speaking for them is
    refused (403) — the archive would hold what is kept from them."""
    dmp = access.own_dmp(request.user)
    if dmp.on_behalf:
        raise AccessDenied("the patient alone downloads their DMP")
    if request.method == "POST":
        if not dmp.patient.is_open:
            return redirect("records:my_export")
        asked = export.export_request(actor=request.user, dmp=dmp, request=request)
        return redirect("records:export_status", export_id=asked.public_id)
    care.read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.DMP_VIEW,
        detail="télécharger mon DMP",
        request=request,
    )
    exports = list(access.exports_for(request.user).filter(patient=dmp.patient)[:RECENT])
    return render(
        request,
        "records/my_export.html",
        {"patient": dmp.patient, "exports": exports, "closed": not dmp.patient.is_open},
    )


@professional_required
@require_POST
def export_pro(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A professional with access asks for the archive of a patient's DMP, for the patient
    (traced, in the patient's history); an emergency access does not export (403)."""
    dmp = access.dmp_for(request.user, public_id)
    try:
        asked = export.export_request(actor=request.user, dmp=dmp, request=request)
    except AccessDenied as refused:
        raise PermissionDenied(str(refused)) from None
    return redirect("records:export_status", export_id=asked.public_id)


@never_cache
@login_required
@require_GET
def export_status(request: AuthenticatedHttpRequest, export_id: uuid.UUID) -> HttpResponse:
    """One archive's progress (n of N documents), then its download link; 404 for anyone but
    whoever asked for it."""
    asked = access.export_for(request.user, export_id)
    context: dict[str, Any] = {
        "export": asked,
        "patient": asked.patient,
        "refresh": REFRESH_SECONDS if asked.in_progress else None,
    }
    return render(request, "records/export_status.html", context)


@never_cache
@login_required
@require_GET
def export_download(request: AuthenticatedHttpRequest, export_id: uuid.UUID) -> HttpResponseBase:
    """The archive, streamed, once: a complete download deletes it; an expired, used or
    failed link says so (410)."""
    asked = access.export_for(request.user, export_id)
    handover = export.export_download_start(actor=request.user, export=asked, request=request)
    if handover is None:
        asked.refresh_from_db()
        return render(
            request, "records/export_status.html", {"export": asked, "gone": True}, status=410
        )
    response = FileResponse(_Sent(handover), content_type="application/zip")
    response["Content-Length"] = str(asked.size or 0)
    response["Content-Disposition"] = (
        f'attachment; filename="dmp-{asked.created_at:%Y%m%d-%H%M}.zip"'
    )
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


class _Sent:
    """The stored archive as FileResponse reads it, counting what is sent: on close, a
    complete send deletes the archive; an interrupted one leaves the link usable."""

    def __init__(self, handover: export.Handover) -> None:
        self.handover = handover
        self.sent = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        block = self.handover.file.read(size)
        self.sent += len(block)
        return block

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.handover.file.close()
        expected = self.handover.export.size or 0
        export.export_download_end(export=self.handover.export, complete=self.sent >= expected)
