"""Opening a DMP: consent, no duplicate, the NIR never stored, bad input stores nothing."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from identity.ins import compute_insc
from identity.models import (
    ActivationCode,
    Consent,
    DmpTransition,
    Patient,
    Professional,
    TransitionKind,
)
from records.models import AccessAction, AccessEvent

pytestmark = pytest.mark.django_db

NIR = "2 85 05 75 123 456 23"
FORM = {
    "birth_name": "Dupont",
    "first_names": "Alice Marie",
    "used_name": "",
    "sex": "F",
    "birth_date": "1985-05-14",
    "birth_place_code": "75112",
    "nir": NIR,
    "consent": "on",
}


def _open(client: Client, **overrides: str) -> Any:
    data = {**FORM, **overrides}
    return client.post(
        reverse("records:dmp_open"), {k: v for k, v in data.items() if v is not None}
    )


def test_opening_creates_the_dmp_with_consent_and_prints_the_letter(
    client: Client, doctor: Professional
) -> None:
    client.force_login(doctor.user)
    response = _open(client, medecin_traitant="on", opposes_samu="on")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    patient = Patient.objects.get()
    assert patient.insc == compute_insc("Alice Marie", "850514", "2850575123456")
    assert patient.opened_by == doctor
    assert patient.medecin_traitant == doctor
    assert patient.opposes_samu and not patient.opposes_bris_de_glace
    consent = Consent.objects.get()
    assert consent.collected_by == doctor
    assert "J'accepte l'ouverture de mon DMP" in consent.text_shown
    kinds = set(DmpTransition.objects.values_list("kind", flat=True))
    expected = {
        TransitionKind.OPENED,
        TransitionKind.CONSENT,
        TransitionKind.MEDECIN_TRAITANT_CHANGED,
    }
    assert expected <= kinds
    assert AccessEvent.objects.filter(action=AccessAction.DMP_OPEN, patient=patient).exists()
    body = response.content.decode()
    assert patient.insc in body
    code = response.context["code"]
    assert len(code) == 14 and code in body  # XXXX-XXXX-XXXX
    # Only a keyed hash of the code is stored.
    stored = ActivationCode.objects.get()
    assert code.replace("-", "") not in stored.code_digest
    # The opener may read the DMP.
    assert client.get(reverse("records:patient_home", args=[patient.public_id])).status_code == 200


def test_the_nir_is_stored_nowhere(
    client: Client, doctor: Professional, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.force_login(doctor.user)
    response = _open(client)
    assert response.status_code == 200
    # A second, failing attempt (wrong key) must not leak it either.
    _open(client, nir="2 85 05 75 123 456 24", birth_name="Martin")
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    everything = dump.getvalue() + caplog.text + "".join(m.body for m in mail.outbox)
    session_data = "".join(str(v) for v in client.session.values())
    cache_data = str(getattr(cache, "_cache", {}))
    for form in ("2850575123456", "285057512345623", NIR, "2850575123456 24", "285057512345624"):
        assert form not in everything
        assert form not in session_data
        assert form not in cache_data


def test_same_patient_twice_makes_no_duplicate(
    client: Client, doctor: Professional, stranger_doctor: Professional
) -> None:
    client.force_login(doctor.user)
    _open(client)
    again = _open(client)  # double submission
    assert again.status_code == 302
    assert Patient.objects.count() == 1
    # Another professional typing the same card gets the same INS-C: still one DMP, and they
    # are told it exists without being let in.
    other = Client()
    other.force_login(stranger_doctor.user)
    response = _open(other, birth_name="DUPONT", first_names="alice-marie")
    assert Patient.objects.count() == 1
    assert response.status_code == 200
    assert response.context["state"] == "no_access"  # what a search would have told them
    assert "DUPONT" not in response.content.decode()


def test_the_database_refuses_a_second_dmp_for_one_insc(alice: Patient) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(insc=alice.insc)


def test_a_lost_race_returns_the_winner(
    doctor: Professional, stranger_doctor: Professional, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two professionals at the same moment: the unique constraint decides, one DMP."""
    from records.services import lifecycle
    from tests.cast import ALICE_TRAITS

    winner = lifecycle.dmp_open(
        actor=doctor.user, traits=ALICE_TRAITS, nir=NIR, consent_given=True
    ).patient
    real_filter = Patient.objects.filter
    calls = {"n": 0}

    def blind_first_lookup(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # the existence check misses the concurrent insert
            return real_filter(pk=-1)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(Patient.objects, "filter", blind_first_lookup)
    result = lifecycle.dmp_open(
        actor=stranger_doctor.user, traits=ALICE_TRAITS, nir=NIR, consent_given=True
    )
    assert not result.created
    assert result.patient.pk == winner.pk
    assert real_filter().count() == 1


BAD_INPUTS = [
    ({"nir": "2 85 05 75 123 456"}, "nir", "15 caractères"),
    ({"nir": "2 85 05 7X 123 456 23"}, "nir", "non autorisé"),
    ({"nir": "2 85 05 75 123 456 24"}, "nir", "clé du NIR"),
    ({"nir": "0 85 05 75 123 456 23"}, "nir", "impossible"),
    ({"nir": "5 85 05 75 123 456 23"}, "nir", "impossible"),
    ({"nir": "9 85 05 75 123 456 23"}, "nir", "impossible"),
    ({"birth_date": "2999-01-01"}, "birth_date", "futur"),
    ({"birth_date": "1870-01-01"}, "birth_date", "1880"),
    ({"birth_date": "1985-02-30"}, "birth_date", "date valide"),
    ({"birth_date": "1986-05-14"}, "nir", "année"),
    ({"birth_name": "Dup0nt"}, "birth_name", "chiffres"),
    ({"first_names": "Аlice"}, "first_names", "alphabet latin"),  # Cyrillic А
    ({"first_names": "Αlice"}, "first_names", "alphabet latin"),  # Greek Α
    ({"first_names": "Ali\u200bce"}, "first_names", "invisibles"),
    ({"birth_name": "Du\u202epont"}, "birth_name", "invisibles"),
    ({"birth_name": "x" * 10_000}, "birth_name", "100 caractères"),
    ({"birth_name": "Du\x00pont"}, "birth_name", "caractère nul"),
    ({"birth_name": "<script>alert(x)</script>"}, "birth_name", "non admis"),
    ({"birth_place_code": "7A123"}, "birth_place_code", "5 caractères"),
    ({"consent": None}, "consent", "consentement"),
]


@pytest.mark.parametrize(("overrides", "field", "fragment"), BAD_INPUTS)
def test_bad_input_gets_a_french_message_and_stores_nothing(
    client: Client, doctor: Professional, overrides: dict[str, Any], field: str, fragment: str
) -> None:
    client.force_login(doctor.user)
    response = _open(client, **overrides)
    assert response.status_code == 200
    errors = " ".join(str(e) for e in response.context["form"].errors.get(field, []))
    assert fragment.lower() in errors.lower(), response.context["form"].errors
    assert not Patient.objects.exists()
    assert not ActivationCode.objects.exists()
    assert not DmpTransition.objects.exists()
    assert not AccessEvent.objects.exists()


def test_warnings_need_a_confirmation(client: Client, doctor: Professional) -> None:
    client.force_login(doctor.user)
    # NIR says woman (2) but sex typed M: a warning, not a block; empty first names: a warning.
    response = _open(client, sex="M", first_names="")
    assert response.status_code == 200
    assert len(response.context["form"].warnings) == 2
    assert not Patient.objects.exists()
    response = _open(client, sex="M", first_names="", confirm_warnings="on")
    assert response.status_code == 200
    assert Patient.objects.get().first_names == ""


def test_unverified_professional_and_patients_cannot_open(
    client: Client, unverified_doctor: Professional, alice: Patient
) -> None:
    client.force_login(unverified_doctor.user)
    assert _open(client).status_code == 403
    client.force_login(alice.user)
    assert _open(client).status_code == 403
    assert Patient.objects.count() == 1
