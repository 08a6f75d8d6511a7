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
        name = self.user.get_full_name() or self.user.email
        return f"Dr {name}" if self.profession == Profession.MEDECIN else name

    @property
    def is_verified(self) -> bool:
        return self.verification_status == VerificationStatus.VERIFIED

    @property
    def title(self) -> str:
        """Profession with specialty, as shown to patients (``Médecin — Cardiologie``)."""
        if self.specialty:
            return f"{self.get_profession_display()} — {self.get_specialty_display()}"
        return str(self.get_profession_display())
