"""The one access funnel: who may see which DMP and which entry, and the trail of every access.

This is the only module that imports django-guardian (ruff's banned-api rule keeps it so; the
direct foreign-key permission models sit beside the models they protect). Every queryset of
patient data that a view, form, export or admin page uses comes from here.

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
8. anything out of scope answers 404, exactly like a missing object.

Grants are O(1) rows per (patient, professional), whatever the size of the DMP.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from identity.models import DmpStatus, Patient, PatientUserObjectPermission, User
from records.models import (
    AccessMode,
    CareRelation,
    CareRelationStatus,
    EmergencyAccess,
    Entry,
    EntryUserObjectPermission,
    ProfessionDocumentRule,
)

VIEW_DMP = "identity.view_patient"
VIEW_ENTRY = "records.view_entry"


# --- Scope: DMPs ---------------------------------------------------------------------------


def _dmp_grant(user: Any) -> Exists:
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
            content_object=OuterRef("pk"),
            permission__codename="view_patient",
            permission__content_type__app_label="identity",
        )
    )


def _active_emergencies(user: Any) -> QuerySet[EmergencyAccess]:
    return EmergencyAccess.objects.filter(professional__user=user, expires_at__gt=timezone.now())


def patients_for(user: Any) -> QuerySet[Patient]:
    """The DMPs ``user`` may open, as a queryset (empty for anyone without clinical access).

    For a professional each row carries ``_normal``, ``_emergency_mode`` and
    ``_first_access_pending`` (read by ``access_mode`` and ``read_traced``: no extra query).
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Patient.objects.none()
    if user.is_patient:
        return Patient.objects.filter(user=user).exclude(dmp_status=DmpStatus.PURGED)
    if not user.is_verified_professional:
        return Patient.objects.none()
    emergencies = _active_emergencies(user)
    blocked = Exists(
        CareRelation.objects.filter(
            patient=OuterRef("pk"), professional__user=user, status=CareRelationStatus.BLOCKED
        )
    )
    traitant = Q(medecin_traitant__user=user)
    normal = Q(_dmp_grant(user)) | traitant
    emergency = Q(Exists(emergencies.filter(patient=OuterRef("pk"))))
    return (
        Patient.objects.open()
        .filter(normal | emergency)
        .exclude(Q(blocked) & ~traitant)
        .annotate(
            _normal=ExpressionWrapper(normal, output_field=BooleanField()),
            _first_access_pending=Exists(
                CareRelation.objects.filter(
                    patient=OuterRef("pk"),
                    professional__user=user,
                    status=CareRelationStatus.AUTHORISED,
                    first_access_at__isnull=True,
                )
            ),
            _emergency_mode=Subquery(
                emergencies.filter(patient=OuterRef("pk"))
                .order_by("-expires_at")
                .values("mode")[:1]
            ),
        )
    )


def patient_for(user: Any, public_id: uuid.UUID | str) -> Patient:
    """Fetch one DMP in ``user``'s scope by public id; Http404 when missing *or* forbidden."""
    try:
        return patients_for(user).select_related("medecin_traitant__user").get(public_id=public_id)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise Http404("No such DMP") from None


def own_patient(user: Any) -> Patient:
    """The logged-in patient's own DMP (any state but purged); Http404 otherwise."""
    if not getattr(user, "is_authenticated", False) or not user.is_patient:
        raise Http404("No such DMP")
    patient = patients_for(user).select_related("medecin_traitant__user").first()
    if patient is None:
        raise Http404("No such DMP")
    return patient


def may_read_dmp(user: Any, patient: Patient) -> bool:
    """True when ``patient`` is in ``user``'s scope (one query). Used for a single decision,
    never per row of a list."""
    return patients_for(user).filter(pk=patient.pk).exists()


def access_mode(user: Any, patient: Patient) -> str:
    """How ``user`` holds ``patient``: normal, emergency, samu, or patient. No query when the
    patient was fetched through ``patients_for`` (its annotations say it)."""
    if getattr(user, "is_patient", False):
        return AccessMode.PATIENT
    if not hasattr(patient, "_normal"):
        # Fetched some other way (e.g. through an entry): ask the scoped query (one query)
        # rather than guess "normal" for an emergency reader.
        scoped = patients_for(user).filter(pk=patient.pk).first()
        if scoped is None:
            return AccessMode.NORMAL
        patient = scoped
    if getattr(patient, "_normal", True):
        return AccessMode.NORMAL
    return getattr(patient, "_emergency_mode", None) or AccessMode.EMERGENCY


# --- Scope: entries ------------------------------------------------------------------------


def _entry_scope(user: Any, patient: Patient | None = None) -> Q | None:
    """The rules as one filter on Entry for ``user``; None when they may see nothing."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_patient:
        now = timezone.now()
        hidden = Entry.objects.hidden_from_patient(now).values("pk")
        return Q(patient__user=user, patient__dmp_status=DmpStatus.OPEN) & ~Q(pk__in=hidden)
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
    if patient is not None:  # one DMP: the scope is decided once per query, not per entry
        in_scope = Q(Exists(patients_for(user).filter(pk=patient.pk)))
    else:
        in_scope = Q(Exists(patients_for(user).filter(pk=OuterRef("patient_id"))))
    return in_scope & ~Q(document_type__in=denied_types) & (Q(masked=False) | Q(masked_grant))


def entries_for(user: Any, patient: Patient | None = None) -> QuerySet[Entry]:
    """The entries ``user`` may read (of ``patient`` when given), as one query."""
    scope = _entry_scope(user, patient)
    if scope is None:
        return Entry.objects.none()
    entries = Entry.objects.filter(scope)
    if patient is not None:
        entries = entries.filter(patient=patient)
    return entries


def entry_for(user: Any, public_id: uuid.UUID | str) -> Entry:
    """One entry in ``user``'s scope; Http404 when missing *or* forbidden (same answer)."""
    try:
        return entries_for(user).select_related("patient", "author__user").get(public_id=public_id)
    except (Entry.DoesNotExist, ValueError, TypeError):
        raise Http404("No such entry") from None


@dataclass(frozen=True)
class Viewer:
    """One professional who can see an entry, and the rule that grants it."""

    professional: Any
    reason: str
    until: Any = None


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
        candidates.append(Viewer(patient.medecin_traitant, "médecin traitant"))
    if entry.masked:
        if entry.author is not None:
            candidates.append(Viewer(entry.author, "auteur du document"))
    else:
        candidates += [
            Viewer(r.professional, str(r.get_reason_display()))
            for r in relations
            if r.status == CareRelationStatus.AUTHORISED and r.has_grant
        ]
        candidates += [
            Viewer(emergency.professional, "accès en urgence", emergency.expires_at)
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


# --- Grants (called only from services, which record the event) ------------------------------


def dmp_grant(*, patient: Patient, user: User) -> None:
    """Give ``user`` (a professional's account) DMP-level read access: one row, O(1)."""
    assign_perm(VIEW_DMP, user, patient)


def dmp_revoke(*, patient: Patient, user: User) -> None:
    """Withdraw the DMP-level grant (the médecin traitant keeps access through that role)."""
    remove_perm(VIEW_DMP, user, patient)


def dmp_revoke_all(*, patient: Patient) -> dict[str, int]:
    """Drop every DMP-level and per-entry grant of a DMP being purged; returns how many rows
    went, by model label."""
    _count, dmp_level = PatientUserObjectPermission.objects.filter(content_object=patient).delete()
    _count, per_entry = EntryUserObjectPermission.objects.filter(
        content_object__patient=patient
    ).delete()
    return {**dmp_level, **per_entry}


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
