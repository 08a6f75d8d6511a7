"""DICOMweb for viewers and PACS (PS3.18): QIDO-RS searches and WADO-RS retrieval under
``/dicomweb/``, with the rules of the pages.

- Who: :func:`_dicomweb_user` is the only place that decides who is asking (the session
  today; bearer tokens of the FHIR API plug in there). Nobody → 401.
- What: every row comes from ``imaging.access`` (the DMP's funnel). A study, series or
  instance out of scope answers 404 exactly like a missing one; a search answers only from
  the DMPs the caller may read.
- Trace: a search writes one event per DMP it answered from; retrieval writes one event per
  user × study per 10 minutes (``imaging.services.reads``), never one per frame.
- Cost: a series of 1 000 instances is a constant number of queries; files and metadata are
  streamed from the storage, never held whole.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from PIL import Image

from identity.models import User
from imaging import dicomweb as web
from imaging import previews
from imaging.access import (
    dicomweb_instances,
    dicomweb_series,
    dicomweb_studies,
)
from imaging.dicom import DicomRejected, frame_data
from imaging.models import ImagingStudy, Instance, Series
from imaging.services import reads
from imaging.storage import open_ranged
from imaging.views import FILE_HEADERS, MAX_RENDER_SIZE, VIEWER_SIZE
from records import trail
from records.api_auth import ApiForbidden, ApiRateLimited, ApiUnauthorized, api_user

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponseBase]


def _dicomweb_user(request: HttpRequest) -> User | None:
    """Who is asking, by session (the portal's own viewer). A bearer token is handled by
    ``dicomweb_view`` through the FHIR API's ``api_user`` (one token system)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user  # type: ignore[no-any-return]
    return None


def _text(message: str, status: int) -> HttpResponse:
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


def _not_found() -> HttpResponse:
    """Out of scope and missing give these very bytes."""
    return _text(_("Introuvable."), 404)


def _not_acceptable() -> HttpResponse:
    return _text(_("Ce format de réponse n'est pas disponible (en-tête Accept)."), 406)


def dicomweb_view(view: View) -> View:
    """GET only, never cached, the caller identified (401 otherwise), 404 for whatever the
    caller may not reach, a refused parameter answered 400 with its reason."""

    @never_cache
    @require_GET
    @wraps(view)
    def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return _with_token(request, view, kwargs)
        user = _dicomweb_user(request)
        if user is None:
            return _unauthorised()
        return _answer(request, view, user, kwargs)

    return wrapped


def _unauthorised() -> HttpResponse:
    response = _text(_("Authentification requise."), 401)
    response["WWW-Authenticate"] = 'Bearer realm="DICOMweb"'
    return response


def _answer(
    request: HttpRequest, view: View, user: User, kwargs: dict[str, Any]
) -> HttpResponseBase:
    try:
        return view(request, user, **kwargs)
    except Http404:
        return _not_found()
    except web.BadQuery as bad:
        return _text(bad.message, 400)


def _with_token(request: HttpRequest, view: View, kwargs: dict[str, Any]) -> HttpResponseBase:
    """A viewer holding an OAuth token of the FHIR API: the scope that reads ImagingStudy
    (``user/ImagingStudy.rs``, ``patient/*.rs``…) reads its images; every event names the
    software, as in the FHIR API."""
    try:
        client = api_user(request, "ImagingStudy", "r")
    except ApiUnauthorized:
        response = _unauthorised()
        response["WWW-Authenticate"] = 'Bearer realm="DICOMweb", error="invalid_token"'
        return response
    except ApiForbidden:
        return _text(_("Les droits de ce jeton ne couvrent pas l'imagerie."), 403)
    except ApiRateLimited:
        response = _text(_("Trop de requêtes : réessayez dans une minute."), 429)
        response["Retry-After"] = "60"
        return response
    with trail.acting_through(client.application_name):
        return _answer(request, view, client.user, kwargs)


def _base(request: HttpRequest) -> str:
    return (
        request.build_absolute_uri(reverse("imaging:dicomweb_studies"))
        .rstrip("/")
        .removesuffix("/studies")
    )


def _json(
    request: HttpRequest, items: Iterator[dict[str, Any]] | list[dict[str, Any]]
) -> HttpResponseBase:
    response = StreamingHttpResponse(web.json_array(items), content_type=web.DICOM_JSON)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _page(rows: QuerySet[Any], query: web.Query) -> list[Any]:
    return list(rows[query.offset : query.offset + query.limit])


# ------------------------------------------------------------------ QIDO-RS


@dicomweb_view
def search_studies(request: HttpRequest, user: User) -> HttpResponseBase:
    """QIDO-RS: the studies of the DMPs ``user`` may read, by INS-C, date, modality, UID."""
    if not web.accepts_json(request.headers.get("Accept", "")):
        return _not_acceptable()
    query = web.parse_query(
        request.GET,
        ("PatientID", "StudyDate", "ModalitiesInStudy", "StudyInstanceUID", "AccessionNumber"),
    )
    studies = _study_filters(dicomweb_studies(user), query.filters)
    page = _page(studies, query)
    reads.dicomweb_search_traced(
        actor=user, patients=[study.entry.patient for study in page], request=request
    )
    base = _base(request)
    return _json(request, [web.study_attributes(study, base) for study in page])


def _study_filters(
    studies: QuerySet[ImagingStudy], filters: dict[str, Any]
) -> QuerySet[ImagingStudy]:
    if "PatientID" in filters:
        studies = studies.filter(entry__patient__insc=filters["PatientID"])
    if "StudyInstanceUID" in filters:
        studies = studies.filter(study_instance_uid__in=filters["StudyInstanceUID"])
    if "AccessionNumber" in filters:
        studies = studies.filter(accession_number=filters["AccessionNumber"])
    if "StudyDate" in filters:
        first, last = filters["StudyDate"]
        if first is not None:
            studies = studies.filter(study_date__gte=first)
        if last is not None:
            studies = studies.filter(study_date__lte=last)
    if "ModalitiesInStudy" in filters:
        with_modality = Series.objects.filter(
            study=OuterRef("pk"), modality__in=filters["ModalitiesInStudy"]
        )
        studies = studies.filter(Exists(with_modality))
    return studies


@dicomweb_view
def search_series(request: HttpRequest, user: User, study_uid: str) -> HttpResponseBase:
    """QIDO-RS: the series of one study (none when the study is missing or out of scope)."""
    if not web.accepts_json(request.headers.get("Accept", "")):
        return _not_acceptable()
    query = web.parse_query(request.GET, ("SeriesInstanceUID", "Modality"))
    series = dicomweb_series(user, study_uid).annotate(instance_count=Count("instances"))
    if "SeriesInstanceUID" in query.filters:
        series = series.filter(series_instance_uid__in=query.filters["SeriesInstanceUID"])
    if "Modality" in query.filters:
        series = series.filter(modality__in=query.filters["Modality"])
    page = _page(series, query)
    reads.dicomweb_search_traced(
        actor=user, patients=[one.study.entry.patient for one in page], request=request
    )
    base = _base(request)
    return _json(request, [web.series_attributes(one, base) for one in page])


@dicomweb_view
def search_instances(
    request: HttpRequest, user: User, study_uid: str, series_uid: str
) -> HttpResponseBase:
    """QIDO-RS: the instances of one series."""
    if not web.accepts_json(request.headers.get("Accept", "")):
        return _not_acceptable()
    query = web.parse_query(request.GET, ("SOPInstanceUID",))
    instances = dicomweb_instances(user, study_uid, series_uid)
    if "SOPInstanceUID" in query.filters:
        instances = instances.filter(sop_instance_uid__in=query.filters["SOPInstanceUID"])
    page = _page(instances, query)
    reads.dicomweb_search_traced(
        actor=user, patients=[one.series.study.entry.patient for one in page], request=request
    )
    base = _base(request)
    return _json(request, [web.instance_attributes(one, base) for one in page])


# ------------------------------------------------------------------ WADO-RS


def _found(instances: QuerySet[Instance]) -> list[Instance]:
    """Every instance asked for (one query), or 404 when there is none."""
    rows = list(instances)
    if not rows:
        raise Http404("nothing")
    return rows


def _studies_of(instances: list[Instance]) -> list[ImagingStudy]:
    return list({one.series.study_id: one.series.study for one in instances}.values())


@dicomweb_view
def retrieve(
    request: HttpRequest,
    user: User,
    study_uid: str,
    series_uid: str | None = None,
    sop_uid: str | None = None,
) -> HttpResponseBase:
    """WADO-RS: the files of a study, a series or one instance as multipart/related, streamed
    as stored (one query whatever their number)."""
    rows = _found(dicomweb_instances(user, study_uid, series_uid, sop_uid))
    syntaxes = {one.transfer_syntax for one in rows}
    if not web.accepts_dicom(request.headers.get("Accept", ""), syntaxes):
        return _not_acceptable()
    reads.dicomweb_read_traced(actor=user, studies=_studies_of(rows), request=request)
    mark = web.boundary()
    response = StreamingHttpResponse(
        web.multipart_files(rows, mark),
        content_type=f'multipart/related; type="{web.DICOM}"; boundary={mark}',
    )
    return _file_headers(response)


def _file_headers(response: HttpResponseBase) -> HttpResponseBase:
    for header, value in FILE_HEADERS.items():
        response[header] = value
    return response


@dicomweb_view
def metadata(
    request: HttpRequest,
    user: User,
    study_uid: str,
    series_uid: str | None = None,
    sop_uid: str | None = None,
) -> HttpResponseBase:
    """WADO-RS: the DICOM JSON of the files of a study, a series or one instance (headers read
    from the files as the response is streamed)."""
    if not web.accepts_json(request.headers.get("Accept", "")):
        return _not_acceptable()
    rows = _found(dicomweb_instances(user, study_uid, series_uid, sop_uid))
    reads.dicomweb_read_traced(actor=user, studies=_studies_of(rows), request=request)
    base = _base(request)
    return _json(request, (web.instance_metadata(one, base) for one in rows))


def _one(user: User, study_uid: str, series_uid: str, sop_uid: str) -> Instance:
    rows = _found(dicomweb_instances(user, study_uid, series_uid, sop_uid)[:1])
    return rows[0]


def _frame_numbers(frames: str, instance: Instance) -> list[int]:
    """1-based frame numbers of the URL, each within the instance (else 404: no such frame)."""
    numbers = [int(part) for part in frames.split(",")]
    if len(numbers) > 64 or not all(1 <= n <= instance.frames for n in numbers):
        raise Http404("no such frame")
    return numbers


@dicomweb_view
def retrieve_frames(
    request: HttpRequest, user: User, study_uid: str, series_uid: str, sop_uid: str, frames: str
) -> HttpResponseBase:
    """WADO-RS: pixel data of frames as stored (native bytes or each frame's codestream),
    each frame read alone from the file."""
    instance = _one(user, study_uid, series_uid, sop_uid)
    numbers = _frame_numbers(frames, instance)
    reads.dicomweb_read_traced(actor=user, studies=[instance.series.study], request=request)
    parts = []
    try:
        with open_ranged(instance.file.name or "") as fh:  # by range on S3
            for number in numbers:
                data, media = frame_data(fh, number - 1)
                parts.append((media, data))
    except DicomRejected:
        raise Http404("frame unreadable") from None
    if not _accepts_frames(request.headers.get("Accept", ""), parts[0][0]):
        return _not_acceptable()
    mark = web.boundary()
    media = parts[0][0]
    if media == "application/octet-stream":
        parts = [(f"{media}; transfer-syntax=1.2.840.10008.1.2.1", data) for _m, data in parts]
    response = StreamingHttpResponse(
        web.multipart_parts(parts, mark),
        content_type=f'multipart/related; type="{media}"; boundary={mark}',
    )
    return _file_headers(response)


def _accepts_frames(accept: str, media: str) -> bool:
    for r in web.media_ranges(accept):
        if r.type == "*/*":
            return True
        if r.type == "multipart/related" and r.params.get("type", media).lower() in (media, "*/*"):
            wanted = r.params.get("transfer-syntax", "*")
            if media != "application/octet-stream" or wanted in ("*", "1.2.840.10008.1.2.1"):
                return True
    return False


# ------------------------------------------------------------------ rendered, thumbnails


def _viewport(request: HttpRequest) -> int:
    raw = request.GET.get("viewport")
    if not raw:
        return VIEWER_SIZE
    try:
        sizes = [int(part) for part in raw.split(",")[:2]]
    except ValueError:
        raise web.BadQuery(
            _("Paramètre « viewport » invalide : largeur,hauteur en pixels.")
        ) from None
    if not sizes or not all(16 <= size <= MAX_RENDER_SIZE for size in sizes):
        raise web.BadQuery(
            _("Paramètre « viewport » invalide : de 16 à %(max)d pixels.")
            % {"max": MAX_RENDER_SIZE}
        )
    return max(sizes)


def _window(request: HttpRequest) -> tuple[float, float] | None:
    raw = request.GET.get("window")
    if not raw:
        return None
    parts = raw.split(",")
    try:
        centre, width = float(parts[0]), float(parts[1])
    except (ValueError, IndexError):
        centre, width = 0.0, 0.0
    function = parts[2].strip().lower() if len(parts) > 2 else "linear"
    if not (abs(centre) <= 1e7 and 0 < width <= 1e7) or function != "linear":
        raise web.BadQuery(_("Paramètre « window » invalide : centre,largeur[,linear]."))
    return centre, width


def _image(data: bytes, kind: str) -> HttpResponseBase:
    if kind == "image/jpeg":
        with Image.open(io.BytesIO(data)) as image:
            out = io.BytesIO()
            image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(
                out, "JPEG", quality=90
            )
            data = out.getvalue()
    return _file_headers(HttpResponse(data, content_type=kind))


def _rendered(
    request: HttpRequest, user: User, instance: Instance, frame: int | None
) -> HttpResponseBase:
    kind = web.rendered_type(request.headers.get("Accept", ""))
    if kind is None:
        return _not_acceptable()
    size, window = _viewport(request), _window(request)
    reads.dicomweb_read_traced(actor=user, studies=[instance.series.study], request=request)
    try:
        data = previews.instance_render(instance=instance, frame=frame, window=window, size=size)
    except DicomRejected:
        raise Http404("not renderable") from None
    except previews.Unavailable:
        return _text(_("aperçu indisponible"), 503)
    return _image(data, kind)


@dicomweb_view
def instance_rendered(
    request: HttpRequest, user: User, study_uid: str, series_uid: str, sop_uid: str
) -> HttpResponseBase:
    """WADO-RS rendered: the instance's middle frame as the file's own rendering (or a
    window), sized to ``viewport``, PNG or JPEG."""
    return _rendered(request, user, _one(user, study_uid, series_uid, sop_uid), None)


@dicomweb_view
def frame_rendered(
    request: HttpRequest, user: User, study_uid: str, series_uid: str, sop_uid: str, frames: str
) -> HttpResponseBase:
    """WADO-RS rendered: one frame (a list of frames is not rendered as a video here)."""
    instance = _one(user, study_uid, series_uid, sop_uid)
    numbers = _frame_numbers(frames, instance)
    if len(numbers) != 1:
        raise web.BadQuery(_("Une seule image à la fois peut être rendue."))
    return _rendered(request, user, instance, numbers[0] - 1)


def _stored(request: HttpRequest, user: User, study: ImagingStudy, name: str) -> HttpResponseBase:
    kind = web.rendered_type(request.headers.get("Accept", ""))
    if kind is None:
        return _not_acceptable()
    if not name:
        raise Http404("no thumbnail yet")
    reads.dicomweb_read_traced(actor=user, studies=[study], request=request)
    try:
        return _image(previews.stored_image(name), kind)
    except previews.Unavailable:
        return _text(_("aperçu indisponible"), 503)


@dicomweb_view
def instance_thumbnail(
    request: HttpRequest, user: User, study_uid: str, series_uid: str, sop_uid: str
) -> HttpResponseBase:
    """The instance's stored preview (404 until it is made)."""
    instance = _one(user, study_uid, series_uid, sop_uid)
    return _stored(request, user, instance.series.study, instance.preview.name or "")


@dicomweb_view
def series_thumbnail(
    request: HttpRequest, user: User, study_uid: str, series_uid: str
) -> HttpResponseBase:
    """The series' stored thumbnail (404 until it is made)."""
    found = list(dicomweb_series(user, study_uid, series_uid)[:1])
    if not found:
        raise Http404("no series")
    return _stored(request, user, found[0].study, found[0].thumbnail.name or "")
