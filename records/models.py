"""Content of the DMP, who may see it, and its trail.

* ``Entry``: every item of a DMP (lab report, report, allergy, imaging study) with its common
  metadata and visibility flags; the kinds add their own tables pointing at it.
* Who sees what: ``CareRelation`` (authorised / blocked professionals), ``EmergencyAccess``
  (bris de glace, SAMU), ``ProfessionDocumentRule`` (the profession × document-type matrix)
  and guardian's direct foreign-key permission rows (DMP-level grants on
  ``identity.Patient``; per-entry grants only for masked entries).
* The trail: every read and write of patient data leaves an ``AccessEvent``, sealed
  in a Merkle tree (``records/trail.py``).
* ``Notification``: what the patient (or médecin traitant) is told.

Decisions are made in ``records/access.py``; writes in ``records/services/``.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# Guardian's direct foreign-key permission models live next to the model they protect; every
# other use of guardian goes through records/access.py.
from guardian.models import UserObjectPermissionBase  # noqa: TID251

from identity.models import Profession
from records.choices import ChoiceLabels
from records.reference import DOCUMENT_TYPES, document_type_label

INVISIBLE_REMINDER_AFTER = timedelta(days=14)
INVISIBLE_RELEASE_AFTER = timedelta(days=30)
EMERGENCY_DURATION = timedelta(hours=4)

DOCUMENT_TYPE_CHOICES = [(doc.code, f"{doc.label} ({doc.code})") for doc in DOCUMENT_TYPES]


class EntryKind(models.TextChoices):
    LAB_REPORT = "lab_report", _("Résultats de biologie")
    REPORT = "report", _("Compte rendu")
    ALLERGY = "allergy", _("Allergie ou intolérance")
    IMAGING_STUDY = "imaging_study", _("Examen d'imagerie")
    PROBLEM = "problem", _("Problème ou antécédent")
    TREATMENT = "treatment", _("Traitement")
    VACCINATION = "vaccination", _("Vaccination")
    MEASURE = "measure", _("Mesure")
    WISHES = "wishes", _("Volontés du patient")
    PATIENT_DOCUMENT = "patient_document", _("Document ajouté par le patient")


class EntryStatus(models.TextChoices):
    CURRENT = "current", _("En vigueur")
    REPLACED = "replaced", _("Remplacé")
    ARCHIVED = "archived", _("Archivé")


# What matters whatever its age, by entry kind: a current entry of one of these kinds that
# meets its condition is never hidden by a default time window (the professional's timeline
# shows two years). A new kind (active problems, current treatments…) adds its line here.
MATTERS_WHATEVER_ITS_AGE: dict[str, models.Q] = {
    EntryKind.ALLERGY: models.Q(allergy__clinical_status="active"),
    EntryKind.PROBLEM: models.Q(problem__status="active"),
    EntryKind.TREATMENT: models.Q(treatment__end_date__isnull=True),
}


def within_window(start: Any) -> models.Q:
    """The entries acted since ``start``, and those that matter whatever their age
    (``MATTERS_WHATEVER_ITS_AGE``), as a filter on Entry."""
    timeless = models.Q(pk__in=[])
    for kind, condition in MATTERS_WHATEVER_ITS_AGE.items():
        timeless |= models.Q(kind=kind, status=EntryStatus.CURRENT) & condition
    return models.Q(act_date__gte=start) | timeless


class EntryQuerySet(models.QuerySet["Entry"]):
    def current(self) -> EntryQuerySet:
        return self.filter(status=EntryStatus.CURRENT)

    def hidden_from_patient(self, now: Any) -> EntryQuerySet:
        """Invisible to the patient, not announced, and not yet past the automatic delay."""
        return self.filter(
            invisible_to_patient=True,
            announced_at__isnull=True,
            deposited_at__gt=now - INVISIBLE_RELEASE_AFTER,
        )

    def due_for_release(self, now: Any) -> EntryQuerySet:
        return self.filter(
            invisible_to_patient=True, deposited_at__lte=now - INVISIBLE_RELEASE_AFTER
        )

    def due_for_reminder(self, now: Any) -> EntryQuerySet:
        return self.filter(
            invisible_to_patient=True,
            announced_at__isnull=True,
            patient_reminded_at__isnull=True,
            deposited_at__lte=now - INVISIBLE_REMINDER_AFTER,
        )


# The title of an imaging study whose files carry no description (stored in French).
_DEFAULT_IMAGING_TITLE = re.compile(r"^Examen d'imagerie(?: (?P<modality>[A-Z0-9]{1,16}))?$")


class Entry(models.Model):
    """One item of a DMP. Public identifier: ``public_id`` (UUID), never the sequential id.

    Visibility flags: ``masked`` (MASQUE_PS: only author, médecin traitant and patient) and
    ``invisible_to_patient`` (until the consultation d'annonce, at most 30 days).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "identity.Patient", on_delete=models.CASCADE, related_name="entries"
    )
    author = models.ForeignKey(
        "identity.Professional",
        on_delete=models.PROTECT,
        related_name="authored_entries",
        null=True,
        blank=True,
    )
    kind = models.CharField(_("nature"), max_length=20, choices=EntryKind.choices)
    document_type = models.CharField(
        _("type de document (LOINC)"), max_length=10, choices=DOCUMENT_TYPE_CHOICES
    )
    title = models.CharField(_("titre"), max_length=200)
    summary = models.CharField(_("aperçu"), max_length=300, blank=True)
    act_date = models.DateField(_("date de l'acte"))
    deposited_at = models.DateTimeField(_("déposé le"), default=timezone.now)
    status = models.CharField(
        _("statut"), max_length=10, choices=EntryStatus.choices, default=EntryStatus.CURRENT
    )
    masked = models.BooleanField(_("masqué aux professionnels"), default=False)
    invisible_to_patient = models.BooleanField(_("invisible pour le patient"), default=False)
    # A minor's DMP (records.mandates): kept from the legal representatives, or deposited in
    # secret mode (CSP L1111-5): the representatives never see it, its trace nor its notice.
    hidden_from_representatives = models.BooleanField(
        _("invisible aux représentants légaux"), default=False
    )
    secret = models.BooleanField(_("secret (art. L1111-5 CSP)"), default=False)
    announced_at = models.DateTimeField(_("annoncé le"), null=True, blank=True)
    patient_reminded_at = models.DateTimeField(_("patient prévenu le"), null=True, blank=True)
    abnormal = models.BooleanField(_("résultat anormal"), default=False)
    # Entered by the patient (a measure, a vaccination they declare, their wishes): no author;
    # a professional may mark it verified.
    declared_by_patient = models.BooleanField(_("déclaré par le patient"), default=False)
    verified_by = models.ForeignKey(
        "identity.Professional",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("vérifié par"),
    )
    verified_at = models.DateTimeField(_("vérifié le"), null=True, blank=True)
    # A CDA document authored by another professional than its depositor (a colleague's report
    # deposited for them): the author its header declares, kept as declared (IDNPS and name,
    # not checked against the portal's professionals); ``author`` stays the depositor, who
    # answers for the deposit and holds what an author holds. Blank: the depositor wrote it.
    declared_author_idnps = models.CharField(
        _("auteur déclaré (IDNPS)"), max_length=32, blank=True, default=""
    )
    declared_author_name = models.CharField(
        _("auteur déclaré"), max_length=200, blank=True, default=""
    )
    # Its profession or specialty as the header codes it (JDV_J01_XdsAuthorSpecialty_CISIS).
    declared_author_role_code = models.CharField(
        _("profession de l'auteur déclaré (code)"), max_length=32, blank=True, default=""
    )
    declared_author_role = models.CharField(
        _("profession de l'auteur déclaré"), max_length=200, blank=True, default=""
    )
    replaces = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        related_name="replaced_by",
        null=True,
        blank=True,
        verbose_name=_("remplace"),
    )

    objects = EntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("entrée du DMP")
        verbose_name_plural = _("entrées du DMP")
        indexes = [
            models.Index(fields=["patient", "-act_date", "-id"], name="records_entry_timeline"),
            models.Index(
                fields=["invisible_to_patient", "deposited_at"], name="records_entry_release"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.act_date:%d/%m/%Y})"

    @property
    def display_title(self) -> str:
        """The title in the reader's language. A typed title is shown as typed; the title an
        imaging study gets when its files carry no description, stored in French at import
        ("Examen d'imagerie CT", see ``imaging.services.imports``), is built again from its
        modality."""
        if self.kind != EntryKind.IMAGING_STUDY:  # first: most entries, no regex
            return self.title
        found = _DEFAULT_IMAGING_TITLE.match(self.title)
        if found is None:
            return self.title
        if not found["modality"]:
            return str(_("Examen d'imagerie"))
        return gettext("Examen d'imagerie %(modality)s") % {"modality": found["modality"]}

    @property
    def document_type_label(self) -> str:
        """The document type's label in the active language (derived from the stored code)."""
        return document_type_label(self.document_type)

    def hidden_from_patient_now(self) -> bool:
        return bool(
            self.invisible_to_patient
            and self.announced_at is None
            and self.deposited_at > timezone.now() - INVISIBLE_RELEASE_AFTER
        )


class EntryUserObjectPermission(UserObjectPermissionBase):
    """Per-entry grants: only for masked entries (their author and the médecin traitant)."""

    content_object = models.ForeignKey(Entry, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("droit d'accès à une entrée masquée")
        verbose_name_plural = _("droits d'accès aux entrées masquées")


class ProfessionDocumentRule(models.Model):
    """One cell of the profession × document-type matrix: this profession may NOT read this type.

    Everything not listed is allowed. Editable in admin; applied inside the entries query.
    """

    profession = models.CharField(_("profession"), max_length=40, choices=Profession.choices)
    document_type = models.CharField(
        _("type de document (LOINC)"), max_length=10, choices=DOCUMENT_TYPE_CHOICES
    )

    class Meta:
        verbose_name = _("restriction profession × type de document")
        verbose_name_plural = _("matrice profession × type de document")
        constraints = [
            models.UniqueConstraint(
                fields=["profession", "document_type"], name="records_rule_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_profession_display()} ✗ {self.document_type}"


class CareRelationStatus(models.TextChoices):
    AUTHORISED = "authorised", _("Autorisé")
    REVOKED = "revoked", _("Autorisation retirée")
    BLOCKED = "blocked", _("Bloqué")


class AuthorisationReason(models.TextChoices):
    OPENED = "opened", _("A ouvert le DMP")
    PATIENT = "patient", _("Autorisé par le patient")
    CONSULTATION = "consultation", _("Consentement attesté en consultation")


class CareRelation(models.Model):
    """The patient's decision about one professional: authorised, revoked or blocked.

    One row per (patient, professional), whatever the size of the DMP: authorising, revoking
    or blocking is O(1).
    """

    patient = models.ForeignKey(
        "identity.Patient", on_delete=models.CASCADE, related_name="care_relations"
    )
    professional = models.ForeignKey(
        "identity.Professional", on_delete=models.CASCADE, related_name="care_relations"
    )
    status = models.CharField(max_length=12, choices=CareRelationStatus.choices)
    reason = models.CharField(max_length=20, choices=AuthorisationReason.choices, blank=True)
    since = models.DateTimeField(default=timezone.now)
    first_access_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("relation de soins")
        verbose_name_plural = _("relations de soins")
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "professional"], name="records_carerelation_unique"
            )
        ]
        indexes = [
            # Whom a professional is blocked by, without reading their other relations (the
            # 5 000 of a heavy professional, on every page of "Mes patients").
            models.Index(
                fields=["professional", "patient"],
                condition=models.Q(status="blocked"),
                name="records_carerelation_blocked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} ({self.since:%Y-%m-%d})"


class EmergencyReason(models.TextChoices):
    UNCONSCIOUS = "unconscious", _("Patient inconscient ou hors d'état d'exprimer sa volonté")
    VITAL = "vital", _("Urgence vitale")
    SAMU_CALL = "samu_call", _("Appel au centre 15 (régulation)")
    OTHER = "other", _("Autre (préciser)")


class EmergencyAccess(models.Model):
    """A time-limited emergency access (bris de glace) or SAMU regulation access."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "identity.Patient", on_delete=models.CASCADE, related_name="emergency_accesses"
    )
    professional = models.ForeignKey(
        "identity.Professional", on_delete=models.CASCADE, related_name="emergency_accesses"
    )
    mode = models.CharField(max_length=20)  # AccessMode.EMERGENCY or AccessMode.SAMU
    reason = models.CharField(max_length=20, choices=EmergencyReason.choices)
    reason_text = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("accès en urgence")
        verbose_name_plural = _("accès en urgence")
        indexes = [models.Index(fields=["professional", "expires_at"], name="records_emerg_active")]

    def __str__(self) -> str:
        return f"{self.mode} {self.started_at:%Y-%m-%d %H:%M}"


class NotificationKind(models.TextChoices):
    FIRST_ACCESS = "first_access", _("Premier accès d'un professionnel")
    EMERGENCY = "emergency", _("Accès en urgence")
    NEW_DOCUMENT = "new_document", _("Nouveau document")
    REMINDER = "reminder", _("Document en attente d'annonce")
    AUTHORISED = "authorised", _("Nouveau professionnel autorisé")
    ACCESS = "access", _("Accès d'un professionnel")
    EXPORT_READY = "export_ready", _("Archive du DMP prête")


class Notification(models.Model):
    """What a user is told, in the portal (and by e-mail when it was sent).

    Stored as facts (kind, professional, entry, emergency access), never as a sentence: the text
    is written at display time in the reader's language (``records.notices``). ``message`` holds
    only the French sentence of notifications written before the facts were stored.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    patient = models.ForeignKey(
        "identity.Patient", on_delete=models.CASCADE, related_name="+", null=True
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    professional = models.ForeignKey(
        "identity.Professional", on_delete=models.SET_NULL, related_name="+", null=True
    )
    entry = models.ForeignKey(Entry, on_delete=models.SET_NULL, related_name="+", null=True)
    emergency = models.ForeignKey(
        EmergencyAccess, on_delete=models.SET_NULL, related_name="+", null=True
    )
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="records_notif_recipient")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class NotifiedAccesses(models.TextChoices):
    EVERY = "every", _("Chaque accès d'un professionnel (une fois par visite)")
    FIRST = "first", _("Le premier accès de chaque professionnel")
    EMERGENCIES = "emergencies", _("Seulement les accès en urgence")


class NotificationPreference(models.Model):
    """What a patient wants to be told, and how. No row: the defaults (first accesses, by
    e-mail and in the portal). Emergency accesses are always notified, both ways."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    accesses = models.CharField(
        _("accès notifiés"),
        max_length=12,
        choices=NotifiedAccesses.choices,
        default=NotifiedAccesses.FIRST,
    )
    by_email = models.BooleanField(_("par e-mail"), default=True)
    in_portal = models.BooleanField(_("dans le portail"), default=True)

    class Meta:
        verbose_name = _("préférence de notification")
        verbose_name_plural = _("préférences de notification")

    def __str__(self) -> str:
        return f"{self.accesses} e-mail={self.by_email} portal={self.in_portal}"


class AccessMode(models.TextChoices):
    NORMAL = "normal", _("Normal")
    EMERGENCY = "emergency", _("Bris de glace")
    SAMU = "samu", _("Régulation SAMU")
    PATIENT = "patient", _("Patient")
    ON_BEHALF = "on_behalf", _("Pour le compte du patient")


class AccessAction(models.TextChoices):
    DMP_OPEN = "dmp_open", _("Ouverture du DMP")
    ENTRY_VIEW = "entry_view", _("Consultation d'un document")
    ENTRY_CREATE = "entry_create", _("Dépôt d'un document")
    ENTRY_UPDATE = "entry_update", _("Modification d'un document")
    DOWNLOAD = "download", _("Téléchargement")
    THUMBNAIL = "thumbnail", _("Aperçu d'image")
    TIMELINE_VIEW = "timeline_view", _("Consultation de la liste des documents")
    ACCESS_CHANGE = "access_change", _("Modification des droits d'accès")
    EMERGENCY_START = "emergency_start", _("Déclaration d'accès en urgence")
    EXPORT = "export", _("Export")
    DMP_VIEW = "dmp_view", _("Consultation du DMP")
    DMP_SEARCH_HIT = "dmp_search_hit", _("DMP trouvé par recherche")
    DMP_UPDATE = "dmp_update", _("Modification des paramètres du DMP")
    DMP_CLOSE = "dmp_close", _("Fermeture du DMP")
    DMP_REOPEN = "dmp_reopen", _("Réouverture du DMP")
    LETTER_PRINT = "letter_print", _("Courrier d'ouverture imprimé")
    ACCOUNT_ACTIVATE = "account_activate", _("Activation du compte patient")
    HISTORY_VIEW = "history_view", _("Consultation de l'historique des accès")
    DENIED = "denied", _("Accès refusé")
    DEPOSIT_REFUSED = "deposit_refused", _("Dépôt refusé (fichier ou saisie invalide)")
    LOGIN_REFUSED = "login_refused", _("Connexion refusée (Pro Santé Connect, FranceConnect)")


# What "your last access" to a DMP means, wherever it is shown ("Mes patients", the synthèse's
# "new since your last access"): having looked at the DMP — its page or its list of documents.
# Reading one entry, depositing or being found by a search do not show what else is new.
LOOKED_AT_THE_DMP = (AccessAction.DMP_VIEW, AccessAction.TIMELINE_VIEW)


class AccessEvent(ChoiceLabels, models.Model):
    """One read or write of patient data. Append-only: written by ``records.trail.record_access``
    in the read's own transaction, then integrated by the sequencer into the trail's Merkle tree
    (``leaf_index``: its position there, None until then).

    Identity of the actor is copied (RPPS, profession) so the trail stays readable even if the
    professional's profile changes later. The free texts (``actor_label``, ``detail``) may say
    something clinical (an emergency's reason, an analyte's name) or name the patient: the leaf
    covers only ``detail_digest``, a salted commitment to them, so that purging a DMP erases
    them (and the salt) and the tree still verifies (``records.trail``).

    On PostgreSQL the table is partitioned by month of ``at`` (migration 0008): its primary key
    is (id, at) there, and ``public_id`` is unique with ``at``.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    actor_rpps = models.CharField(max_length=11, blank=True)
    actor_profession = models.CharField(max_length=40, blank=True)
    # The structure the professional acted for, as Pro Santé Connect named it at login
    # ("Clinique Y (FINESS 0B0221889)"); null when unknown (password login, patients). NULL,
    # not "": the trail chains it only when set, so events written before it keep their digest.
    actor_structure = models.CharField(max_length=250, null=True, blank=True)  # noqa: DJ001
    patient = models.ForeignKey(
        "identity.Patient", on_delete=models.SET_NULL, null=True, related_name="access_events"
    )
    patient_insc = models.CharField(max_length=22, blank=True)
    entry_public_id = models.UUIDField(null=True, blank=True)
    action = models.CharField(max_length=30, choices=AccessAction.choices)
    mode = models.CharField(max_length=20, choices=AccessMode.choices, default=AccessMode.NORMAL)
    detail = models.CharField(max_length=300, blank=True)
    # Random per event; blank once the free texts are erased (the commitment stays, unopenable).
    detail_salt = models.CharField(max_length=32, blank=True)
    detail_digest = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    # Set once, by the sequencer; not part of the leaf (it is where the leaf is).
    leaf_index = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    # The software that made the access on the user's behalf (an OAuth application of the FHIR
    # API), by name as it was then; null for the portal's own pages. Null, not blank: the
    # digest leaves a null column out, so events written before it keep their digest.
    application = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001

    class Meta:
        verbose_name = _("événement d'accès")
        verbose_name_plural = _("événements d'accès")
        indexes = [
            models.Index(fields=["patient", "-at"], name="records_event_patient_at"),
            # A professional's last access to each DMP ("Mes patients"): one index probe.
            models.Index(fields=["actor", "patient", "-at"], name="records_event_actor_patient"),
            models.Index(fields=["leaf_index"], name="records_event_leaf"),
            # The sequencer's queue: small, whatever the size of the trail.
            models.Index(
                fields=["id"], name="records_event_pending", condition=Q(leaf_index__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.at:%Y-%m-%d %H:%M} (id {self.pk})"


class TrailNode(models.Model):
    """A hash of the trail's Merkle tree: the perfect subtree of 2**level leaves starting at
    leaf ``index << level`` (level 0: the leaves). Written by the sequencer, never changed."""

    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="records_trailnode_position"),
        ]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class TreeHead(models.Model):
    """A signed tree head: the trail's tree had ``size`` leaves and ``root`` at ``at``, signed
    with Ed25519 under ``DMP_TRAIL_SIGNING_KEY`` (``key``: its id). Each is also appended to a
    file outside the database (``records.trail``)."""

    size = models.PositiveBigIntegerField(unique=True)
    root = models.CharField(max_length=64)
    at = models.DateTimeField()
    key = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    class Meta:
        verbose_name = _("tête d'arbre signée")

    def __str__(self) -> str:
        return f"tree head of {self.size} leaves"


# The kinds of content (lab reports, reports, allergies) live in records/content.py; Django
# finds models through this module.
from records.content import (  # noqa: E402
    Allergy,
    LabReport,
    Observation,
    Report,
    SubmissionKey,
)
from records.exports import DmpExport  # noqa: E402
from records.looks import LastLook, Listed  # noqa: E402
from records.profile import (  # noqa: E402
    Measure,
    PatientDocument,
    Problem,
    Treatment,
    Vaccination,
    Wishes,
)

__all__ = [
    "AccessEvent",
    "Allergy",
    "CareRelation",
    "DmpExport",
    "EmergencyAccess",
    "Entry",
    "LabReport",
    "LastLook",
    "Listed",
    "Measure",
    "Notification",
    "Observation",
    "PatientDocument",
    "Problem",
    "ProfessionDocumentRule",
    "Report",
    "SubmissionKey",
    "Treatment",
    "Vaccination",
    "Wishes",
]

from records.mandates import Mandate, MandateEnd, MandateKind, MandateProof  # noqa: E402

__all__ += ["Mandate", "MandateEnd", "MandateKind", "MandateProof"]
