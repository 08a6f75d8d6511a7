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
from records.services.lifecycle import PatientTraits
from tests.cast import TOTP_SECRET, make_patient, make_professional, without_csrf

pytestmark = pytest.mark.django_db

# Third-party and framework areas with their own tests (allauth flows, admin, i18n).
EXCLUDED_PREFIXES = ("accounts/", "admin/", "i18n/")

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
    "records:dmp_open": {"GET": pro(200), "POST": pro(200)},
    "records:patient_search": {"GET": pro(200), "POST": pro(400)},  # an empty search
    "records:dmp_reopen_by_professional": {"GET": pro(405), "POST": pro(302)},
    "records:attest_consent": {"GET": pro(405), "POST": pro(302)},
    "records:emergency": {"GET": pro(200), "POST": pro(302)},
    "records:patient_home": {"GET": pro_patient(200), "POST": pro_patient(405)},
    "records:letter_reissue": {"GET": pro_patient(405), "POST": pro_patient(302)},
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
    "records:timeline_pro": {"GET": pro_patient(200), "POST": pro_patient(405)},
    "records:lab_report_new": {
        "GET": pro_entry(200, emergency=403),
        "POST": pro_entry(400, emergency=403),
    },
    "records:report_new": {
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
    "records:entry_new_version": {
        "GET": pro_entry(200, emergency=403),
        "POST": pro_entry(400, emergency=403),
    },
    "records:entry_mask": {"GET": patient(405), "POST": patient(302)},
    "records:entry_announce": {"GET": pro(405), "POST": pro_entry(302, emergency=403)},
    "imaging:patient_studies": {"GET": pro_patient(200), "POST": pro_entry(400, emergency=403)},
    "imaging:upload_confirm": {
        "GET": pro_entry(302, emergency=403),
        "POST": pro_entry(302, emergency=403),
    },
    "imaging:my_studies": {"GET": patient(200), "POST": patient(405)},
    "imaging:study_detail": {"GET": entry_reader(200), "POST": everyone(405, anonymous=LOGIN)},
    "imaging:study_report": {"GET": pro(405), "POST": pro_entry(302, emergency=403)},
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
}


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
    return {"users": users, "alice": alice, "entry": entry, "study": study}


def _url(route: str, alice: Patient, entry_id: Any = None, study: Any = None) -> str:
    url = "/" + route
    url = url.replace("<uuid:public_id>", str(alice.public_id))
    url = url.replace("<str:analyte_code>", "4548-4")
    url = url.replace("<str:token>", "x" * 32)
    if study is not None and route.startswith("imagerie/"):
        series = study.series.first()
        url = url.replace("<uuid:entry_id>", str(study.entry.public_id))
        url = url.replace("<uuid:series_id>", str(series.public_id))
        url = url.replace("<uuid:instance_id>", str(series.instances.first().public_id))
    for name in ("entry_id", "series_id", "instance_id"):
        url = url.replace(f"<uuid:{name}>", str(entry_id))
    if "<" in url:  # pragma: no cover - a new converter needs a value here
        raise AssertionError(f"no test value for {route}")
    return url


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_matrix(cast: dict[str, Any], method: str) -> None:
    alice: Patient = cast["alice"]
    secrets = [alice.insc, alice.birth_name, "Alice Marie"]
    failures = []
    for route, name in project_urls():
        url = _url(route, alice, cast["entry"].public_id, cast["study"])
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


@pytest.mark.parametrize(
    "name", [name for name, table in EXPECTED.items() if 404 in table["GET"].values()]
)
def test_out_of_scope_is_indistinguishable_from_missing(cast: dict[str, Any], name: str) -> None:
    alice: Patient = cast["alice"]
    route = next(route for route, n in project_urls() if n == name)
    client = Client()
    client.force_login(cast["users"]["stranger"])
    real = client.get(_url(route, alice, cast["entry"].public_id, cast["study"]))
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
