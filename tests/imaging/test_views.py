"""Imaging pages and image responses: the permission ladder of every view, response headers,
access events, the viewer without JavaScript, and pinned query counts."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from identity.models import Patient, Professional, User
from imaging.models import ImagingStudy, Instance, PreviewStatus, Series
from records.models import AccessAction, AccessEvent, AccessMode
from tests.cast import without_csrf
from tests.records.helpers import LAST_LOOK

from . import dicom_factory as F
from .conftest import alice_identity, ct_series, deposit, logged_in

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]

MISSING = uuid.UUID("00000000-0000-4000-8000-000000000000")


def _urls(study: ImagingStudy) -> dict[str, tuple[str, str]]:
    """name → (url, url of the same view for an id that does not exist)."""
    series = study.series.get()
    instance = series.instances.first()
    assert instance is not None
    patient = study.entry.patient
    views = {
        "patient_studies": [patient.public_id],
        "study_detail": [study.entry.public_id],
        "series_viewer": [series.public_id],
        "series_thumbnail": [series.public_id],
        "instance_render": [instance.public_id],
        "instance_thumbnail": [instance.public_id],
        "instance_download": [instance.public_id],
    }
    return {
        name: (reverse(f"imaging:{name}", args=args), reverse(f"imaging:{name}", args=[MISSING]))
        for name, args in views.items()
    }


PRO_ONLY = {"patient_studies"}
# Who gets what on a GET (pro-only pages: patients and unverified professionals get 403).
LADDER = {
    "doctor": 200,
    "authorised_doctor": 200,
    "emergency_doctor": 200,
    "alice": 200,
    "stranger_doctor": 404,
    "blocked_doctor": 404,
    "unverified_doctor": 404,
}


def _user(request: Any, who: str) -> User:
    actor = request.getfixturevalue(who)
    return actor.user if isinstance(actor, (Professional, Patient)) else actor


@pytest.mark.parametrize(
    "view",
    [
        "patient_studies",
        "study_detail",
        "series_viewer",
        "series_thumbnail",
        "instance_render",
        "instance_thumbnail",
        "instance_download",
    ],
)
def test_permission_ladder(request: Any, study: ImagingStudy, view: str) -> None:
    url, missing = _urls(study)[view]
    for who, allowed in sorted(LADDER.items()):
        client = logged_in(_user(request, who))
        response = client.get(url)
        expected = 403 if view in PRO_ONLY and who in {"alice", "unverified_doctor"} else allowed
        assert response.status_code == expected, (view, who)
        if expected == 404:
            # Out of scope is indistinguishable from a missing id.
            absent = client.get(missing)
            assert absent.status_code == 404
            assert without_csrf(response.content) == without_csrf(absent.content), (view, who)


def test_anonymous_goes_to_login(study: ImagingStudy) -> None:
    for name, (url, _missing) in _urls(study).items():
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], name


def test_other_patient_sees_nothing_of_alice(study: ImagingStudy, stranger_doctor: Any) -> None:
    import datetime

    from records.services.lifecycle import PatientTraits
    from tests.cast import make_patient

    bob = make_patient(
        opened_by=stranger_doctor,
        nir="1 78 02 69 123 789 03",
        traits=PatientTraits(
            birth_name="LEROY", first_names="Bob", sex="M", birth_date=datetime.date(1978, 2, 3)
        ),
        account=True,
        email="bob@test.example",
    )
    client = logged_in(bob.user)  # type: ignore[arg-type]
    for name, (url, _missing) in _urls(study).items():
        expected = 403 if name in PRO_ONLY else 404
        assert client.get(url).status_code == expected, name
    own = client.get(reverse("imaging:my_studies")).content.decode()
    assert study.entry.title not in own and "Aucun examen d'imagerie" in own


def test_wrong_method(study: ImagingStudy, doctor: Professional) -> None:
    client = logged_in(doctor.user)
    for name in ("study_detail", "series_viewer", "instance_render", "instance_download"):
        url, _missing = _urls(study)[name]
        assert client.post(url).status_code == 405, name


def test_wrong_methods_on_forms(study: ImagingStudy, doctor: Professional) -> None:
    client = logged_in(doctor.user)
    assert client.put(_urls(study)["patient_studies"][0]).status_code == 405
    report_url = reverse("imaging:study_report", args=[study.entry.public_id])
    assert client.get(report_url).status_code == 405


def test_patient_list_ladder(study: ImagingStudy, alice: Patient, doctor: Professional) -> None:
    url = reverse("imaging:my_studies")
    assert Client().get(url).status_code == 302
    assert logged_in(doctor.user).get(url).status_code == 403
    page = logged_in(alice.user).get(url)  # type: ignore[arg-type]
    assert page.status_code == 200 and study.entry.title in page.content.decode()


def test_upload_confirm_ladder(
    study: ImagingStudy,
    alice: Patient,
    doctor: Professional,
    stranger_doctor: Professional,
    emergency_doctor: Professional,
) -> None:
    url = reverse("imaging:upload_confirm", args=[alice.public_id, "x" * 32])
    missing = reverse("imaging:upload_confirm", args=[MISSING, "x" * 32])
    assert Client().get(url).status_code == 302
    stranger = logged_in(stranger_doctor.user)
    assert without_csrf(stranger.get(url).content) == without_csrf(stranger.get(missing).content)
    assert stranger.get(url).status_code == 404
    assert logged_in(emergency_doctor.user).get(url).status_code == 403
    assert logged_in(doctor.user).get(url).status_code == 302  # unknown token: back to the list
    assert logged_in(alice.user).get(url).status_code == 403  # type: ignore[arg-type]


def test_emergency_access_reads_but_does_not_deposit(
    study: ImagingStudy, alice: Patient, emergency_doctor: Professional
) -> None:
    client = logged_in(emergency_doctor.user)
    page = client.get(reverse("imaging:patient_studies", args=[alice.public_id]))
    assert page.status_code == 200 and 'type="file"' not in page.content.decode()
    response = client.post(reverse("imaging:patient_studies", args=[alice.public_id]), {})
    assert response.status_code == 403
    report = client.post(reverse("imaging:study_report", args=[study.entry.public_id]), {})
    assert report.status_code == 403


def test_stranger_cannot_upload(alice: Patient, stranger_doctor: Professional) -> None:
    from .conftest import upload

    response = upload(logged_in(stranger_doctor.user), alice, ct_series(1))
    assert response.status_code == 404 and Instance.objects.count() == 0


# ------------------------------------------------------------------------ headers


def test_image_responses_are_private_png(study: ImagingStudy, doctor: Professional) -> None:
    client = logged_in(doctor.user)
    for name in ("series_thumbnail", "instance_render", "instance_thumbnail"):
        response = client.get(_urls(study)[name][0])
        assert response["Content-Type"] == "image/png"
        assert response.content.startswith(b"\x89PNG")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
        assert response["Content-Security-Policy"].startswith("sandbox")


def test_download_is_an_attachment_of_the_original(
    study: ImagingStudy, doctor: Professional
) -> None:
    instance = Instance.objects.filter(series__study=study).order_by("instance_number").first()
    assert instance is not None
    response = logged_in(doctor.user).get(
        reverse("imaging:instance_download", args=[instance.public_id])
    )
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    with instance.file.open("rb") as fh:
        assert body == fh.read()
    assert response["Content-Type"] == "application/dicom"
    assert response["Content-Disposition"] == 'attachment; filename="image-1.dcm"'
    assert response["Cache-Control"].startswith("private, no-store")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")


RENDER_QUERIES = [
    "frame=3",
    "frame=-1",
    "frame=x",
    "size=5000",
    "size=2",
    "wc=40&ww=0",
    "wc=nan&ww=400",
    "wc=inf&ww=400",
    "wc=40&ww=1e300",
]


def test_render_parameters_are_checked(study: ImagingStudy, doctor: Professional) -> None:
    client = logged_in(doctor.user)
    url = _urls(study)["instance_render"][0]
    for query in RENDER_QUERIES:
        assert client.get(f"{url}?{query}").status_code == 400, query


def test_render_applies_the_window_and_is_cached(
    study: ImagingStudy, doctor: Professional, django_assert_max_num_queries: Any
) -> None:
    import io

    from PIL import Image

    client = logged_in(doctor.user)
    url = _urls(study)["instance_render"][0]
    soft = client.get(f"{url}?frame=0&size=64&wc=40&ww=400").content
    lung = client.get(f"{url}?frame=0&size=64&wc=-600&ww=1500").content
    assert soft != lung
    assert Image.open(io.BytesIO(soft)).size == (32, 32)  # never larger than the image
    with django_assert_max_num_queries(6):  # session, user, mfa, instance (+ no event: window)
        again = client.get(f"{url}?frame=0&size=64&wc=40&ww=400").content
    assert again == soft


# --------------------------------------------------------------------- access events


def _events(action: str) -> int:
    return AccessEvent.objects.filter(action=action).count()


def test_one_event_per_page_view_and_per_download_images_throttled(
    study: ImagingStudy, authorised_doctor: Professional
) -> None:
    client = logged_in(authorised_doctor.user)
    urls = _urls(study)
    views, thumbs, downloads = (
        _events(AccessAction.ENTRY_VIEW),
        _events(AccessAction.THUMBNAIL),
        _events(AccessAction.DOWNLOAD),
    )
    client.get(urls["series_viewer"][0])
    for _ in range(5):
        client.get(urls["instance_render"][0] + "?frame=0&size=64")
        client.get(urls["instance_thumbnail"][0])
    assert _events(AccessAction.ENTRY_VIEW) == views + 1
    assert _events(AccessAction.THUMBNAIL) == thumbs  # covered by the page view's event
    client.get(urls["instance_download"][0])
    client.get(urls["instance_download"][0])
    assert _events(AccessAction.DOWNLOAD) == downloads + 2
    event = AccessEvent.objects.filter(action=AccessAction.DOWNLOAD).latest("id")
    assert event.entry_public_id == study.entry.public_id and event.patient == study.patient


def test_an_image_fetched_directly_is_traced_once(
    study: ImagingStudy, emergency_doctor: Professional
) -> None:
    client = logged_in(emergency_doctor.user)
    url = _urls(study)["series_thumbnail"][0]
    client.get(url)
    client.get(url)
    events = AccessEvent.objects.filter(action=AccessAction.THUMBNAIL, actor=emergency_doctor.user)
    assert events.count() == 1
    assert events.get().mode == AccessMode.EMERGENCY


def test_an_image_is_not_served_if_its_event_cannot_be_written(
    study: ImagingStudy, doctor: Professional, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging.services import reads

    def broken(**_kwargs: Any) -> None:
        raise RuntimeError("trail unavailable")

    monkeypatch.setattr(reads, "read_traced", broken)
    client = logged_in(doctor.user)
    client.raise_request_exception = False
    response = client.get(_urls(study)["series_thumbnail"][0])
    assert response.status_code == 500 and not response.content.startswith(b"\x89PNG")
    monkeypatch.undo()
    assert client.get(_urls(study)["series_thumbnail"][0]).status_code == 200  # not remembered


# ----------------------------------------------------------------------- pages


def test_study_page_shows_series_thumbnails_and_placeholders(
    study: ImagingStudy, doctor: Professional, alice: Patient, tmp_path: Path
) -> None:
    pending = deposit(doctor.user, alice, ct_series(2), tmp_path / "p", previews=False)
    assert pending is not None
    client = logged_in(doctor.user)
    text = client.get(
        reverse("imaging:study_detail", args=[study.entry.public_id])
    ).content.decode()
    assert reverse("imaging:series_thumbnail", args=[study.series.get().public_id]) in text
    text = client.get(
        reverse("imaging:study_detail", args=[pending.entry.public_id])
    ).content.decode()
    assert "aperçu en préparation" in text


def test_preview_unavailable_keeps_the_row(
    doctor: Professional, alice: Patient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging import previews
    from imaging.dicom import DicomRejected

    def cannot(*_args: Any, **_kwargs: Any) -> bytes:
        raise DicomRejected("decode_failed")

    monkeypatch.setattr(previews, "render_thumbnail_png", cannot)
    made = deposit(doctor.user, alice, ct_series(2), tmp_path / "u")
    assert made is not None
    assert set(Instance.objects.values_list("preview_status", flat=True)) == {
        PreviewStatus.UNAVAILABLE
    }
    series = Series.objects.get()
    assert series.thumbnail_status == PreviewStatus.UNAVAILABLE and not series.thumbnail
    client = logged_in(doctor.user)
    text = client.get(reverse("imaging:study_detail", args=[made.entry.public_id])).content.decode()
    assert "aperçu indisponible" in text
    viewer = client.get(reverse("imaging:series_viewer", args=[series.public_id]))
    assert "aperçu indisponible" in viewer.content.decode()
    assert (
        client.get(reverse("imaging:series_thumbnail", args=[series.public_id])).status_code == 404
    )


def test_viewer_without_javascript(study: ImagingStudy, doctor: Professional) -> None:
    client = logged_in(doctor.user)
    series = study.series.get()
    url = reverse("imaging:series_viewer", args=[series.public_id])
    first = client.get(url).content.decode()
    assert "Image 1 / 3" in first and 'href="?n=1&amp;w=0"' in first
    instances = list(series.instances.order_by("instance_number"))
    second = client.get(f"{url}?n=1&w=1").content.decode()
    assert "Image 2 / 3" in second
    assert reverse("imaging:instance_render", args=[instances[1].public_id]) in second
    assert "wc=40&amp;ww=400" in second  # the file's window (preset 1 is the file's)
    assert "Poumon" in second and "Os" in second and "Cerveau" in second
    # The soft-tissue preset is the file's own window (40/400): listed once, not twice.
    assert second.count("C 40 / L 400<") == 1
    assert "Tissus mous" not in second
    clamped = client.get(f"{url}?n=99&w=-4").content.decode()
    assert "Image 3 / 3" in clamped


def test_viewer_scrolls_the_frames_of_a_multiframe_file(
    doctor: Professional, alice: Patient, tmp_path: Path
) -> None:
    ds = alice_identity(F.multiframe(4, 16, 16))
    made = deposit(doctor.user, alice, [F.to_bytes(ds)], tmp_path / "mf")
    assert made is not None
    series = made.series.get()
    url = reverse("imaging:series_viewer", args=[series.public_id])
    page = logged_in(doctor.user).get(f"{url}?n=2").content.decode()
    assert "Image 3 / 4" in page and "frame=2" in page


def test_report_can_be_attached_on_the_study_page(
    study: ImagingStudy, doctor: Professional, alice: Patient
) -> None:
    from records.models import EntryKind
    from records.services.entries import entry_deposit

    report = entry_deposit(
        actor=doctor.user,
        patient=alice,
        kind=EntryKind.REPORT,
        document_type="18748-4",
        title="CR de l'examen",
        act_date=alice.opened_at.date(),
    )
    client = logged_in(doctor.user)
    url = reverse("imaging:study_report", args=[study.entry.public_id])
    assert client.post(url, {"report": str(report.public_id)}).status_code == 302
    study.refresh_from_db()
    assert study.report == report
    other = client.post(url, {"report": str(study.entry.public_id)})  # not a report
    assert other.status_code == 302
    study.refresh_from_db()
    assert study.report == report


# -------------------------------------------------------------------- query counts


def _count(client: Client, url: str) -> int:
    client.get(url)  # warm: first-access notification, caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.fixture
def big_study(doctor: Professional, alice: Patient, tmp_path: Path) -> ImagingStudy:
    made = deposit(doctor.user, alice, ct_series(50, size=16), tmp_path / "big")
    assert made is not None
    return made


# Study list (professional), 8 queries (7 on PostgreSQL) whatever the number of studies and
# instances:
# session, user with the professional profile (one join), DMP in scope (patient_for); the
# access event (one INSERT); the reports offered by the upload form; studies with entry,
# author and report; series with their instance counts (one prefetch); and, the list being a
# look at the DMP, the upsert of when the professional last looked (records.looks.LastLook),
# which PostgreSQL writes in the event's statement.
LIST_QUERIES = 7 + LAST_LOOK
# Viewer, 7 queries whatever the number of instances: session, user with the professional
# profile (one join), series in scope, DMP as the funnel sees it (access mode); the access
# event (one INSERT); the instance list (ids and frames only); the current instance.
VIEWER_QUERIES = 7


def test_query_counts_are_constant(
    doctor: Professional, alice: Patient, study: ImagingStudy, big_study: ImagingStudy
) -> None:
    client = logged_in(doctor.user)
    small_series, big_series = study.series.get(), big_study.series.get()
    assert small_series.instances.count() == 3 and big_series.instances.count() == 50
    for url in (
        reverse("imaging:series_viewer", args=[small_series.public_id]),
        reverse("imaging:series_viewer", args=[big_series.public_id]),
    ):
        assert _count(client, url) == VIEWER_QUERIES, url
    assert (
        _count(client, reverse("imaging:patient_studies", args=[alice.public_id])) == LIST_QUERIES
    )


def test_list_query_count_does_not_grow_with_studies(
    doctor: Professional, alice: Patient, tmp_path: Path
) -> None:
    client = logged_in(doctor.user)
    url = reverse("imaging:patient_studies", args=[alice.public_id])
    deposit(doctor.user, alice, ct_series(1), tmp_path / "a")
    one = _count(client, url)
    for n in range(5):
        deposit(doctor.user, alice, ct_series(10, size=16), tmp_path / f"b{n}")
    assert _count(client, url) == one == LIST_QUERIES


def test_viewer_draws_overlays_by_default_and_hides_them_on_request(
    doctor: Professional, alice: Patient, tmp_path: Path
) -> None:
    plane = np.zeros((8, 16), dtype=np.uint8)
    plane[2:6, :] = 1
    ds = alice_identity(F.with_overlay(F.ct_slice(32, 32, window=(5000.0, 10.0)), plane))
    made = deposit(doctor.user, alice, [F.to_bytes(ds)], tmp_path / "ov")
    assert made is not None
    series = made.series.get()
    client = logged_in(doctor.user)
    url = reverse("imaging:series_viewer", args=[series.public_id])
    shown = client.get(url).content.decode()
    assert "Masquer les superpositions" in shown
    hidden = client.get(url + "?ov=0").content.decode()
    assert "Afficher les superpositions" in hidden and "&amp;ov=0" in hidden
    instance = series.instances.get()
    render = reverse("imaging:instance_render", args=[instance.public_id]) + "?size=32"
    drawn = np.asarray(Image.open(io.BytesIO(client.get(render).content)))
    plain = np.asarray(Image.open(io.BytesIO(client.get(render + "&ov=0").content)))
    assert int((drawn == 255).sum()) == int(plane.sum())  # the overlay, in white
    assert int((plain == 255).sum()) == 0  # a window where the whole image is black
