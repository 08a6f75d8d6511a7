"""The professional's home, "Mes patients": the DMPs they may read (médecin traitant,
authorised, opener, emergency), their last access from the trail and what is new since then
per kind, searchable by name, sortable, paginated, in a constant number of queries."""

from __future__ import annotations

import datetime
import html
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from identity.ins import nir_key
from identity.models import Patient, Professional, User
from records.models import AccessEvent
from records.services import patients as patients_service
from records.services.entries import entry_mask
from records.services.lifecycle import PatientTraits
from tests.cast import make_patient
from tests.records.conftest import logged_in
from tests.records.helpers import allergy, lab, report

pytestmark = pytest.mark.django_db

HOME = "/"


def _nir(sex: str, year: int, month: int, serial: int) -> str:
    nir13 = f"{sex}{year % 100:02d}{month:02d}75123{serial:03d}"
    return nir13 + nir_key(nir13)


def another_patient(opened_by: Professional, name: str, first: str, serial: int) -> Patient:
    return make_patient(
        opened_by=opened_by,
        nir=_nir("1", 1960 + serial, 3, serial),
        traits=PatientTraits(
            birth_name=name,
            first_names=first,
            sex="M",
            birth_date=datetime.date(1960 + serial, 3, 10),
        ),
        email=f"p{serial}@test.example",
    )


def rows(body: str) -> list[str]:
    """The patients' names of the list, in order."""
    table = body.split('class="my-patients-table', 1)
    if len(table) < 2:
        return []
    names = re.findall(r'<th scope="row"[^>]*><a href="[^"]+">([^<]+)</a>', table[1])
    return [html.unescape(name) for name in names]


def home(user: User, **params: Any) -> str:
    response = logged_in(user).get(HOME, params)
    assert response.status_code == 200
    return response.content.decode()


def test_each_way_of_holding_a_dmp_is_listed_and_named(
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    emergency_doctor: Professional,
    blocked_doctor: Professional,
    stranger_doctor: Professional,
) -> None:
    assert rows(home(doctor.user)) == ["DUPONT Alice Marie"]
    assert "Médecin traitant" in home(doctor.user)
    assert "Autorisé par le patient" in home(authorised_doctor.user)
    emergency = home(emergency_doctor.user)
    assert rows(emergency) == ["DUPONT Alice Marie"]
    assert "Accès en urgence" in emergency
    assert reverse("records:patient_home", args=[alice.public_id]) in emergency
    for outsider in (blocked_doctor, stranger_doctor):
        body = home(outsider.user)
        assert rows(body) == []
        assert "DUPONT" not in body
        assert "Vous n'avez encore accès à aucun DMP" in body


def test_what_is_new_since_the_last_access_counts_only_readable_entries_per_kind(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    before = home(authorised_doctor.user)
    assert ">jamais<" in before
    logged_in(authorised_doctor.user).get(reverse("records:patient_home", args=[alice.public_id]))
    seen = AccessEvent.objects.filter(actor=authorised_doctor.user, patient=alice).latest("at")
    assert "rien de nouveau" in home(authorised_doctor.user)

    report(doctor, alice)
    report(doctor, alice, title="Second compte rendu")
    lab(doctor, alice)
    allergy(doctor, alice)
    secret = report(doctor, alice, title="Secret")
    entry_mask(actor=alice.user, entry=secret, masked=True)  # masked: not theirs to know

    body = home(authorised_doctor.user)
    local = seen.at.astimezone(datetime.UTC).astimezone()
    assert f"{local:%d/%m/%Y}" in body
    assert "Compte rendu : 2" in body
    assert "Résultats de biologie : 1" in body
    assert "Allergie ou intolérance : 1" in body
    english = logged_in(authorised_doctor.user).get(HOME, HTTP_ACCEPT_LANGUAGE="en")
    assert "Report: 2" in english.content.decode()  # English puts no space before a colon
    assert "Le début du nom ou du prénom" in body  # how to search, said by the field
    # The médecin traitant, who deposited them, has nothing new: their own deposits are accesses.
    assert "rien de nouveau" in home(doctor.user)


def test_search_by_name_sort_and_pages(
    alice: Patient, doctor: Professional, monkeypatch: pytest.MonkeyPatch
) -> None:
    another_patient(doctor, "LEROY", "Bob", 1)
    zoe = another_patient(doctor, "ABADIE", "Zoé", 2)
    assert rows(home(doctor.user)) == ["ABADIE Zoé", "DUPONT Alice Marie", "LEROY Bob"]
    assert rows(home(doctor.user, tri="-nom")) == ["LEROY Bob", "DUPONT Alice Marie", "ABADIE Zoé"]
    assert rows(home(doctor.user, q="ler")) == ["LEROY Bob"]
    assert rows(home(doctor.user, q="ZOÉ")) == ["ABADIE Zoé"]
    assert rows(home(doctor.user, q="alice dupont")) == ["DUPONT Alice Marie"]
    nobody = home(doctor.user, q="Personne")
    assert rows(nobody) == [] and "Aucun de vos patients ne porte ce nom." in nobody

    # Opened most recently first (the opening of each DMP is the doctor's access).
    logged_in(doctor.user).get(reverse("records:patient_home", args=[zoe.public_id]))
    assert rows(home(doctor.user, tri="-acces"))[0] == "ABADIE Zoé"
    assert rows(home(doctor.user, tri="acces"))[-1] == "ABADIE Zoé"

    monkeypatch.setattr(patients_service, "PAGE_SIZE", 2)
    first = home(doctor.user)
    assert rows(first) == ["ABADIE Zoé", "DUPONT Alice Marie"]
    assert 'rel="next" href="?page=2"' in first
    second = home(doctor.user, page=2)
    assert rows(second) == ["LEROY Bob"]
    assert 'rel="next"' not in second and 'rel="prev"' in second


def test_bad_parameters_are_told_never_a_500(doctor: Professional, alice: Patient) -> None:
    body = home(doctor.user, tri="' OR 1=1 --", page="abc", q="x" * 500)
    assert rows(body) == ["DUPONT Alice Marie"]  # wrong values are told, then ignored
    assert body.count('class="errorlist') == 2  # the name (too long) and the sort
    assert "100 caractères" in body
    assert rows(home(doctor.user, q="xyz", page="abc")) == []  # a good filter still applies
    assert rows(home(doctor.user, tri="bogus")) == ["DUPONT Alice Marie"]


def test_constant_queries_whatever_the_number_of_dmps(
    alice: Patient,
    doctor: Professional,
    administrator: User,
    django_assert_num_queries: Any,
) -> None:
    client: Client = logged_in(doctor.user)
    client.get(HOME)  # warm: session, content types
    # session, user with the professional, the page's rows, what is new on them
    with django_assert_num_queries(4):
        assert client.get(HOME).status_code == 200
    for serial in range(1, 6):
        another = another_patient(doctor, f"NOM{serial}", "Prénom", serial)
        report(doctor, another)
    with django_assert_num_queries(4):
        body = client.get(HOME).content.decode()
    assert len(rows(body)) == 6


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"tri": "-nom"},
        {"q": "du"},
        {"tri": "-nom", "q": "Du"},
        {"tri": "-acces"},
        {"tri": "acces"},
    ],
)
def test_a_sorted_page_costs_the_same_for_one_dmp_and_many(
    alice: Patient,
    doctor: Professional,
    django_assert_num_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, str],
) -> None:
    # 1 session, 2 user with the professional (identity/backends.py), 3 the page's rows
    # (their keys walked from the Listed index by name, or from LastLook's by date), 4 what is
    # new on them. Pages of 3, 1 DMP then 7.
    monkeypatch.setattr(patients_service, "PAGE_SIZE", 3)
    client: Client = logged_in(doctor.user)
    client.get(HOME, params)  # warm: session, content types
    with django_assert_num_queries(4):
        assert rows(client.get(HOME, params).content.decode()) == ["DUPONT Alice Marie"]
    others = [another_patient(doctor, f"DUNOM{serial}", "Prénom", serial) for serial in range(1, 7)]
    for looked in (others[5], others[1]):  # DUNOM6, then DUNOM2: looked at, newest last
        client.get(reverse("records:patient_home", args=[looked.public_id]))
    with django_assert_num_queries(4):
        body = client.get(HOME, params).content.decode()
    if params.get("tri") == "-nom":
        assert rows(body) == ["DUPONT Alice Marie", "DUNOM6 Prénom", "DUNOM5 Prénom"]
    elif params.get("tri") == "-acces":  # the newest looks, then the others by name
        assert rows(body) == ["DUNOM2 Prénom", "DUNOM6 Prénom", "DUNOM1 Prénom"]
    elif params.get("tri") == "acces":  # never looked at (by name) first, then the oldest look
        assert rows(body) == ["DUNOM1 Prénom", "DUNOM3 Prénom", "DUNOM4 Prénom"]
    else:
        assert rows(body) == ["DUNOM1 Prénom", "DUNOM2 Prénom", "DUNOM3 Prénom"]


def test_names_are_found_as_a_doctor_in_a_hurry_types_them(
    alice: Patient, doctor: Professional
) -> None:
    elodie = another_patient(doctor, "O'BRIEN-SÉGUIN", "Élodie Anne", 3)
    assert rows(home(doctor.user, q="obrien")) == ["O'BRIEN-SÉGUIN Élodie Anne"]
    assert rows(home(doctor.user, q="O’Brien Séguin")) == ["O'BRIEN-SÉGUIN Élodie Anne"]
    assert rows(home(doctor.user, q="ELODIE")) == ["O'BRIEN-SÉGUIN Élodie Anne"]
    assert rows(home(doctor.user, q="élodie seg")) == ["O'BRIEN-SÉGUIN Élodie Anne"]
    assert rows(home(doctor.user, q="du alice")) == ["DUPONT Alice Marie"]
    assert rows(home(doctor.user, q="Alice Marie Dupont")) == ["DUPONT Alice Marie"]
    assert rows(home(doctor.user, q="lice")) == []  # a word's start, not any part of it
    assert rows(home(doctor.user, q="%")) == rows(home(doctor.user, q="_")) == []
    # The same search whatever the order asked.
    logged_in(doctor.user).get(reverse("records:patient_home", args=[elodie.public_id]))
    assert rows(home(doctor.user, q="é", tri="-acces")) == ["O'BRIEN-SÉGUIN Élodie Anne"]
    assert rows(home(doctor.user, q="d", tri="acces")) == ["DUPONT Alice Marie"]


def test_the_list_follows_authorisations_the_medecin_traitant_and_the_purge(
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    stranger_doctor: Professional,
) -> None:
    from records.models import Listed
    from records.services.care import care_revoke
    from records.services.lifecycle import medecin_traitant_set

    assert rows(home(authorised_doctor.user)) == ["DUPONT Alice Marie"]
    care_revoke(actor=alice.user, patient=alice, professional=authorised_doctor)
    assert rows(home(authorised_doctor.user)) == []
    assert not Listed.objects.filter(user=authorised_doctor.user).exists()  # nothing to skip

    medecin_traitant_set(actor=alice.user, patient=alice, professional=stranger_doctor)
    body = home(stranger_doctor.user)
    assert rows(body) == ["DUPONT Alice Marie"] and "Médecin traitant" in body
    # The former médecin traitant, who opened the DMP, holds it by that authorisation.
    assert rows(home(doctor.user)) == ["DUPONT Alice Marie"]
    assert Listed.objects.filter(patient=alice).count() == 2


@pytest.mark.parametrize("params", [{}, {"tri": "-acces"}])
def test_a_full_page_costs_the_same_queries_for_3_and_30_patients(
    alice: Patient,
    doctor: Professional,
    django_assert_num_queries: Any,
    params: dict[str, str],
) -> None:
    # 1 session, 2 user with the professional (identity/backends.py), 3 the page's rows (keys
    # walked from Listed or LastLook, scoped, annotated), 4 what is new on them (one grouped
    # query). The same four for a page of 3 rows and for a full page of 25 (of 30), each with
    # news and a last access.
    client: Client = logged_in(doctor.user)
    others = [another_patient(doctor, f"NOM{serial:02d}", "Prénom", serial) for serial in (1, 2)]
    for patient in [alice, *others]:
        report(doctor, patient)
    client.get(reverse("records:patient_home", args=[others[0].public_id]))
    client.get(HOME, params)  # warm: session, content types
    with django_assert_num_queries(4):
        body = client.get(HOME, params).content.decode()
    assert len(rows(body)) == 3 and 'rel="next"' not in body

    for serial in range(3, 30):
        another = another_patient(doctor, f"NOM{serial:02d}", "Prénom", serial)
        lab(doctor, another)
        if serial % 3 == 0:
            client.get(reverse("records:patient_home", args=[another.public_id]))
    with django_assert_num_queries(4):
        body = client.get(HOME, params).content.decode()
    assert len(rows(body)) == 25 and 'rel="next" href="?' in body


@pytest.mark.parametrize("sort", ["-acces", "acces"])
def test_pages_by_last_access_list_each_dmp_once_in_order(
    alice: Patient, doctor: Professional, monkeypatch: pytest.MonkeyPatch, sort: str
) -> None:
    # Pages of 2 over 6 DMPs, 3 of them looked at: pages that hold only looked-at rows, only
    # never-looked-at rows, and both.
    monkeypatch.setattr(patients_service, "PAGE_SIZE", 2)
    others = [another_patient(doctor, f"NOM{serial}", "Prénom", serial) for serial in range(1, 6)]
    client: Client = logged_in(doctor.user)
    for looked in (others[3], alice, others[0]):  # NOM4, then DUPONT, then NOM1 (newest)
        client.get(reverse("records:patient_home", args=[looked.public_id]))
    pages = [rows(home(doctor.user, tri=sort, page=number)) for number in (1, 2, 3, 4)]
    looked_newest_first = ["NOM1 Prénom", "DUPONT Alice Marie", "NOM4 Prénom"]
    never = ["NOM2 Prénom", "NOM3 Prénom", "NOM5 Prénom"]
    expected = (
        looked_newest_first + never if sort == "-acces" else never + looked_newest_first[::-1]
    )
    assert pages == [expected[0:2], expected[2:4], expected[4:6], []]
