"""Demo content for Alice's DMP (``manage.py seed_demo``), made through the real services.

Three years of follow-up of a type 2 diabetes: nine lab reports (an HbA1c and a creatinine
trend, one result in another unit, a laboratory change that changes the creatinine reference
range, abnormal values), reports (an operative report as a PDF, its discharge letter, a
consultation report replaced by a corrected version, a medical summary, a pathology report
not yet announced to the patient) and three allergies (penicillins, peanuts, and a refuted
one). Dates are relative to the day of seeding.

Idempotent: every item is deposited with a fixed submission key (UUID 5 of its name), so a
second run finds each key already used and creates nothing.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from identity.models import Patient, User
from records.models import Entry
from records.pdf import build_text_pdf
from records.services.content import (
    DuplicateSubmission,
    ObservationInput,
    allergy_record,
    lab_report_deposit,
    report_deposit,
)

_NAMESPACE = uuid.UUID("6f1c3d5e-2b7a-4c89-9e41-0d2f8a6b1c37")

LAB_PARC = "Laboratoire de biologie médicale du Parc (Paris 15e)"
LAB_VAUGIRARD = "Laboratoire Bio-Santé Vaugirard (Paris 15e)"


def _key(name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"demo:alice:{name}")


def _ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def _at(days: int, hour: int = 8, minute: int = 15) -> datetime.datetime:
    day = _ago(days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def _once(name: str, deposit: Callable[[uuid.UUID], Entry]) -> Entry | None:
    """Deposit once: the fixed key makes a second run a no-op (returns the first entry)."""
    try:
        return deposit(_key(name))
    except DuplicateSubmission as done:
        return done.entry


@dataclass(frozen=True)
class _Lab:
    days: int
    laboratory: str
    rows: Sequence[ObservationInput]


def _hba1c(value: str, unit: str = "%") -> ObservationInput:
    if unit == "mmol/mol":
        return ObservationInput("4548-4", value, unit, Decimal("20"), Decimal("42"))
    return ObservationInput("4548-4", value, unit, Decimal("4.0"), Decimal("6.0"))


def _creat(value: str, new_range: bool = False) -> ObservationInput:
    low, high = (Decimal("49"), Decimal("92")) if new_range else (Decimal("45"), Decimal("90"))
    return ObservationInput("2160-0", value, "umol/L", low, high)


def _glucose(value: str) -> ObservationInput:
    return ObservationInput("1558-6", value, "g/L", Decimal("0.70"), Decimal("1.10"))


def _dfg(value: str) -> ObservationInput:
    return ObservationInput("98979-8", value, "mL/min/{1.73_m2}", Decimal("90"), None)


_LABS = (
    _Lab(1030, LAB_PARC, [_hba1c("5,8"), _glucose("1,05"), _creat("68"), _dfg("104")]),
    _Lab(
        910,
        LAB_PARC,
        [
            _hba1c("6,4"),
            _glucose("1,12"),
            _creat("71"),
            ObservationInput("13457-7", "1,42", "g/L", None, Decimal("1.60")),
        ],
    ),
    _Lab(790, LAB_PARC, [_hba1c("7,1"), _glucose("1,24"), _creat("74"), _dfg("98")]),
    _Lab(
        670,
        LAB_PARC,
        [
            _hba1c("7,8"),
            _glucose("1,31"),
            ObservationInput("2160-0", "9,6", "mg/L", Decimal("5.1"), Decimal("10.2")),
            ObservationInput("2823-3", "4,4", "mmol/L", Decimal("3.5"), Decimal("5.0")),
        ],
    ),
    _Lab(
        545,
        LAB_PARC,
        [
            _hba1c("57", "mmol/mol"),
            _glucose("1,18"),
            _creat("83"),
            ObservationInput("718-7", "12,8", "g/dL", Decimal("12"), Decimal("16")),
            ObservationInput("1988-5", "< 5", "mg/L", None, Decimal("5")),
        ],
    ),
    _Lab(
        395,
        LAB_VAUGIRARD,
        [_hba1c("6,9"), _glucose("1,09"), _creat("88", True), _dfg("74")],
    ),
    _Lab(
        270,
        LAB_VAUGIRARD,
        [
            _hba1c("6,6"),
            _creat("95", True),
            _dfg("68"),
            ObservationInput("2823-3", "5,3", "mmol/L", Decimal("3.5"), Decimal("5.0")),
        ],
    ),
    _Lab(150, LAB_VAUGIRARD, [_hba1c("6,4"), _glucose("1,02"), _creat("91", True)]),
    _Lab(
        30,
        LAB_VAUGIRARD,
        [
            _hba1c("6,0"),
            _glucose("0,98"),
            _creat("97", True),
            _dfg("66"),
            ObservationInput("13457-7", "0,94", "g/L", None, Decimal("1.00")),
        ],
    ),
)

_OPERATIVE_LINES = (
    "Clinique Saint-Jacques — Service de chirurgie viscérale",
    "Opérateur : Dr Nadia Benali. Anesthésie générale : Dr Yves Caron.",
    "",
    "Indication : lithiase vésiculaire symptomatique (coliques hépatiques répétées).",
    "Intervention : cholécystectomie par cœlioscopie, quatre trocarts.",
    "",
    "Déroulement : exposition du triangle de Calot, dissection du canal et de l'artère "
    "cystiques, double clip et section. Cholangiographie peropératoire normale, sans "
    "calcul de la voie biliaire principale. Cholécystectomie rétrograde, hémostase du lit "
    "vésiculaire, extraction de la pièce en sac. Pas de drainage.",
    "",
    "Incidents : aucun. Pertes sanguines minimes.",
    "Pièce adressée en anatomopathologie.",
    "",
    "Suites prévues : lever et réalimentation le soir même, sortie à J1. Antalgiques de "
    "palier 1. ALLERGIE AUX PÉNICILLINES : antibioprophylaxie par clindamycine.",
)


def _seed_labs(alice: Patient, author: User) -> None:
    for index, item in enumerate(_LABS, start=1):
        day = item.days

        def deposit(key: uuid.UUID, item: _Lab = item, day: int = day) -> Entry:
            return lab_report_deposit(
                actor=author,
                patient=alice,
                laboratory=item.laboratory,
                specimen_collected_at=_at(day),
                reported_at=_ago(day - 1),
                observations=item.rows,
                submission_key=key,
            )

        _once(f"lab-{index}", deposit)


def _report(alice: Patient, author: User, key: uuid.UUID, **kwargs: Any) -> Entry:
    return report_deposit(actor=author, patient=alice, submission_key=key, **kwargs)


def _seed_reports(alice: Patient, author: User) -> None:
    pdf = build_text_pdf("Compte rendu opératoire — Cholécystectomie", list(_OPERATIVE_LINES))
    _once(
        "operative",
        lambda key: _report(
            alice,
            author,
            key,
            document_type="34874-8",
            title="CR opératoire — cholécystectomie cœlioscopique",
            act_date=_ago(600),
            pdf=pdf,
        ),
    )
    _once(
        "discharge",
        lambda key: _report(
            alice,
            author,
            key,
            document_type="11490-0",
            title="Lettre de liaison — sortie de la Clinique Saint-Jacques",
            act_date=_ago(599),
            body="Patiente opérée la veille d'une cholécystectomie cœlioscopique, suites "
            "simples. Sortie à J1. Reprise de la metformine le soir. Consultation de contrôle "
            "chirurgicale à un mois. Allergie aux pénicillines rappelée.",
        ),
    )
    first = _once(
        "consultation-v1",
        lambda key: _report(
            alice,
            author,
            key,
            document_type="11488-4",
            title="Consultation de suivi du diabète de type 2",
            act_date=_ago(240),
            body="HbA1c à 6,6 %. Poursuite de la metformine 1000 mg matin et soir. "
            "Créatinine en hausse (95 µmol/L) : contrôle dans trois mois.",
        ),
    )
    _once(
        "consultation-v2",
        lambda key: _report(
            alice,
            author,
            key,
            document_type="11488-4",
            title="Consultation de suivi du diabète de type 2",
            act_date=_ago(240),
            replaces=first,
            body="HbA1c à 6,6 %. Poursuite de la metformine, dose réduite à 500 mg matin et "
            "soir compte tenu du DFG à 68 mL/min/1,73 m². Créatinine à 95 µmol/L : contrôle "
            "dans trois mois. (Version corrigée : posologie.)",
        ),
    )
    _once(
        "summary",
        lambda key: _report(
            alice,
            author,
            key,
            document_type="60591-5",
            title="Synthèse médicale du médecin traitant",
            act_date=_ago(45),
            body="Diabète de type 2 depuis 2021, équilibré sous metformine. Insuffisance "
            "rénale chronique débutante (DFG 66). Cholécystectomie il y a deux ans. "
            "Allergie grave aux pénicillines (œdème de Quincke), allergie à l'arachide.",
        ),
    )
    _once(
        "pathology",
        lambda key: _report(
            alice,
            author,
            key,
            document_type="60568-3",
            title="Examen anatomopathologique — exérèse d'une lésion cutanée",
            act_date=_ago(8),
            body="Naevus dysplasique de bas grade, exérèse complète. Marges saines.",
            invisible_to_patient=True,
        ),
    )


def _seed_allergies(alice: Patient, doctor: User, nurse: User) -> None:
    _once(
        "allergy-penicillin",
        lambda key: allergy_record(
            actor=doctor,
            patient=alice,
            substance_code="atc:J01C",
            reactions="Urticaire généralisée et œdème de Quincke sous amoxicilline",
            severity="severe",
            criticality="high",
            verification_status="confirmed",
            onset_date=datetime.date(2009, 6, 1),
            recorded_on=_ago(1040),
            submission_key=key,
        ),
    )
    _once(
        "allergy-peanut",
        lambda key: allergy_record(
            actor=nurse,
            patient=alice,
            substance_code="aliment:arachide",
            reactions="Prurit buccal, urticaire de contact",
            severity="moderate",
            criticality="low",
            verification_status="confirmed",
            recorded_on=_ago(380),
            submission_key=key,
        ),
    )
    _once(
        "allergy-contrast",
        lambda key: allergy_record(
            actor=doctor,
            patient=alice,
            substance_code="atc:V08A",
            reactions="Bouffées de chaleur lors d'un scanner (2019)",
            severity="mild",
            criticality="low",
            clinical_status="inactive",
            verification_status="refuted",
            note="Tests cutanés négatifs chez l'allergologue : pas d'allergie aux produits de "
            "contraste iodés.",
            recorded_on=_ago(700),
            submission_key=key,
        ),
    )


def seed_records(patients: dict[str, Patient], accounts: dict[str, User]) -> None:
    """Alice's records (call after ``seed_access``: the nurse must be authorised)."""
    alice = patients["alice.dupont"]
    alice.refresh_from_db()
    doctor = accounts["dr.martin"]
    _seed_labs(alice, doctor)
    _seed_reports(alice, doctor)
    _seed_allergies(alice, doctor, accounts["ide.moreau"])
    # Imported here: records.demo_profile builds on this module's helpers.
    from records.demo_profile import seed_profile

    seed_profile(alice, doctor, accounts["ide.moreau"])
