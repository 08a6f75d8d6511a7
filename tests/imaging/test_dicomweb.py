"""DICOMweb (QIDO-RS, WADO-RS) behind the funnel: what a viewer gets, what a stranger gets
(exactly what a missing study gives), what the patient reads in her history, what it costs.
The client-side checks use dicomweb-client, a real client nobody here wrote, against a live
server."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from identity.models import Patient, Professional
from imaging.models import ImagingStudy, Instance
from records.models import AccessAction, AccessEvent

from .conftest import ct_series, deposit

pytestmark = pytest.mark.django_db

BASE = "/dicomweb"
DICOM_PART = 'multipart/related; type="application/dicom"'


def logged(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def urls(study: ImagingStudy) -> dict[str, str]:
    series = study.series.get()
    instance = series.instances.order_by("instance_number").first()
    assert instance is not None
    s = f"{BASE}/studies/{study.study_instance_uid}"
    se = f"{s}/series/{series.series_instance_uid}"
    i = f"{se}/instances/{instance.sop_instance_uid}"
    return {"study": s, "series": se, "instance": i}


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def parts(response: Any) -> list[bytes]:
    """The bodies of a multipart/related response, split on its boundary."""
    mark = response["Content-Type"].split("boundary=")[1].encode()
    chunks = body(response).split(b"--" + mark)
    assert chunks[-1].strip() == b"--"
    return [chunk.split(b"\r\n\r\n", 1)[1][: -len(b"\r\n")] for chunk in chunks[1:-1]]


def stored_bytes(instance: Instance, root: Path) -> bytes:
    return (root / (instance.file.name or "")).read_bytes()


def dicomweb_events(patient: Patient) -> list[AccessEvent]:
    return list(
        AccessEvent.objects.filter(patient=patient, detail__startswith="DICOMweb").order_by("id")
    )


# --------------------------------------------------------------------------- QIDO-RS


def test_search_by_ins_c_date_and_modality(
    doctor: Professional, alice: Patient, study: ImagingStudy
) -> None:
    client = logged(doctor.user)
    date = study.study_date.strftime("%Y%m%d") if study.study_date else "20240101"
    found = client.get(
        f"{BASE}/studies",
        {"PatientID": alice.insc, "StudyDate": f"19000101-{date}", "ModalitiesInStudy": "CT"},
    )
    assert found.status_code == 200
    assert found["Content-Type"] == "application/dicom+json"
    results = json.loads(body(found))
    assert [r["0020000D"]["Value"] for r in results] == [[study.study_instance_uid]]
    assert results[0]["00100020"]["Value"] == [alice.insc]
    assert results[0]["00201208"]["Value"] == [3]
    assert results[0]["00081190"]["Value"][0].endswith(urls(study)["study"])
    # Another modality, another date: nothing.
    for other in ({"ModalitiesInStudy": "MR"}, {"StudyDate": "18000101-18001231"}):
        assert json.loads(body(client.get(f"{BASE}/studies", other))) == []
    series = json.loads(body(client.get(f"{urls(study)['study']}/series")))
    assert [s["0020000E"]["Value"] for s in series] == [[study.series.get().series_instance_uid]]
    instances = json.loads(body(client.get(f"{urls(study)['series']}/instances")))
    assert sorted(i["00200013"]["Value"][0] for i in instances) == [1, 2, 3]
    # The search is in Alice's history, as a search.
    assert AccessEvent.objects.filter(
        patient=alice, action=AccessAction.TIMELINE_VIEW, detail__startswith="DICOMweb"
    ).exists()


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "abc"},
        {"limit": "0"},
        {"limit": str(10**12)},
        {"offset": "-1"},
        {"StudyDate": "20241345"},
        {"StudyDate": "yesterday"},
        {"StudyDate": "-"},
        {"PatientID": "1' OR 1=1 --"},
        {"StudyInstanceUID": "../../etc/passwd"},
        {"StudyInstanceUID": "1." * 200},
        {"ModalitiesInStudy": "<script>"},
        {"AccessionNumber": "x\x00y"},
    ],
)
def test_absurd_search_parameters_are_refused_in_french(
    doctor: Professional, alice: Patient, study: ImagingStudy, query: dict[str, str]
) -> None:
    before = AccessEvent.objects.count()
    response = logged(doctor.user).get(f"{BASE}/studies", query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert any(word in text for word in ("invalide", "trop long")), text
    assert "<script>" not in text
    assert AccessEvent.objects.count() == before  # refused before anything was read


def test_search_refusal_speaks_english_too(doctor: Professional, study: ImagingStudy) -> None:
    response = logged(doctor.user).get(
        f"{BASE}/studies", {"limit": "abc"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 400
    assert "invalid" in response.content.decode().lower()


def test_stranger_searches_and_finds_nothing(
    stranger_doctor: Professional, alice: Patient, study: ImagingStudy
) -> None:
    client = logged(stranger_doctor.user)
    for url in (
        f"{BASE}/studies",
        f"{BASE}/studies?PatientID={alice.insc}",
        f"{urls(study)['study']}/series",
        f"{urls(study)['series']}/instances",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert json.loads(body(response)) == []
    assert not dicomweb_events(alice)


# --------------------------------------------------------------------------- WADO-RS


def test_out_of_scope_is_exactly_missing(
    stranger_doctor: Professional, study: ImagingStudy
) -> None:
    client = logged(stranger_doctor.user)
    real = urls(study)["instance"]
    missing = real.rsplit("/", 1)[0] + "/1.2.3.4.5"
    for suffix in ("", "/metadata", "/rendered", "/thumbnail", "/frames/1"):
        seen, absent = client.get(real + suffix), client.get(missing + suffix)
        assert seen.status_code == absent.status_code == 404, suffix
        assert seen.content == absent.content
        assert seen.headers["Content-Type"] == absent.headers["Content-Type"]
    assert client.get(urls(study)["study"]).status_code == 404


def test_another_dmps_instance_is_missing_for_its_own_doctor(
    doctor: Professional, alice: Patient, study: ImagingStudy, tmp_path: Path
) -> None:
    """Bob's doctor reaches Bob's images only, even when asking under Alice's study UID."""
    import datetime

    from records.services.lifecycle import PatientTraits
    from tests.cast import make_patient, make_professional

    bobs_doctor = make_professional("bobdoc@test.example")
    traits = PatientTraits(
        birth_name="LEROY", first_names="Bob", sex="M", birth_date=datetime.date(1978, 2, 3)
    )
    bob = make_patient(opened_by=bobs_doctor, nir="1 78 02 69 123 789 03", traits=traits)
    files = ct_series(1, identity=False)
    bobs = deposit(bobs_doctor.user, bob, files, tmp_path / "bob", identity_confirmed=True)
    assert bobs is not None
    bob_instance = bobs.series.get().instances.get()
    alice_study = urls(study)["study"]
    forged = (
        f"{alice_study}/series/{bob_instance.series.series_instance_uid}"
        f"/instances/{bob_instance.sop_instance_uid}"
    )
    client = logged(bobs_doctor.user)
    assert client.get(forged).status_code == 404
    assert client.get(urls(study)["instance"]).status_code == 404
    assert client.get(urls(bobs)["instance"]).status_code == 200


def test_instance_series_study_as_multipart_byte_for_byte(
    doctor: Professional, study: ImagingStudy, private_storage: Path
) -> None:
    client = logged(doctor.user)
    instances = list(study.series.get().instances.order_by("instance_number"))
    one = client.get(
        urls(study)["instance"], headers={"Accept": f"{DICOM_PART}; transfer-syntax=*"}
    )
    assert one.status_code == 200
    assert one.streaming
    assert one["Content-Type"].startswith(DICOM_PART)
    assert parts(one) == [stored_bytes(instances[0], private_storage)]
    for level in ("series", "study"):
        response = client.get(urls(study)[level], headers={"Accept": DICOM_PART})
        assert response.status_code == 200
        assert parts(response) == [stored_bytes(i, private_storage) for i in instances]


def test_metadata_is_dicom_json_of_the_files(doctor: Professional, study: ImagingStudy) -> None:
    response = logged(doctor.user).get(
        f"{urls(study)['series']}/metadata", headers={"Accept": "application/dicom+json"}
    )
    assert response.status_code == 200
    metadata = json.loads(body(response))
    assert len(metadata) == 3
    first = pydicom.Dataset.from_json({k: v for k, v in metadata[0].items() if k != "7FE00010"})
    instance = study.series.get().instances.get(instance_number=1)
    assert first.SOPInstanceUID == instance.sop_instance_uid
    assert first.RescaleIntercept == -1024
    assert first.Rows == instance.rows


def test_rendered_frame_and_thumbnails(doctor: Professional, study: ImagingStudy) -> None:
    client = logged(doctor.user)
    png = client.get(f"{urls(study)['instance']}/frames/1/rendered?viewport=64,64")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (32, 32)  # never larger than the image
    jpeg = client.get(
        f"{urls(study)['instance']}/rendered?window=40,400,linear", headers={"Accept": "image/jpeg"}
    )
    assert jpeg.status_code == 200 and Image.open(io.BytesIO(jpeg.content)).format == "JPEG"
    for level in ("instance", "series"):
        thumb = client.get(f"{urls(study)[level]}/thumbnail")
        assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")


def test_frames_as_stored(doctor: Professional, study: ImagingStudy, private_storage: Path) -> None:
    instance = study.series.get().instances.get(instance_number=1)
    response = logged(doctor.user).get(f"{urls(study)['instance']}/frames/1")
    assert response.status_code == 200
    stored = pydicom.dcmread(private_storage / (instance.file.name or ""))
    assert parts(response) == [stored.PixelData]


@pytest.mark.parametrize(
    ("suffix", "accept"),
    [
        ("", f"{DICOM_PART}; transfer-syntax=1.2.840.10008.1.2.4.50"),
        ("", "application/pdf"),
        ("/metadata", "image/png"),
        ("/rendered", "application/dicom+json"),
        ("/thumbnail", "video/mp4"),
        ("/frames/1", 'multipart/related; type="image/jp2"'),
    ],
)
def test_an_accept_that_cannot_be_served_is_406(
    doctor: Professional, alice: Patient, study: ImagingStudy, suffix: str, accept: str
) -> None:
    response = logged(doctor.user).get(urls(study)["instance"] + suffix, headers={"Accept": accept})
    assert response.status_code == 406
    assert "Accept" in response.content.decode()


@pytest.mark.parametrize("frames", ["2", "0", "999999", "1,2"])
def test_a_frame_beyond_the_file_is_missing(
    doctor: Professional, study: ImagingStudy, frames: str
) -> None:
    response = logged(doctor.user).get(f"{urls(study)['instance']}/frames/{frames}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "viewport=0,0",
        "viewport=99999,5",
        "viewport=a",
        "window=1,0",
        "window=1,nan",
        "window=40,400,sigmoidal",
        "window=1e300,1",
    ],
)
def test_bad_render_parameters(doctor: Professional, study: ImagingStudy, query: str) -> None:
    response = logged(doctor.user).get(f"{urls(study)['instance']}/rendered?{query}")
    assert response.status_code == 400
    assert "invalide" in response.content.decode()


def test_anonymous_is_asked_to_authenticate(study: ImagingStudy) -> None:
    for url in (f"{BASE}/studies", urls(study)["instance"]):
        response = Client().get(url)
        assert response.status_code == 401
        assert "WWW-Authenticate" in response


def test_one_access_event_per_study_opened_not_per_frame(
    doctor: Professional, alice: Patient, study: ImagingStudy
) -> None:
    client = logged(doctor.user)
    u = urls(study)
    for url in (
        f"{u['study']}/metadata",
        u["series"],
        f"{u['instance']}/frames/1",
        f"{u['instance']}/frames/1/rendered",
        f"{u['instance']}/rendered",
        f"{u['series']}/thumbnail",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        body(response)
    events = [e for e in dicomweb_events(alice) if e.action == AccessAction.ENTRY_VIEW]
    assert len(events) == 1
    assert events[0].entry_public_id == study.entry.public_id
    assert events[0].actor_id == doctor.user.pk


def _grow_series(study: ImagingStudy, count: int) -> None:
    """``count`` more rows in the study's series sharing the first file (a 1000-instance
    series without decoding 1000 files)."""
    first = study.series.get().instances.order_by("pk").first()
    assert first is not None
    Instance.objects.bulk_create(
        Instance(
            series_id=first.series_id,
            sop_instance_uid=f"1.2.826.0.1.3680043.99.{n}",
            sop_class_uid=first.sop_class_uid,
            transfer_syntax=first.transfer_syntax,
            instance_number=100 + n,
            rows=first.rows,
            columns=first.columns,
            file=first.file.name,
            sha256=first.sha256,
            original_sha256=first.original_sha256,
            size=first.size,
            preview_status=first.preview_status,
        )
        for n in range(count)
    )


@pytest.mark.parametrize(
    ("suffix", "headers"),
    [("", {"Accept": DICOM_PART}), ("/metadata", {}), ("/instances", {})],
)
def test_a_1000_instance_series_costs_constant_queries(
    doctor: Professional,
    study: ImagingStudy,
    django_assert_num_queries: Any,
    suffix: str,
    headers: dict[str, str],
) -> None:
    client = logged(doctor.user)
    url = urls(study)["series"] + suffix + ("?limit=1000" if suffix == "/instances" else "")
    body(client.get(url, headers=headers))  # the session and the trace window are warm
    counts = []
    for grow in (0, 997):
        _grow_series(study, grow)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, headers=headers)
            content = body(response)
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
    with django_assert_num_queries(counts[0]):
        body(client.get(url, headers=headers))
    if suffix == "":
        assert content.count(b"Content-Type: application/dicom") == 1000
    else:
        assert len(json.loads(content)) == 1000


# ------------------------------------------------------------- dicomweb-client, live


@pytest.fixture
def dicomweb(live_server: Any, doctor: Professional, transactional_db: None) -> Any:
    import requests
    from dicomweb_client.api import DICOMwebClient

    login = logged(doctor.user)
    session = requests.Session()
    name = settings.SESSION_COOKIE_NAME
    session.cookies.set(name, login.cookies[name].value)
    return DICOMwebClient(url=f"{live_server.url}{BASE}", session=session)


@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_search_metadata_instance_frame(
    dicomweb: Any, alice: Patient, study: ImagingStudy, private_storage: Path
) -> None:
    found = dicomweb.search_for_studies(search_filters={"PatientID": alice.insc})
    assert [pydicom.Dataset.from_json(r).StudyInstanceUID for r in found] == [
        study.study_instance_uid
    ]
    series_uid = study.series.get().series_instance_uid
    series = dicomweb.search_for_series(study.study_instance_uid)
    assert [pydicom.Dataset.from_json(r).SeriesInstanceUID for r in series] == [series_uid]
    metadata = dicomweb.retrieve_study_metadata(study.study_instance_uid)
    instance = study.series.get().instances.get(instance_number=2)
    assert instance.sop_instance_uid in {m["00080018"]["Value"][0] for m in metadata}

    retrieved = dicomweb.retrieve_instance(
        study.study_instance_uid, series_uid, instance.sop_instance_uid
    )
    stored = pydicom.dcmread(private_storage / (instance.file.name or ""))
    assert retrieved.PixelData == stored.PixelData
    assert retrieved == stored
    out = io.BytesIO()
    pydicom.dcmwrite(out, retrieved, enforce_file_format=True)
    assert out.getvalue() == stored_bytes(instance, private_storage)

    png = dicomweb.retrieve_instance_frames_rendered(
        study.study_instance_uid,
        series_uid,
        instance.sop_instance_uid,
        [1],
        media_types=("image/png",),
    )
    assert Image.open(io.BytesIO(png)).size == (32, 32)
    frames = dicomweb.retrieve_instance_frames(
        study.study_instance_uid, series_uid, instance.sop_instance_uid, [1]
    )
    assert frames == [stored.PixelData]
    series_files = dicomweb.retrieve_series(study.study_instance_uid, series_uid)
    assert sorted(ds.InstanceNumber for ds in series_files) == [1, 2, 3]
    opened = [e for e in dicomweb_events(alice) if e.action == AccessAction.ENTRY_VIEW]
    assert len(opened) == 1  # one study opened, however many requests


@pytest.mark.parametrize("how", ["accept-language", "cookie"])
def test_every_refusal_body_is_in_the_readers_language(
    doctor: Professional, stranger_doctor: Professional, study: ImagingStudy, how: str
) -> None:
    """401, 404 (out of scope: the same body as missing), 406 and 400, in English for an
    English reader (browser header or the portal's language choice), in French otherwise."""

    def english(client: Client) -> Client:
        if how == "cookie":
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    headers = {"Accept-Language": "en"} if how == "accept-language" else {}
    instance = urls(study)["instance"]
    cases = [
        (english(Client()), f"{BASE}/studies", {}, 401, "Authentication required."),
        (english(logged(stranger_doctor.user)), urls(study)["study"], {}, 404, "Not found."),
        (english(logged(doctor.user)), f"{BASE}/studies/1.2.3", {}, 404, "Not found."),
        (
            english(logged(doctor.user)),
            f"{BASE}/studies",
            {"Accept": "image/gif"},
            406,
            "This response format is not available (Accept header).",
        ),
        (english(logged(doctor.user)), f"{instance}/rendered?viewport=x", {}, 400, "viewport"),
    ]
    for client, url, extra, status, text in cases:
        response = client.get(url, headers={**headers, **extra})
        assert response.status_code == status, (url, response.status_code)
        body = response.content.decode()
        assert text in body, body
        for french in ("Introuvable", "Authentification", "invalide", "en-tête"):
            assert french not in body, body
    french = logged(doctor.user).get(f"{BASE}/studies/1.2.3")
    assert french.content.decode() == "Introuvable."
