"""Hypothesis stateful test: random sequences of access changes; after every step the access
module's answer for every (user, entry) equals a small pure-Python oracle of PRODUCT.md §4.

The patient is 17: a legal representative ("rep") speaks for her until her 18th birthday
(a rule travels to it: ``majority_end``); then she may give a proxy ("proxy": read-only,
reports only, until an end date). Entries may be secret (CSP L1111-5) or invisible to the
representatives: neither ever reaches the representative nor the proxy."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from identity.errors import AccessDenied
from identity.models import Patient
from records import access
from records.mandates import Mandate, MandateKind, MandateProof
from records.models import AuthorisationReason, EmergencyAccess, Entry
from records.services.care import (
    AccessRefused,
    care_authorise,
    care_block,
    care_revoke,
    care_unblock,
    emergency_declare,
)
from records.services.entries import entries_release_due, entry_deposit, entry_mask
from records.services.family import (
    majority_end,
    mandate_revoke,
    proxy_grant,
    representative_add,
)
from records.services.lifecycle import PatientTraits, dmp_close, dmp_reopen, medecin_traitant_set
from tests.cast import make_patient, make_professional, make_user

MINOR_NIR = "2 09 12 75 123 461 71"
MINOR_BIRTH = datetime.date(2009, 12, 20)  # 18 on 20 December 2027

pytestmark = pytest.mark.django_db(transaction=False)

PROS = ["d0", "p1", "ph", "kine"]
DOCTORS = ["d0", "p1"]
# The default matrix: what each profession may NOT read (records/migrations/0003).
DENIED = {"ph": {"34874-8", "68599-0"}, "kine": {"68599-0"}}


@dataclass
class Oracle:
    authorised: set[str] = field(default_factory=lambda: {"d0", "p1"})
    blocked: set[str] = field(default_factory=set)
    mt: str | None = "d0"
    masked: set[str] = field(default_factory=set)
    invisible: set[str] = field(default_factory=lambda: {"e3"})
    emergency: set[str] = field(default_factory=set)
    closed: bool = False
    minor: bool = True
    rep: bool = True  # the representative's mandate is in force
    proxy: bool = False  # a proxy is in force

    def sees(self, who: str, entry: str, doc_type: str, author: str) -> bool:
        if self.closed:
            return False
        if who == "patient":
            return entry not in self.invisible
        if who in ("rep", "proxy"):
            held = self.rep if who == "rep" else self.proxy and KINDS.get(entry) == "report"
            kept = entry in SECRET or entry in HIDDEN_FROM_REPRESENTATIVES
            return held and not kept and entry not in self.invisible
        if who in self.blocked and who != self.mt:
            return False
        if not (who in self.authorised or who == self.mt or who in self.emergency):
            return False
        if doc_type in DENIED.get(who, set()):
            return False
        if entry in self.masked:
            return who in {author, self.mt}
        return True


ENTRIES = {  # name: (document type, author)
    "e1": ("11488-4", "d0"),
    "e2": ("34874-8", "d0"),
    "e3": ("68599-0", "d0"),
    "e4": ("11488-4", "p1"),
    "e5": ("11488-4", "d0"),  # an allergy: not in the proxy's kinds
    "e6": ("11488-4", "d0"),  # secret (CSP L1111-5)
    "e7": ("11488-4", "p1"),  # invisible to the representatives
}
KINDS = {name: "allergy" if name == "e5" else "report" for name in ENTRIES}
SECRET = {"e6"}
HIDDEN_FROM_REPRESENTATIVES = {"e7"}


class AccessMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.pros = {
            "d0": make_professional("d0@t.example"),
            "p1": make_professional("p1@t.example"),
            "ph": make_professional("ph@t.example", profession="pharmacien", specialty=""),
            "kine": make_professional(
                "kine@t.example", profession="masseur_kinesitherapeute", specialty=""
            ),
        }
        self.patient: Patient = make_patient(
            opened_by=self.pros["d0"],
            medecin_traitant=True,
            account=True,
            nir=MINOR_NIR,
            traits=PatientTraits(
                birth_name="MINEURE", first_names="Jeanne", sex="F", birth_date=MINOR_BIRTH
            ),
        )
        self.rep = make_user("rep@t.example")
        self.proxy = make_user("proxy@t.example")
        representative_add(
            actor=self.pros["d0"].user,
            patient=self.patient,
            email=self.rep.email,
            kind=MandateKind.REPRESENTATIVE,
            basis="autorité parentale",
            proof=MandateProof.FAMILY_BOOK,
        )
        self._authorise("p1")
        self.entries: dict[str, Entry] = {}
        for name, (doc_type, author) in ENTRIES.items():
            self.entries[name] = entry_deposit(
                actor=self.pros[author].user,
                patient=self.patient,
                kind=KINDS[name],
                document_type=doc_type,
                title=name,
                act_date=datetime.date(2026, 1, 1),
                invisible_to_patient=name == "e3",
                secret=name in SECRET,
                hidden_from_representatives=name in HIDDEN_FROM_REPRESENTATIVES,
            )
        self.oracle = Oracle()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers -----------------------------------------------------------------------

    def _fresh_patient(self) -> Patient:
        self.patient = Patient.objects.select_related("medecin_traitant__user", "user").get(
            pk=self.patient.pk
        )
        return self.patient

    def _authorise(self, who: str) -> None:
        care_authorise(
            actor=self._fresh_patient().user,
            patient=self.patient,
            professional=self.pros[who],
            reason=AuthorisationReason.PATIENT,
        )

    # --- rules -------------------------------------------------------------------------

    @precondition(lambda self: not self.oracle.closed)
    @rule(who=st.sampled_from(PROS))
    def authorise(self, who: str) -> None:
        self._authorise(who)
        self.oracle.authorised.add(who)
        self.oracle.blocked.discard(who)

    @precondition(lambda self: not self.oracle.closed)
    @rule(who=st.sampled_from(PROS))
    def revoke(self, who: str) -> None:
        patient = self._fresh_patient()
        if who == self.oracle.mt:  # changing médecin traitant is the way, not revoking
            with pytest.raises(ValidationError):
                care_revoke(actor=patient.user, patient=patient, professional=self.pros[who])
            return
        care_revoke(actor=patient.user, patient=patient, professional=self.pros[who])
        self.oracle.authorised.discard(who)

    @precondition(lambda self: not self.oracle.closed)
    @rule(who=st.sampled_from(PROS))
    def block(self, who: str) -> None:
        patient = self._fresh_patient()
        if who == self.oracle.mt:
            with pytest.raises(ValidationError):
                care_block(actor=patient.user, patient=patient, professional=self.pros[who])
            return
        care_block(actor=patient.user, patient=patient, professional=self.pros[who])
        self.oracle.authorised.discard(who)
        self.oracle.blocked.add(who)
        self.oracle.emergency.discard(who)

    @precondition(lambda self: not self.oracle.closed)
    @rule(who=st.sampled_from(PROS))
    def unblock(self, who: str) -> None:
        care_unblock(
            actor=self.patient.user, patient=self._fresh_patient(), professional=self.pros[who]
        )
        self.oracle.blocked.discard(who)

    @precondition(lambda self: not self.oracle.closed)
    @rule(entry=st.sampled_from(sorted(ENTRIES)), masked=st.booleans())
    def mask(self, entry: str, masked: bool) -> None:
        patient = self._fresh_patient()
        item = Entry.objects.select_related("patient__medecin_traitant__user", "author__user").get(
            pk=self.entries[entry].pk
        )
        entry_mask(actor=patient.user, entry=item, masked=masked)
        (self.oracle.masked.add if masked else self.oracle.masked.discard)(entry)

    @precondition(lambda self: not self.oracle.closed)
    @rule(who=st.sampled_from([*DOCTORS, None]))
    def set_medecin_traitant(self, who: str | None) -> None:
        patient = self._fresh_patient()
        medecin_traitant_set(
            actor=patient.user, patient=patient, professional=self.pros[who] if who else None
        )
        self.oracle.mt = who
        if who:
            self.oracle.blocked.discard(who)

    @rule(who=st.sampled_from(PROS))
    def emergency(self, who: str) -> None:
        patient = self._fresh_patient()
        refused = self.oracle.closed or who in self.oracle.blocked
        if refused:
            with pytest.raises(AccessRefused):
                emergency_declare(
                    actor=self.pros[who].user, patient=patient, samu=False, reason="vital"
                )
            return
        emergency_declare(actor=self.pros[who].user, patient=patient, samu=False, reason="vital")
        self.oracle.emergency.add(who)

    @rule()
    def expire_emergencies(self) -> None:
        EmergencyAccess.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        self.oracle.emergency.clear()

    @precondition(lambda self: not self.oracle.closed)
    @rule()
    def close(self) -> None:
        patient = self._fresh_patient()
        dmp_close(actor=patient.user, patient=patient)
        self.oracle.closed = True

    @precondition(lambda self: self.oracle.closed)
    @rule()
    def reopen(self) -> None:
        patient = self._fresh_patient()
        dmp_reopen(actor=patient.user, patient=patient)
        self.oracle.closed = False

    # --- who speaks for the patient ----------------------------------------------------

    @precondition(lambda self: self.oracle.minor)
    @rule()
    def eighteenth_birthday(self) -> None:
        majority_end()  # not yet 18: nothing ends
        still = access.entries_for(self.rep, self.patient).exists()
        assert still == (self.oracle.rep and not self.oracle.closed)
        # Time travel: she turns 18 today (her birth date moved back), the daily command runs.
        today = timezone.localdate()
        Patient.objects.filter(pk=self.patient.pk).update(
            birth_date=today.replace(year=today.year - 18)
        )
        majority_end()
        majority_end()  # idempotent
        self.oracle.minor = False
        self.oracle.rep = False

    @rule(who=st.sampled_from(PROS))
    def representative_blocks(self, who: str) -> None:
        patient = self._fresh_patient()
        if not self.oracle.rep or self.oracle.closed:
            with pytest.raises(AccessDenied):
                care_block(actor=self.rep, patient=patient, professional=self.pros[who])
            return
        if who == self.oracle.mt:
            with pytest.raises(ValidationError):
                care_block(actor=self.rep, patient=patient, professional=self.pros[who])
            return
        care_block(actor=self.rep, patient=patient, professional=self.pros[who])
        self.oracle.authorised.discard(who)
        self.oracle.blocked.add(who)
        self.oracle.emergency.discard(who)

    @precondition(lambda self: not self.oracle.closed and not self.oracle.proxy)
    @rule()
    def grant_proxy(self) -> None:
        patient = self._fresh_patient()
        grant = {
            "actor": patient.user,
            "patient": patient,
            "email": self.proxy.email,
            "read_only": True,
            "kinds": ["report"],
            "ends_on": timezone.localdate() + timedelta(days=90),
        }
        if self.oracle.minor:  # a minor gives no proxy: her representatives act
            with pytest.raises(ValidationError):
                proxy_grant(**grant)
            return
        proxy_grant(**grant)
        self.oracle.proxy = True

    @rule()
    def proxy_tries_to_act(self) -> None:
        patient = self._fresh_patient()
        with pytest.raises(AccessDenied):  # never grants further, read-only never acts
            proxy_grant(
                actor=self.proxy,
                patient=patient,
                email=self.rep.email,
                read_only=True,
                kinds=["report"],
                ends_on=timezone.localdate() + timedelta(days=9),
            )
        with pytest.raises(AccessDenied):
            care_block(actor=self.proxy, patient=patient, professional=self.pros["p1"])

    @precondition(lambda self: self.oracle.proxy)
    @rule(expire=st.booleans())
    def proxy_ends(self, expire: bool) -> None:
        mandate = Mandate.objects.get(holder=self.proxy, ended_at__isnull=True)
        if expire:
            Mandate.objects.filter(pk=mandate.pk).update(
                ends_on=timezone.localdate() - timedelta(days=1)
            )
        else:
            mandate_revoke(actor=self._fresh_patient().user, mandate=mandate)
        self.oracle.proxy = False

    @rule()
    def release_after_a_month(self) -> None:
        Entry.objects.filter(pk=self.entries["e3"].pk).update(
            deposited_at=timezone.now() - timedelta(days=31)
        )
        entries_release_due()
        self.oracle.invisible.discard("e3")

    # --- the invariant -----------------------------------------------------------------

    @invariant()
    def access_matches_the_oracle(self) -> None:
        patient = self._fresh_patient()
        viewers: dict[str, Any] = {
            "patient": patient.user,
            "rep": self.rep,
            "proxy": self.proxy,
            **{k: v.user for k, v in self.pros.items()},
        }
        for who, user in viewers.items():
            seen = set(access.entries_for(user, patient).values_list("title", flat=True))
            expected = {
                name
                for name, (doc_type, author) in ENTRIES.items()
                if self.oracle.sees(who, name, doc_type, author)
            }
            assert seen == expected, (who, seen, expected, self.oracle)


def test_access_rules_match_the_oracle(db: None) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        AccessMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
