"""Who speaks for whom (records.mandates): a minor's legal representatives and the secret
consultation (CSP L1111-5), proxies (aidants), the 18th birthday — seen as users see them."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.http import Http404
from django.test import Client
from django.utils import timezone

from identity.errors import AccessDenied
from identity.models import Patient, Professional, User
from records import access
from records.mandates import Mandate, MandateEnd, MandateKind, MandateProof
from records.models import (
    AccessEvent,
    AccessMode,
    DmpExport,
    Entry,
    Notification,
    NotificationPreference,
)
from records.services.care import care_block
from records.services.family import majority_end, proxy_grant, representative_add
from tests.cast import (
    LEA_TRAITS,
    fresh_login,
    make_minor,
    make_professional,
    make_proxy,
    make_user,
    take_over,
    without_csrf,
)
from tests.records.helpers import allergy, lab, pdf_bytes, report

pytestmark = pytest.mark.django_db


@pytest.fixture
def storage(settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }


@pytest.fixture
def parents(db: None) -> tuple[User, User]:
    return (
        make_user("bob.parent@test.example", first_name="Bob", last_name="Leroy"),
        make_user("sophie.parent@test.example", first_name="Sophie", last_name="Leroy"),
    )


@pytest.fixture
def lea(doctor: Professional, parents: tuple[User, User]) -> Patient:
    return make_minor(opened_by=doctor, parents=list(parents))


@pytest.fixture
def family(doctor: Professional, lea: Patient, storage: None) -> dict[str, Entry]:
    return {
        "visible": report(doctor, lea, title="Vaccins à jour", pdf=pdf_bytes()),
        "secret": report(
            doctor, lea, title="Consultation contraception", pdf=pdf_bytes(), secret=True
        ),
        "hidden": report(
            doctor, lea, title="Entretien psychologue", hidden_from_representatives=True
        ),
    }


def _client(user: User) -> Client:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    from tests.cast import TOTP_SECRET

    if not Authenticator.objects.filter(user=user).exists():  # every patient has a 2nd factor
        TOTP.activate(user, TOTP_SECRET)
    client = Client()
    client.force_login(user)
    return client


def _act_for(client: Client, patient: Patient) -> None:
    response = client.post("/mon-dmp/famille/choisir/", {"dmp": str(patient.public_id)})
    assert response.status_code == 302


# --- The funnel --------------------------------------------------------------------------------


def test_each_representative_reads_the_childs_dmp_but_never_what_is_kept_from_them(
    lea: Patient, family: dict[str, Entry], parents: tuple[User, User], doctor: Professional
) -> None:
    for parent in parents:
        seen = set(access.entries_for(parent, lea).values_list("title", flat=True))
        assert seen == {"Vaccins à jour"}
        dmp = access.dmp_for(parent, lea.public_id)
        assert dmp.on_behalf and dmp.may_act and dmp.mandate_kind == MandateKind.REPRESENTATIVE
        _entry, held = access.entry_for(parent, family["visible"].public_id)
        assert held.on_behalf
    # The professional sees all three; the representatives' own DMPs are untouched.
    assert access.entries_for(doctor.user, lea).count() == 3


def test_a_secret_entry_answers_404_as_missing_by_every_url(
    lea: Patient, family: dict[str, Entry], parents: tuple[User, User]
) -> None:
    client = _client(parents[0])
    for entry in (family["secret"], family["hidden"]):
        for path in ("document/{}/", "document/{}/pdf/"):
            real = client.get("/" + path.format(entry.public_id))
            missing = client.get("/" + path.format(uuid.uuid4()))
            assert real.status_code == missing.status_code == 404, path
            assert without_csrf(real.content) == without_csrf(missing.content)
    assert client.get(f"/document/{family['visible'].public_id}/").status_code == 200


def test_a_secret_entry_is_missing_from_the_fhir_api_for_a_representative(
    lea: Patient, family: dict[str, Entry], parents: tuple[User, User], administrator: User
) -> None:
    from oauth2_provider.models import Application

    from tests.records.fhir.conftest import Api, mint_token

    software = Application.objects.create(
        name="Appli",
        user=administrator,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://logiciel.example/retour",
    )
    api = Api(mint_token(parents[0], software, "patient/*.rs"))
    secret = api.get(f"DocumentReference/{family['secret'].public_id}")
    missing = api.get(f"DocumentReference/{uuid.uuid4()}")
    assert secret.status_code == missing.status_code == 404
    assert api.get(f"Binary/{family['secret'].public_id}").status_code == 404
    assert api.get(f"DocumentReference/{family['visible'].public_id}").status_code == 200


def test_acting_for_the_child_the_patient_pages_show_the_banner_and_not_the_secret(
    lea: Patient, family: dict[str, Entry], parents: tuple[User, User]
) -> None:
    client = _client(parents[1])
    assert client.get("/mon-dmp/famille/").status_code == 200
    _act_for(client, lea)
    home = client.get("/mon-dmp/")
    assert home.status_code == 200
    assert "Vous consultez le DMP de Léa LEROY" in home.content.decode()
    timeline = client.get("/mon-dmp/documents/").content.decode()
    assert "Vaccins à jour" in timeline
    assert "contraception" not in timeline and "psychologue" not in timeline
    history = client.get("/mon-dmp/historique/?own=on").content.decode()
    assert "Consultation contraception" not in history
    # The traces of the secret entry are in the child's trail, not in what the parent sees.
    traced = AccessEvent.objects.filter(patient=lea, entry_public_id=family["secret"].public_id)
    assert traced.exists()
    events = access.history_of(access.dmp_for(parents[1], lea.public_id))
    assert not events.filter(entry_public_id=family["secret"].public_id).exists()
    assert events.filter(entry_public_id=family["visible"].public_id).exists()
    # Every read is traced as the parent, for the child.
    reads = AccessEvent.objects.filter(patient=lea, actor=parents[1])
    assert reads.exists() and set(reads.values_list("mode", flat=True)) == {AccessMode.ON_BEHALF}
    # Back to their own: no banner.
    client.post("/mon-dmp/famille/choisir/", {"dmp": ""})
    assert "Vous consultez le DMP de" not in client.get("/mon-dmp/famille/").content.decode()


def test_a_representative_acts_for_the_child_and_it_is_traced_as_them(
    lea: Patient, family: dict[str, Entry], parents: tuple[User, User]
) -> None:
    other = make_professional("other@test.example")
    care_block(actor=parents[0], patient=lea, professional=other)
    event = AccessEvent.objects.filter(patient=lea, actor=parents[0]).latest("id")
    assert event.mode == AccessMode.ON_BEHALF
    with pytest.raises(AccessDenied):  # the secret entry is the child's alone
        from records.services.entries import entry_mask

        entry_mask(actor=parents[0], entry=family["secret"], masked=True)
    assert not Entry.objects.get(pk=family["secret"].pk).masked


def test_a_representative_naming_a_child_not_theirs_gets_404_and_nothing_changes(
    alice: Patient, lea: Patient, parents: tuple[User, User]
) -> None:
    client = _client(parents[0])
    response = client.post("/mon-dmp/famille/choisir/", {"dmp": str(alice.public_id)})
    missing = client.post("/mon-dmp/famille/choisir/", {"dmp": str(uuid.uuid4())})
    assert response.status_code == missing.status_code == 404
    assert without_csrf(response.content) == without_csrf(missing.content)
    assert "acting_for" not in client.session
    # The service refuses too: a parent blocks no one on a DMP they do not speak for.
    with pytest.raises(AccessDenied):
        care_block(
            actor=parents[0], patient=alice, professional=make_professional("x@test.example")
        )


# --- The professional records the representatives ----------------------------------------------


def test_the_professional_records_two_representatives_with_their_basis(
    doctor: Professional, lea: Patient, parents: tuple[User, User]
) -> None:
    client = _client(doctor.user)
    page = client.get(f"/pro/dmp/{lea.public_id}/representants/")
    assert page.status_code == 200 and "autorité parentale" in page.content.decode()
    third = make_user("grandma@test.example")
    before = Mandate.objects.count()
    response = client.post(
        f"/pro/dmp/{lea.public_id}/representants/",
        {
            "email": third.email,
            "kind": "representative",
            "basis": "autorité parentale",
            "proof": "family_book",
            "consent": "on",
        },
    )
    assert response.status_code == 400
    assert "Deux représentants au plus" in response.content.decode()
    assert Mandate.objects.count() == before


def test_bad_representatives_are_refused_with_a_clear_error(
    doctor: Professional, alice: Patient, lea: Patient, parents: tuple[User, User]
) -> None:
    before = Mandate.objects.count()
    cases = [
        (alice, parents[0].email, MandateKind.REPRESENTATIVE, "majeur"),  # an adult
        (lea, "nobody@test.example", MandateKind.TUTOR, "tutelle"),  # a tutor for a minor
        (lea, "nobody@test.example", MandateKind.REPRESENTATIVE, "compte"),
    ]
    for patient, email, kind, words in cases:
        with pytest.raises(ValidationError) as error:
            representative_add(
                actor=doctor.user,
                patient=patient,
                email=email,
                kind=kind,
                basis="autorité parentale",
                proof=MandateProof.FAMILY_BOOK,
            )
        assert words in " ".join(error.value.messages)
    assert Mandate.objects.count() == before


def test_a_tutor_acts_for_an_adult_under_tutelle(doctor: Professional, alice: Patient) -> None:
    tutor = make_user("tutor@test.example")
    representative_add(
        actor=doctor.user,
        patient=alice,
        email=tutor.email,
        kind=MandateKind.TUTOR,
        basis="jugement du 3 mars 2025, tribunal judiciaire de Lyon",
        proof=MandateProof.JUDGEMENT,
    )
    held = access.dmp_for(tutor, alice.public_id)
    assert held.on_behalf and held.may_act and held.mandate_kind == MandateKind.TUTOR


def test_the_deposit_form_offers_the_two_flags_for_a_minor_only(
    doctor: Professional, lea: Patient, alice: Patient, parents: tuple[User, User], storage: None
) -> None:
    client = _client(doctor.user)
    assert (
        "L1111-5"
        in client.get(f"/pro/dmp/{lea.public_id}/comptes-rendus/nouveau/").content.decode()
    )
    assert (
        "L1111-5"
        not in client.get(f"/pro/dmp/{alice.public_id}/comptes-rendus/nouveau/").content.decode()
    )
    response = client.post(
        f"/pro/dmp/{lea.public_id}/comptes-rendus/nouveau/",
        {
            "document_type": "11488-4",
            "title": "Consultation addictologie",
            "act_date": timezone.localdate().isoformat(),
            "body": "Entretien.",
            "secret": "on",
            "submission_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302, response.content[:3000]
    entry = Entry.objects.get(title="Consultation addictologie")
    assert entry.secret and entry.hidden_from_representatives
    assert not access.entries_for(parents[0], lea).filter(pk=entry.pk).exists()


_DEPOSIT_FORMS = (
    "comptes-rendus/nouveau/",
    "biologie/nouveau/",
    "allergies/nouveau/",
    "profil/problemes/nouveau/",
    "profil/traitements/nouveau/",
    "profil/vaccinations/nouveau/",
    "profil/mesures/nouveau/",
)


def test_every_deposit_form_offers_the_two_flags_for_a_minor_only(
    doctor: Professional, lea: Patient, alice: Patient
) -> None:
    client = _client(doctor.user)
    for form in _DEPOSIT_FORMS:
        minor = client.get(f"/pro/dmp/{lea.public_id}/{form}")
        assert minor.status_code == 200, form
        text = minor.content.decode()
        assert "L1111-5" in text and 'name="hidden_from_representatives"' in text, form
        adult = client.get(f"/pro/dmp/{alice.public_id}/{form}").content.decode()
        assert "L1111-5" not in adult and "hidden_from_representatives" not in adult, form


def test_a_secret_allergy_or_problem_of_a_minor_is_kept_from_the_parents(
    doctor: Professional, lea: Patient, alice: Patient, parents: tuple[User, User]
) -> None:
    client = _client(doctor.user)
    allergy_post = {"substance_code": "atc:J01C", "criticality": "high", "secret": "on"}
    allergy_post.update(clinical_status="active", verification_status="confirmed")
    problem_post = {"label": "Trouble alimentaire", "hidden_from_representatives": "on"}
    problem_post.update(status="active", history="medical")
    for form, post in (("allergies", allergy_post), ("profil/problemes", problem_post)):
        post["submission_key"] = str(uuid.uuid4())
        response = client.post(f"/pro/dmp/{lea.public_id}/{form}/nouveau/", post)
        assert response.status_code == 302, response.content[:2000]
    kept = Entry.objects.filter(patient=lea)
    allergy_entry = kept.get(kind="allergy")
    problem = kept.get(kind="problem")
    assert allergy_entry.secret and allergy_entry.hidden_from_representatives
    assert problem.hidden_from_representatives and not problem.secret
    for parent in parents:
        assert not access.entries_for(parent, lea).filter(pk__in=kept).exists()
    # A flag forged into an adult's deposit is ignored (the fields do not exist there).
    client.post(
        f"/pro/dmp/{alice.public_id}/profil/problemes/nouveau/",
        {
            "label": "Asthme",
            "status": "active",
            "history": "medical",
            "secret": "on",
            "submission_key": str(uuid.uuid4()),
        },
    )
    assert not Entry.objects.get(patient=alice, title="Asthme").secret


def test_a_new_version_of_a_secret_report_stays_secret(
    doctor: Professional, lea: Patient, parents: tuple[User, User], storage: None
) -> None:
    secret = report(doctor, lea, title="Consultation contraception", secret=True)
    newer = report(doctor, lea, title="Consultation contraception (2)", replaces=secret)
    assert newer.secret and newer.hidden_from_representatives
    assert not access.entries_for(parents[0], lea).exists()


# --- Proxies -----------------------------------------------------------------------------------


@pytest.fixture
def husband(db: None) -> User:
    return make_user("paul.dupont@test.example", first_name="Paul", last_name="Dupont")


def test_a_read_only_proxy_reads_its_kinds_until_its_end_and_never_acts(
    doctor: Professional, alice: Patient, husband: User, storage: None
) -> None:
    cr = report(doctor, alice, title="CR cardiologie")
    allergy(doctor, alice)
    bilan = lab(doctor, alice)
    make_proxy(alice, husband)
    kinds = set(access.entries_for(husband, alice).values_list("kind", flat=True))
    assert kinds == {"report", "allergy"}
    with pytest.raises(Http404):
        access.entry_for(husband, bilan.public_id)
    _entry, held = access.entry_for(husband, cr.public_id)
    assert held.on_behalf and held.read_only and not held.may_act
    with pytest.raises(AccessDenied):
        care_block(actor=husband, patient=alice, professional=make_professional("y@test.example"))
    # Every read is traced as the proxy, and Alice sees it in her history.
    client = _client(husband)
    assert client.get(f"/document/{cr.public_id}/").status_code == 200
    event = AccessEvent.objects.filter(patient=alice, actor=husband).latest("id")
    assert event.mode == AccessMode.ON_BEHALF
    alice_client = _client(alice.user)  # type: ignore[arg-type]
    assert "Paul Dupont" in alice_client.get("/mon-dmp/historique/").content.decode()
    # After its end date: nothing.
    Mandate.objects.filter(holder=husband).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert not access.entries_for(husband, alice).exists()
    assert client.get(f"/document/{cr.public_id}/").status_code == 404


def test_bad_proxy_grants_are_refused_and_nothing_is_stored(alice: Patient, husband: User) -> None:
    client = _client(alice.user)  # type: ignore[arg-type]
    in_a_year = timezone.localdate() + datetime.timedelta(days=300)
    cases = [
        ({"email": alice.user.email}, "propre représentant"),  # type: ignore[union-attr]
        ({"ends_on": (timezone.localdate() + datetime.timedelta(days=400)).isoformat()}, "un an"),
        ({"email": "nobody@test.example"}, "Aucun compte"),
        ({"kinds": []}, "vérifiez"),
    ]
    for change, words in cases:
        data: dict[str, Any] = {
            "email": husband.email,
            "read_only": "1",
            "kinds": ["allergy", "report"],
            "ends_on": in_a_year.isoformat(),
            **change,
        }
        response = client.post("/mon-dmp/famille/procuration/", data)
        assert response.status_code == 400, change
        assert words in response.content.decode(), (change, words)
    assert not Mandate.objects.exists()
    ok = client.post(
        "/mon-dmp/famille/procuration/",
        {"email": husband.email, "read_only": "1", "kinds": ["allergy"], "ends_on": in_a_year},
    )
    assert ok.status_code == 302
    assert Mandate.objects.get().kinds == ",allergy,"


def test_a_forged_post_from_a_proxy_granting_a_third_person_is_refused(
    alice: Patient, husband: User
) -> None:
    make_proxy(alice, husband, read_only=False)
    third = make_user("third@test.example")
    client = _client(husband)
    _act_for(client, alice)
    response = client.post(
        "/mon-dmp/famille/procuration/",
        {
            "email": third.email,
            "read_only": "0",
            "kinds": ["report"],
            "ends_on": (timezone.localdate() + datetime.timedelta(days=30)).isoformat(),
        },
    )
    assert response.status_code in (403, 404)
    assert not Mandate.objects.filter(holder=third).exists()
    with pytest.raises(AccessDenied):
        proxy_grant(
            actor=husband,
            patient=alice,
            email=third.email,
            read_only=True,
            kinds=["report"],
            ends_on=timezone.localdate() + datetime.timedelta(days=30),
        )


def test_the_patient_revokes_a_proxy_and_the_access_ends_at_once(
    doctor: Professional, alice: Patient, husband: User, storage: None
) -> None:
    cr = report(doctor, alice)
    mandate = make_proxy(alice, husband)
    client = _client(alice.user)  # type: ignore[arg-type]
    assert client.post(f"/mon-dmp/famille/{mandate.public_id}/fin/").status_code == 302
    mandate.refresh_from_db()
    assert mandate.ended_reason == MandateEnd.REVOKED
    assert _client(husband).get(f"/document/{cr.public_id}/").status_code == 404
    # A stranger cannot end someone else's mandate: 404 as missing.
    assert (
        _client(make_user("z@test.example"))
        .post(f"/mon-dmp/famille/{mandate.public_id}/fin/")
        .status_code
        == 404
    )


# --- At 18 -------------------------------------------------------------------------------------


def test_at_18_the_representatives_access_ends_and_lea_is_invited(
    lea: Patient, family: dict[str, Entry], parents: tuple[User, User], tmp_path: Path
) -> None:
    eve = LEA_TRAITS.birth_date.replace(year=LEA_TRAITS.birth_date.year + 18) - datetime.timedelta(
        days=1
    )
    assert majority_end(today=eve) == []
    birthday = eve + datetime.timedelta(days=1)
    call_command("end_majority_mandates", today=birthday, letters_dir=tmp_path)
    letters = list(tmp_path.glob("majorite-*.html"))
    assert len(letters) == 1 and "Code d'activation" in letters[0].read_text()
    ended = Mandate.objects.filter(patient=lea)
    assert set(ended.values_list("ended_reason", flat=True)) == {MandateEnd.MAJORITY}
    # Idempotent: a second run ends nothing and writes no new letter.
    assert majority_end(today=birthday) == []
    for parent in parents:
        assert not access.entries_for(parent, lea).exists()
        assert _client(parent).get(f"/document/{family['visible'].public_id}/").status_code == 404


def test_lea_takes_over_and_reviews_what_her_parents_could_see(
    doctor: Professional, lea: Patient, family: dict[str, Entry], parents: tuple[User, User]
) -> None:
    Mandate.objects.filter(patient=lea).update(
        ended_at=timezone.now(), ended_reason=MandateEnd.MAJORITY
    )
    user = take_over(lea, doctor=doctor, email="lea@test.example")
    page = _client(user).get("/mon-dmp/majorite/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Vaccins à jour" in text and "Bob Leroy" in text
    assert "contraception" not in text


def test_at_18_every_login_leads_lea_to_the_review_until_she_says_it_is_done(
    doctor: Professional, lea: Patient, family: dict[str, Entry], parents: tuple[User, User]
) -> None:
    birthday = LEA_TRAITS.birth_date.replace(year=LEA_TRAITS.birth_date.year + 18)
    majority_end(today=birthday)
    user = take_over(lea, doctor=doctor, email="lea@test.example")
    client = _client(user)
    for page in ("/mon-dmp/", "/mon-dmp/documents/", "/mon-dmp/famille/"):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"] == "/mon-dmp/majorite/"
    # The review's entries stay reachable (to read and mask them).
    assert client.get(f"/document/{family['visible'].public_id}/").status_code == 200
    review = client.get("/mon-dmp/majorite/")
    assert "vérifié, accéder à mon DMP" in review.content.decode()
    # Logging in again without finishing: led to it again.
    assert _client(user).get("/mon-dmp/").status_code == 302
    done = client.post("/mon-dmp/majorite/")
    assert done.status_code == 302 and done["Location"] == "/mon-dmp/"
    assert client.get("/mon-dmp/").status_code == 200
    assert not Mandate.objects.filter(patient=lea, reviewed_at__isnull=True).exists()
    # The next login goes straight to her DMP; the review stays reachable, without the button.
    later = _client(user)
    assert later.get("/mon-dmp/").status_code == 200
    assert "vérifié, accéder à mon DMP" not in later.get("/mon-dmp/majorite/").content.decode()


def test_at_18_the_review_never_redirects_the_api_to_an_html_page(
    doctor: Professional, lea: Patient, family: dict[str, Entry], administrator: User
) -> None:
    from oauth2_provider.models import Application

    from tests.records.fhir.conftest import PATIENT_SCOPES, mint_token

    birthday = LEA_TRAITS.birth_date.replace(year=LEA_TRAITS.birth_date.year + 18)
    majority_end(today=birthday)
    user = take_over(lea, doctor=doctor, email="lea@test.example")
    client = _client(user)  # the review is pending in this session
    assert client.get("/mon-dmp/")["Location"] == "/mon-dmp/majorite/"
    software = Application.objects.create(
        name="Appli santé",
        user=administrator,
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://appli.example/retour",
    )
    token = mint_token(user, software, PATIENT_SCOPES)
    # Her health app, with its token, from the same browser session: FHIR as always.
    fhir = client.get(f"/fhir/Patient/{lea.public_id}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert fhir.status_code == 200 and fhir["Content-Type"].startswith("application/fhir+json")
    assert fhir.json()["id"] == str(lea.public_id)
    # Without a token, FHIR's own answer (401, JSON); DICOMweb (the viewer's, on the session)
    # answers its JSON: never the review's HTML.
    bare = client.get(f"/fhir/Patient/{lea.public_id}")
    assert bare.status_code == 401 and "json" in bare["Content-Type"]
    studies = client.get("/dicomweb/studies")
    assert studies.status_code == 200 and studies["Content-Type"] == "application/dicom+json"
    # The pages people read are still led to the review.
    assert client.get("/mon-dmp/documents/")["Location"] == "/mon-dmp/majorite/"


def test_a_patient_never_represented_is_not_led_to_any_review(alice: Patient) -> None:
    assert alice.user is not None
    assert _client(alice.user).get("/mon-dmp/").status_code == 200
    assert Client().get("/mon-dmp/majorite/").status_code == 302  # anonymous: to login


def test_a_parent_cannot_mark_the_review_done_for_the_young_adult(
    lea: Patient, parents: tuple[User, User]
) -> None:
    from records.services.family import majority_review_done

    Mandate.objects.filter(patient=lea).update(
        ended_at=timezone.now(), ended_reason=MandateEnd.MAJORITY
    )
    held = access.DmpAccess(patient=lea, mode=AccessMode.ON_BEHALF, mandate_kind="representative")
    with pytest.raises(AccessDenied):
        majority_review_done(actor=parents[0], dmp=held)
    assert Mandate.objects.filter(patient=lea, reviewed_at__isnull=True).count() == 2


def test_acting_for_the_child_the_notifications_are_the_childs_never_a_secret_ones(
    doctor: Professional, lea: Patient, parents: tuple[User, User], storage: None
) -> None:
    from records.services.care import notify

    lea_user = take_over(lea, doctor=doctor, email="lea.minor@test.example")
    report(doctor, lea, title="Certificat de sport")
    report(doctor, lea, title="Consultation IVG", secret=True)
    report(doctor, lea, title="Entretien addictologie", hidden_from_representatives=True)
    notify(recipient=parents[0], patient=None, kind="reminder")  # the parent's own
    # Léa herself is told of all three.
    own = _client(lea_user).get("/mon-dmp/notifications/").content.decode()
    assert "Certificat de sport" in own and "Consultation IVG" in own
    assert "Entretien addictologie" in own
    client = _client(parents[0])
    _act_for(client, lea)
    for page in ("/mon-dmp/notifications/", "/mon-dmp/"):
        text = client.get(page).content.decode()
        assert "Certificat de sport" in text, page
        assert "IVG" not in text and "addictologie" not in text, page
        assert "Il vous sera présenté" not in text, page  # the parent's own reminder
    # Nothing offered that only Léa may do, and her notices stay unread for her.
    listing = client.get("/mon-dmp/notifications/").content.decode()
    assert "Tout marquer comme lu" not in listing and "Marquer comme lue" not in listing
    assert client.post("/mon-dmp/notifications/").status_code == 403
    secret = Notification.objects.get(recipient=lea_user, entry__secret=True)
    assert client.get(f"/mon-dmp/notifications/{secret.public_id}/").status_code == 404
    shown = Notification.objects.get(recipient=lea_user, entry__title="Certificat de sport")
    opened = client.get(f"/mon-dmp/notifications/{shown.public_id}/")
    assert opened.status_code == 302 and str(shown.entry.public_id) in opened["Location"]
    assert not Notification.objects.filter(recipient=lea_user, read_at__isnull=False).exists()
    # Back to their own DMP: their own notifications again.
    client.post("/mon-dmp/famille/choisir/", {"dmp": ""})
    mine = client.get("/mon-dmp/notifications/").content.decode()
    assert "Il vous sera présenté" in mine and "Certificat de sport" not in mine


def test_a_proxy_reads_the_patients_notifications_of_its_kinds_only(
    doctor: Professional, alice: Patient, husband: User, storage: None
) -> None:
    make_proxy(alice, husband)
    report(doctor, alice, title="CR cardiologie")
    lab(doctor, alice)  # a lab report: outside the proxy's kinds
    assert Notification.objects.filter(recipient=alice.user, entry__kind="lab_report").exists()
    client = _client(husband)
    _act_for(client, alice)
    response = client.get("/mon-dmp/notifications/")
    listed = {item.notification.entry.kind for item in response.context["notifications"]}
    assert listed == {"report"}
    assert "CR cardiologie" in response.content.decode()


def test_a_proxys_history_holds_the_traces_of_its_kinds_only(
    doctor: Professional, alice: Patient, husband: User, storage: None
) -> None:
    cr = report(doctor, alice, title="CR cardiologie")
    bilan = lab(doctor, alice, laboratory="Laboratoire Pasteur")
    assert alice.user is not None
    alice_client = _client(alice.user)
    for entry in (cr, bilan):  # Alice reads both: two traces naming each
        assert alice_client.get(f"/document/{entry.public_id}/").status_code == 200
    make_proxy(alice, husband)
    client = _client(husband)
    _act_for(client, alice)
    events = access.history_of(access.own_dmp(_acting(husband, alice)))
    traced = set(events.exclude(entry_public_id=None).values_list("entry_public_id", flat=True))
    assert traced == {cr.public_id}
    # Alice still sees all of them; the page shown to the proxy names no lab report.
    mine = access.history_of(access.own_dmp(alice.user))
    assert mine.filter(entry_public_id=bilan.public_id).exists()
    history = client.get("/mon-dmp/historique/?own=on")
    assert history.status_code == 200
    page = history.content.decode()
    assert "CR cardiologie" in page and "biologie" not in page.lower()
    csv = client.get("/mon-dmp/historique.csv")
    assert csv.status_code == 200
    rows = b"".join(csv.streaming_content).decode()  # type: ignore[attr-defined]
    assert "CR cardiologie" in rows and "Laboratoire Pasteur" not in rows


def _fresh(user: User) -> Client:
    """A client freshly logged in (password, second factor, re-authentication)."""
    _client(user)  # the second factor every patient has
    client = Client()
    fresh_login(client, user)
    return client


def test_the_settings_are_refused_to_a_read_only_proxy_and_nothing_changes(
    alice: Patient, husband: User, doctor: Professional
) -> None:
    make_proxy(alice, husband)  # read-only
    proxy = _fresh(husband)
    _act_for(proxy, alice)
    assert proxy.get("/mon-dmp/parametres/").status_code == 403
    for form in (
        {"form": "oppositions", "opposes_bris_de_glace": "on", "opposes_samu": "on"},
        {"form": "traitant", "rpps": doctor.rpps},
        {"form": "notifications", "accesses": "every", "in_portal": "on"},
    ):
        assert proxy.post("/mon-dmp/parametres/", form).status_code == 403
    alice.refresh_from_db()
    assert not alice.opposes_bris_de_glace and not alice.opposes_samu
    assert not NotificationPreference.objects.exists()
    assert not AccessEvent.objects.filter(actor=husband, detail="paramètres").exists()


def test_acting_for_the_child_the_notification_choice_is_the_childs(
    doctor: Professional, lea: Patient, parents: tuple[User, User]
) -> None:
    # Léa has no account yet: nothing is notified to anyone, no choice is offered.
    parent = _fresh(parents[0])
    _act_for(parent, lea)
    page = parent.get("/mon-dmp/parametres/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="notifications"' not in page and 'name="opposes_samu"' in page
    choice = {"form": "notifications", "accesses": "every", "in_portal": "on"}
    assert parent.post("/mon-dmp/parametres/", choice).status_code == 403
    assert not NotificationPreference.objects.exists()
    # Once she has her account, the parent's choice is hers (her notifications, read by the
    # parent for her, follow it); the parent's own stays as it was, the trace is on her trail.
    lea_user = take_over(lea, doctor=doctor, email="lea.minor@test.example")
    assert 'id="notifications"' in parent.get("/mon-dmp/parametres/").content.decode()
    assert parent.post("/mon-dmp/parametres/", choice).status_code == 302
    preference = NotificationPreference.objects.get()
    assert preference.user == lea_user
    assert (preference.accesses, preference.by_email, preference.in_portal) == (
        "every",
        False,
        True,
    )
    event = AccessEvent.objects.filter(actor=parents[0], detail="notifications").get()
    assert event.patient == lea and event.mode == AccessMode.ON_BEHALF
    # The parent's own choice (for their own notifications) was never touched.
    assert not NotificationPreference.objects.filter(user=parents[0]).exists()


def test_a_read_only_proxy_is_not_offered_deleting_a_document_the_patient_added(
    alice: Patient, husband: User, storage: None
) -> None:
    from records.services.profile import patient_document_add

    assert alice.user is not None
    added = patient_document_add(
        actor=alice.user,
        patient=alice,
        title="Ordonnance lunettes",
        category="prescription",
        upload=pdf_bytes(),
    )
    make_proxy(alice, husband, kinds=("patient_document",))
    proxy = _client(husband)
    _act_for(proxy, alice)
    page = proxy.get(f"/document/{added.public_id}/")
    assert page.status_code == 200 and "Ordonnance lunettes" in page.content.decode()
    assert "Supprimer ce document" not in page.content.decode()
    assert "/supprimer/" not in page.content.decode()
    assert proxy.post(f"/document/{added.public_id}/supprimer/").status_code == 403
    assert Entry.objects.filter(pk=added.pk).exists()
    # Alice herself is offered it, in English too.
    own = _client(alice.user).get(f"/document/{added.public_id}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Delete this document" in own.content.decode()


def test_the_proxys_end_date_on_the_family_page_is_in_the_readers_format(
    alice: Patient, husband: User
) -> None:
    make_proxy(alice, husband)
    Mandate.objects.filter(holder=husband).update(ends_on=datetime.date(2027, 3, 5))
    assert alice.user is not None
    client = _client(alice.user)
    english = client.get("/mon-dmp/famille/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "March 5, 2027" in english and "05/03/2027" not in english
    french = client.get("/mon-dmp/famille/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "5 mars 2027" in french


def _acting(user: User, patient: Patient) -> User:
    user.acting_for = str(patient.public_id)  # type: ignore[attr-defined]
    return user


def test_no_action_is_offered_that_would_be_refused(
    doctor: Professional,
    alice: Patient,
    authorised_doctor: Professional,
    husband: User,
    lea: Patient,
    family: dict[str, Entry],
    parents: tuple[User, User],
) -> None:
    cr = report(doctor, alice, title="CR cardiologie")
    make_proxy(alice, husband)  # read-only
    proxy = _client(husband)
    _act_for(proxy, alice)
    page = proxy.get(f"/document/{cr.public_id}/").content.decode()
    assert "Masquer ce document" not in page
    assert "/masquer/" not in page
    access_page = proxy.get("/mon-dmp/acces/").content.decode()
    assert authorised_doctor.user.last_name in access_page
    assert "/mon-dmp/acces/modifier/" not in access_page  # no authorise, block, revoke
    assert "/mon-dmp/parametres/" not in access_page
    proxy_home = proxy.get("/mon-dmp/").content.decode()
    assert "/mon-dmp/mesures/nouveau/" not in proxy_home
    assert "/mon-dmp/parametres/" not in proxy_home and "/mon-dmp/volontes/" not in proxy_home
    for writes_only in ("/mon-dmp/mesures/nouveau/", "/mon-dmp/volontes/"):
        assert proxy.get(writes_only).status_code == 403
    vaccinations = proxy.get("/mon-dmp/vaccinations/")
    assert vaccinations.status_code == 200
    assert "Déclarer une vaccination" not in vaccinations.content.decode()
    documents = proxy.get("/mon-dmp/mes-documents/")
    assert documents.status_code == 200 and "Ajouter un document" not in documents.content.decode()
    assert proxy.post("/mon-dmp/mes-documents/", {}).status_code == 403
    # A representative masks (offered), but neither downloads nor closes the DMP.
    parent = _client(parents[0])
    _act_for(parent, lea)
    visible = family["visible"]
    assert "Masquer ce document" in parent.get(f"/document/{visible.public_id}/").content.decode()
    home = parent.get("/mon-dmp/").content.decode()
    assert "/mon-dmp/telecharger/" not in home and "/mon-dmp/fermer/" not in home
    assert parent.get("/mon-dmp/telecharger/").status_code == 403
    assert parent.post("/mon-dmp/telecharger/").status_code == 403
    assert parent.get("/mon-dmp/fermer/").status_code == 403
    assert not DmpExport.objects.filter(patient=lea).exists()
    # The patient herself is offered both.
    assert alice.user is not None
    own = _client(alice.user).get("/mon-dmp/").content.decode()
    assert "/mon-dmp/telecharger/" in own and "/mon-dmp/fermer/" in own
    assert "/mon-dmp/mesures/nouveau/" in own and "/mon-dmp/parametres/" in own
    assert "/mon-dmp/volontes/" in own
    alice_vaccinations = _client(alice.user).get("/mon-dmp/vaccinations/").content.decode()
    assert "Déclarer une vaccination" in alice_vaccinations
    assert "/mon-dmp/acces/modifier/" in _client(alice.user).get("/mon-dmp/acces/").content.decode()
    own_entry = _client(alice.user).get(f"/document/{cr.public_id}/").content.decode()
    assert "Masquer ce document" in own_entry


def test_the_family_trail_is_stored_as_facts_and_read_in_the_readers_language(
    doctor: Professional, alice: Patient, husband: User, lea: Patient, parents: tuple[User, User]
) -> None:
    from records.services.family import mandate_revoke

    mandate = make_proxy(alice, husband)
    mandate_revoke(actor=alice.user, mandate=mandate)  # type: ignore[arg-type]
    details = list(
        AccessEvent.objects.filter(patient__in=[alice, lea], action="access_change")
        .exclude(detail="")
        .values_list("detail", flat=True)
    )
    family_details = [d for d in details if "Dupont" in d or "Leroy" in d]
    assert len(family_details) == 4, details  # two representatives, a proxy given and ended
    assert all(d.startswith('{"fact"') for d in family_details), details
    until = mandate.ends_on
    assert until is not None
    assert alice.user is not None
    client = _client(alice.user)
    french = client.get("/mon-dmp/historique/?own=on").content.decode()
    english = client.get("/mon-dmp/historique/?own=on", HTTP_ACCEPT_LANGUAGE="en").content
    english_text = english.decode()
    assert "procuration donnée à Paul Dupont jusqu&#x27;au" in french
    assert "fin de la représentation par Paul Dupont" in french
    assert "proxy given to Paul Dupont until" in english_text
    assert str(until.year) in english_text
    assert "Paul Dupont no longer speaks for the patient" in english_text
    assert "procuration" not in english_text
    # Léa's trail, read by her parent acting for her, in English.
    parent = _client(parents[0])
    _act_for(parent, lea)
    page = parent.get("/mon-dmp/historique/?own=on", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "legal representative recorded: Bob Leroy" in page
    assert "Représentant" not in page


# --- Query counts ------------------------------------------------------------------------------


def test_a_representatives_entry_page_costs_what_the_patients_does(
    lea: Patient,
    family: dict[str, Entry],
    parents: tuple[User, User],
    django_assert_num_queries: Any,
) -> None:
    client = _client(parents[0])
    client.get(f"/document/{family['visible'].public_id}/")  # sessions, caches warm
    # As the patient's own (test_records_queries): session, user, the entry with how the DMP
    # is held (one statement: entry_for, the mandate included), the event, who can see it (3).
    with django_assert_num_queries(7):
        assert client.get(f"/document/{family['visible'].public_id}/").status_code == 200
    # The secret entry: session, user, the entry's (empty) statement — answered 404.
    with django_assert_num_queries(3):
        assert client.get(f"/document/{family['secret'].public_id}/").status_code == 404
    # Acting for the child, the timeline costs the same whatever the number of entries.
    _act_for(client, lea)
    client.get("/mon-dmp/documents/")
    with django_assert_num_queries(TIMELINE) as before:
        client.get("/mon-dmp/documents/")
    report(Professional.objects.get(pk=lea.opened_by_id), lea, title="Encore un")
    with django_assert_num_queries(len(before.captured_queries)):
        client.get("/mon-dmp/documents/")


TIMELINE = 5  # session, user, the DMP (own_dmp: dmp_for), the event, the page of entries


def test_the_review_and_the_childs_notifications_cost_the_same_for_1_or_many_rows(
    doctor: Professional,
    lea: Patient,
    parents: tuple[User, User],
    django_assert_num_queries: Any,
    storage: None,
) -> None:
    grown = take_over(lea, doctor=doctor, email="lea.rows@test.example")
    report(doctor, lea, title="Consultation 0")
    parent = _client(parents[0])
    _act_for(parent, lea)
    parent.get("/mon-dmp/notifications/")  # warm
    with django_assert_num_queries(NOTIFICATIONS):
        assert parent.get("/mon-dmp/notifications/").status_code == 200
    for number in range(1, 16):
        report(doctor, lea, title=f"Consultation {number}")
    with django_assert_num_queries(NOTIFICATIONS):
        listing = parent.get("/mon-dmp/notifications/")
    assert len(listing.context["notifications"]) == 16
    # At 18, the review: the same for 16 entries as for 1.
    majority_end(today=LEA_TRAITS.birth_date.replace(year=LEA_TRAITS.birth_date.year + 18))
    Mandate.objects.filter(patient=lea).update(reviewed_at=timezone.now())  # no redirect here
    client = _client(grown)
    Entry.objects.filter(patient=lea).exclude(title="Consultation 0").update(secret=True)
    client.get("/mon-dmp/majorite/")  # warm
    with django_assert_num_queries(REVIEW):
        assert client.get("/mon-dmp/majorite/").status_code == 200
    Entry.objects.filter(patient=lea).update(secret=False, hidden_from_representatives=False)
    with django_assert_num_queries(REVIEW):
        page = client.get("/mon-dmp/majorite/")
    assert "Consultation 15" in page.content.decode()


# session, user, the DMP acted for (own_dmp: dmp_for), the page of notifications
NOTIFICATIONS = 4
# session, user, the own DMP, the event, the former representatives, the entries
REVIEW = 6
