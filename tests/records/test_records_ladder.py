"""The permission ladder of every records view: anonymous → login, out of scope → 404 exactly
like a missing id, allowed → 200 (or the redirect of a completed act), wrong method → 405."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client
from django.urls import reverse

from identity.models import Patient, Professional, User
from records.models import Entry
from tests.cast import TOTP_SECRET, fresh_login, without_csrf
from tests.records.conftest import logged_in
from tests.records.helpers import lab, pdf_bytes, report

pytestmark = pytest.mark.django_db


@dataclass
class Page:
    name: str
    arg: str  # "patient", "entry", "entry_pdf", "none"
    method: str = "GET"
    extra: tuple[str, ...] = ()


PRO_PAGES = [
    Page("timeline_pro", "patient"),
    Page("lab_report_new", "patient"),
    Page("report_new", "patient"),
    Page("allergy_new", "patient"),
    Page("allergy_card_pro", "patient"),
    Page("trend_pro", "patient", extra=("4548-4",)),
]
PATIENT_PAGES = [
    Page("timeline_patient", "none"),
    Page("allergy_card_patient", "none"),
    Page("trend_patient", "none", extra=("2160-0",)),
]
ENTRY_PAGES = [Page("entry_detail", "entry"), Page("report_pdf", "entry")]


@pytest.fixture
def pdf_entry(alice: Patient, doctor: Professional) -> Entry:
    lab(doctor, alice)
    return report(doctor, alice, pdf=pdf_bytes())


def _url(page: Page, patient: Patient | None = None, entry: Entry | None = None) -> str:
    args: list[object] = []
    if page.arg == "patient":
        args.append(patient.public_id if patient else uuid.uuid4())
    elif page.arg == "entry":
        args.append(entry.public_id if entry else uuid.uuid4())
    return reverse(f"records:{page.name}", args=[*args, *page.extra])


def _same_404(client: Client, real: str, missing: str) -> None:
    out_of_scope, absent = client.get(real), client.get(missing)
    assert out_of_scope.status_code == absent.status_code == 404
    assert without_csrf(out_of_scope.content) == without_csrf(absent.content)


@pytest.mark.parametrize("page", PRO_PAGES, ids=lambda p: p.name)
def test_professional_pages_ladder(
    page: Page,
    alice: Patient,
    doctor: Professional,
    stranger_doctor: Professional,
    blocked_doctor: Professional,
    unverified_doctor: Professional,
    pdf_entry: Entry,
) -> None:
    url = _url(page, alice)
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    for outsider in (stranger_doctor, blocked_doctor):
        _same_404(logged_in(outsider.user), url, _url(page))
    assert logged_in(unverified_doctor.user).get(url).status_code == 403
    assert logged_in(alice.user).get(url).status_code == 403  # a patient on a pro page
    allowed = logged_in(doctor.user)
    assert allowed.get(url).status_code == 200
    assert allowed.put(url).status_code == 405
    if page.name in ("timeline_pro", "allergy_card_pro", "trend_pro"):
        assert allowed.post(url).status_code == 405


@pytest.mark.parametrize("page", PATIENT_PAGES, ids=lambda p: p.name)
def test_patient_pages_ladder(
    page: Page, alice: Patient, bob: Patient, doctor: Professional, pdf_entry: Entry
) -> None:
    url = _url(page)
    assert Client().get(url).status_code == 302
    assert logged_in(doctor.user).get(url).status_code == 403
    mine = logged_in(alice.user).get(url)
    assert mine.status_code == 200
    others = logged_in(bob.user).get(url)  # Bob gets his own (empty) pages, nothing of Alice
    assert others.status_code == 200 and alice.insc.encode() not in others.content
    assert logged_in(alice.user).post(url).status_code == 405


@pytest.mark.parametrize("page", ENTRY_PAGES, ids=lambda p: p.name)
def test_entry_pages_ladder(
    page: Page,
    alice: Patient,
    bob: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    emergency_doctor: Professional,
    stranger_doctor: Professional,
    blocked_doctor: Professional,
    unverified_doctor: Professional,
    administrator: User,
    pdf_entry: Entry,
) -> None:
    TOTP.activate(administrator, TOTP_SECRET)  # past the second-factor gate: then 404
    url, missing = _url(page, entry=pdf_entry), _url(page)
    assert Client().get(url).status_code == 302
    for outsider in (stranger_doctor, blocked_doctor, unverified_doctor, bob):
        user = outsider.user
        _same_404(logged_in(user), url, missing)  # type: ignore[arg-type]
    _same_404(logged_in(administrator), url, missing)
    for reader in (doctor.user, authorised_doctor.user, emergency_doctor.user, alice.user):
        assert logged_in(reader).get(url).status_code == 200  # type: ignore[arg-type]
    assert logged_in(doctor.user).post(url).status_code == 405


def test_mask_ladder(alice: Patient, bob: Patient, doctor: Professional, pdf_entry: Entry) -> None:
    url = reverse("records:entry_mask", args=[pdf_entry.public_id])
    assert Client().post(url).status_code == 302
    assert logged_in(doctor.user).post(url).status_code == 403  # the patient's act
    stale = logged_in(alice.user).post(url, {"masquer": "on"})
    assert stale.status_code == 302 and "reauthenticate" in stale["Location"]
    bob_client = Client()
    fresh_login(bob_client, bob.user)  # type: ignore[arg-type]
    assert bob_client.post(url, {"masquer": "on"}).status_code == 404
    alice_client = Client()
    fresh_login(alice_client, alice.user)  # type: ignore[arg-type]
    assert alice_client.get(url).status_code == 405
    done = alice_client.post(url, {"masquer": "on"})
    assert done.status_code == 302
    pdf_entry.refresh_from_db()
    assert pdf_entry.masked


def test_announce_ladder(
    alice: Patient,
    doctor: Professional,
    stranger_doctor: Professional,
    emergency_doctor: Professional,
) -> None:
    entry = report(doctor, alice, invisible_to_patient=True)
    url = reverse("records:entry_announce", args=[entry.public_id])
    assert Client().post(url).status_code == 302
    assert logged_in(stranger_doctor.user).post(url).status_code == 404
    assert logged_in(emergency_doctor.user).post(url).status_code == 403
    assert logged_in(alice.user).post(url).status_code == 403
    assert logged_in(doctor.user).get(url).status_code == 405
    assert logged_in(doctor.user).post(url).status_code == 302
    entry.refresh_from_db()
    assert entry.announced_at is not None and not entry.invisible_to_patient


def test_new_version_ladder(
    alice: Patient,
    doctor: Professional,
    stranger_doctor: Professional,
    emergency_doctor: Professional,
    pdf_entry: Entry,
) -> None:
    url = reverse("records:entry_new_version", args=[pdf_entry.public_id])
    assert Client().get(url).status_code == 302
    _same_404(
        logged_in(stranger_doctor.user),
        url,
        reverse("records:entry_new_version", args=[uuid.uuid4()]),
    )
    assert logged_in(emergency_doctor.user).get(url).status_code == 403
    assert logged_in(doctor.user).get(url).status_code == 200
    assert logged_in(doctor.user).put(url).status_code == 405
    lab_entry = Entry.objects.get(kind="lab_report")
    lab_url = reverse("records:entry_new_version", args=[lab_entry.public_id])
    assert logged_in(doctor.user).get(lab_url).status_code == 403


def test_emergency_access_reads_but_cannot_open_deposit_forms(
    alice: Patient, emergency_doctor: Professional, pdf_entry: Entry
) -> None:
    client = logged_in(emergency_doctor.user)
    assert client.get(reverse("records:timeline_pro", args=[alice.public_id])).status_code == 200
    for name in ("lab_report_new", "report_new", "allergy_new"):
        assert client.get(reverse(f"records:{name}", args=[alice.public_id])).status_code == 403


def test_every_document_url_walks_a_ladder() -> None:
    # The DMP's other pages (opening, activation, access, history) walk theirs in
    # test_access_pages, test_dmp_open and test_activation; every URL is in the access matrix.
    from records.urls import urlpatterns

    covered = {p.name for p in PRO_PAGES + PATIENT_PAGES + ENTRY_PAGES}
    covered |= {"entry_mask", "entry_announce", "entry_new_version"}
    pages = ("records.views.documents", "records.views.deposits")
    documents = {p.name for p in urlpatterns if p.callback.__module__ in pages}
    assert documents == covered
