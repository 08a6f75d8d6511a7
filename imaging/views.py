"""Imaging pages and image responses. Thin: the first line decides access (``imaging.access``,
404 when out of scope, like a missing id), a service does the work.

Every image or file response is permission-checked and traced (see ``imaging.services.reads``:
one event per page view, one per download, one THUMBNAIL event per user × study per
10 minutes for images), sent with ``nosniff``, ``no-store`` and ``CSP: sandbox``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, TooManyFilesSent
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identity.auth import AuthenticatedHttpRequest, patient_required, professional_required
from imaging import labels, previews
from imaging.access import (
    REPORT_DOCUMENT_TYPE,
    instance_for,
    may_edit_study,
    report_for,
    report_visible,
    series_for,
    series_preview_state,
    series_with_counts,
    studies_for,
    study_for,
)
from imaging.dicom import DicomRejected
from imaging.forms import ConfirmForm, ReportForm, UploadForm
from imaging.ingest import Refusal, display_name
from imaging.models import Instance, PreviewStatus
from imaging.services import imports, reads, upload
from imaging.uploads import (
    StagingFailed,
    discard,
    install_upload_handlers,
    max_request_bytes,
    recall_results,
    remember_results,
    stage,
    staged_upload,
)
from records import access
from records.family import is_minor
from records.models import AccessAction
from records.services.care import read_traced
from records.uploads import CappedUploadHandler
from records.views.nav import dmp_nav

VIEWER_SIZE = 768
MAX_RENDER_SIZE = 1024
FILE_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}
TOO_LARGE = (
    "Envoi refusé : il dépasse la taille maximale autorisée (%(total)s au total, %(file)s par "
    "fichier). Rien n'a été conservé. Envoyez l'examen en plusieurs fois."
)
TOO_MANY = (
    "Envoi refusé : trop de fichiers dans un seul envoi. Rien n'a été conservé. Regroupez-les "
    "dans une archive ZIP ou envoyez-les en plusieurs fois."
)
FILE_TOO_LARGE = "Ce fichier dépasse la taille maximale autorisée pour une image : il est ignoré."
STAGING_UNAVAILABLE = (
    "Le stockage des images est momentanément indisponible : rien n'a été conservé ni "
    "rattaché au DMP. Réessayez dans quelques minutes."
)


def _file_response(response: HttpResponseBase) -> HttpResponseBase:
    for header, value in FILE_HEADERS.items():
        response[header] = value
    return response


def _png(data: bytes) -> HttpResponseBase:
    return _file_response(HttpResponse(data, content_type="image/png"))


def _unavailable() -> HttpResponseBase:
    """No image now (a render that failed or ran past its limit, busy workers, storage down):
    503 with the words the pages show, never a 500 and never a request held."""
    text = _("aperçu indisponible")
    return _file_response(HttpResponse(text, status=503, content_type="text/plain; charset=utf-8"))


# --------------------------------------------------------------- professional: list + upload


def _list_context(
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, **extra: Any
) -> dict[str, Any]:
    patient = dmp.patient
    can_upload = dmp.may_deposit_type(REPORT_DOCUMENT_TYPE)
    return {
        **dmp_nav(dmp),
        "studies": studies_for(request.user, patient),
        "can_upload": can_upload,
        "form": UploadForm(actor=request.user, patient=patient, minor=is_minor(patient.birth_date))
        if can_upload
        else None,
        "results": [],
        **extra,
    }


@csrf_exempt  # the body is parsed under our byte caps first; CSRF is checked right after
@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def patient_studies(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """A DMP's imaging studies, and the upload form (POST: files, many files or a ZIP)."""
    dmp = access.dmp_for(request.user, public_id)  # before a byte of the body is read
    if request.method == "POST":
        dmp.require_deposit(REPORT_DOCUMENT_TYPE)  # an emergency access reads, it does not write
        capped = install_upload_handlers(request)
        return _receive_upload(request, dmp, capped)
    patient = dmp.patient
    read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail="imagerie",
    )
    context = _list_context(request, dmp)
    context["results"] = recall_results(
        request.session, request.GET.get("depot"), str(patient.public_id)
    )
    return render(request, "imaging/study_list.html", context)


def _receive_upload(
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, capped: CappedUploadHandler
) -> HttpResponse:
    try:
        files = request.FILES.getlist("files")
    except TooManyFilesSent:
        return _refused_upload(request, dmp, _(TOO_MANY), "too_many_files", status=400)
    except MultiPartParserError:
        return HttpResponseBadRequest()
    if capped.too_large:
        for upload in files:
            upload.close()
        message = _(TOO_LARGE) % {
            "total": _size_label(max_request_bytes()),
            "file": _size_label(capped.max_file),
        }
        return _refused_upload(request, dmp, message, "upload_too_large", status=413)
    oversized = [display_name(name) for name in capped.oversized]
    return csrf_protect(_upload)(request, dmp, files, oversized)


def _size_label(size: int) -> str:
    """A size in the reader's units ("2 Gio", "2 GB"), as Django's filesizeformat names them."""
    gib = size / (1 << 30)
    if gib >= 1:
        return _("%(size)s Gio") % {"size": _number(gib)}
    return _("%(size)s Mio") % {"size": _number(size / (1 << 20))}


def _number(value: float) -> str:
    """One decimal at most, in the reader's format ("1,5" / "1.5"; "2", not "2,0")."""
    rounded = round(value, 1)
    return formats.number_format(int(rounded) if rounded == int(rounded) else rounded)


def _refused_upload(
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, message: str, code: str, status: int
) -> HttpResponse:
    """The whole upload refused before any file was judged: nothing was kept."""
    imports.uploads_refused_trace(
        actor=request.user,
        patient=dmp.patient,
        refusals=[Refusal("", code, message)],
        request=request,
    )
    context = _list_context(request, dmp, upload_error=message)
    return render(request, "imaging/study_list.html", context, status=status)


def _upload(
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, files: list[Any], oversized: list[str]
) -> HttpResponse:
    patient = dmp.patient
    form = UploadForm(
        request.POST, actor=request.user, patient=patient, minor=is_minor(patient.birth_date)
    )
    if not form.is_valid() or not (files or oversized):
        context = _list_context(request, dmp, form=form)
        if not (files or oversized):
            context["upload_error"] = _("Choisissez au moins un fichier DICOM ou une archive ZIP.")
        return render(request, "imaging/study_list.html", context, status=400)
    report = form.cleaned_data["report"]
    flags = form.minor_flags()

    def stage_for_confirmation(inspection: Any, mismatches: Any, refused: Any) -> str:
        staged = stage(
            request.session,
            patient_id=str(patient.public_id),
            report_id=str(report.public_id) if report else None,
            inspection=inspection,
            mismatches=mismatches,
            refused=refused,
            flags={name: bool(value) for name, value in flags.items()},
        )
        return staged.token

    try:
        outcome = upload.upload_receive(
            actor=request.user,
            patient=patient,
            files=files,
            refused=[Refusal(name, "file_too_large", FILE_TOO_LARGE) for name in oversized],
            report=report,
            stage=stage_for_confirmation,
            request=request,
            **flags,
        )
    except StagingFailed:
        context = _list_context(request, dmp, upload_error=_(STAGING_UNAVAILABLE))
        return render(request, "imaging/study_list.html", context, status=503)
    if outcome.staged_token:
        url = reverse("imaging:upload_confirm", args=[patient.public_id, outcome.staged_token])
        return _redirect(request, url)
    return _after_import(request, dmp, outcome.refused_rows, outcome.result)


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    """303 for a form; the upload script (XMLHttpRequest) gets the address to go to."""
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"location": url})
    response = HttpResponse(status=303)
    response["Location"] = url
    return response


def _after_import(
    request: AuthenticatedHttpRequest,
    dmp: access.DmpAccess,
    rows: list[dict[str, str]],
    result: Any,
) -> HttpResponse:
    patient = dmp.patient
    order = {"refused": 0, "duplicate": 1, "stored": 2}
    rows = sorted(
        rows + [outcome.as_row() for outcome in result.outcomes],
        key=lambda row: order.get(row["status"], 0),
    )
    kept = result.count("stored") + result.count("duplicate")
    if not kept:
        context = _list_context(request, dmp, results=rows)
        context["upload_error"] = _("Aucun fichier n'a été enregistré.")
        return render(request, "imaging/study_list.html", context, status=400)
    key = remember_results(request.session, str(patient.public_id), rows)
    messages.success(
        request,
        _("%(stored)d image(s) enregistrée(s), %(dup)d déjà présente(s), %(refused)d refusée(s).")
        % {
            "stored": result.count("stored"),
            "dup": result.count("duplicate"),
            "refused": len(rows) - kept,
        },
    )
    url = reverse("imaging:patient_studies", args=[patient.public_id]) + f"?depot={key}"
    return _redirect(request, url)


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def upload_confirm(request: AuthenticatedHttpRequest, public_id: str, token: str) -> HttpResponse:
    """The patient identity in the files differs from the DMP's: confirm or cancel."""
    dmp = access.dmp_for(request.user, public_id)
    dmp.require_deposit(REPORT_DOCUMENT_TYPE)  # an emergency access reads, it does not write
    patient = dmp.patient
    staged = staged_upload(request.session, token, str(patient.public_id))
    list_url = reverse("imaging:patient_studies", args=[patient.public_id])
    if staged is None:
        messages.warning(
            request, _("Ce dépôt a expiré ou a déjà été traité : renvoyez les fichiers.")
        )
        return redirect(list_url)
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["decision"] == "cancel":
            discard(request.session, token)
            messages.info(request, _("Dépôt annulé : aucun fichier n'a été conservé."))
            return redirect(list_url)
        return _confirm_import(request, dmp, staged)
    return render(
        request,
        "imaging/upload_confirm.html",
        {"patient": patient, "staged": staged, "mismatches": staged.mismatches},
    )


def _confirm_import(
    request: AuthenticatedHttpRequest, dmp: access.DmpAccess, staged: Any
) -> HttpResponse:
    report = None
    if staged.report_id:
        report = report_for(request.user, dmp.patient, staged.report_id)
    try:
        with staged.local_copies() as paths:
            try:
                result, refused = upload.staged_import(
                    actor=request.user,
                    patient=dmp.patient,
                    paths=paths,
                    report=report,
                    request=request,
                    hidden_from_representatives=staged.flags.get(
                        "hidden_from_representatives", False
                    ),
                    secret=staged.flags.get("secret", False),
                )
            finally:
                discard(request.session, staged.token)
    except StagingFailed:  # the staged files could not be read back: kept, try again
        messages.error(request, _(STAGING_UNAVAILABLE))
        return redirect(request.path)
    return _after_import(request, dmp, staged.refused + refused, result)


# -------------------------------------------------------------------------- patient


@never_cache
@patient_required
@require_GET
def my_studies(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's own imaging studies."""
    dmp = access.own_dmp(request.user)
    patient = dmp.patient
    read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail="imagerie",
    )
    return render(
        request,
        "imaging/my_studies.html",
        {"patient": patient, "studies": studies_for(request.user, patient)},
    )


# ---------------------------------------------------------------- study and viewer


@never_cache
@login_required
@require_GET
def study_detail(request: AuthenticatedHttpRequest, entry_id: str) -> HttpResponse:
    """One study: its series with thumbnails, its report, who deposited it."""
    study = study_for(request.user, entry_id)
    dmp = reads.study_read_traced(actor=request.user, study=study, request=request)
    # An attached report is shown, not offered again for attaching.
    can_edit = dmp.may_deposit_type(REPORT_DOCUMENT_TYPE) and study.report_id is None
    return render(
        request,
        "imaging/study_detail.html",
        {
            **dmp_nav(dmp),
            "study": study,
            "series_list": series_with_counts(study),
            "report_visible": report_visible(request.user, study),
            "report_form": ReportForm(
                actor=request.user,
                patient=study.entry.patient,
                initial={"report": study.report},
            )
            if can_edit
            else None,
        },
    )


@never_cache
@login_required
@require_GET
def study_previews(request: AuthenticatedHttpRequest, entry_id: str) -> HttpResponse:
    """Where each series' thumbnail stands (JSON), for the study page to show them as the
    task worker makes them: ready (with its address), pending or unavailable."""
    study = study_for(request.user, entry_id)
    reads.image_read_traced(actor=request.user, study=study, request=request)
    series = [
        {
            "id": str(one.public_id),
            "state": series_preview_state(one),
            "thumbnail": reverse("imaging:series_thumbnail", args=[one.public_id])
            if one.thumbnail
            else None,
        }
        for one in study.series.order_by("number", "pk").only(
            "public_id", "thumbnail", "thumbnail_status"
        )
    ]
    pending = any(one["state"] == PreviewStatus.PENDING for one in series)
    response = JsonResponse({"pending": pending, "series": series})
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@professional_required
@require_POST
def study_report(request: AuthenticatedHttpRequest, entry_id: str) -> HttpResponse:
    """Attach or change the CR d'imagerie of a study."""
    study = study_for(request.user, entry_id)
    if not may_edit_study(request.user, study):
        raise PermissionDenied("no normal access")
    form = ReportForm(request.POST, actor=request.user, patient=study.entry.patient)
    if form.is_valid():
        imports.study_attach_report(
            actor=request.user,
            study=study,
            report=form.cleaned_data["report"],
            request=request,
        )
        messages.success(request, _("Compte rendu d'imagerie mis à jour."))
    else:
        messages.error(request, _("Ce compte rendu ne peut pas être rattaché à cet examen."))
    return redirect("imaging:study_detail", entry_id=study.entry.public_id)


@dataclass(frozen=True)
class _Position:
    index: int  # 0-based position among every frame of every instance
    total: int
    instance: int  # 0-based instance index
    frame: int  # 0-based frame inside that instance


def _position(frames: list[int], requested: str | None) -> _Position:
    total = sum(frames)
    try:
        index = int(requested or 0)
    except ValueError:
        index = 0
    index = min(max(index, 0), max(total - 1, 0))
    seen = 0
    for number, count in enumerate(frames):
        if index < seen + count:
            return _Position(index, total, number, index - seen)
        seen += count
    return _Position(0, total, 0, 0)


@never_cache
@login_required
@require_GET
def series_viewer(request: AuthenticatedHttpRequest, series_id: str) -> HttpResponse:
    """The viewer: one image large, window presets, scrolling (keyboard with the script,
    plain links without), key tags, download of the original."""
    series = series_for(request.user, series_id)
    study = series.study
    dmp = reads.study_read_traced(
        actor=request.user, study=study, request=request, detail="visionneuse"
    )
    light = list(
        series.instances.order_by("instance_number", "pk").values_list(
            "public_id", "frames", "instance_number", "preview_status"
        )
    )
    if not light:
        raise Http404("empty series")
    position = _position([row[1] for row in light], request.GET.get("n"))
    current = series.instances.get(public_id=light[position.instance][0])
    presets = viewer_presets(current)
    preset = _chosen(presets, request.GET.get("w"))
    overlays = request.GET.get("ov") != "0"  # drawn by default, as dcmtk does
    return render(
        request,
        "imaging/series_viewer.html",
        {
            **dmp_nav(dmp),
            "series": series,
            "study": study,
            "current": current,
            "key_tags": labels.key_tags(current.key_tags or []),
            "position": position,
            "presets": presets,
            "preset": preset,
            "render_url": _render_url(
                current, position.frame, presets[preset], VIEWER_SIZE, overlays=overlays
            ),
            "overlays": overlays,
            "viewer_data": {
                "images": [[str(pk), frames, number, st] for pk, frames, number, st in light],
                "presets": presets,
                "size": VIEWER_SIZE,
                "render": reverse("imaging:instance_render", args=[_ZERO]),
                "download": reverse("imaging:instance_download", args=[_ZERO]),
                "zero": _ZERO,
                "overlays": overlays,
            },
            "links": _viewer_links(position, preset, overlays),
            "unavailable": current.preview_status == PreviewStatus.UNAVAILABLE,
        },
    )


_ZERO = "00000000-0000-0000-0000-000000000000"


def viewer_presets(instance: Instance) -> list[dict[str, Any]]:
    """The file's own rendering first (its VOI, else an automatic window), then the windows
    it carries, then the CT presets (soft tissue, lung, bone, brain, liver) for CT, each
    window once. Every window is drawn with the file's VOI LUT function (SIGMOID…)."""
    default = {"label": _("Fenêtre par défaut"), "center": None, "width": None}
    default["explanation"] = _("Celle du fichier, sinon calculée sur l'image")
    presets, seen = [default], set()
    # A CT preset equal to the file's window is listed once; labels in the reader's language.
    for preset in labels.presets(instance.presets()):
        window = (preset.get("center"), preset.get("width"))
        if window not in seen:
            seen.add(window)
            presets.append(preset)
    return presets


def _chosen(presets: list[dict[str, Any]], requested: str | None) -> int:
    try:
        chosen = int(requested or 0)
    except ValueError:
        return 0
    return chosen if 0 <= chosen < len(presets) else 0


def _render_url(
    instance: Instance, frame: int, preset: dict[str, Any], size: int, *, overlays: bool = True
) -> str:
    url = reverse("imaging:instance_render", args=[instance.public_id])
    query = f"?frame={frame}&size={size}"
    if preset.get("center") is not None:
        query += f"&wc={preset['center']:g}&ww={preset['width']:g}"
    return url + query + ("" if overlays else "&ov=0")


def _viewer_links(position: _Position, preset: int, overlays: bool = True) -> list[dict[str, Any]]:
    """First, previous, next, last: plain links (the script turns them into buttons)."""
    last = max(position.total - 1, 0)
    steps = [
        ("first", _("Première"), 0),
        ("previous", _("Précédente"), max(position.index - 1, 0)),
        ("next", _("Suivante"), min(position.index + 1, last)),
        ("last", _("Dernière"), last),
    ]
    return [
        {
            "step": step,
            "label": label,
            "href": f"?n={target}&w={preset}" + ("" if overlays else "&ov=0"),
            "disabled": target == position.index,
        }
        for step, label, target in steps
    ]


# ------------------------------------------------------------------------- images


def _render_params(request: HttpRequest, instance: Instance) -> tuple[Any, ...] | None:
    """(frame, window, size, overlays) from the query string, or None when invalid."""
    try:
        frame = int(request.GET["frame"]) if "frame" in request.GET else None
        size = int(request.GET.get("size", VIEWER_SIZE))
        centre, width = request.GET.get("wc"), request.GET.get("ww")
        window = (float(centre), float(width)) if centre is not None and width is not None else None
    except (ValueError, OverflowError):
        return None
    if frame is not None and not 0 <= frame < instance.frames:
        return None
    if not 16 <= size <= MAX_RENDER_SIZE:
        return None
    if window is not None and not (
        all(math.isfinite(v) and abs(v) <= 1e7 for v in window) and window[1] > 0
    ):
        return None
    return frame, window, size, request.GET.get("ov") != "0"


@never_cache
@login_required
@require_GET
def instance_render(request: AuthenticatedHttpRequest, instance_id: str) -> HttpResponseBase:
    """One frame rendered by the server at the requested window and size (cached)."""
    instance = instance_for(request.user, instance_id)
    params = _render_params(request, instance)
    if params is None:
        return HttpResponseBadRequest("paramètres d'affichage invalides")
    reads.image_read_traced(actor=request.user, study=instance.series.study, request=request)
    frame, window, size, overlays = params
    try:
        data = previews.instance_render(
            instance=instance, frame=frame, window=window, size=size, overlays=overlays
        )
    except DicomRejected:
        raise Http404("image not renderable") from None
    except previews.Unavailable:
        return _unavailable()
    return _png(data)


@never_cache
@login_required
@require_GET
def instance_thumbnail(request: AuthenticatedHttpRequest, instance_id: str) -> HttpResponseBase:
    """The instance's stored preview (404 until it exists, or when it cannot be made)."""
    instance = instance_for(request.user, instance_id)
    if not instance.preview:
        raise Http404("no preview")
    reads.image_read_traced(actor=request.user, study=instance.series.study, request=request)
    return _stored_png(instance.preview.name or "")


@never_cache
@login_required
@require_GET
def series_thumbnail(request: AuthenticatedHttpRequest, series_id: str) -> HttpResponseBase:
    """The series' thumbnail (404 until it exists, or when it cannot be made)."""
    series = series_for(request.user, series_id)
    if not series.thumbnail:
        raise Http404("no thumbnail")
    reads.image_read_traced(actor=request.user, study=series.study, request=request)
    return _stored_png(series.thumbnail.name or "")


def _stored_png(name: str) -> HttpResponseBase:
    try:
        return _png(previews.stored_image(name))
    except previews.Unavailable:
        return _unavailable()


@never_cache
@login_required
@require_GET
def instance_download(request: AuthenticatedHttpRequest, instance_id: str) -> HttpResponseBase:
    """The original DICOM file as stored (preamble zeroed), as an attachment."""
    instance = instance_for(request.user, instance_id)
    reads.instance_download_traced(actor=request.user, instance=instance, request=request)
    response = FileResponse(
        default_storage.open(instance.file.name or "", "rb"),
        as_attachment=True,
        filename=instance.download_name,
        content_type="application/dicom",
    )
    return _file_response(response)
