"""``manage.py populate_bench`` at a tiny scale: the population is what the real code reads.

PostgreSQL only (the command loads with COPY); on SQLite only the refusal is checked. CI runs
the suite on PostgreSQL too.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from identity.ins import validate_insc
from identity.models import Patient, PatientUserObjectPermission, Professional, User
from records.access import entries_for, patients_for
from records.models import (
    LOOKED_AT_THE_DMP,
    AccessEvent,
    CareRelation,
    Entry,
    EntryUserObjectPermission,
    LastLook,
    TreeHead,
)
from records.trail import file_heads

TINY = {"scale": 0.0005, "big_entries": 50, "heavy_dmps": 20, "big_events": 100, "seed": 7}


def _populate() -> str:
    out = StringIO()
    call_command("populate_bench", stdout=out, **TINY)
    return out.getvalue()


@pytest.mark.django_db
def test_refused_on_sqlite() -> None:
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite refusal is checked on SQLite")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        _populate()


@pytest.mark.django_db(transaction=True)
def test_tiny_population() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("populate_bench loads with COPY: PostgreSQL only (CI runs it there)")
    output = _populate()
    assert "records_accessevent" in output

    # 0.0005 × the full sizes, with their floors; the designated accounts as asked.
    assert Patient.objects.count() == 50
    assert Professional.objects.filter(verification_status="verified").count() == 12
    assert User.objects.count() == 1 + 12 + 50
    assert Entry.objects.count() == 1000
    assert AccessEvent.objects.count() == 2500
    # All in the tree already, under one signed head anchored in the file.
    assert not AccessEvent.objects.filter(leaf_index__isnull=True).exists()
    assert list(TreeHead.objects.values_list("size", flat=True)) == [2500]
    assert [head.size for head in file_heads()] == [2500]
    # When each professional last looked at each DMP: filled from those events.
    looked = AccessEvent.objects.filter(
        action__in=LOOKED_AT_THE_DMP, actor__professional__isnull=False, patient__isnull=False
    )
    pairs = set(looked.values_list("actor", "patient").distinct())
    assert pairs and set(LastLook.objects.values_list("user", "patient")) == pairs
    # Every DMP-level grant has its care relation, and the other way round.
    assert CareRelation.objects.count() == PatientUserObjectPermission.objects.count()
    for patient in Patient.objects.all()[:10]:
        assert validate_insc(patient.insc) == patient.insc

    call_command("verify_access_log", stdout=StringIO())  # raises CommandError if broken

    big = Patient.objects.get(user__email="big.patient@bench.example")
    assert big.entries.count() == 50
    assert AccessEvent.objects.filter(patient=big).count() == 100
    heavy = User.objects.get(email="heavy@bench.example")
    typical = User.objects.get(email="typical@bench.example")
    assert patients_for(heavy).count() == 20
    assert patients_for(typical).count() == 3
    masked = list(Entry.objects.filter(patient=big, masked=True).select_related("author__user"))
    assert len(masked) == 1  # every 100th entry, from the second one
    # … dated two days ago: the first page of the timeline holds a masked entry.
    first_page = Entry.objects.filter(patient=big).order_by("-act_date", "-id")[:3]
    assert any(entry.masked for entry in first_page)
    for user in (heavy, typical):
        assert entries_for(user, big).count() == 50 - len(masked)

    stranger = (
        Professional.objects.exclude(care_relations__patient=big)
        .exclude(pk=big.medecin_traitant_id)
        .select_related("user")
        .first()
    )
    assert stranger is not None
    assert not entries_for(stranger.user, big).exists()
    assert not patients_for(stranger.user).filter(pk=big.pk).exists()

    # The fresh professionals the benchmark authorises and revokes do not hold the big DMP.
    for email in ("fresh.heavy@bench.example", "fresh.typical@bench.example"):
        assert not patients_for(User.objects.get(email=email)).filter(pk=big.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_masked_entries_and_second_run() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("populate_bench loads with COPY: PostgreSQL only (CI runs it there)")
    _populate()
    masked = Entry.objects.filter(masked=True).select_related(
        "author__user", "patient__medecin_traitant__user"
    )
    assert masked.exists()
    assert EntryUserObjectPermission.objects.count() <= 2 * masked.count()
    for entry in masked[:5]:
        patient = entry.patient
        assert entry.author is not None and patient.medecin_traitant is not None
        allowed = {entry.author.user, patient.medecin_traitant.user}
        for user in allowed:
            assert entries_for(user, patient).filter(pk=entry.pk).exists()
        team = User.objects.filter(
            professional__care_relations__patient=patient, professional__isnull=False
        ).exclude(pk__in=[user.pk for user in allowed])
        for user in team:
            assert patients_for(user).filter(pk=patient.pk).exists()
            assert not entries_for(user, patient).filter(pk=entry.pk).exists()
        assert entries_for(patient.user, patient).filter(pk=entry.pk).exists()

    # Sequences were reset: the ORM inserts after the explicit ids.
    User.objects.create_user("after@test.example")
    # The command fills an empty database only.
    with pytest.raises(CommandError, match="already holds patients"):
        _populate()
