"""Demo profil médical of Alice (``manage.py seed_demo``), made through the real services.

Her type 2 diabetes and chronic kidney disease, a cholecystectomy and a family history,
metformin and ramipril in progress and a gliclazide stopped, her vaccinations (the adult
booster at 25 years never done: overdue), a year of weight and blood pressure (some taken by
her at home), her height, and her wishes with a personne de confiance. Dates are relative to
the day of seeding, except the vaccinations of her childhood.

Idempotent like ``records.demo``: every item has a fixed submission key.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

from identity.models import Patient, User
from records.demo import _ago, _once
from records.models import Entry
from records.services import profile as profile_services


def _keyed(service: Callable[..., Entry], **fields: Any) -> Callable[[uuid.UUID], Entry]:
    """``service`` with these arguments, awaiting its fixed submission key."""
    return lambda key: service(submission_key=key, **fields)


_PROBLEMS: dict[str, dict[str, Any]] = {
    "problem-diabetes": {"cim10_code": "E11", "onset_days": 2200},
    "problem-ckd": {"cim10_code": "N18.3", "onset_days": 500},
    "problem-cholecystectomy": {
        "cim10_code": "K80",
        "label": "Cholécystectomie cœlioscopique pour lithiase vésiculaire",
        "status": "resolved",
        "history": "surgical",
        "onset_days": 600,
    },
    "problem-family-diabetes": {
        "cim10_code": "Z83.3",
        "label": "Diabète de type 2 chez la mère",
        "status": "resolved",
        "history": "family",
    },
}


def _seed_problems(alice: Patient, doctor: User) -> None:
    for name, fields in _PROBLEMS.items():
        fields = dict(fields)
        onset = fields.pop("onset_days", None)
        if onset is not None:
            fields["onset_date"] = _ago(onset)
        service = profile_services.problem_record
        _once(name, _keyed(service, actor=doctor, patient=alice, **fields))


_TREATMENTS: dict[str, dict[str, Any]] = {
    "treatment-metformin": {
        "medicine": "Metformine 1000 mg, comprimé",
        "atc_code": "A10BA02",
        "frequency": "matin et soir",
        "start_days": 2150,
    },
    "treatment-ramipril": {
        "medicine": "Ramipril 5 mg, comprimé",
        "atc_code": "C09AA05",
        "frequency": "le matin",
        "start_days": 480,
    },
    "treatment-gliclazide": {
        "medicine": "Gliclazide 30 mg LM, comprimé",
        "atc_code": "A10BB09",
        "frequency": "le matin",
        "start_days": 1500,
        "end_days": 700,
    },
}


def _seed_treatments(alice: Patient, doctor: User) -> None:
    for name, fields in _TREATMENTS.items():
        fields = dict(fields)
        fields["start_date"] = _ago(fields.pop("start_days"))
        if "end_days" in fields:
            fields["end_date"] = _ago(fields.pop("end_days"))
        service = profile_services.treatment_record
        _once(
            name,
            _keyed(
                service,
                actor=doctor,
                patient=alice,
                dose="1 comprimé",
                prescriber="Dr Martin",
                **fields,
            ),
        )


# (vaccine, age in months, dose number): her carnet de santé; no adult booster at 25 years.
_CHILDHOOD = [
    ("dtcap", 2, 1),
    ("dtcap", 4, 2),
    ("dtcap", 11, 3),
    ("ror", 12, 1),
    ("ror", 18, 2),
    ("dtcap", 72, 4),
    ("dtcap", 132, 5),
    ("hepb", 144, 1),
    ("hepb", 145, 2),
    ("hepb", 150, 3),
]


def _seed_vaccinations(alice: Patient, nurse: User, herself: User) -> None:
    birth = alice.birth_date or datetime.date(1985, 5, 14)
    service = profile_services.vaccination_record
    for code, months, dose in _CHILDHOOD:
        _once(
            f"vaccination-{code}-{months}",
            _keyed(
                service,
                actor=nurse,
                patient=alice,
                vaccine_code=code,
                given_on=birth + datetime.timedelta(days=round(months * 30.44)),
                dose_number=dose,
                administered_by="Centre de PMI (carnet de santé)",
            ),
        )
    _once(
        "vaccination-influenza",
        _keyed(service, actor=herself, patient=alice, vaccine_code="influenza", given_on=_ago(60)),
    )


def _seed_measures(alice: Patient, doctor: User, herself: User) -> None:
    service = profile_services.measure_record
    _once(
        "measure-height",
        _keyed(
            service,
            actor=doctor,
            patient=alice,
            kind="height",
            value="165",
            measured_on=_ago(360),
        ),
    )
    for month in range(12):
        # Every third month, taken at home by herself.
        actor = herself if month % 3 == 2 else doctor
        measured_on = _ago(360 - 30 * month)
        _once(
            f"measure-weight-{month}",
            _keyed(
                service,
                actor=actor,
                patient=alice,
                kind="weight",
                value=f"{78.4 - 0.35 * month:.1f}",
                measured_on=measured_on,
            ),
        )
        _once(
            f"measure-bp-{month}",
            _keyed(
                service,
                actor=actor,
                patient=alice,
                kind="blood_pressure",
                value=f"{146 - 1.5 * month:.0f}",
                value2=f"{90 - 0.8 * month:.0f}",
                measured_on=measured_on,
            ),
        )


def _seed_wishes(alice: Patient, herself: User) -> None:
    _once(
        "wishes",
        _keyed(
            profile_services.wishes_record,
            actor=herself,
            patient=alice,
            directives="Rédigées en 2024, un exemplaire chez mon médecin traitant (Dr Martin)",
            directives_date=_ago(700),
            trusted_name="Paul Dupont",
            trusted_relation="époux",
            trusted_contact="06 12 34 56 78",
            organ_donation="consents",
            emergency_contacts="Paul Dupont (époux) : 06 12 34 56 78\n"
            "Claire Dupont (sœur) : 06 98 76 54 32",
        ),
    )


def seed_profile(alice: Patient, doctor: User, nurse: User) -> None:
    """Alice's profil médical (her account must be activated: she enters some of it)."""
    herself = alice.user
    if herself is None:
        raise ValueError("Alice's account must be activated before her profile is seeded")
    _seed_problems(alice, doctor)
    _seed_treatments(alice, doctor)
    _seed_vaccinations(alice, nurse, herself)
    _seed_measures(alice, doctor, herself)
    _seed_wishes(alice, herself)
