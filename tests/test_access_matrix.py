"""Every URL × every member of the cast × GET and POST → the expected status.

Generated from the URL resolver: a new URL without an expectation here fails. Bodies seen by
anyone whom Alice's rules exclude must not contain Alice's data, and "out of scope" answers
exactly like "missing".
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from identity.models import Patient, Professional, User
from records.models import AccessEvent
from records.services.lifecycle import PatientTraits
from records.trail import log_integrate
from tests.cast import (
    TOTP_SECRET,
    family_cast,
    make_patient,
    make_professional,
    make_staff_viewer,
    without_csrf,
)

pytestmark = pytest.mark.django_db

# Third-party and framework areas with their own tests (allauth flows, i18n, the OAuth 2.0
# endpoints: tests/records/fhir/test_oauth.py); the admin has its own matrix at the end of this
# file.
EXCLUDED_PREFIXES = ("accounts/", "admin/", "i18n/", "o/")

ROLES = [
    "anonymous",
    "alice",
    "bob",
    "traitant",
    "authorised",
    "emergency",
    "stranger",
    "blocked",
    "unverified",
    "administrator",
]
WITH_ACCESS_TO_ALICE = {"traitant", "authorised", "emergency"}
VERIFIED_PROS = WITH_ACCESS_TO_ALICE | {"stranger", "blocked"}
MUST_NOT_SEE_ALICE = {"anonymous", "bob", "stranger", "blocked", "unverified", "administrator"}
LOGIN = 302  # redirect to the login page


def pro(allowed: int) -> dict[str, int]:
    """A professional page that names no patient."""
    table = {role: 403 for role in ROLES}
    table["anonymous"] = LOGIN
    table.update({role: allowed for role in VERIFIED_PROS})
    return table


def pro_patient(allowed: int) -> dict[str, int]:
    """A professional page about Alice's DMP: 404 for verified professionals out of scope
    (a wrong method is 405 for everyone, in scope or not, existing or not: it tells nothing)."""
    table = pro(405 if allowed == 405 else 404)
    table.update({role: allowed for role in WITH_ACCESS_TO_ALICE})
    return table


def patient(allowed: int) -> dict[str, int]:
    """A page of the logged-in patient's own DMP (Bob gets his own)."""
    table = {role: 403 for role in ROLES}
    table["anonymous"] = LOGIN
    table.update(alice=allowed, bob=allowed)
    return table


def pro_entry(allowed: int, *, emergency: int | None = None) -> dict[str, int]:
    """Writing into Alice's DMP: an emergency access reads, it does not deposit (403)."""
    table = pro_patient(allowed)
    if emergency is not None:
        table["emergency"] = emergency
    return table


def entry_reader(allowed: int) -> dict[str, int]:
    """One of Alice's entries, named by its id: 404 for anyone outside its scope."""
    table = everyone(404, anonymous=LOGIN, alice=allowed)
    table.update({role: allowed for role in WITH_ACCESS_TO_ALICE})
    return table


def everyone(status: int, **overrides: int) -> dict[str, int]:
    return {role: overrides.get(role, status) for role in ROLES}


def anonymous_only(allowed: int) -> dict[str, int]:
    return everyone(302, anonymous=allowed)


# name → {method: {role: status}}. 302 on POST of a sensitive act = sent to re-authenticate.
EXPECTED: dict[str, dict[str, dict[str, int]]] = {
    "home": {
        "GET": everyone(200, alice=302, bob=302),
        "POST": everyone(405),
    },
    "health": {"GET": everyone(200), "POST": everyone(405)},
    "readiness": {"GET": everyone(200), "POST": everyone(405)},
    "bench_fortunes": {"GET": everyone(404), "POST": everyone(405)},  # DMP_BENCH_PAGES off
    "records:dmp_open": {"GET": pro(200), "POST": pro(200)},
    "records:patient_search": {"GET": pro(200), "POST": pro(400)},  # an empty search
    "records:dmp_reopen_by_professional": {"GET": pro(405), "POST": pro(302)},
    "records:attest_consent": {"GET": pro(405), "POST": pro(302)},
    "records:emergency": {"GET": pro(200), "POST": pro(302)},
    # No structure to choose without a Pro Santé Connect login: the page says so; a POST is 400.
    "records:structure_choose": {"GET": pro(200), "POST": pro(400)},
    "records:patient_home": {"GET": pro_patient(200), "POST": pro_patient(405)},
    # A sensitive act: every professional is first sent to re-authenticate (then 404 when out
    # of scope, like a missing DMP).
    "records:letter_reissue": {"GET": pro_patient(405), "POST": pro(302)},
    "records:activation": {"GET": anonymous_only(200), "POST": anonymous_only(200)},
    "records:activation_account": {"GET": everyone(302), "POST": everyone(302)},
    "records:activation_done": {"GET": patient(200), "POST": patient(405)},
    "identity:email_code_login": {"GET": patient(405), "POST": patient(302)},
    "identity:my_account_events": {
        "GET": everyone(200, anonymous=LOGIN),
        "POST": everyone(405, anonymous=LOGIN),
    },
    "records:my_dmp": {"GET": patient(200), "POST": patient(405)},
    "records:my_settings": {"GET": patient(200), "POST": patient(302)},
    "records:my_dmp_close": {"GET": patient(200), "POST": patient(302)},
    "records:my_dmp_reopen": {"GET": patient(302), "POST": patient(302)},
    "records:my_access": {"GET": patient(200), "POST": patient(405)},
    "records:my_access_change": {"GET": patient(405), "POST": patient(302)},
    "records:my_history": {"GET": patient(200), "POST": patient(405)},
    "records:my_history_csv": {"GET": patient(200), "POST": patient(405)},
    # One of Alice's events (in the tree): Bob's history does not hold it.
    "records:my_history_proof": {"GET": {**patient(200), "bob": 404}, "POST": patient(405)},
    # The standalone checker: no patient data, anyone may read it.
    "records:proof_checker": {
        "GET": dict.fromkeys(ROLES, 200),
        "POST": dict.fromkeys(ROLES, 405),
    },
    "records:my_notifications": {"GET": patient(200), "POST": patient(302)},
    # "Télécharger mon DMP": asked by the patient, or by a professional with normal access for
    # her (an emergency access does not export); an archive is seen only by whoever asked
    # (none of the cast's here: 404 for everyone logged in).
    "records:my_export": {"GET": patient(200), "POST": patient(302)},
    "records:export_pro": {"GET": pro_patient(405), "POST": pro_entry(302, emergency=403)},
    **{
        f"records:{name}": {
            "GET": everyone(404, anonymous=LOGIN),
            "POST": everyone(405, anonymous=LOGIN),
        }
        for name in ("export_status", "export_download")
    },
    # Named by a notification's id: none of the cast's, so 404 for everyone logged in.
    "records:notification_open": {
        "GET": everyone(404, anonymous=LOGIN),
        "POST": everyone(405, anonymous=LOGIN),
    },
    "records:timeline_pro": {"GET": pro_patient(200), "POST": pro_patient(405)},
    "records:lab_report_new": {
        "GET": pro_entry(200, emergency=403),
        "POST": pro_entry(400, emergency=403),
    },
    "records:report_new": {
        "GET": pro_entry(200, emergency=403),
        "POST": pro_entry(400, emergency=403),
    },
    "records:cda_new": {
        "GET": pro_entry(200, emergency=403),
        "POST": pro_entry(400, emergency=403),
    },
    "records:allergy_new": {
        "GET": pro_entry(200, emergency=403),
        "POST": pro_entry(400, emergency=403),
    },
    "records:trend_pro": {"GET": pro_patient(200), "POST": pro_patient(405)},
    "records:allergy_card_pro": {"GET": pro_patient(200), "POST": pro_patient(405)},
    "records:timeline_patient": {"GET": patient(200), "POST": patient(405)},
    "records:allergy_card_patient": {"GET": patient(200), "POST": patient(405)},
    "records:trend_patient": {"GET": patient(200), "POST": patient(405)},
    "records:entry_detail": {"GET": entry_reader(200), "POST": everyone(405, anonymous=LOGIN)},
    "records:report_pdf": {"GET": entry_reader(200), "POST": everyone(405, anonymous=LOGIN)},
    "records:entry_cda": {"GET": entry_reader(200), "POST": everyone(405, anonymous=LOGIN)},
    "records:entry_new_version": {
        "GET": pro_entry(200, emergency=403),
        "POST": pro_entry(400, emergency=403),
    },
    "records:entry_mask": {"GET": patient(405), "POST": patient(302)},
    "records:entry_announce": {"GET": pro(405), "POST": pro_entry(302, emergency=403)},
    # The profil médical (branch profil): the professional's forms, the measure charts, the
    # patient's own pages (an empty POST is refused: 400), verifying a patient's declaration
    # (the cast's entry is a professional's report: not verifiable, 403).
    **{
        f"records:{name}": {
            "GET": pro_entry(200, emergency=403),
            "POST": pro_entry(400, emergency=403),
        }
        for name in ("problem_new", "treatment_new", "vaccination_new", "measure_new")
    },
    "records:measure_pro": {"GET": pro_patient(200), "POST": pro_patient(405)},
    "records:measure_patient": {"GET": patient(200), "POST": patient(405)},
    "records:my_measure_new": {"GET": patient(200), "POST": patient(400)},
    "records:my_vaccinations": {"GET": patient(200), "POST": patient(400)},
    "records:my_wishes": {"GET": patient(200), "POST": patient(400)},
    "records:entry_verify": {"GET": pro(405), "POST": pro_entry(403)},
    "records:my_documents": {"GET": patient(200), "POST": patient(400)},
    # The cast's entry is a professional's report: no patient file (404 for everyone, as
    # missing), and the patient deletes only what she added (403; Bob: not his, 404).
    "records:patient_document_file": {
        "GET": everyone(404, anonymous=LOGIN),
        "POST": everyone(405, anonymous=LOGIN),
    },
    "records:patient_document_delete": {
        "GET": patient(405),
        "POST": {**patient(403), "bob": 404},
    },
    "imaging:patient_studies": {"GET": pro_patient(200), "POST": pro_entry(400, emergency=403)},
    "imaging:upload_confirm": {
        "GET": pro_entry(302, emergency=403),
        "POST": pro_entry(302, emergency=403),
    },
    "imaging:my_studies": {"GET": patient(200), "POST": patient(405)},
    "records:my_applications": {
        "GET": everyone(200, anonymous=LOGIN),
        "POST": everyone(400, anonymous=LOGIN),  # no application named
    },
    # The FHIR API ignores the session: without a bearer token, 401 for everyone (the same
    # endpoints with tokens of every role, scope and owner: tests/records/fhir/test_matrix.py).
    "fhir:metadata": {"GET": everyone(200), "POST": everyone(405)},
    "fhir:transaction": {"GET": everyone(405), "POST": everyone(401)},
    "fhir:patient_type": {"GET": everyone(401), "POST": everyone(405)},
    "fhir:patient_instance": {"GET": everyone(401), "POST": everyone(405)},
    "fhir:practitioner_type": {"GET": everyone(401), "POST": everyone(405)},
    "fhir:practitioner_instance": {"GET": everyone(401), "POST": everyone(405)},
    "fhir:practitioner_role_instance": {"GET": everyone(401), "POST": everyone(405)},
    "fhir:document_type": {"GET": everyone(401), "POST": everyone(401)},
    "fhir:document_instance": {"GET": everyone(401), "POST": everyone(405)},
    "fhir:binary_instance": {"GET": everyone(401), "POST": everyone(405)},
    "fhir:audit_type": {"GET": everyone(401), "POST": everyone(405)},
    "fhir:diagnosticreport_type": {"GET": everyone(401), "POST": everyone(401)},
    "fhir:allergyintolerance_type": {"GET": everyone(401), "POST": everyone(401)},
    **{
        f"fhir:{name}": {"GET": everyone(401), "POST": everyone(405)}
        for name in (
            "diagnosticreport_instance",
            "observation_type",
            "observation_instance",
            "allergyintolerance_instance",
            "imagingstudy_type",
            "imagingstudy_instance",
        )
    },
    "imaging:study_detail": {"GET": entry_reader(200), "POST": everyone(405, anonymous=LOGIN)},
    "imaging:study_report": {"GET": pro(405), "POST": pro_entry(302, emergency=403)},
    "imaging:study_previews": {"GET": entry_reader(200), "POST": everyone(405, anonymous=LOGIN)},
    **{
        f"imaging:{name}": {"GET": entry_reader(200), "POST": everyone(405, anonymous=LOGIN)}
        for name in (
            "series_viewer",
            "series_thumbnail",
            "instance_render",
            "instance_thumbnail",
            "instance_download",
        )
    },
    # DICOMweb: a caller without a session is asked to authenticate (401, not a login page); a
    # search answers from the caller's scope only (200, empty for the others).
    **{
        f"imaging:{name}": {"GET": everyone(200, anonymous=401), "POST": everyone(405)}
        for name in ("dicomweb_studies", "dicomweb_series_search", "dicomweb_instances_search")
    },
    **{
        f"imaging:dicomweb_{name}": {
            "GET": entry_reader(200) | {"anonymous": 401},
            "POST": everyone(405),
        }
        for name in (
            "study",
            "study_metadata",
            "series",
            "series_metadata",
            "series_thumbnail",
            "instance",
            "instance_metadata",
            "instance_rendered",
            "instance_thumbnail",
            "frames",
            "frame_rendered",
        )
    },
    # Families (records.mandates): the patient's family page; a professional's record of a
    # minor's representatives (an emergency access reads, it records no one: 404).
    "records:family": {"GET": patient(200), "POST": patient(405)},
    "records:family_choose": {"GET": patient(405), "POST": patient(302)},
    "records:proxy_grant": {"GET": patient(405), "POST": patient(400)},
    "records:mandate_end": {"GET": patient(405), "POST": patient(404)},
    "records:majority_review": {"GET": patient(200), "POST": patient(302)},
    "records:representatives": {
        "GET": pro_patient(200) | {"emergency": 404},
        "POST": pro_patient(400) | {"emergency": 404},
    },
    # OHIF: its shell and files for anyone logged in (the data comes through DICOMweb, above);
    # not installed in this test (404), its configuration answered anyway.
    "imaging:ohif": {"GET": everyone(404, anonymous=LOGIN), "POST": everyone(405, anonymous=LOGIN)},
    "imaging:ohif_file": {
        "GET": everyone(200, anonymous=LOGIN),
        "POST": everyone(405, anonymous=LOGIN),
    },
}

# The family's cast members: each a patient with a DMP of their own (as Bob); the proxy of
# Alice (read-only, allergies and reports) also reads Alice's report by its id, as she does.
FAMILY_ROLES = ["representative", "proxy", "former_representative"]
# (refused like Alice herself when it deletes the report: not a document the patient added).
PROXY_AS_ALICE = {
    ("records:entry_detail", "GET"),
    ("records:report_pdf", "GET"),
    ("records:entry_cda", "GET"),
    ("records:patient_document_delete", "POST"),
}
ROLES += FAMILY_ROLES
MUST_NOT_SEE_ALICE |= {"representative", "former_representative"}
for _name, _methods in EXPECTED.items():
    for _method, _table in _methods.items():
        for _role in FAMILY_ROLES:
            _table[_role] = _table["bob"]
        if (_name, _method) in PROXY_AS_ALICE:
            _table["proxy"] = _table["alice"]


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else str(pattern.name)
            yield prefix + str(pattern.pattern), name


def project_urls() -> list[tuple[str, str]]:
    return [
        (route, name)
        for route, name in _walk(get_resolver().url_patterns)
        if not route.startswith(EXCLUDED_PREFIXES)
    ]


def test_every_url_has_an_expectation() -> None:
    missing = sorted({name for _, name in project_urls()} - set(EXPECTED))
    assert not missing, f"URLs without an access expectation: {missing}"


@pytest.fixture
def cast(
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    emergency_doctor: Professional,
    stranger_doctor: Professional,
    blocked_doctor: Professional,
    unverified_doctor: Professional,
    administrator: User,
    settings: Any,
    tmp_path: Any,
) -> dict[str, Any]:
    from tests.records.helpers import pdf_bytes, report

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.DMP_OHIF_DIR = str(tmp_path / "no-ohif")
    TOTP.activate(administrator, TOTP_SECRET)
    entry = report(doctor, alice, title="CR de consultation", pdf=pdf_bytes())
    from tests.imaging.conftest import ct_series, deposit

    study = deposit(doctor.user, alice, ct_series(1), tmp_path / "imaging")
    bob_doctor = make_professional("bobdoc@test.example")

    bob = make_patient(
        opened_by=bob_doctor,
        nir="1 78 02 69 123 789 03",
        traits=PatientTraits(
            birth_name="LEROY",
            first_names="Bob",
            sex="M",
            birth_date=datetime.date(1978, 2, 3),
        ),
        account=True,
        email="bob@test.example",
    )
    users: dict[str, Any] = {
        "anonymous": None,
        "alice": alice.user,
        "bob": bob.user,
        "traitant": doctor.user,
        "authorised": authorised_doctor.user,
        "emergency": emergency_doctor.user,
        "stranger": stranger_doctor.user,
        "blocked": blocked_doctor.user,
        "unverified": unverified_doctor.user,
        "administrator": administrator,
    }
    users.update(family_cast(bob_doctor, alice))
    log_integrate()  # Alice's events in the tree: their proofs can be downloaded
    event = AccessEvent.objects.filter(patient=alice).order_by("id").first()
    assert event is not None
    return {"users": users, "alice": alice, "entry": entry, "study": study, "event": event}


def _url(
    route: str, alice: Patient, entry_id: Any = None, study: Any = None, event: Any = None
) -> str:
    url = "/" + route
    url = url.replace("<uuid:public_id>", str(alice.public_id))
    url = url.replace("<uuid:event_id>", str(event.public_id if event else uuid.uuid4()))
    url = url.replace("<str:analyte_code>", "4548-4")
    url = url.replace("<str:measure>", "weight")
    url = url.replace("<path:path>", "app-config.js")
    url = url.replace("<str:token>", "x" * 32)
    url = url.replace(
        "<str:public_id>", str(entry_id if "Patient" not in route else alice.public_id)
    )
    if study is not None and route.startswith("imagerie/"):
        series = study.series.first()
        url = url.replace("<uuid:entry_id>", str(study.entry.public_id))
        url = url.replace("<uuid:series_id>", str(series.public_id))
        url = url.replace("<uuid:instance_id>", str(series.instances.first().public_id))
    url = _dicomweb_uids(url, study)
    for name in (
        "entry_id",
        "series_id",
        "instance_id",
        "notification_id",
        "mandate_id",
        "export_id",
    ):
        url = url.replace(f"<uuid:{name}>", str(entry_id))
    if "<" in url:  # pragma: no cover - a new converter needs a value here
        raise AssertionError(f"no test value for {route}")
    return url


def _dicomweb_uids(url: str, study: Any) -> str:
    """DICOMweb names images by DICOM UID: Alice's study's, or UIDs of nothing."""
    if study is not None:
        series = study.series.first()
        uids = {
            "study_uid": study.study_instance_uid,
            "series_uid": series.series_instance_uid,
            "sop_uid": series.instances.first().sop_instance_uid,
        }
    else:
        uids = {name: f"1.2.3.{n}" for n, name in enumerate(("study_uid", "series_uid", "sop_uid"))}
    for name, uid in uids.items():
        url = url.replace(f"<uid:{name}>", uid)
    return url.replace("<frames:frames>", "1")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_matrix(cast: dict[str, Any], method: str) -> None:
    alice: Patient = cast["alice"]
    secrets = [alice.insc, alice.birth_name, "Alice Marie"]
    failures = []
    for route, name in project_urls():
        url = _url(route, alice, cast["entry"].public_id, cast["study"], cast["event"])
        for role in ROLES:
            client = Client()
            if cast["users"][role] is not None:
                client.force_login(cast["users"][role])
            response = client.generic(method, url)
            expected = EXPECTED[name][method][role]
            if response.status_code != expected:
                failures.append(f"{method} {url} as {role}: {response.status_code} ≠ {expected}")
                continue
            if role in MUST_NOT_SEE_ALICE:
                body = (
                    b"".join(response.streaming_content) if response.streaming else response.content
                )  # type: ignore[attr-defined]
                leaked = [s for s in secrets if s.encode() in body]
                if leaked:
                    failures.append(f"{method} {url} as {role} leaks {leaked}")
    assert not failures, "\n".join(failures)


def test_every_event_names_the_structure_of_the_session(cast: dict[str, Any]) -> None:
    """The structure a Pro Santé Connect login keeps in the session is on every access event
    the professional's requests write, whichever page writes it."""
    from records.models import AccessEvent
    from records.sso import STRUCTURE_SESSION_KEY

    alice: Patient = cast["alice"]
    traitant = cast["users"]["traitant"]
    client = Client()
    client.force_login(traitant)
    session = client.session
    session[STRUCTURE_SESSION_KEY] = "Clinique des Lilas (FINESS 750000001)"
    session.save()
    before = AccessEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for route, _name in project_urls():
        client.get(_url(route, alice, cast["entry"].public_id, cast["study"]))
    written = AccessEvent.objects.filter(id__gt=before, actor=traitant)
    assert written.count() > 10
    assert set(written.values_list("actor_structure", flat=True)) == {
        "Clinique des Lilas (FINESS 750000001)"
    }


@pytest.mark.parametrize(
    "name", [name for name, table in EXPECTED.items() if table["GET"]["stranger"] == 404]
)
def test_out_of_scope_is_indistinguishable_from_missing(cast: dict[str, Any], name: str) -> None:
    alice: Patient = cast["alice"]
    route = next(route for route, n in project_urls() if n == name)
    client = Client()
    client.force_login(cast["users"]["stranger"])
    real = client.get(_url(route, alice, cast["entry"].public_id, cast["study"], cast["event"]))
    missing = client.get(
        _url(route, alice, uuid.uuid4()).replace(str(alice.public_id), str(uuid.uuid4()))
    )
    assert real.status_code == missing.status_code == 404
    assert without_csrf(real.content) == without_csrf(missing.content)


def test_posts_without_csrf_token_are_refused(cast: dict[str, Any]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast["users"]["alice"])
    response = client.post("/mon-dmp/acces/modifier/", {"action": "block"})
    assert response.status_code == 403


# --- The admin: administrators supervise, they read no patient data --------------------------
#
# Every registered ModelAdmin's list, add, change, history and delete pages (change, history
# and delete for every object in the database), the admin's own pages, as the administrator
# (superuser) and as a staff member holding every model-wide view_* permission through a group:
# no page may show Alice's names, e-mail, INS-C, birth date, DMP id, document titles or ids, or
# the reason text of an emergency access on her.

EMERGENCY_REASON_TEXT = "Douleur thoracique brutale depuis une heure"
DOCUMENT_TITLE = "Échographie cardiaque de contrôle"
ADMIN_SITE_PAGES = {  # the admin's own URLs (by name), their path and who reads them
    "index": "",
    "login": "login/",
    "logout": None,  # POST only; logging out shows nothing
    "password_change": "password_change/",
    "password_change_done": "password_change/done/",
    "autocomplete": "autocomplete/",
    "jsi18n": "jsi18n/",
    "view_on_site": None,  # redirects to a model's get_absolute_url: none is registered
    "app_list": None,  # visited per app below
}
# Per-object pages built by hand; the trail of one patient is read by POST with a reason only
# (tests/records/test_admin_supervision.py).
ADMIN_CUSTOM_PAGES = {
    "auth_user_password_change": "identity/user/{user}/password/",
    "records_accessevent_supervision": "records/accessevent/supervision/",
    "records_accessevent_patient_trail": None,
}
ADMIN_KINDS = ("changelist", "add", "change", "history", "delete")


@pytest.fixture
def staff_viewer(db: None) -> User:
    return make_staff_viewer("viewer@test.example")


@pytest.fixture
def admin_cast(cast: dict[str, Any], administrator: User, staff_viewer: User) -> dict[str, Any]:
    """The cast, plus what the admin's tables would hold about Alice: an emergency access with
    a reason text, its notifications, a second-factor reset pending on her account."""
    from identity.account_recovery import mfa_reset_request
    from records.services.care import emergency_declare
    from tests.records.helpers import report

    alice: Patient = cast["alice"]
    traitant = Professional.objects.get(user=cast["users"]["traitant"])
    document = report(traitant, alice, title=DOCUMENT_TITLE)
    urgentiste = make_professional("urgentiste@test.example", first_name="Uma", last_name="Urg")
    emergency_declare(
        actor=urgentiste.user,
        patient=alice,
        samu=False,
        reason="other",
        reason_text=EMERGENCY_REASON_TEXT,
    )
    # Alice's TOTP comes with the cast (every patient has a second factor).
    mfa_reset_request(
        actor=administrator, account=alice.user, reason="Téléphone perdu, appel au support"
    )
    return {**cast, "viewer": staff_viewer, "document": document}


def _alice_secrets(cast: dict[str, Any]) -> list[str]:
    alice: Patient = cast["alice"]
    assert alice.birth_date is not None
    born = alice.birth_date
    return [
        alice.insc,
        alice.birth_name,
        alice.first_names,
        "alice",  # her first name, and her e-mail address
        str(alice.public_id),
        born.strftime("%d/%m/%Y"),
        born.isoformat(),
        "14 mai 1985",
        "May 14, 1985",
        DOCUMENT_TITLE,
        str(cast["document"].public_id),
        str(cast["entry"].public_id),
        cast["study"].entry.title,
        str(cast["study"].entry.public_id),
        EMERGENCY_REASON_TEXT,
    ]


def _admin_url_names() -> set[str]:
    return {
        name.removeprefix("admin:")
        for _, name in _walk(get_resolver().url_patterns)
        # Unnamed: the admin's final catch-all, which answers 404.
        if name.startswith("admin:") and name != "admin:None"
    }


def _admin_pages(cast: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, url) for every admin page: each registered model's list and add pages, the
    change page of every row in the database, the history and delete pages of one."""
    from django.contrib import admin

    pages = [
        (name, f"/admin/{path}") for name, path in ADMIN_SITE_PAGES.items() if path is not None
    ]
    apps = set()
    for model in admin.site._registry:
        opts = model._meta
        apps.add(opts.app_label)
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        pages += [(f"{opts.label} changelist", base), (f"{opts.label} add", f"{base}add/")]
        ids = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
        pages += [(f"{opts.label} change #{pk}", f"{base}{pk}/change/") for pk in ids]
        # History and delete pages are alike for every row of a model: one row's, Alice's
        # account's for the accounts.
        first = cast["alice"].user.pk if model is User else (ids or [None])[0]
        if first is not None:
            pages += [
                (f"{opts.label} {kind} #{first}", f"{base}{first}/{kind}/")
                for kind in ("history", "delete")
            ]
    pages += [(f"app {app}", f"/admin/{app}/") for app in sorted(apps)]
    for name, path in ADMIN_CUSTOM_PAGES.items():
        if path is not None:
            pages.append((name, "/admin/" + path.format(user=cast["alice"].user.pk)))
    return pages


def test_every_admin_url_is_visited_by_the_admin_matrix() -> None:
    from django.contrib import admin

    known = set(ADMIN_SITE_PAGES) | set(ADMIN_CUSTOM_PAGES)
    for model in admin.site._registry:
        known |= {f"{model._meta.app_label}_{model._meta.model_name}_{k}" for k in ADMIN_KINDS}
    missing = sorted(_admin_url_names() - known)
    assert not missing, f"admin URLs the admin matrix does not visit: {missing}"


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("who", ["administrator", "viewer"])
def test_admin_pages_show_no_patient_data(admin_cast: dict[str, Any], who: str) -> None:
    user = admin_cast["users"]["administrator"] if who == "administrator" else admin_cast["viewer"]
    client = Client()
    client.force_login(user)
    secrets = [s.lower().encode() for s in _alice_secrets(admin_cast)]
    failures, seen = [], 0
    for what, url in _admin_pages(admin_cast):
        response = client.get(url)
        if response.status_code not in (200, 302, 403, 404):
            failures.append(f"GET {url} ({what}) as {who}: {response.status_code}")
            continue
        must_render = "changelist" in what or " change #" in what or what.startswith("records_")
        if must_render and response.status_code != 200:
            failures.append(f"GET {url} ({what}) as {who}: {response.status_code} ≠ 200")
        body = _body(response).lower()
        seen += response.status_code == 200
        leaked = [s.decode() for s in secrets if s in body]
        if leaked:
            failures.append(f"GET {url} ({what}) as {who} shows {leaked}")
    assert not failures, "\n".join(failures)
    assert seen > 50  # the scan read real pages: Alice's account, her events, her emergency…


@pytest.mark.parametrize(
    "query",
    [
        "records/accessevent/?patient_insc={insc}",
        "records/accessevent/?patient={patient}",
        "records/accessevent/?patient__id__exact={patient}",
        "records/accessevent/?detail__icontains=urgence",
        "records/accessevent/?actor_label__icontains=alice",
        "records/accessevent/?entry_public_id={entry}",
        "records/emergencyaccess/?patient={patient}",
        "records/emergencyaccess/?reason_text__icontains=douleur",
        "identity/user/?last_name__istartswith=dup",
        "identity/user/?email__startswith=alice",
        "identity/user/?patient__insc={insc}",
        "identity/mfaresetrequest/?account={user}",
    ],
)
def test_admin_lists_cannot_be_filtered_on_a_patient(
    admin_cast: dict[str, Any], query: str
) -> None:
    """Django lets any local field be filtered from the URL; here only the declared filters."""
    alice: Patient = admin_cast["alice"]
    client = Client()
    client.force_login(admin_cast["users"]["administrator"])
    url = "/admin/" + query.format(
        insc=alice.insc, patient=alice.pk, entry=admin_cast["entry"].public_id, user=alice.user.pk
    )
    assert client.get(url).status_code == 400


@pytest.mark.parametrize("term", ["dupont", "alice", "Alice Marie", "alic"])
def test_searching_accounts_never_finds_a_patient_by_a_fragment(
    admin_cast: dict[str, Any], term: str
) -> None:
    client = Client()
    client.force_login(admin_cast["users"]["administrator"])
    response = client.get("/admin/identity/user/", {"q": term})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


@pytest.mark.parametrize("given", ["address", "number"])
def test_the_support_finds_a_patients_account_by_its_full_address_or_number(
    admin_cast: dict[str, Any], given: str
) -> None:
    """Her own address, or the number the lists show, finds one opaque row."""
    alice: Patient = admin_cast["alice"]
    client = Client()
    client.force_login(admin_cast["users"]["administrator"])
    number = str(alice.user.public_id)[:8]
    term = alice.user.email.upper() if given == "address" else number
    response = client.get("/admin/identity/user/", {"q": term})
    assert list(response.context["cl"].result_list) == [alice.user]
    assert f"Compte patient n° {number}".encode() in response.content
