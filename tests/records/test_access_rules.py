"""The access rules of PRODUCT.md §4, each checked through the one funnel."""

from __future__ import annotations

import datetime
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from identity.errors import AccessDenied
from identity.models import Patient, Professional, User
from records import access
from records.models import (
    AccessMode,
    AuthorisationReason,
    EmergencyAccess,
    Entry,
    EntryUserObjectPermission,
    ProfessionDocumentRule,
)
from records.services.care import (
    AccessRefused,
    care_authorise,
    care_block,
    care_revoke,
    emergency_declare,
)
from records.services.entries import entry_deposit, entry_mask
from records.services.lifecycle import dmp_close, medecin_traitant_set
from tests.cast import make_professional

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 1, 15)


def deposit(author: Professional, patient: Patient, **kwargs: object) -> Entry:
    defaults: dict[str, object] = {
        "kind": "report",
        "document_type": "11488-4",
        "title": "CR de consultation",
        "act_date": TODAY,
    }
    defaults.update(kwargs)
    return entry_deposit(actor=author.user, patient=patient, **defaults)  # type: ignore[arg-type]


def visible(user: User, patient: Patient) -> set[str]:
    """The titles ``user`` reads in ``patient``'s DMP; the same through the ``DmpAccess``
    that ``dmp_for`` gives them (whose scope ``entries_for`` does not decide again)."""
    titles = set(access.entries_for(user, patient).values_list("title", flat=True))
    try:
        held = access.dmp_for(user, patient.public_id)
    except Http404:
        return titles
    assert set(access.entries_for(user, held).values_list("title", flat=True)) == titles
    return titles


def test_a_dmp_access_reaches_only_the_entries_of_the_user_it_was_decided_for(
    alice: Patient,
    doctor: Professional,
    blocked_doctor: Professional,
    stranger_doctor: Professional,
    administrator: User,
) -> None:
    deposit(doctor, alice, title="cs")
    deposit(doctor, alice, title="psy", document_type="68599-0")
    deposit(doctor, alice, title="masked", masked=True)
    pharmacist = make_professional("ph2@test.example", profession="pharmacien", specialty="")
    care_authorise(
        actor=alice.user, patient=alice, professional=pharmacist, reason=AuthorisationReason.PATIENT
    )
    held = access.dmp_for(doctor.user, alice.public_id)  # the médecin traitant: all three
    assert set(access.entries_for(doctor.user, held).values_list("title", flat=True)) == {
        "cs",
        "psy",
        "masked",
    }
    # Someone else given that DmpAccess gets their own scope, decided afresh.
    for other in (blocked_doctor.user, stranger_doctor.user, administrator):
        assert not access.entries_for(other, held).exists()
    assert set(access.entries_for(pharmacist.user, held).values_list("title", flat=True)) == {"cs"}
    assert set(access.entries_for(alice.user, held).values_list("title", flat=True)) == {
        "cs",
        "psy",
        "masked",
    }


def test_authorised_sees_blocked_and_stranger_do_not(
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    blocked_doctor: Professional,
    stranger_doctor: Professional,
) -> None:
    deposit(doctor, alice, title="A")
    assert visible(authorised_doctor.user, alice) == {"A"}
    assert visible(blocked_doctor.user, alice) == set()
    assert visible(stranger_doctor.user, alice) == set()
    with pytest.raises(Http404):
        access.dmp_for(blocked_doctor.user, alice.public_id)


def test_staff_superuser_and_global_view_permission_grant_nothing(
    alice: Patient, doctor: Professional, administrator: User
) -> None:
    from django.contrib.auth.models import Group, Permission

    deposit(doctor, alice, title="A")
    group = Group.objects.create(name="readers")
    group.permissions.add(
        Permission.objects.get(codename="view_entry"),
        Permission.objects.get(codename="view_patient"),
    )
    administrator.groups.add(group)
    doctor_user = doctor.user
    doctor_user.groups.add(group)
    assert administrator.is_superuser
    assert visible(administrator, alice) == set()
    assert not access.patients_for(administrator).exists()
    stranger = make_professional("s2@test.example")
    stranger.user.groups.add(group)
    assert visible(stranger.user, alice) == set()


def test_masked_entry_only_author_medecin_traitant_and_patient(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    entry = deposit(authorised_doctor, alice, title="secret")
    entry_mask(actor=alice.user, entry=entry, masked=True)
    assert "secret" in visible(authorised_doctor.user, alice)  # author
    assert "secret" in visible(doctor.user, alice)  # médecin traitant
    assert "secret" in visible(alice.user, alice)  # patient
    other = make_professional("other@test.example")
    care_authorise(
        actor=alice.user, patient=alice, professional=other, reason=AuthorisationReason.PATIENT
    )
    assert "secret" not in visible(other.user, alice)
    assert EntryUserObjectPermission.objects.filter(content_object=entry).count() == 2
    entry_mask(actor=alice.user, entry=entry, masked=False)
    assert "secret" in visible(other.user, alice)
    assert not EntryUserObjectPermission.objects.filter(content_object=entry).exists()


def test_changing_medecin_traitant_moves_masked_grants(
    alice: Patient, doctor: Professional, authorised_doctor: Professional
) -> None:
    entry = deposit(doctor, alice, title="masked", masked=True)
    new = make_professional("newmt@test.example")
    care_authorise(
        actor=alice.user, patient=alice, professional=new, reason=AuthorisationReason.PATIENT
    )
    assert "masked" not in visible(new.user, alice)
    medecin_traitant_set(actor=alice.user, patient=alice, professional=new)
    assert "masked" in visible(new.user, alice)
    assert "masked" in visible(doctor.user, alice)  # still its author
    assert EntryUserObjectPermission.objects.filter(content_object=entry).count() == 2


def test_invisible_to_patient_until_announced_or_30_days(
    alice: Patient, doctor: Professional
) -> None:
    entry = deposit(doctor, alice, title="annonce", invisible_to_patient=True)
    assert "annonce" not in visible(alice.user, alice)
    assert "annonce" in visible(doctor.user, alice)
    Entry.objects.filter(pk=entry.pk).update(deposited_at=timezone.now() - timedelta(days=31))
    assert "annonce" in visible(alice.user, alice)  # even before the release command runs


def test_profession_matrix(alice: Patient, doctor: Professional, administrator: User) -> None:
    pharmacist = make_professional("ph@test.example", profession="pharmacien", specialty="")
    nurse = make_professional("ide@test.example", profession="infirmier", specialty="")
    for professional in (pharmacist, nurse):
        care_authorise(
            actor=alice.user,
            patient=alice,
            professional=professional,
            reason=AuthorisationReason.PATIENT,
        )
    deposit(doctor, alice, title="op", document_type="34874-8")
    deposit(doctor, alice, title="psy", document_type="68599-0")
    deposit(doctor, alice, title="cs", document_type="11488-4")
    assert visible(pharmacist.user, alice) == {"cs"}
    assert visible(nurse.user, alice) == {"op", "psy", "cs"}
    assert visible(doctor.user, alice) == {"op", "psy", "cs"}
    ProfessionDocumentRule.objects.create(profession="infirmier", document_type="68599-0")
    assert visible(nurse.user, alice) == {"op", "cs"}


def test_closed_dmp_is_visible_to_no_one(alice: Patient, doctor: Professional) -> None:
    deposit(doctor, alice, title="A")
    dmp_close(actor=alice.user, patient=alice)
    assert visible(doctor.user, alice) == set()
    assert visible(alice.user, alice) == set()


def test_emergency_access_is_time_limited_and_keeps_masks(
    alice: Patient, doctor: Professional, emergency_doctor: Professional
) -> None:
    deposit(doctor, alice, title="open")
    deposit(doctor, alice, title="masked", masked=True)
    assert visible(emergency_doctor.user, alice) == {"open"}
    held = access.dmp_for(emergency_doctor.user, alice.public_id)
    assert held.mode == AccessMode.EMERGENCY and held.is_emergency
    assert not held.may_deposit
    EmergencyAccess.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert visible(emergency_doctor.user, alice) == set()
    # Emergency access reads; it does not deposit.
    with pytest.raises(AccessDenied):
        emergency_declare(actor=alice.user, patient=alice, samu=False, reason="vital")


def test_emergency_refused_when_opposed_or_blocked(
    alice: Patient, blocked_doctor: Professional, stranger_doctor: Professional
) -> None:
    with pytest.raises(AccessRefused, match="bloqué"):
        emergency_declare(actor=blocked_doctor.user, patient=alice, samu=False, reason="vital")
    Patient.objects.filter(pk=alice.pk).update(opposes_bris_de_glace=True, opposes_samu=True)
    alice.refresh_from_db()
    with pytest.raises(AccessRefused, match="opposé"):
        emergency_declare(actor=stranger_doctor.user, patient=alice, samu=False, reason="vital")
    with pytest.raises(AccessRefused, match="régulateurs"):
        emergency_declare(actor=stranger_doctor.user, patient=alice, samu=True, reason="samu_call")
    stranger_doctor.is_regulation_doctor = True
    stranger_doctor.save()
    with pytest.raises(AccessRefused, match="SAMU"):
        emergency_declare(actor=stranger_doctor.user, patient=alice, samu=True, reason="samu_call")
    assert not EmergencyAccess.objects.exists()


def test_medecin_traitant_can_be_neither_blocked_nor_revoked(
    alice: Patient, doctor: Professional
) -> None:
    deposit(doctor, alice, title="A")
    with pytest.raises(ValidationError):
        care_block(actor=alice.user, patient=alice, professional=doctor)
    with pytest.raises(ValidationError, match="changez d'abord de médecin traitant"):
        care_revoke(actor=alice.user, patient=alice, professional=doctor)
    assert visible(doctor.user, alice) == {"A"}


def test_authorise_revoke_block_write_constant_rows(
    alice: Patient, doctor: Professional, django_assert_max_num_queries: object
) -> None:
    from identity.models import PatientUserObjectPermission
    from records.models import CareRelation

    for i in range(30):
        deposit(doctor, alice, title=f"e{i}")
    other = make_professional("o@test.example")
    rows_before = PatientUserObjectPermission.objects.count() + CareRelation.objects.count()
    care_authorise(
        actor=alice.user, patient=alice, professional=other, reason=AuthorisationReason.PATIENT
    )
    rows_after = PatientUserObjectPermission.objects.count() + CareRelation.objects.count()
    assert rows_after - rows_before == 2  # one relation, one DMP-level grant — not 30
    assert EntryUserObjectPermission.objects.count() == 0


def test_who_can_see_names_each_viewer_and_the_rule(
    alice: Patient,
    doctor: Professional,
    authorised_doctor: Professional,
    blocked_doctor: Professional,
    emergency_doctor: Professional,
    django_assert_max_num_queries: Any,
) -> None:
    pharmacist = make_professional("ph2@test.example", profession="pharmacien", specialty="")
    revoked = make_professional("rev@test.example")
    for professional in (pharmacist, revoked):
        care_authorise(
            actor=alice.user,
            patient=alice,
            professional=professional,
            reason=AuthorisationReason.PATIENT,
        )
    care_revoke(actor=alice.user, patient=alice, professional=revoked)
    operative = deposit(doctor, alice, title="op", document_type="34874-8")
    operative = Entry.objects.select_related("patient__medecin_traitant__user", "author__user").get(
        pk=operative.pk
    )
    with django_assert_max_num_queries(3):
        viewers = {v.professional.pk: v for v in access.who_can_see(operative)}
    assert set(viewers) == {doctor.pk, authorised_doctor.pk, emergency_doctor.pk}
    assert viewers[doctor.pk].reason == "médecin traitant"
    assert viewers[emergency_doctor.pk].until is not None
    # The same answer as the funnel, professional by professional.
    for professional in (
        doctor,
        authorised_doctor,
        blocked_doctor,
        emergency_doctor,
        pharmacist,
        revoked,
    ):
        sees = access.entries_for(professional.user, alice).filter(pk=operative.pk).exists()
        assert sees == (professional.pk in viewers), professional
    entry_mask(actor=alice.user, entry=operative, masked=True)
    operative.refresh_from_db()
    assert {v.professional.pk for v in access.who_can_see(operative)} == {doctor.pk}
