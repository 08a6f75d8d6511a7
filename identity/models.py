"""People: the user account (login by e-mail), its role, and the professional's profile."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Guardian's direct foreign-key permission models live next to the model they protect; every
# other use of guardian goes through records/access.py.
from guardian.models import UserObjectPermissionBase  # noqa: TID251

from identity.rpps import rpps_validator


class Role(models.TextChoices):
    PATIENT = "patient", _("Patient")
    PROFESSIONAL = "professional", _("Professionnel de santé")
    ADMINISTRATOR = "administrator", _("Administrateur")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("role", Role.ADMINISTRATOR)
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username or "")


class User(AbstractBaseUser, PermissionsMixin):
    """An account. Being staff or superuser grants nothing on patient data."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("adresse e-mail"), max_length=254, unique=True)
    first_name = models.CharField(_("prénom"), max_length=150, blank=True)
    last_name = models.CharField(_("nom"), max_length=150, blank=True)
    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices, default=Role.PATIENT)
    is_active = models.BooleanField(_("actif"), default=True)
    is_staff = models.BooleanField(
        _("accès à l'administration"),
        default=False,
        help_text=_("Donne accès à l'administration Django, jamais aux données des patients."),
    )
    date_joined = models.DateTimeField(_("inscrit le"), default=timezone.now)
    email_code_login = models.BooleanField(
        _("code par e-mail à chaque connexion"),
        default=False,
        help_text=_("Second facteur des patients sans application d'authentification."),
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="identity_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT

    @property
    def is_professional(self) -> bool:
        return self.role == Role.PROFESSIONAL

    @property
    def is_administrator(self) -> bool:
        return self.role == Role.ADMINISTRATOR

    @property
    def is_verified_professional(self) -> bool:
        """A professional whose profile an administrator has verified."""
        if not self.is_professional or not self.is_active:
            return False
        profile = getattr(self, "professional", None)
        return profile is not None and profile.is_verified


class Profession(models.TextChoices):
    """The professions of the DMP's list (code: the Annuaire santé's profession label)."""

    MEDECIN = "medecin", _("Médecin")
    CHIRURGIEN_DENTISTE = "chirurgien_dentiste", _("Chirurgien-dentiste")
    SAGE_FEMME = "sage_femme", _("Sage-femme")
    PHARMACIEN = "pharmacien", _("Pharmacien")
    BIOLOGISTE = "biologiste", _("Biologiste médical")
    INFIRMIER = "infirmier", _("Infirmier")
    MASSEUR_KINESITHERAPEUTE = "masseur_kinesitherapeute", _("Masseur-kinésithérapeute")
    MANIPULATEUR_RADIO = "manipulateur_radio", _("Manipulateur d'électroradiologie médicale")
    PEDICURE_PODOLOGUE = "pedicure_podologue", _("Pédicure-podologue")
    ORTHOPHONISTE = "orthophoniste", _("Orthophoniste")
    ORTHOPTISTE = "orthoptiste", _("Orthoptiste")
    ERGOTHERAPEUTE = "ergotherapeute", _("Ergothérapeute")
    PSYCHOMOTRICIEN = "psychomotricien", _("Psychomotricien")
    DIETETICIEN = "dieteticien", _("Diététicien")
    AUDIOPROTHESISTE = "audioprothesiste", _("Audioprothésiste")
    OPTICIEN_LUNETIER = "opticien_lunetier", _("Opticien-lunetier")


class Specialty(models.TextChoices):
    """Medical specialties (for médecins only)."""

    MEDECINE_GENERALE = "medecine_generale", _("Médecine générale")
    ANESTHESIE = "anesthesie_reanimation", _("Anesthésie-réanimation")
    CARDIOLOGIE = "cardiologie", _("Cardiologie")
    DERMATOLOGIE = "dermatologie", _("Dermatologie")
    ENDOCRINOLOGIE = "endocrinologie", _("Endocrinologie-diabétologie")
    GASTRO_ENTEROLOGIE = "gastro_enterologie", _("Gastro-entérologie")
    GERIATRIE = "geriatrie", _("Gériatrie")
    GYNECOLOGIE = "gynecologie_obstetrique", _("Gynécologie-obstétrique")
    MEDECINE_URGENCE = "medecine_urgence", _("Médecine d'urgence")
    NEPHROLOGIE = "nephrologie", _("Néphrologie")
    NEUROLOGIE = "neurologie", _("Neurologie")
    ONCOLOGIE = "oncologie", _("Oncologie")
    OPHTALMOLOGIE = "ophtalmologie", _("Ophtalmologie")
    ORL = "orl", _("Oto-rhino-laryngologie")
    PEDIATRIE = "pediatrie", _("Pédiatrie")
    PNEUMOLOGIE = "pneumologie", _("Pneumologie")
    PSYCHIATRIE = "psychiatrie", _("Psychiatrie")
    RADIOLOGIE = "radiologie", _("Radiologie et imagerie médicale")
    RHUMATOLOGIE = "rhumatologie", _("Rhumatologie")
    CHIRURGIE_GENERALE = "chirurgie_generale", _("Chirurgie générale")
    CHIRURGIE_ORTHOPEDIQUE = "chirurgie_orthopedique", _("Chirurgie orthopédique")
    BIOLOGIE_MEDICALE = "biologie_medicale", _("Biologie médicale")
    MEDECINE_DU_TRAVAIL = "medecine_du_travail", _("Médecine du travail")


class VerificationStatus(models.TextChoices):
    PENDING = "pending", _("En attente de vérification")
    VERIFIED = "verified", _("Vérifié")
    REJECTED = "rejected", _("Refusé")


class Professional(models.Model):
    """A health professional's profile: RPPS, profession, and whether an administrator verified it.

    An unverified (pending or rejected) professional may log in but reaches no patient data.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        User, on_delete=models.PROTECT, related_name="professional", verbose_name=_("compte")
    )
    rpps = models.CharField(
        _("numéro RPPS"), max_length=11, unique=True, validators=[rpps_validator]
    )
    profession = models.CharField(_("profession"), max_length=40, choices=Profession.choices)
    specialty = models.CharField(
        _("spécialité"), max_length=40, choices=Specialty.choices, blank=True
    )
    is_regulation_doctor = models.BooleanField(
        _("médecin régulateur (SAMU)"),
        default=False,
        help_text=_("Peut demander un accès en régulation SAMU, sauf opposition du patient."),
    )
    verification_status = models.CharField(
        _("vérification"),
        max_length=20,
        choices=VerificationStatus.choices,
        default=VerificationStatus.PENDING,
    )
    verified_at = models.DateTimeField(_("vérifié le"), null=True, blank=True)
    verified_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("vérifié par"),
    )

    class Meta:
        verbose_name = _("professionnel de santé")
        verbose_name_plural = _("professionnels de santé")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(profession="medecin") | models.Q(specialty=""),
                name="identity_professional_specialty_only_for_medecin",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.get_profession_display()}, RPPS {self.rpps})"

    @property
    def display_name(self) -> str:
        user = self.user
        return self.name_from(user.first_name, user.last_name, user.email, self.profession)

    @staticmethod
    def name_from(first_name: str, last_name: str, email: str, profession: str) -> str:
        """The display name from its four columns."""
        name = f"{first_name} {last_name}".strip() or email
        return f"Dr {name}" if profession == Profession.MEDECIN else name

    # A page of rows that each name a professional (an entry's author) reads the name's four
    # columns with its rows: the same name, without two more model instances a row.
    _NAME_COLUMNS = ("user__first_name", "user__last_name", "user__email", "profession")

    @classmethod
    def name_columns(cls, path: str) -> dict[str, models.F]:
        """Annotations with the columns of the name of the professional at ``path``."""
        return {
            f"{path}_{c.rpartition('__')[2]}": models.F(f"{path}__{c}") for c in cls._NAME_COLUMNS
        }

    @classmethod
    def name_of(cls, row: Any, path: str) -> str:
        """The display name of the professional at ``path`` of ``row``, read with
        ``name_columns(path)``; "" when there is none."""
        if getattr(row, f"{path}_id", None) is None:
            return ""
        return cls.name_from(
            *(getattr(row, f"{path}_{c.rpartition('__')[2]}") for c in cls._NAME_COLUMNS)
        )

    @property
    def is_verified(self) -> bool:
        return self.verification_status == VerificationStatus.VERIFIED

    @property
    def title(self) -> str:
        """Profession with specialty, as shown to patients (``Médecin — Cardiologie``)."""
        if self.specialty:
            return f"{self.get_profession_display()} — {self.get_specialty_display()}"
        return str(self.get_profession_display())


class Sex(models.TextChoices):
    FEMALE = "F", _("Féminin")
    MALE = "M", _("Masculin")
    UNKNOWN = "U", _("Indéterminé")


class IdentityStatus(models.TextChoices):
    """Identity trust status (référentiel national d'identitovigilance)."""

    PROV = "PROV", _("Identité provisoire")
    RECUP = "RECUP", _("Identité récupérée")
    VALI = "VALI", _("Identité validée")
    QUAL = "QUAL", _("Identité qualifiée")


class MatriculeOid(models.TextChoices):
    NIR = "1.2.250.1.213.1.4.8", _("NIR")
    NIA = "1.2.250.1.213.1.4.9", _("NIA")
    NIR_TEST = "1.2.250.1.213.1.4.10", _("NIR de test")
    NIR_DEMO = "1.2.250.1.213.1.4.11", _("NIR de démonstration")


class DmpStatus(models.TextChoices):
    OPEN = "open", _("Ouvert")
    CLOSED = "closed", _("Fermé")
    PURGED = "purged", _("Supprimé")


class PatientQuerySet(models.QuerySet["Patient"]):
    def open(self) -> PatientQuerySet:
        return self.filter(dmp_status=DmpStatus.OPEN)

    def due_for_purge(self, now: Any) -> PatientQuerySet:
        """Closed DMPs whose retention has passed, or whose early erasure delay has passed."""
        return self.filter(dmp_status=DmpStatus.CLOSED).filter(
            models.Q(purge_after__lte=now) | models.Q(erasure_due_at__lte=now)
        )


class Patient(models.Model):
    """A DMP holder, keyed by the INS-C. The NIR is never stored (only used to compute the INS-C).

    After purge only a tombstone remains: the INS-C and the dates, no identity traits.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    insc = models.CharField(_("INS-C"), max_length=22, unique=True)
    birth_name = models.CharField(_("nom de naissance"), max_length=100, blank=True)
    first_names = models.CharField(_("prénoms"), max_length=100, blank=True)
    used_name = models.CharField(_("nom d'usage"), max_length=100, blank=True)
    sex = models.CharField(_("sexe"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("date de naissance"), null=True, blank=True)
    birth_place_code = models.CharField(_("lieu de naissance (code)"), max_length=5, blank=True)
    identity_status = models.CharField(
        _("statut de l'identité"),
        max_length=5,
        choices=IdentityStatus.choices,
        default=IdentityStatus.PROV,
    )
    matricule_ins = models.CharField(_("matricule INS"), max_length=15, blank=True)
    matricule_oid = models.CharField(
        _("OID du matricule"), max_length=24, choices=MatriculeOid.choices, blank=True
    )
    dmp_status = models.CharField(
        _("état du DMP"), max_length=10, choices=DmpStatus.choices, default=DmpStatus.OPEN
    )
    opened_at = models.DateTimeField(_("ouvert le"), default=timezone.now)
    opened_by = models.ForeignKey(
        Professional,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        verbose_name=_("ouvert par"),
    )
    closed_at = models.DateTimeField(_("fermé le"), null=True, blank=True)
    purge_after = models.DateTimeField(_("à supprimer après"), null=True, blank=True)
    erasure_requested_at = models.DateTimeField(
        _("suppression anticipée demandée le"), null=True, blank=True
    )
    erasure_due_at = models.DateTimeField(
        _("suppression anticipée à partir du"), null=True, blank=True
    )
    purged_at = models.DateTimeField(_("supprimé le"), null=True, blank=True)
    opposes_bris_de_glace = models.BooleanField(
        _("s'oppose à l'accès en urgence (bris de glace)"), default=False
    )
    opposes_samu = models.BooleanField(
        _("s'oppose à l'accès par le SAMU (régulation)"), default=False
    )
    medecin_traitant = models.ForeignKey(
        Professional,
        on_delete=models.SET_NULL,
        related_name="patients_suivis",
        null=True,
        blank=True,
        verbose_name=_("médecin traitant"),
    )
    user = models.OneToOneField(
        User,
        on_delete=models.SET_NULL,
        related_name="patient",
        null=True,
        blank=True,
        verbose_name=_("compte patient"),
    )

    objects = PatientQuerySet.as_manager()

    class Meta:
        verbose_name = _("patient (DMP)")
        verbose_name_plural = _("patients (DMP)")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(insc__regex=r"^[0-9]{22}$"),
                name="identity_patient_insc_22_digits",
            ),
        ]

    def __str__(self) -> str:
        if self.dmp_status == DmpStatus.PURGED:
            return f"DMP supprimé ({self.insc})"
        return f"{self.display_name} ({self.insc})"

    @property
    def display_name(self) -> str:
        """Used name if any, else birth name, then first names (as in French documents)."""
        last = self.used_name or self.birth_name
        if self.used_name and self.used_name != self.birth_name:
            return f"{last} (né·e {self.birth_name}) {self.first_names}".strip()
        return f"{last} {self.first_names}".strip()

    @property
    def is_open(self) -> bool:
        return self.dmp_status == DmpStatus.OPEN


class ConsentKind(models.TextChoices):
    OPENING = "opening", _("Ouverture du DMP")
    REOPENING = "reopening", _("Réouverture du DMP")


class Consent(models.Model):
    """The patient's explicit consent, as collected by a professional, with the text shown."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    collected_by = models.ForeignKey(Professional, on_delete=models.PROTECT, related_name="+")
    collected_at = models.DateTimeField(default=timezone.now)
    text_shown = models.TextField()

    class Meta:
        verbose_name = _("consentement")
        verbose_name_plural = _("consentements")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.collected_at:%Y-%m-%d %H:%M}"


class ActivationCode(models.Model):
    """Single-use code printed on the opening letter. Only its keyed hash is stored."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="activation_codes")
    code_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("code d'activation")
        verbose_name_plural = _("codes d'activation")

    def __str__(self) -> str:
        return f"code d'activation du {self.created_at:%Y-%m-%d}"


class TransitionKind(models.TextChoices):
    OPENED = "opened", _("Ouverture du DMP")
    CONSENT = "consent", _("Consentement recueilli")
    OPPOSITION_CHANGED = "opposition_changed", _("Oppositions à l'accès en urgence modifiées")
    MEDECIN_TRAITANT_CHANGED = "medecin_traitant_changed", _("Médecin traitant modifié")
    ACCOUNT_ACTIVATED = "account_activated", _("Compte patient activé")
    ACTIVATION_CODE_ISSUED = "activation_code_issued", _("Code d'activation émis")
    CLOSED = "closed", _("Fermeture du DMP")
    ERASURE_REQUESTED = "erasure_requested", _("Suppression anticipée demandée")
    REOPENED = "reopened", _("Réouverture du DMP")
    PURGED = "purged", _("Suppression définitive")


class DmpTransition(models.Model):
    """Every change of a DMP's lifecycle or settings, with who and when. Append-only."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="transitions")
    kind = models.CharField(max_length=40, choices=TransitionKind.choices)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("événement du DMP")
        verbose_name_plural = _("événements du DMP")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["patient", "at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.at:%Y-%m-%d %H:%M}"


class PatientUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign-key guardian rows: a DMP-level grant to one professional's account."""

    content_object = models.ForeignKey(Patient, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("droit d'accès au DMP")
        verbose_name_plural = _("droits d'accès aux DMP")


class AccountEventKind(models.TextChoices):
    CREATED = "created", _("Compte créé par l'administration")
    PASSWORD_RESET_SENT = (
        "password_reset_sent",
        _("Lien de réinitialisation du mot de passe envoyé à votre adresse e-mail"),
    )
    MFA_RESET_REQUESTED = "mfa_reset_requested", _("Réinitialisation du second facteur demandée")
    MFA_RESET_APPROVED = (
        "mfa_reset_approved",
        _("Réinitialisation du second facteur approuvée : vos authentificateurs sont supprimés"),
    )
    MFA_RESET_CANCELLED = (
        "mfa_reset_cancelled",
        _("Demande de réinitialisation du second facteur annulée"),
    )
    VERIFIED = "verified", _("Profil professionnel vérifié")
    REJECTED = "rejected", _("Vérification du profil professionnel refusée ou retirée")
    DEACTIVATED = "deactivated", _("Compte désactivé")
    REACTIVATED = "reactivated", _("Compte réactivé")


class AccountEvent(models.Model):
    """What the administration did to an account, listed to its owner. Append-only.

    Administrators hold no clinical access, and get none through someone else's account: what
    they may do to one (create it, verify it, deactivate it, send a reset link to the owner's
    own address, reset its second factor once a second administrator approves) is written
    here, by ``identity.account_recovery``, and shown on the owner's "Suivi du compte" page.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(User, on_delete=models.CASCADE, related_name="account_events")
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The administrator's name when they acted: the owner reads who it was even if it changes.
    actor_label = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=30, choices=AccountEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("action de l'administration sur un compte")
        verbose_name_plural = _("actions de l'administration sur les comptes")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["account", "-at"], name="identity_accountevent_acc")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.at:%Y-%m-%d %H:%M}"


class MfaResetStatus(models.TextChoices):
    PENDING = "pending", _("En attente d'un second administrateur")
    APPROVED = "approved", _("Approuvée : second facteur supprimé")
    CANCELLED = "cancelled", _("Annulée")


class MfaResetRequest(models.Model):
    """One administrator asks to remove an account's second factor; it is removed only when a
    second administrator approves. The database refuses an approval by the requester."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="+", verbose_name=_("compte")
    )
    requested_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("demandée par")
    )
    requested_at = models.DateTimeField(_("demandée le"), default=timezone.now)
    reason = models.CharField(_("motif"), max_length=300)
    status = models.CharField(
        _("état"), max_length=10, choices=MfaResetStatus.choices, default=MfaResetStatus.PENDING
    )
    decided_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("décidée par"),
    )
    decided_at = models.DateTimeField(_("décidée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("demande de réinitialisation du second facteur")
        verbose_name_plural = _("demandes de réinitialisation du second facteur")
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(status="pending"),
                name="identity_mfareset_one_pending",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved")
                | (
                    models.Q(decided_by__isnull=False)
                    & ~models.Q(decided_by=models.F("requested_by"))
                ),
                name="identity_mfareset_second_approver",
            ),
            models.CheckConstraint(
                condition=~models.Q(account=models.F("requested_by")),
                name="identity_mfareset_not_own_account",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} — {self.requested_at:%Y-%m-%d %H:%M}"
