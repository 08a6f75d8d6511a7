"""``manage.py populate_bench --scale 1.0 [--seed 42]``: a realistic population, quickly.

Fills an EMPTY migrated PostgreSQL database (refused on SQLite, refused when a patient exists)
for the access benchmarks of QUALITY.md §6 (``bench/bench_access.py``). At ``--scale 1.0``:
100 000 patients, 2 000 000 entries, 20 000 professionals, their care relations and DMP-level
grants (2-3 professionals per DMP), ~1 % masked entries with their per-entry grants (author,
médecin traitant), 5 000 000 access events in a valid Merkle tree. ``--scale 0.01`` is the
1 % population; the designated accounts keep their size at every scale:

* ``big.patient@bench.example``: the big patient, ``--big-entries`` entries (1 000) and
  ``--big-events`` access events (5 000, at most a tenth of the events); every 100th of its
  entries is masked (authored by its specialist: neither heavy nor typical sees them), the
  first one dated two days ago so that the first page of the timeline holds one;
* ``heavy@bench.example``: a médecin authorised on ``--heavy-dmps`` DMPs (min(5 000,
  patients / 2)), the big patient's among them;
* ``typical@bench.example``: a médecin authorised on 3 DMPs, the big patient's among them;
* ``fresh.heavy@bench.example`` / ``fresh.typical@bench.example``: the same two profiles
  *without* the big patient — the benchmark authorises and revokes them on it.

These (and ``admin@bench.example``) log in like the demo accounts: password
``demo-dmp-2026``, TOTP secret ``JBSWY3DPEHPK3PXP`` (identity/demo.py). Every other account has
an unusable password.

How: psycopg 3 ``COPY … FROM STDIN`` through Django's connection, explicit ids (above the
tables' current maximum), sequences reset afterwards, all in one transaction (a failure leaves
nothing). Foreign keys stay checked: constraints are made IMMEDIATE and rows are copied in
chunks, so PostgreSQL never queues millions of deferred checks. Nothing is dropped. Rows are
streamed (the only per-entry memory is 16 bytes of public id, for the events that name an
entry). INS-C are real (``identity.ins.compute_insc`` of synthetic NIRs, unique by
construction); passwords are unusable (``!`` + random); every professional is verified. Access
events are sealed by ``records.trail.seal_details`` and put in the trail's tree
(``event_leaf``, the tree's nodes, a signed head anchored in the file) as the sequencer would,
continuing the existing tree, so ``manage.py verify_access_log`` passes. Then ANALYZE.

Not created (no page under benchmark reads them): consents, DMP transitions, activation codes,
e-mail addresses and authenticators of the non-designated accounts, the kind rows (lab
results, reports) behind the entries.
"""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
import time
import uuid
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from random import Random
from types import SimpleNamespace
from typing import Any

from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import NOT_PROVIDED, Model
from django.utils import timezone

from identity.demo import DEMO_PASSWORD, ensure_totp
from identity.ins import compute_insc
from identity.models import (
    DmpStatus,
    IdentityStatus,
    Patient,
    PatientUserObjectPermission,
    Profession,
    Professional,
    Role,
    Specialty,
    User,
    VerificationStatus,
)
from identity.rpps import luhn_complete
from records import merkle, trail
from records.models import (
    AccessAction,
    AccessEvent,
    AccessMode,
    AuthorisationReason,
    CareRelation,
    CareRelationStatus,
    Entry,
    EntryKind,
    EntryStatus,
    EntryUserObjectPermission,
    LastLook,
    Listed,
    TrailNode,
)
from records.reference import DOCUMENT_TYPES
from records.trail import event_leaf, seal_details

FULL = {"patients": 100_000, "entries": 2_000_000, "professionals": 20_000, "events": 5_000_000}
DOMAIN = "bench.example"
HEAVY, TYPICAL, FRESH_HEAVY, FRESH_TYPICAL = range(4)  # indexes of the designated professionals
DESIGNATED = ("heavy", "typical", "fresh.heavy", "fresh.typical")
TYPICAL_DMPS = 3
MASKED_RATE = 0.01
COPY_CHUNK = 50_000  # rows per COPY statement: bounds the server's queue of foreign-key checks
UNUSABLE = "!"  # django.contrib.auth.hashers.UNUSABLE_PASSWORD_PREFIX

FIRST_F = ("Marie", "Camille", "Léa", "Chloé", "Inès", "Manon", "Sarah", "Julie", "Anne", "Emma")
FIRST_M = ("Jean", "Lucas", "Hugo", "Louis", "Thomas", "Nicolas", "Paul", "Karim", "Éric", "Luc")
LAST = (
    *("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"),
    *("Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David"),
    *("Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier"),
    *("Dupont", "Lambert", "Bonnet", "François", "Martinez", "Nguyen", "Benali", "Legrand"),
    *("Garnier", "Faure", "Rousseau"),
)
SPECIALTIES = [s.value for s in Specialty if s != Specialty.MEDECINE_GENERALE]
# (profession, share of the non-médecin professionals)
OTHER_PROFESSIONS = (
    (Profession.INFIRMIER, 0.45),
    (Profession.PHARMACIEN, 0.25),
    (Profession.MASSEUR_KINESITHERAPEUTE, 0.20),
    (Profession.SAGE_FEMME, 0.10),
)
SUMMARIES = (
    "Examen sans particularité.",
    "Contrôle à prévoir dans six mois.",
    "Résultats transmis au médecin traitant.",
    "Évolution favorable sous traitement.",
    "",
)
LAB_TYPE, ALLERGY_TYPE = "11502-2", "48765-2"


@dataclass(frozen=True)
class Plan:
    """How many rows of each kind; the designated accounts keep their size at every scale."""

    professionals: int
    patients: int
    entries: int
    events: int
    big_entries: int
    big_events: int
    heavy_dmps: int

    @classmethod
    def build(cls, options: dict[str, Any]) -> Plan:
        scale = options["scale"]
        if scale <= 0:
            raise CommandError("--scale must be positive.")
        patients = max(20, round(FULL["patients"] * scale))
        events = max(100, round(FULL["events"] * scale))
        plan = cls(
            professionals=max(12, round(FULL["professionals"] * scale)),
            patients=patients,
            entries=max(options["big_entries"], round(FULL["entries"] * scale)),
            events=events,
            big_entries=options["big_entries"],
            big_events=options["big_events"] or min(5000, events // 10),
            heavy_dmps=options["heavy_dmps"] or min(5000, patients // 2),
        )
        if plan.patients >= 95 * 998_001:  # the synthetic NIRs' departments run out
            raise CommandError("--scale too large: at most 94 million patients.")
        if not 1 <= plan.heavy_dmps < plan.patients:
            raise CommandError("--heavy-dmps must lie between 1 and the number of patients.")
        if not 1 <= plan.big_events <= plan.events // 2 or plan.big_entries < 2:
            raise CommandError("--big-events at most half the events; --big-entries at least 2.")
        return plan


@dataclass(frozen=True)
class Pro:
    """What later tables copy from a professional (the trail keeps a copy of the actor)."""

    label: str
    rpps: str
    profession: str
    specialty: str


@dataclass(frozen=True)
class PatientSeed:
    birth_name: str
    first_names: str
    sex: str
    birth_date: dt.date
    place: str  # birth place code (department + commune)
    insc: str

    @property
    def label(self) -> str:  # str(user) of the patient's account: "First Last"
        return f"{self.first_names.split(' ')[0]} {self.birth_name.title()}"


class _EventFields:
    """The attributes ``seal_details`` and ``event_leaf`` read and write, reused for every
    event (no model instance per row). A column added to the model later reads as None (its
    default must then be NULL, as the trail's leaf leaves out nulls)."""

    __slots__ = (
        "action",
        "actor_id",
        "actor_label",
        "actor_profession",
        "actor_rpps",
        "at",
        "detail",
        "detail_digest",
        "detail_salt",
        "entry_public_id",
        "id",
        "mode",
        "patient_id",
        "patient_insc",
        "public_id",
        "request_id",
    )

    def __getattr__(self, name: str) -> None:
        return None

    def __init__(self) -> None:
        self.id = 0
        self.public_id = uuid.UUID(int=0)
        self.at = timezone.now()
        self.actor_id: int | None = None
        self.actor_rpps = self.actor_profession = ""
        self.patient_id: int | None = None
        self.patient_insc = ""
        self.request_id = ""
        self.entry_public_id: uuid.UUID | None = None
        self.action = ""
        self.mode = ""
        self.actor_label = ""
        self.detail = ""
        self.detail_salt = ""
        self.detail_digest = ""


def _with_defaults(model: type[Model], columns: list[str]) -> tuple[list[str], tuple[Any, ...]]:
    """``columns`` plus the model's other columns, with the constant value each gets."""
    extras: list[tuple[str, Any]] = []
    for field in model._meta.concrete_fields:
        if field.column in columns or field.primary_key or field.db_default is not NOT_PROVIDED:
            continue
        if field.has_default() and not field.unique:
            value = field.get_db_prep_save(field.get_default(), connection)
        elif field.null:
            value = None
        else:
            raise CommandError(
                f"populate_bench cannot fill {model._meta.db_table}.{field.column} "
                "(no default): teach it this column."
            )
        extras.append((str(field.column), value))
    return columns + [name for name, _value in extras], tuple(value for _name, value in extras)


def _max_id(cursor: Any, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 (our table names)
    return int(cursor.fetchone()[0])


class Loader:
    """Generates the population in dependency order and streams it into the tables."""

    def __init__(self, cursor: Any, plan: Plan, seed: int, out: Any) -> None:
        self.cursor, self.plan, self.out = cursor, plan, out
        # A benchmark population, not a secret: a seeded, reproducible generator is the point.
        self.rng = Random(seed)  # noqa: S311
        self.now = timezone.now().replace(microsecond=0)
        self.today = self.now.date()
        tables = ("identity_user", "identity_professional", "identity_patient", "records_entry")
        self.base = {table: _max_id(cursor, table) for table in tables}
        self.admin_user = self.base["identity_user"] + 1
        self.pros: list[Pro] = []
        self.generalists: list[int] = []
        self.patients: list[PatientSeed] = []
        # per patient: the authorised professionals, the one who opened the DMP first
        self.teams: list[tuple[int, ...]] = []
        self.traitant = array("l")  # per patient: index of the médecin traitant
        self.entry_start = array("q", [0])  # per patient: offset of its first entry
        self.entry_ids = bytearray()  # 16 bytes of public id per entry, in id order
        self.masked_specialist = 0

    # --- ids -------------------------------------------------------------------------------

    def pro_id(self, index: int) -> int:
        return self.base["identity_professional"] + 1 + index

    def pro_user(self, index: int) -> int:
        return self.admin_user + 1 + index

    def patient_id(self, index: int) -> int:
        return self.base["identity_patient"] + 1 + index

    def patient_user(self, index: int) -> int:
        return self.admin_user + 1 + self.plan.professionals + index

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    # --- COPY ------------------------------------------------------------------------------

    def copy(self, model: type[Model], columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """COPY ``rows`` into ``model``'s table (``columns``: space-separated) in chunks.

        Columns added to the model later are filled with their default, so the command
        survives new fields; prints the timing.
        """
        started, count = time.perf_counter(), 0
        names, extras = _with_defaults(model, columns.split())
        table = model._meta.db_table
        statement = f"COPY {table} ({', '.join(names)}) FROM STDIN"
        iterator, written = iter(rows), COPY_CHUNK
        while written == COPY_CHUNK:
            # Rows are sent while they are generated: the server works while Python generates.
            with self.cursor.copy(statement) as copy:
                written = 0
                for row in itertools.islice(iterator, COPY_CHUNK):
                    copy.write_row(row + extras)
                    written += 1
            count += written
        elapsed = time.perf_counter() - started
        self.out.write(f"  {table:<38} {count:>10,} rows {elapsed:8.1f} s")

    # --- People ----------------------------------------------------------------------------

    def plan_people(self) -> None:
        rng = self.rng
        named: list[tuple[str, str, str]] = [
            ("Hélène", "Lourd", Specialty.MEDECINE_GENERALE),
            ("Thomas", "Typique", Specialty.MEDECINE_GENERALE),
            ("Henri", "Frais-Lourd", Specialty.CARDIOLOGIE),
            ("Tina", "Frais-Typique", Specialty.MEDECINE_GENERALE),
        ]
        for index in range(self.plan.professionals):
            if index < len(named):
                first, last, specialty = named[index]
                profession: str = Profession.MEDECIN
            else:
                first = rng.choice(FIRST_F + FIRST_M)
                last = rng.choice(LAST)
                profession, specialty = self._profession(rng)
            rpps = luhn_complete(f"8{index:09d}")
            self.pros.append(Pro(f"{first} {last}", rpps, profession, specialty))
            if index >= len(named) and specialty == Specialty.MEDECINE_GENERALE:
                self.generalists.append(index)
        if not self.generalists:
            raise CommandError("Too few professionals for this scale.")
        for index in range(self.plan.patients):
            self.patients.append(self._patient_seed(index))

    @staticmethod
    def _profession(rng: Random) -> tuple[str, str]:
        if rng.random() < 0.7:
            general = rng.random() < 0.45
            return Profession.MEDECIN, (
                Specialty.MEDECINE_GENERALE if general else rng.choice(SPECIALTIES)
            )
        draw, total = rng.random(), 0.0
        for profession, share in OTHER_PROFESSIONS:
            total += share
            if draw < total:
                return profession, ""
        return Profession.INFIRMIER, ""

    def _patient_seed(self, index: int) -> PatientSeed:
        rng = self.rng
        sex = rng.choice("FM")
        first = rng.choice(FIRST_F if sex == "F" else FIRST_M)
        second = rng.choice(FIRST_F if sex == "F" else FIRST_M)
        birth = dt.date(1935, 1, 1) + dt.timedelta(days=rng.randrange(365 * 88))
        # A synthetic NIR, unique by construction (department, commune, order from the index);
        # only its INS-C is kept, as in production.
        place = f"{index // 998_001 + 1:02d}{index // 999 % 999 + 1:03d}"
        nir = f"{1 if sex == 'M' else 2}{birth:%y%m}{place}{index % 999 + 1:03d}"
        first_names = f"{first} {second}"
        birth_name = rng.choice(LAST).upper()
        return PatientSeed(
            birth_name, first_names, sex, birth, place, compute_insc(first_names, birth, nir)
        )

    def users(self) -> None:
        def rows() -> Iterator[tuple[Any, ...]]:
            yield self._user(self.admin_user, f"admin@{DOMAIN}", "Ada", "Min", Role.ADMINISTRATOR)
            for index, pro in enumerate(self.pros):
                first, last = pro.label.split(" ", 1)
                email = (
                    f"{DESIGNATED[index]}@{DOMAIN}"
                    if index < len(DESIGNATED)
                    else f"pro{index}@{DOMAIN}"
                )
                yield self._user(self.pro_user(index), email, first, last, Role.PROFESSIONAL)
            for index, seed in enumerate(self.patients):
                email = f"big.patient@{DOMAIN}" if index == 0 else f"patient{index}@{DOMAIN}"
                first, last = seed.label.split(" ", 1)
                yield self._user(self.patient_user(index), email, first, last, Role.PATIENT)

        self.copy(
            User,
            (
                "id password last_login is_superuser public_id email first_name last_name role "
                "is_active is_staff date_joined"
            ),
            rows(),
        )

    def _user(self, pk: int, email: str, first: str, last: str, role: str) -> tuple[Any, ...]:
        staff = role == Role.ADMINISTRATOR
        password = UNUSABLE + f"{self.rng.getrandbits(160):040x}"
        joined = self.now - dt.timedelta(days=400)
        return (
            pk,
            password,
            None,
            False,
            self.uuid4(),
            email,
            first,
            last,
            role,
            True,
            staff,
            joined,
        )

    def professionals(self) -> None:
        verified_at = self.now - dt.timedelta(days=365)

        def rows() -> Iterator[tuple[Any, ...]]:
            for index, pro in enumerate(self.pros):
                yield (
                    self.pro_id(index),
                    self.uuid4(),
                    pro.rpps,
                    pro.profession,
                    pro.specialty,
                    False,
                    VerificationStatus.VERIFIED,
                    verified_at,
                    self.pro_user(index),
                    self.admin_user,
                )

        self.copy(
            Professional,
            (
                "id public_id rpps profession specialty is_regulation_doctor "
                "verification_status verified_at user_id verified_by_id"
            ),
            rows(),
        )

    # --- DMPs and who sees them ------------------------------------------------------------

    def plan_teams(self) -> None:
        """Who is authorised on which DMP: 2-3 professionals each, plus the designated ones."""
        rng, plan = self.rng, self.plan
        others = range(1, plan.patients)
        extra: dict[int, list[int]] = {0: [HEAVY, TYPICAL]}
        for pro, count in (
            (HEAVY, plan.heavy_dmps - 1),
            (TYPICAL, TYPICAL_DMPS - 1),
            (FRESH_HEAVY, plan.heavy_dmps),
            (FRESH_TYPICAL, TYPICAL_DMPS),
        ):
            for patient in rng.sample(others, min(count, len(others))):
                extra.setdefault(patient, []).append(pro)
        pool = range(len(DESIGNATED), plan.professionals)
        for patient in range(plan.patients):
            traitant = rng.choice(self.generalists)
            team, size = [traitant], rng.randint(2, 3)
            while len(team) < size:
                other = rng.choice(pool)
                if other not in team:
                    team.append(other)
            if rng.random() < 0.3 and len(team) > 1:
                team[0], team[1] = team[1], team[0]  # opened by a specialist
            if patient == 0:
                self.masked_specialist = next(p for p in team if p != traitant)
            self.traitant.append(traitant)
            self.teams.append((*team, *extra.get(patient, ())))

    def dmps(self) -> None:
        def rows() -> Iterator[tuple[Any, ...]]:
            for index, seed in enumerate(self.patients):
                opened = self.now - dt.timedelta(days=3653 + index % 365)
                yield (
                    self.patient_id(index),
                    self.uuid4(),
                    seed.insc,
                    seed.birth_name,
                    seed.first_names,
                    "",
                    seed.sex,
                    seed.birth_date,
                    seed.place,
                    IdentityStatus.QUAL,
                    "",
                    "",
                    DmpStatus.OPEN,
                    opened,
                    False,
                    False,
                    self.pro_id(self.traitant[index]),
                    self.pro_id(self.teams[index][0]),
                    self.patient_user(index),
                )

        self.copy(
            Patient,
            (
                "id public_id insc birth_name first_names used_name sex birth_date "
                "birth_place_code identity_status matricule_ins matricule_oid dmp_status "
                "opened_at opposes_bris_de_glace opposes_samu medecin_traitant_id opened_by_id "
                "user_id"
            ),
            rows(),
        )

    def relations(self, view_patient: int) -> None:
        def relation_rows() -> Iterator[tuple[Any, ...]]:
            for index, team in enumerate(self.teams):
                since = self.now - dt.timedelta(days=3000 - index % 1000)
                for position, pro in enumerate(team):
                    reason = (
                        AuthorisationReason.OPENED if position == 0 else AuthorisationReason.PATIENT
                    )
                    first_access = since + dt.timedelta(days=1)
                    yield (
                        CareRelationStatus.AUTHORISED,
                        reason,
                        since,
                        first_access,
                        self.patient_id(index),
                        self.pro_id(pro),
                    )

        def grant_rows() -> Iterator[tuple[int, int, int]]:
            for index, team in enumerate(self.teams):
                for pro in team:
                    yield (self.patient_id(index), view_patient, self.pro_user(pro))

        self.copy(
            CareRelation,
            "status reason since first_access_at patient_id professional_id",
            relation_rows(),
        )
        self.copy(
            PatientUserObjectPermission,
            "content_object_id permission_id user_id",
            grant_rows(),
        )

    # --- Entries ---------------------------------------------------------------------------

    def entry_counts(self) -> array[int]:
        """Entries per patient: the big patient's count, the rest spread unevenly, exact sum."""
        rng, plan = self.rng, self.plan
        rest, others = plan.entries - plan.big_entries, plan.patients - 1
        mean = rest / others
        counts = array("l", [plan.big_entries])
        counts.extend(rng.randint(0, round(2 * mean)) for _ in range(others))
        missing = rest - (sum(counts) - plan.big_entries)
        while missing:
            patient = rng.randrange(1, plan.patients)
            step = 1 if missing > 0 else -1
            if counts[patient] + step >= 0:
                counts[patient] += step
                missing -= step
        return counts

    def entries(self, view_entry: int) -> None:
        counts = self.entry_counts()
        self.entry_ids = bytearray(16 * self.plan.entries)
        masked_grants: list[tuple[int, int, int]] = []

        def rows() -> Iterator[tuple[Any, ...]]:
            entry = 0
            for patient, count in enumerate(counts):
                for position in range(count):
                    row = self._entry(entry, patient, position)
                    if row[9]:  # masked: per-entry grants for the author and the médecin traitant
                        users = {row[14], self.pro_user(self.traitant[patient])}
                        masked_grants.extend((row[0], view_entry, user) for user in sorted(users))
                    yield row
                    entry += 1
                self.entry_start.append(entry)

        self.copy(
            Entry,
            (
                "id public_id kind document_type title summary act_date deposited_at status "
                "masked invisible_to_patient abnormal patient_id author_id"
            ),
            (row[:14] for row in rows()),
        )
        self.copy(
            EntryUserObjectPermission,
            "content_object_id permission_id user_id",
            masked_grants,
        )

    def _entry(self, entry: int, patient: int, position: int) -> tuple[Any, ...]:
        rng = self.rng
        public_id = self.uuid4()
        self.entry_ids[16 * entry : 16 * entry + 16] = public_id.bytes
        doc = DOCUMENT_TYPES[0] if rng.random() < 0.35 else rng.choice(DOCUMENT_TYPES)
        kind = {LAB_TYPE: EntryKind.LAB_REPORT, ALLERGY_TYPE: EntryKind.ALLERGY}.get(
            doc.code, EntryKind.REPORT
        )
        if patient == 0:  # the big patient: every 100th masked, authored by its specialist
            masked = position % 100 == 1
            author = self.masked_specialist if masked else self.traitant[0]
        else:
            masked = rng.random() < MASKED_RATE
            author = rng.choice(self.teams[patient][:3])
        act_date = self.today - dt.timedelta(days=rng.randrange(3653))
        if patient == 0 and position == 1:  # a masked entry on the first page of the timeline
            act_date = self.today - dt.timedelta(days=2)
        deposited = dt.datetime.combine(act_date, dt.time(8), tzinfo=dt.UTC) + dt.timedelta(
            minutes=rng.randrange(60 * 24 * 3)
        )
        return (
            self.base["records_entry"] + 1 + entry,
            public_id,
            kind,
            doc.code,
            doc.label,
            rng.choice(SUMMARIES),
            act_date,
            min(deposited, self.now),
            EntryStatus.CURRENT,
            masked,
            False,
            kind == EntryKind.LAB_REPORT and rng.random() < 0.15,
            self.patient_id(patient),
            self.pro_id(author),
            self.pro_user(author),
        )

    # --- The trail -------------------------------------------------------------------------

    def events(self) -> None:
        """The events, already in the tree: their leaves, the tree's nodes and a signed head
        (the sequencer would take as long as they are many)."""
        head = trail.log_integrate_all()  # the events written before, if any
        size = head.size if head else 0
        keys = merkle.perfect_nodes(0, size)
        edge = trail.tree_nodes(keys)
        tree = merkle.CompactRange(size, [edge[key] for key in keys])
        first_id = (
            AccessEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        ) + 1
        leaves = bytearray()  # 32 bytes per event: 160 MB at 5 000 000

        def rows() -> Iterator[tuple[Any, ...]]:
            fields = _EventFields()
            span = dt.timedelta(days=3 * 365).total_seconds() * 1e6
            step = int(span / self.plan.events)
            start = self.now - dt.timedelta(days=3 * 365)
            stride = self.plan.events // self.plan.big_events
            for k in range(self.plan.events):
                fields.id = first_id + k
                fields.public_id = self.uuid4()
                fields.at = start + dt.timedelta(microseconds=k * step + self.rng.randrange(step))
                patient = 0 if k % stride == 0 else self.rng.randrange(1, self.plan.patients)
                actor, fields.actor_label, fields.actor_profession = self._event_kind(
                    fields, patient
                )
                fields.patient_id = self.patient_id(patient) if fields.patient_insc else None
                seal_details(fields)
                leaves.extend(event_leaf(fields))
                yield (
                    fields.id,
                    fields.public_id,
                    fields.at,
                    fields.actor_label,
                    fields.actor_rpps,
                    fields.actor_profession,
                    fields.patient_insc,
                    fields.entry_public_id,
                    fields.action,
                    fields.mode,
                    fields.detail,
                    fields.detail_salt,
                    fields.detail_digest,
                    fields.request_id,
                    size + k,
                    actor,
                    fields.patient_id,
                )

        def nodes() -> Iterator[tuple[Any, ...]]:
            for start in range(0, len(leaves), 32):
                for level, index, value in tree.append(bytes(leaves[start : start + 32])):
                    yield level, index, value.hex()

        self.copy(
            AccessEvent,
            (
                "id public_id at actor_label actor_rpps actor_profession patient_insc "
                "entry_public_id action mode detail detail_salt detail_digest request_id "
                "leaf_index actor_id patient_id"
            ),
            rows(),
        )
        self.copy(TrailNode, "level index hash", nodes())
        trail.head_sign(tree.size, tree.root()).save(force_insert=True)

    def _event_kind(self, fields: _EventFields, patient: int) -> tuple[int | None, str, str]:
        """Fill the event's who/what (a mix close to a real trail); returns actor columns."""
        rng = self.rng
        draw = rng.random()
        fields.entry_public_id, fields.detail = None, ""
        fields.patient_insc = self.patients[patient].insc
        if draw < 0.22:  # the patient reads their own DMP or its history
            fields.actor_id = self.patient_user(patient)
            fields.actor_rpps, fields.mode = "", AccessMode.PATIENT
            fields.action = rng.choice((AccessAction.DMP_VIEW, AccessAction.HISTORY_VIEW))
            if draw < 0.01:
                fields.action = AccessAction.ACCESS_CHANGE
                rpps = self.pros[rng.choice(self.generalists)].rpps
                fields.detail = f"autorisation patient RPPS {rpps}"
            return fields.actor_id, self.patients[patient].label, ""
        pro = rng.choice(self.teams[patient])
        fields.mode, fields.action = AccessMode.NORMAL, AccessAction.TIMELINE_VIEW
        if draw < 0.225:  # an emergency access by someone outside the team
            pro = rng.randrange(len(DESIGNATED), self.plan.professionals)
            fields.mode, fields.action, fields.detail = (
                AccessMode.EMERGENCY,
                AccessAction.EMERGENCY_START,
                "vital: ",
            )
        elif draw < 0.23:  # a refusal names no patient
            fields.patient_insc, fields.action = "", AccessAction.DENIED
            fields.detail = "DMP hors périmètre"
        elif draw < 0.75:
            fields.action = rng.choice(
                (AccessAction.ENTRY_VIEW, AccessAction.DOWNLOAD, AccessAction.ENTRY_CREATE)
            )
            fields.entry_public_id = self._some_entry(patient)
            if fields.entry_public_id is None:
                fields.action = AccessAction.DMP_VIEW
        elif draw < 0.85:
            fields.action = AccessAction.DMP_VIEW
        fields.actor_id, fields.actor_rpps = self.pro_user(pro), self.pros[pro].rpps
        return fields.actor_id, self.pros[pro].label, self.pros[pro].profession

    def _some_entry(self, patient: int) -> uuid.UUID | None:
        start, end = self.entry_start[patient], self.entry_start[patient + 1]
        if start == end:
            return None
        entry = self.rng.randrange(start, end)
        return uuid.UUID(bytes=bytes(self.entry_ids[16 * entry : 16 * entry + 16]))


def _designated_logins() -> None:
    """The designated accounts can log in like the demo ones (password, verified address, TOTP
    with the documented secret): for browser checks and load tests, and so that their sessions
    pass the second-factor check as real ones do."""
    emails = [f"{name}@{DOMAIN}" for name in (*DESIGNATED, "big.patient", "admin")]
    User.objects.filter(email__in=emails).update(password=make_password(DEMO_PASSWORD))
    for user in User.objects.filter(email__in=emails):
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        ensure_totp(user)


SEQUENCED: tuple[type[Model], ...] = (
    User,
    Professional,
    Patient,
    CareRelation,
    PatientUserObjectPermission,
    Entry,
    EntryUserObjectPermission,
    AccessEvent,
)


class Command(BaseCommand):
    help = "Remplit une base PostgreSQL vide d'une population réaliste pour les benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100 000 patients")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--big-entries", type=int, default=1000)
        parser.add_argument("--big-events", type=int, default=0, help="default min(5000, ev/10)")
        parser.add_argument("--heavy-dmps", type=int, default=0, help="default min(5000, N/2)")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "populate_bench needs PostgreSQL (it loads with COPY): set DATABASE_URL to a "
                "postgres:// database, not the embedded SQLite one."
            )
        if Patient.objects.exists():
            raise CommandError(
                "This database already holds patients: populate_bench fills an EMPTY migrated "
                "database. Create a fresh one (createdb, then manage.py migrate)."
            )
        plan = Plan.build(options)
        self.stdout.write(f"populate_bench: {plan}")
        started = time.perf_counter()
        view_patient = Permission.objects.get(
            content_type__app_label="identity", codename="view_patient"
        ).pk
        view_entry = Permission.objects.get(
            content_type__app_label="records", codename="view_entry"
        ).pk
        with transaction.atomic(), connection.cursor() as wrapper:
            cursor = wrapper.cursor  # psycopg 3's own cursor: COPY
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET LOCAL synchronous_commit = off")
            loader = Loader(cursor, plan, options["seed"], self.stdout)
            loader.plan_people()
            loader.plan_teams()
            loader.users()
            loader.professionals()
            loader.dmps()
            loader.relations(view_patient)
            loader.entries(view_entry)
            loader.events()
            # When each professional last looked at each DMP, from those events, as migration
            # 0014 fills it from an existing trail (record_access keeps it up to date after).
            fill = importlib.import_module("records.migrations.0015_pro_last_look")
            sql = SimpleNamespace(quote_name=connection.ops.quote_name, execute=wrapper.execute)
            fill.fill_from_the_trail(apps, sql)
            # Who lists which DMP under which name ("Mes patients" by name), as migration
            # 0017 fills it (records.access.dmp_list keeps it up to date after).
            importlib.import_module("records.migrations.0019_pro_listed").fill(apps, sql)
            _designated_logins()
            for model in SEQUENCED:
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT MAX(id) FROM {table}))"
                )
        trail.heads_anchor()  # the head signed above, once committed
        analyse = time.perf_counter()
        analysed: tuple[type[Model], ...] = (*SEQUENCED, LastLook, Listed)
        with connection.cursor() as cursor:
            for model in analysed:
                cursor.execute(f"ANALYZE {model._meta.db_table}")
        self.stdout.write(f"  {'ANALYZE':<38} {'':>15} {time.perf_counter() - analyse:8.1f} s")
        self.stdout.write(
            self.style.SUCCESS(f"populate_bench done in {time.perf_counter() - started:.1f} s.")
        )
