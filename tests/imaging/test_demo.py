"""The demo seed: realistic synthetic studies through the real services, idempotent."""

from __future__ import annotations

import pytest

from identity.demo import seed_accounts
from imaging.demo import body_ct_slice, seed_imaging
from imaging.models import ImagingStudy, Instance
from records.demo_dmps import seed_patients
from records.models import AccessMode

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_seed_imaging_is_idempotent() -> None:
    from records import access

    accounts = seed_accounts()
    patients = seed_patients(accounts)
    assert seed_imaging(patients, accounts) == 3
    alice, bob = patients["alice.dupont"], patients["bob.leroy"]
    ct = ImagingStudy.objects.get(patient=alice, modalities=["CT"])
    assert ct.series.get().instances.count() == 40
    assert ct.report is not None and ct.report.document_type == "18748-4"
    assert not ct.identity_mismatch_confirmed  # the files carry Alice's identity
    assert ImagingStudy.objects.filter(patient=alice, modalities=["DX"]).exists()
    assert ImagingStudy.objects.get(patient=bob).modalities == ["MR"]
    bernard = accounts["dr.bernard"]
    held = access.dmp_access(bernard, alice)
    assert held is not None and held.mode == AccessMode.NORMAL
    count = Instance.objects.count()
    assert seed_imaging(patients, accounts) == 0
    assert Instance.objects.count() == count == 61


def test_ct_phantom_has_realistic_densities() -> None:
    top, bottom = body_ct_slice(5, size=128), body_ct_slice(35, size=128)
    assert top.min() < -900 and top.max() > 600  # air/lung and bone
    assert (top < -700).mean() > (bottom < -700).mean()  # more lung at the top
