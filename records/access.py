"""The one access funnel: who may see which DMP and which entry, and what they may do with it.

This is the only module that imports django-guardian (ruff's banned-api rule keeps it so; the
direct foreign-key permission models sit beside the models they protect). Every queryset of
patient data that a view, form, export or admin page uses comes from here, and every fetch
returns the object with what the user may do (``DmpAccess``: the mode, ``may_deposit``), asked
once. The trail that records each access is ``records.trail``.

The rules (PRODUCT.md §4, in order of precedence), all decided inside database queries:

1. a closed or purged DMP is visible to no one (the patient sees only its lifecycle page);
2. a professional blocked by the patient sees nothing (the médecin traitant cannot be
   blocked);
3. a verified professional sees a DMP when they hold the DMP-level ``view_patient`` object
   permission (authorised: by the patient, by opening it, by attested consent), when they are
   its médecin traitant, or during an unexpired emergency / SAMU access;
4. a masked entry (MASQUE_PS) is visible only to its author and the médecin traitant
   (per-entry ``view_entry`` rows, the only per-entry grants) and to the patient;
5. an entry invisible to the patient is hidden from the patient only, until announced or
   30 days after deposit;
6. the profession × document-type matrix removes the types a profession may not read;
7. administrators, staff and superusers get nothing from being so: only object rows of the
   user count (the effect of guardian's ``with_superuser=False, accept_global_perms=False``;
   never ``user.has_perm``);
8. anything out of scope answers 404, exactly like a missing object;
9. someone who speaks for a patient (``records.mandates``: a legal representative, a tutor, a
   proxy) reaches the patient's open DMP through these same functions, in mode ON_BEHALF:
   never the entries flagged invisible to the representatives nor the secret ones (CSP
   L1111-5), nor their traces in the history; a proxy only the kinds of its scope, until its
   end date; a read-only proxy does not act.

Grants are O(1) rows per (patient, professional), whatever the size of the DMP.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    StringAgg,
    Subquery,
    Value,
)
from django.db.models.functions import Concat
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from guardian.shortcuts import assign_perm, remove_perm

from identity import prepared
from identity.errors import EMERGENCY_READ_ONLY, TYPE_NOT_ALLOWED, AccessDenied
from identity.models import DmpStatus, Patient, PatientUserObjectPermission, Professional, User
from records.content import Allergy, Observation
from records.looks import first_names_key, name_key
from records.models import (
    INVISIBLE_RELEASE_AFTER,
    AccessAction,
    AccessEvent,
    AccessMode,
    CareRelation,
    CareRelationStatus,
    DmpExport,
    EmergencyAccess,
    Entry,
    EntryUserObjectPermission,
    LastLook,
    Listed,
    Mandate,
    Notification,
    NotificationKind,
    NotificationPreference,
    NotifiedAccesses,
    ProfessionDocumentRule,
)
from records.reference import document_type_choices
from records.trail import record_access

VIEW_DMP = "identity.view_patient"
VIEW_ENTRY = "records.view_entry"

# hidden_from_patient compares the deposit with now() minus this delay: a kept statement puts
# the difference back at each call (identity.prepared).
prepared.delay(INVISIBLE_RELEASE_AFTER)


# --- Scope: DMPs ---------------------------------------------------------------------------


def _dmp_grant(user: User, patient_ref: str = "pk") -> Exists:
    """The DMP-level ``view_patient`` row of ``user`` on the outer patient, as an EXISTS.

    Guardian keeps the rows (written with ``assign_perm`` / ``remove_perm`` below); the read
    probes its direct foreign-key table by its unique (user, permission, object) index.
    Guardian's ``get_objects_for_user`` also looks at group rows through a text cast of the
    primary key, which no index serves: measured at 100 000 patients it scanned them all on
    every request (bench/bench_access.py). Being superuser or holding a model-wide permission
    grants nothing here, as with ``with_superuser=False, accept_global_perms=False``.
    """
    return Exists(
        PatientUserObjectPermission.objects.filter(
            user=user,
            content_object=OuterRef(patient_ref),
            permission__codename="view_patient",
            # The content type by id (Django caches it): joining on its app label made
            # PostgreSQL rescan the user's grants once per content type of the app.
            permission__content_type_id=ContentType.objects.get_for_model(Patient).pk,
        )
    )


def _active_emergencies(user: User) -> QuerySet[EmergencyAccess]:
    return EmergencyAccess.objects.filter(professional__user=user, expires_at__gt=prepared.now())


def _how_held(user: User, patient_ref: str = "pk", prefix: str = "") -> dict[str, Any]:
    """How a verified professional holds the DMP at ``OuterRef(patient_ref)``, as three
    annotations (``prefix`` reaches the patient's fields from the queried model)."""
    emergencies = _active_emergencies(user).filter(patient=OuterRef(patient_ref))
    # The professional's id, not a join on their user: the join read every professional.
    traitant = {f"{prefix}medecin_traitant_id": user.professional.pk}
    normal = Q(_dmp_grant(user, patient_ref)) | Q(**traitant)
    return {
        "_normal": ExpressionWrapper(normal, output_field=BooleanField()),
        "_first_access_pending": Exists(
            CareRelation.objects.filter(
                patient=OuterRef(patient_ref),
                professional__user=user,
                status=CareRelationStatus.AUTHORISED,
                first_access_at__isnull=True,
            )
        ),
        # The patient asked to hear of every access by a professional: known without a query.
        "_notify_every": Exists(
            NotificationPreference.objects.filter(
                user__patient=OuterRef(patient_ref), accesses=NotifiedAccesses.EVERY
            )
        ),
        "_emergency_mode": Subquery(emergencies.order_by("-expires_at").values("mode")[:1]),
        # The matrix row of the user's profession, in the same statement: deciding what they
        # may deposit costs no query of its own.
        "_denied_types": Subquery(
            _denied_types(user.professional.profession)
            .values("profession")
            .annotate(codes=StringAgg("document_type", delimiter=Value(",")))
            .values("codes")[:1]
        ),
    }


def patients_for(user: User | AnonymousUser) -> QuerySet[Patient]:
    """The DMPs ``user`` may open, as a queryset (empty for anyone without clinical access).

    For a professional each row carries the annotations of ``_how_held``, read only by this
    module to build the ``DmpAccess`` that every fetch returns (no extra query).
    """
    patients = _patients_in_scope(user)
    if user.is_authenticated and getattr(user, "is_verified_professional", False):
        patients = patients.annotate(**_how_held(user))
    elif user.is_authenticated and user.is_patient:
        patients = patients.annotate(**_mandate_held(user))
    return patients


# --- Who speaks for a patient (records.mandates) ----------------------------------------------


def _mandates_of(user: User) -> QuerySet[Mandate]:
    """The mandates ``user`` holds today (representative, tutor, proxy)."""
    return Mandate.objects.active(prepared.today()).filter(holder=user)


def _mandate_held(user: User, patient_ref: str = "pk") -> dict[str, Any]:
    """How ``user`` speaks for the patient at ``OuterRef(patient_ref)`` (the widest of their
    mandates there), as annotations; None when they hold none."""
    held = _mandates_of(user).filter(patient=OuterRef(patient_ref)).order_by("read_only", "kinds")
    return {
        "_mandate_kind": Subquery(held.values("kind")[:1]),
        "_mandate_read_only": Subquery(held.values("read_only")[:1]),
        "_mandate_kinds": Subquery(held.values("kinds")[:1]),
    }


def _on_behalf(patient: Patient, row: models.Model) -> DmpAccess:
    kind = _annotation(row, "_mandate_kind")
    if not kind:  # the mandate ended between two subqueries: no access
        raise Http404("No such DMP")
    return DmpAccess(
        patient=patient,
        mode=AccessMode.ON_BEHALF,
        mandate_kind=kind,
        read_only=bool(_annotation(row, "_mandate_read_only")),
        kinds=frozenset(k for k in (_annotation(row, "_mandate_kinds") or "").split(",") if k),
    )


def represented_by(user: User | AnonymousUser) -> QuerySet[Patient]:
    """The open DMPs ``user`` speaks for today (not their own), for their chooser."""
    if not user.is_authenticated or not user.is_active or not user.is_patient:
        return Patient.objects.none()
    return (
        Patient.objects.open()
        .filter(Exists(_mandates_of(user).filter(patient=OuterRef("pk"))))
        .exclude(user=user)
        .annotate(**_mandate_held(user))
    )


def may_act_for(user: User, patient: Patient) -> bool:
    """Whether ``user`` acts on ``patient``'s DMP as the patient does (authorise, block,
    mask): the patient, or a representative, tutor or acting proxy. A query only for others."""
    if patient.user_id is not None and patient.user_id == user.pk:
        return True
    return _mandates_of(user).filter(patient=patient, read_only=False).exists()


def mandates_on(dmp: DmpAccess) -> QuerySet[Mandate]:
    """Who speaks for this DMP (all, ended ones too, newest first): for the patient
    themself and for a professional in normal access; AccessDenied for anyone else."""
    if dmp.mode not in (AccessMode.PATIENT, AccessMode.NORMAL):
        raise AccessDenied("only the patient and their professionals see who speaks for them")
    return (
        Mandate.objects.filter(patient=dmp.patient)
        .select_related("holder", "granted_by")
        .order_by("ended_at", "-granted_at")
    )


def mandate_for(user: User, public_id: uuid.UUID | str) -> Mandate:
    """A mandate its patient or its holder may end; Http404 otherwise (same answer)."""
    try:
        return (
            Mandate.objects.select_related("patient", "holder")
            .filter(Q(patient__user=user) | Q(holder=user))
            .get(public_id=public_id)
        )
    except (Mandate.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such mandate") from None


def _kept_from_representatives() -> Q:
    return Q(secret=True) | Q(hidden_from_representatives=True)


def _patients_in_scope(user: User | AnonymousUser) -> QuerySet[Patient]:
    """``patients_for`` without the annotations: what a scope test (``Exists``) needs. Their
    subqueries are not selected by an ``Exists``, but building them cost about a fifth of a
    timeline request's Python time."""
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    if user.is_patient:
        represented = Q(Exists(_mandates_of(user).filter(patient=OuterRef("pk"))))
        return Patient.objects.filter(
            Q(user=user) | (represented & Q(dmp_status=DmpStatus.OPEN))
        ).exclude(dmp_status=DmpStatus.PURGED)
    if not user.is_verified_professional:
        return Patient.objects.none()
    blocked = Exists(
        CareRelation.objects.filter(
            patient=OuterRef("pk"), professional__user=user, status=CareRelationStatus.BLOCKED
        )
    )
    traitant = Q(medecin_traitant_id=user.professional.pk)  # a column, not a join per row
    normal = Q(_dmp_grant(user)) | traitant
    emergency = Q(Exists(_active_emergencies(user).filter(patient=OuterRef("pk"))))
    return Patient.objects.open().filter(normal | emergency).exclude(Q(blocked) & ~traitant)


def my_patients(user: User, *, among: QuerySet[Any, Any] | None = None) -> QuerySet[Patient]:
    """The DMPs a verified professional may read now, for their "Mes patients" list: each row
    annotated with ``last_access`` (when they last looked at it, ``records.looks.LastLook``:
    the newest ``LOOKED_AT_THE_DMP`` event of the trail by them on that DMP, None if never),
    ``relation_reason`` (their authorisation, if any) and the annotations of ``patients_for``
    (read by ``how_listed``). Empty for anyone else.

    ``among``: only these (a page's keys, chosen by walking ``my_listed`` or ``my_looks``)."""
    if not getattr(user, "is_verified_professional", False):
        return Patient.objects.none()
    patients = patients_for(user).annotate(
        look=FilteredRelation("last_looks", condition=Q(last_looks__user=user))
    )
    patients = patients.annotate(
        last_access=F("look__at"),
        relation_reason=Subquery(
            CareRelation.objects.filter(
                patient=OuterRef("pk"),
                professional__user=user,
                status=CareRelationStatus.AUTHORISED,
            ).values("reason")[:1]
        ),
    )
    # Started from the user's own rows (or the page's), not from every DMP: the rules of
    # patients_for then apply to these only.
    rows: QuerySet[Any, Any] = _held(user) if among is None else among
    return patients.filter(pk__in=rows)


def my_looks(user: User) -> QuerySet[LastLook]:
    """The user's ``LastLook`` rows on the DMPs of ``my_patients``, for walking them by date
    (newest first: the index (user, -at), each row checked as the walk reaches it)."""
    if not getattr(user, "is_verified_professional", False):
        return LastLook.objects.none()
    in_scope = _patients_in_scope(user).filter(pk=OuterRef("patient_id"))
    rows = LastLook.objects.filter(user=user).alias(_in_scope=Subquery(in_scope.values("pk")[:1]))
    return rows.filter(_in_scope__isnull=False)  # asked per row: see my_listed


def my_listed(user: User) -> QuerySet[Listed]:
    """The user's ``Listed`` rows on the DMPs of ``my_patients``, for walking them by name
    (the index (user, name_key): each row checked as the walk reaches it, a page's worth and
    no more, however many DMPs the user holds)."""
    if not getattr(user, "is_verified_professional", False):
        return Listed.objects.none()
    in_scope = _patients_in_scope(user).filter(pk=OuterRef("patient_id"))
    rows = Listed.objects.filter(user=user).alias(_in_scope=Subquery(in_scope.values("pk")[:1]))
    return rows.filter(_in_scope__isnull=False)  # asked per row: see below


def my_listed_unseen(user: User) -> QuerySet[Listed]:
    """``my_listed`` without the DMPs the user ever looked at ("Mes patients" by last access
    lists them before or after the others, by name)."""
    looked = LastLook.objects.filter(user=user, patient=OuterRef("patient_id"))
    return my_listed(user).exclude(Exists(looked))


# Why a scalar subquery IS NOT NULL rather than EXISTS, for a walk in index order that stops
# after a page (my_listed): PostgreSQL turns ``WHERE EXISTS`` into a semi-join or a hashed
# subplan, which computes the whole scope first (the 5 000 DMPs of a heavy professional, a
# scan of the patients), then sorts. A scalar subquery it can do neither with: each row is
# probed by primary key as the walk reaches it. And ``IS NOT NULL`` of an expression is
# estimated true for 99.5 % of rows (``= (subquery)`` for 0.5 %, which made the planner
# expect to walk every row, and compile the query with JIT: 250 ms).


def _held(user: User) -> QuerySet[Any]:
    """The ids of the DMPs the user holds by a row of their own: grants, médecin traitant,
    active emergencies."""
    return (
        PatientUserObjectPermission.objects.filter(
            user=user,
            permission__codename="view_patient",
            permission__content_type_id=ContentType.objects.get_for_model(Patient).pk,
        )
        .values("content_object_id")
        .union(
            Patient.objects.filter(medecin_traitant_id=user.professional.pk).values("pk"),
            _active_emergencies(user).values("patient_id"),
            all=True,  # IN ignores repeats: no need to remove them first
        )
    )


def how_listed(user: User, patient: Patient) -> DmpAccess:
    """The ``DmpAccess`` of a row of ``my_patients`` (no query)."""
    return _access_of(user, patient)


@dataclass(frozen=True)
class DmpAccess:
    """One DMP as a user holds it: the patient row and what this user may do with it.

    Returned by every fetch of the funnel (``dmp_for``, ``own_dmp``, ``dmp_access``,
    ``entry_for``): views and services ask it once and never re-ask the rules.
    """

    patient: Patient
    mode: str  # AccessMode: patient, normal, emergency or samu
    first_access_pending: bool = False
    denied_types: frozenset[str] = frozenset()  # the profession × type matrix's refusals
    notify_every_access: bool = False  # the patient wants to hear of every visit
    mandate_kind: str = ""  # ON_BEHALF: representative, tutor or proxy (records.mandates)
    read_only: bool = False  # ON_BEHALF: a read-only proxy
    kinds: frozenset[str] = frozenset()  # ON_BEHALF: a proxy's entry kinds (empty: all)
    # The user whose scope a query of this module decided (None: built from no such query).
    # ``entries_for`` given this DmpAccess by that same user does not decide it again.
    holder_id: int | None = None

    @property
    def is_patient(self) -> bool:
        """The patient's side of the DMP: the patient, or someone speaking for them."""
        return self.mode in (AccessMode.PATIENT, AccessMode.ON_BEHALF)

    @property
    def on_behalf(self) -> bool:
        """Someone else than the patient speaks for them (``records.mandates``)."""
        return self.mode == AccessMode.ON_BEHALF

    @property
    def may_act(self) -> bool:
        """Authorise, block, mask: the patient, a representative, an acting proxy."""
        return self.mode == AccessMode.PATIENT or (self.on_behalf and not self.read_only)

    @property
    def is_emergency(self) -> bool:
        return self.mode in (AccessMode.EMERGENCY, AccessMode.SAMU)

    @property
    def may_deposit(self) -> bool:
        """The deposit rule, written once: a verified professional (the only ones holding a
        professional mode) in normal access to an open DMP. An emergency access reads, it does
        not deposit; the patient reads their DMP and manages it, they do not deposit."""
        return self.mode == AccessMode.NORMAL and self.patient.is_open

    def may_deposit_type(self, document_type: str) -> bool:
        """``may_deposit`` for one document type: a professional deposits only what the
        profession × type matrix lets them read (as the DMP does)."""
        return self.may_deposit and document_type not in self.denied_types

    def deposit_types(self) -> frozenset[str]:
        """The document types this user may deposit here (empty without ``may_deposit``)."""
        if not self.may_deposit:
            return frozenset()
        return frozenset(
            code for code, _label in document_type_choices() if code not in self.denied_types
        )

    def require_deposit(self, document_type: str | None = None) -> None:
        """Raise ``AccessDenied`` unless this user may deposit (a document of this type)."""
        if not self.may_deposit:
            raise AccessDenied(
                "normal access to an open DMP is needed to deposit",
                reason=EMERGENCY_READ_ONLY if self.is_emergency else "",
            )
        if document_type is not None and not self.may_deposit_type(document_type):
            raise AccessDenied(
                "the profession may not read, hence not deposit, this type",
                reason=TYPE_NOT_ALLOWED,
            )


def _denied_types(profession: str) -> QuerySet[ProfessionDocumentRule]:
    return ProfessionDocumentRule.objects.filter(profession=profession)


def _annotation(row: models.Model, name: str) -> Any:
    """An annotation put by this module's own query. Absent is a bug, never an answer: no
    default that would let an unscoped row pass for a normal one."""
    return row.__dict__[name]


def _professional_access(
    patient: Patient,
    *,
    holder: User,
    normal: bool,
    emergency_mode: str | None,
    pending: bool,
    denied: str | None,
    every: bool = False,
) -> DmpAccess:
    mode: str
    if normal:
        mode = AccessMode.NORMAL
    elif emergency_mode:
        mode = emergency_mode
    else:  # neither rule holds (e.g. the emergency expired between two subqueries): no access
        raise Http404("No such DMP")
    return DmpAccess(
        patient=patient,
        mode=mode,
        first_access_pending=bool(pending) and mode == AccessMode.NORMAL,
        denied_types=frozenset(denied.split(",")) if denied else frozenset(),
        notify_every_access=bool(every),
        holder_id=holder.pk,
    )


def _access_of(user: User, patient: Patient) -> DmpAccess:
    """The DmpAccess of a row fetched through ``patients_for``."""
    if user.is_patient:
        if patient.user_id is not None and patient.user_id == user.pk:
            return DmpAccess(patient=patient, mode=AccessMode.PATIENT)
        return _on_behalf(patient, patient)
    return _professional_access(
        patient,
        holder=user,
        normal=_annotation(patient, "_normal"),
        emergency_mode=_annotation(patient, "_emergency_mode"),
        pending=_annotation(patient, "_first_access_pending"),
        denied=_annotation(patient, "_denied_types"),
        every=_annotation(patient, "_notify_every"),
    )


def _asker(user: User | AnonymousUser) -> tuple[Any, ...] | None:
    """Everything the funnel's one-statement fetches read of ``user``: the key of their kept
    statements (``identity.prepared``). None for anyone without clinical access."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_patient:
        return ("patient", user.pk)
    if not user.is_verified_professional:
        return None
    return ("professional", user.pk, user.professional.pk, user.professional.profession)


def _public_id(public_id: uuid.UUID | str) -> uuid.UUID:
    """A public id as its field reads it; Http404 for a malformed one (as for a missing one)."""
    try:
        value = models.UUIDField().to_python(public_id)
    except (ValidationError, ValueError, TypeError):
        raise Http404("No such object") from None
    if not isinstance(value, uuid.UUID):
        raise Http404("No such object")
    return value


def dmp_for(user: User, public_id: uuid.UUID | str) -> DmpAccess:
    """One DMP in ``user``'s scope by public id, with what they may do (one query).

    Http404 when missing *or* out of scope (the same answer).
    """
    asker = _asker(user)
    wanted = _public_id(public_id)
    if asker is None:
        raise Http404("No such DMP")
    found = prepared.fetch(
        ("dmp_for", *asker),
        lambda values: (
            patients_for(user)
            .select_related("medecin_traitant__user")
            .filter(public_id=values["id"])[:1]
        ),
        {"id": wanted},
    )
    if not found:
        raise Http404("No such DMP")
    return _access_of(user, found[0])


def own_dmp(user: User | AnonymousUser) -> DmpAccess:
    """The logged-in patient's own DMP (any state but purged); Http404 otherwise.

    While the user acts for someone they represent (``user.acting_for``, the public id
    chosen on the family page, set from the session by ``records.family``), the patient
    pages get that DMP instead, in mode ON_BEHALF: the same pages, narrowed by the funnel.
    """
    if not user.is_authenticated or not user.is_patient:
        raise Http404("No such DMP")
    acting = getattr(user, "acting_for", None)
    if acting:
        held = dmp_for(user, acting)
        if not held.on_behalf:
            raise Http404("No such DMP")
        return held
    patient = (
        _patients_in_scope(user).filter(user=user).select_related("medecin_traitant__user").first()
    )
    if patient is None:
        raise Http404("No such DMP")
    return DmpAccess(patient=patient, mode=AccessMode.PATIENT)


def dmp_access(user: User, patient: Patient) -> DmpAccess | None:
    """How ``user`` holds a patient row obtained elsewhere (a service's argument): one query;
    None when the DMP is out of their scope."""
    scoped = patients_for(user).filter(pk=patient.pk).first()
    if scoped is None:
        return None
    try:
        return _access_of(user, scoped)
    except Http404:
        return None


@dataclass(frozen=True)
class DmpLookup:
    """A professional's search for a DMP by INS-C: what exists, whether they may read it."""

    state: str  # none, closed, readable, blocked, no_access
    patient: Patient | None = None
    access: DmpAccess | None = None


_LOOKUP_DETAIL = {
    "readable": "",
    "closed": "DMP fermé",
    "blocked": "professionnel bloqué par le patient",
    "no_access": "sans autorisation",
}


def dmp_lookup(
    user: User, insc: str, *, request: HttpRequest | None = None, purpose: str = ""
) -> DmpLookup:
    """Find a DMP by INS-C for a verified professional, whether or not they may read it yet
    (search, reopening with consent, attested consent, emergency access).

    Always traced: telling a professional that a DMP exists (open, closed, or without access)
    is itself an access to patient data, which the patient sees in their history. A purged
    DMP is a tombstone: "none". Raises ``AccessDenied`` for anyone but a verified professional.
    """
    if not getattr(user, "is_verified_professional", False):
        raise AccessDenied("only verified professionals look DMPs up")
    patient = (
        Patient.objects.filter(insc=insc)
        .exclude(dmp_status=DmpStatus.PURGED)
        .select_related("medecin_traitant__user")
        .first()
    )
    if patient is None:
        return DmpLookup(state="none")
    held = dmp_access(user, patient) if patient.is_open else None
    if patient.dmp_status == DmpStatus.CLOSED:
        state = "closed"
    elif held is not None:
        state = "readable"
    elif CareRelation.objects.filter(
        patient=patient, professional__user=user, status=CareRelationStatus.BLOCKED
    ).exists():
        state = "blocked"  # told before any consent or emergency form is offered
    else:
        state = "no_access"
    detail = " — ".join(part for part in (_LOOKUP_DETAIL[state], purpose) if part)
    record_access(
        actor=user,
        patient=patient,
        action=AccessAction.DMP_SEARCH_HIT,
        detail=detail,
        request=request,
    )
    return DmpLookup(state=state, patient=patient, access=held)


# --- Scope: entries ------------------------------------------------------------------------


def _scope_decided(user: User | AnonymousUser, dmp: DmpAccess) -> bool:
    """Whether ``dmp`` is a professional's hold on a DMP that this module's own query decided
    for ``user`` (``dmp_for``, ``entry_for``, ``dmp_access``, ``how_listed``)."""
    return (
        dmp.holder_id is not None
        and dmp.holder_id == user.pk
        and dmp.mode in (AccessMode.NORMAL, AccessMode.EMERGENCY, AccessMode.SAMU)
    )


def _entry_scope(
    user: User | AnonymousUser,
    patient: Patient | DmpAccess | None = None,
    among: list[int] | None = None,
) -> Q | None:
    """The rules as one filter on Entry for ``user``; None when they may see nothing."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_patient:
        if isinstance(patient, DmpAccess):
            patient = patient.patient
        hidden = Entry.objects.hidden_from_patient(prepared.now()).values("pk")
        own = Q(patient__user=user, patient__dmp_status=DmpStatus.OPEN)
        # Someone speaking for the patient: their mandate's kinds, never what is kept from
        # the representatives (flagged, or secret: CSP L1111-5).
        mandate = _mandates_of(user).filter(
            Q(kinds="") | Q(kinds__contains=Concat(Value(","), OuterRef("kind"), Value(","))),
            patient=OuterRef("patient_id"),
        )
        represented = (
            Q(Exists(mandate), patient__dmp_status=DmpStatus.OPEN) & ~_kept_from_representatives()
        )
        return (own | represented) & ~Q(pk__in=hidden)
    if not user.is_verified_professional:
        return None
    denied_types = ProfessionDocumentRule.objects.filter(
        profession=user.professional.profession
    ).values("document_type")
    masked_grant = Exists(
        EntryUserObjectPermission.objects.filter(
            user=user,
            content_object=OuterRef("pk"),
            permission__codename="view_entry",
            permission__content_type__app_label="records",
        )
    )
    if isinstance(patient, DmpAccess):
        if _scope_decided(user, patient):
            # dmp_for / entry_for decided, in this request, that this DMP is in the user's
            # scope and which types their profession may not read: not asked again.
            readable = ~Q(document_type__in=sorted(patient.denied_types))
            return (readable if patient.denied_types else Q()) & (Q(masked=False) | Q(masked_grant))
        patient = patient.patient
    if patient is not None:  # one DMP: the scope is decided once per query, not per entry
        in_scope = Q(Exists(_patients_in_scope(user).filter(pk=patient.pk)))
    else:
        dmps = _patients_in_scope(user).filter(pk=OuterRef("patient_id"))
        if among is not None:  # a few DMPs: PostgreSQL would otherwise read the whole scope
            dmps = dmps.filter(pk__in=among)
        in_scope = Q(Exists(dmps))
    return in_scope & ~Q(document_type__in=denied_types) & (Q(masked=False) | Q(masked_grant))


def entries_for(
    user: User | AnonymousUser,
    patient: Patient | DmpAccess | None = None,
    *,
    among: list[int] | None = None,
) -> QuerySet[Entry]:
    """The entries ``user`` may read (of ``patient`` when given, or of the DMPs whose ids are
    ``among``: a page of "Mes patients"), as one query.

    Given the ``DmpAccess`` that ``dmp_for`` / ``entry_for`` returned to this same user, the
    DMP's scope (open, granted, not blocked; the profession's refused types) is the one these
    decided in this request, not built and asked again: the same rows, a cheaper query."""
    scope = _entry_scope(user, patient, among)
    if scope is None:
        return Entry.objects.none()
    entries = Entry.objects.filter(scope)
    if isinstance(patient, DmpAccess):
        patient = patient.patient
    if patient is not None:
        entries = entries.filter(patient=patient)
    if among is not None:
        entries = entries.filter(patient__in=among)
    return entries


def kept(
    user: User,
    shape: tuple[Hashable, ...],
    build: Callable[[prepared.Values], QuerySet[Any]],
    values: prepared.Values,
) -> list[Any]:
    """``build(values)``, a queryset made of this module's functions for ``user`` (rows or
    ``values()`` dicts), evaluated through a kept statement (``identity.prepared``): ``shape``
    names what ``build`` fixes (an order, a slice, a count of ids), ``values`` its ids and
    dates."""
    asker = _asker(user)
    if asker is None:  # no clinical access: this module's querysets are empty
        return list(build(values))
    return prepared.fetch((shape, *asker), build, values)


def entries_kept(
    user: User,
    dmp: DmpAccess,
    shape: tuple[Hashable, ...],
    refine: Callable[[QuerySet[Entry], prepared.Values], QuerySet[Entry]],
    values: prepared.Values,
) -> list[Entry]:
    """``refine(entries_for(user, dmp), values)``, evaluated through a kept statement: a page
    of the timeline, whose order, slice and fixed filters ``shape`` names, and whose dates
    are ``values``."""
    held = (dmp.mode, _scope_decided(user, dmp), tuple(sorted(dmp.denied_types)))

    def build(values: prepared.Values) -> QuerySet[Entry]:
        patient = Patient(pk=values["patient"])  # only its id is read (a kept statement's mark)
        return refine(entries_for(user, dataclasses.replace(dmp, patient=patient)), values)

    return kept(user, ("entries", shape, held), build, {**values, "patient": dmp.patient.pk})


def entry_for(
    user: User, public_id: uuid.UUID | str, *, related: tuple[str, ...] = ()
) -> tuple[Entry, DmpAccess]:
    """One entry in ``user``'s scope and how they hold its DMP, in one query (``related``
    names the kind rows to join). Http404 when missing *or* forbidden (the same answer)."""
    asker = _asker(user)
    wanted = _public_id(public_id)
    if asker is None:
        raise Http404("No such entry")
    professional = asker[0] == "professional"

    def build(values: prepared.Values) -> QuerySet[Entry]:
        entries = entries_for(user).select_related(
            "patient__medecin_traitant__user", "author__user", *related
        )
        if professional:
            # How the DMP is held, computed in the same statement as the entry (the entry's
            # scope already requires the DMP to be in the professional's scope).
            entries = entries.annotate(**_how_held(user, "patient_id", "patient__"))
        else:
            entries = entries.annotate(**_mandate_held(user, "patient_id"))
        return entries.filter(public_id=values["id"])[:1]

    found = prepared.fetch(("entry_for", related, *asker), build, {"id": wanted})
    if not found:
        raise Http404("No such entry")
    entry = found[0]
    if not professional:  # the patient's own entries, or those of a DMP they speak for
        if entry.patient.user_id == user.pk:
            return entry, DmpAccess(patient=entry.patient, mode=AccessMode.PATIENT)
        return entry, _on_behalf(entry.patient, entry)
    return entry, _professional_access(
        entry.patient,
        holder=user,
        normal=_annotation(entry, "_normal"),
        emergency_mode=_annotation(entry, "_emergency_mode"),
        pending=_annotation(entry, "_first_access_pending"),
        denied=_annotation(entry, "_denied_types"),
        every=_annotation(entry, "_notify_every"),
    )


def allergies_for(user: Any, patient: Patient | DmpAccess) -> QuerySet[Allergy]:
    """The allergy rows of ``patient`` that ``user`` may read: those of entries in scope."""
    return Allergy.objects.filter(entry__in=entries_for(user, patient))


def observations_for(user: Any, patient: Patient | DmpAccess) -> QuerySet[Observation]:
    """The lab results of ``patient`` that ``user`` may read: those of lab reports in scope
    (a masked or invisible report hides its values, from trends too)."""
    return Observation.objects.filter(lab_report__entry__in=entries_for(user, patient))


@dataclass(frozen=True)
class Viewer:
    """One professional who can see an entry, and the rule that grants it."""

    professional: Professional
    reason: str | Promise  # in the active language when shown
    until: datetime.datetime | None = None


def who_can_see(entry: Entry) -> list[Viewer]:
    """For the patient: every professional who can read ``entry`` now, with the rule that
    grants it — the same rules as ``entries_for``, in three queries whatever the number of
    professionals (relations with their grant, active emergencies, the matrix column)."""
    patient = entry.patient
    if not patient.is_open:
        return []
    relations = list(
        CareRelation.objects.filter(patient=patient)
        .select_related("professional__user")
        .annotate(
            has_grant=Exists(
                PatientUserObjectPermission.objects.filter(
                    user=OuterRef("professional__user"),
                    content_object=patient,
                    permission__codename="view_patient",
                )
            )
        )
    )
    blocked = {r.professional_id for r in relations if r.status == CareRelationStatus.BLOCKED} - {
        patient.medecin_traitant_id
    }
    candidates: list[Viewer] = []
    if patient.medecin_traitant is not None:
        candidates.append(Viewer(patient.medecin_traitant, _("médecin traitant")))
    if entry.masked:
        if entry.author is not None:
            candidates.append(Viewer(entry.author, _("auteur du document")))
    else:
        candidates += [
            Viewer(r.professional, r.get_reason_display())
            for r in relations
            if r.status == CareRelationStatus.AUTHORISED and r.has_grant
        ]
        candidates += [
            Viewer(emergency.professional, _("accès en urgence"), emergency.expires_at)
            for emergency in EmergencyAccess.objects.filter(
                patient=patient, expires_at__gt=timezone.now()
            ).select_related("professional__user")
        ]
    denied = set(
        ProfessionDocumentRule.objects.filter(document_type=entry.document_type).values_list(
            "profession", flat=True
        )
    )
    viewers: dict[int, Viewer] = {}
    for viewer in candidates:
        professional = viewer.professional
        if (
            professional.pk not in viewers
            and professional.pk not in blocked
            and professional.profession not in denied
            and professional.is_verified
        ):
            viewers[professional.pk] = viewer
    return sorted(viewers.values(), key=lambda v: v.professional.user.last_name)


# --- The patient's own view of their DMP -----------------------------------------------------


@dataclass(frozen=True)
class CareTeam:
    """Everyone with a relation to a DMP, grouped, as the patient's access page shows them."""

    authorised: list[CareRelation]
    blocked: list[CareRelation]
    revoked: list[CareRelation]
    emergencies: list[EmergencyAccess]


def care_team(dmp: DmpAccess) -> CareTeam:
    """The DMP's care relations and active emergency accesses, for its patient only, in two
    queries whatever their number. AccessDenied for anyone else."""
    if not dmp.is_patient:
        raise AccessDenied("only the patient sees their care team")
    patient = dmp.patient
    relations = list(
        CareRelation.objects.filter(patient=patient)
        .select_related("professional__user")
        .order_by("professional__user__last_name")
    )
    emergencies = list(
        EmergencyAccess.objects.filter(patient=patient, expires_at__gt=timezone.now())
        .select_related("professional__user")
        .order_by("-expires_at")
    )
    return CareTeam(
        authorised=[r for r in relations if r.status == CareRelationStatus.AUTHORISED],
        blocked=[r for r in relations if r.status == CareRelationStatus.BLOCKED],
        revoked=[
            r
            for r in relations
            if r.status == CareRelationStatus.REVOKED
            and r.professional_id != patient.medecin_traitant_id
        ],
        emergencies=emergencies,
    )


def history_of(dmp: DmpAccess) -> QuerySet[AccessEvent]:
    """The DMP's access history (newest first), for its patient only (and who speaks for them:
    without the traces of entries kept from them, and for a proxy, of entries outside its
    kinds). AccessDenied for anyone else: professionals and administrators do not browse the
    trail."""
    if not dmp.is_patient:
        raise AccessDenied("only the patient reads their access history")
    events = AccessEvent.objects.filter(patient=dmp.patient)
    if dmp.on_behalf:  # the traces of what is kept from them are kept from them too
        kept = _kept_from_representatives()
        if dmp.kinds:  # a proxy: the traces of entries of its kinds only
            kept |= ~Q(kind__in=dmp.kinds)
        hidden = Entry.objects.filter(kept, patient=dmp.patient)
        events = events.exclude(entry_public_id__in=hidden.values("public_id"))
    return events.order_by("-at", "-id")


def notifications_for(
    user: User | AnonymousUser, dmp: DmpAccess | None = None
) -> QuerySet[Notification]:
    """The notifications ``user`` reads (newest first); none for the anonymous: those addressed
    to them, or, acting for someone (``dmp`` in mode ON_BEHALF), that person's, minus what is
    kept from the one acting: notices about entries secret or invisible to the representatives
    (never a trace of them), outside a proxy's kinds, and archives only their requester opens.
    """
    if not user.is_authenticated:
        return Notification.objects.none()
    if dmp is not None and dmp.on_behalf:
        if dmp.patient.user_id is None:  # no account: nobody was ever notified
            return Notification.objects.none()
        theirs = (
            Notification.objects.filter(recipient_id=dmp.patient.user_id, patient=dmp.patient)
            .exclude(Q(entry__secret=True) | Q(entry__hidden_from_representatives=True))
            .exclude(kind=NotificationKind.EXPORT_READY)
        )
        if dmp.kinds:
            theirs = theirs.filter(Q(entry__isnull=True) | Q(entry__kind__in=dmp.kinds))
        return theirs.order_by("-created_at")
    # A notice about an entry kept from the representatives reaches the patient only.
    kept = Q(entry__secret=True) | Q(entry__hidden_from_representatives=True)
    return (
        Notification.objects.filter(recipient_id=user.pk)
        .exclude(kept & ~Q(patient__user_id=user.pk))
        .order_by("-created_at")
    )


def entries_seen_by_patient(patient: Patient) -> QuerySet[Entry]:
    """What ``patient`` sees of their DMP, whoever asks for it ("Télécharger mon DMP", which a
    professional may prepare for the patient): the patient's own scope when they have an
    account, the same rule (all but what is still hidden from them) otherwise."""
    if patient.user_id is not None and patient.user is not None:
        return entries_for(patient.user, patient)
    hidden = Entry.objects.hidden_from_patient(timezone.now()).values("pk")
    return Entry.objects.filter(patient=patient, patient__dmp_status=DmpStatus.OPEN).exclude(
        pk__in=hidden
    )


def exports_for(user: User | AnonymousUser) -> QuerySet[DmpExport]:
    """The archives ``user`` asked for, of DMPs still in their scope (newest first)."""
    if not user.is_authenticated:
        return DmpExport.objects.none()
    return DmpExport.objects.filter(
        requested_by_id=user.pk, patient__in=patients_for(user)
    ).order_by("-created_at", "-id")


def export_for(user: User | AnonymousUser, public_id: uuid.UUID | str) -> DmpExport:
    """One archive ``user`` asked for; Http404 when missing, someone else's, or of a DMP no
    longer in their scope (the same answer)."""
    try:
        return exports_for(user).select_related("patient").get(public_id=public_id)
    except (DmpExport.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such export") from None


# --- Grants (called only from services, which record the event) ------------------------------


def dmp_grant(*, patient: Patient, user: User) -> None:
    """Give ``user`` (a professional's account) DMP-level read access: one row, O(1), and
    the DMP in their "Mes patients" (``dmp_list``)."""
    assign_perm(VIEW_DMP, user, patient)
    dmp_list(patient=patient, user=user)


def dmp_list(*, patient: Patient, user: User) -> None:
    """Put the DMP in ``user``'s "Mes patients" under its name (``records.looks.Listed``):
    with every grant, and when they become its médecin traitant or enter in emergency. One
    upsert; it lists, it grants nothing (``my_listed`` keeps what the rules allow)."""
    names = {
        "birth_name": patient.birth_name,
        "used_name": patient.used_name,
        "first_names": patient.first_names,
    }
    row = Listed(
        user=user,
        patient=patient,
        name_key=name_key(**names),
        first_names_key=first_names_key(**names),
    )
    Listed.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["user", "patient"],
        update_fields=["name_key", "first_names_key"],
    )


def dmp_revoke(*, patient: Patient, user: User) -> None:
    """Withdraw the DMP-level grant (the médecin traitant keeps access through that role),
    and the DMP from their "Mes patients" unless they hold it otherwise (médecin traitant,
    emergency): revoked rows would be walked and skipped on every page."""
    remove_perm(VIEW_DMP, user, patient)
    Listed.objects.filter(user=user, patient=patient).exclude(
        patient__medecin_traitant__user=user
    ).exclude(Exists(_active_emergencies(user).filter(patient=OuterRef("patient_id")))).delete()


def dmp_revoke_all(*, patient: Patient) -> dict[str, int]:
    """Drop every DMP-level and per-entry grant of a DMP being purged; returns how many rows
    went, by model label."""
    _count, dmp_level = PatientUserObjectPermission.objects.filter(content_object=patient).delete()
    _count, per_entry = EntryUserObjectPermission.objects.filter(
        content_object__patient=patient
    ).delete()
    _count, listed = Listed.objects.filter(patient=patient).delete()  # they hold its name
    return {**dmp_level, **per_entry, **listed}


def masked_entry_grant(*, entry: Entry) -> None:
    """A masked entry: per-entry rows for its author and the médecin traitant (at most 2)."""
    EntryUserObjectPermission.objects.filter(content_object=entry).delete()
    users = {entry.author.user if entry.author else None}
    if entry.patient.medecin_traitant is not None:
        users.add(entry.patient.medecin_traitant.user)
    for user in users - {None}:
        assign_perm(VIEW_ENTRY, user, entry)


def masked_entry_revoke(*, entry: Entry) -> None:
    """An unmasked entry needs no per-entry row: the DMP-level rule applies again."""
    EntryUserObjectPermission.objects.filter(content_object=entry).delete()


def masked_entries_resync(*, patient: Patient) -> None:
    """After a change of médecin traitant: O(masked entries of this DMP), never O(DMP)."""
    for entry in Entry.objects.filter(patient=patient, masked=True).select_related(
        "author__user", "patient__medecin_traitant__user"
    ):
        masked_entry_grant(entry=entry)
