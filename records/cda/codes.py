"""Codes and identifiers of the CDA R2 documents with the CI-SIS header (constants; the
portal's own identifiers come from the settings: ``portal_identity``).

The code systems are the ANS's (TRE_* nomenclatures, JDV_* value sets of the CI-SIS); the
profession/specialty codes are those of ``JDV_J01_XdsAuthorSpecialty_CISIS`` (TRE_G15 and
TRE_R38 combined, code system 1.2.250.1.213.1.1.4.5).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final

HL7: Final = "urn:hl7-org:v3"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
LAB: Final = "urn:oid:1.3.6.1.4.1.19376.1.3.2"

LOINC_OID: Final = "2.16.840.1.113883.6.1"
UCUM_OID: Final = "2.16.840.1.113883.6.8"
INTERPRETATION_OID: Final = "2.16.840.1.113883.5.83"
CONFIDENTIALITY_OID: Final = "2.16.840.1.113883.5.25"
GENDER_OID: Final = "2.16.840.1.113883.5.1"
PROFESSION_OID: Final = "1.2.250.1.213.1.1.4.5"
PRACTICE_SETTING_OID: Final = "1.2.250.1.213.1.1.4.9"
FACILITY_TYPE_OID: Final = "1.2.250.1.71.4.2.4"
# Identifiers.
INSC_OID: Final = "1.2.250.1.213.1.4.2"
QUALIFIED_INS_OIDS: Final = frozenset(
    {"1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"}
)
IDNPS_OID: Final = "1.2.250.1.71.4.2.1"
IDNPS_RPPS_PREFIX: Final = "8"  # an IDNPS from an RPPS number: "8" + RPPS
# Health structures (FINESS, SIRET… prefixed); the portal's own identifier among them, its
# name, and its XDS sourceId are settings (``portal_identity``).
STRUCTURE_OID: Final = "1.2.250.1.71.4.2.2"

# Document templates.
TEMPLATE_HL7_FR: Final = "2.16.840.1.113883.2.8.2.1"
TEMPLATE_CISIS: Final = "1.2.250.1.213.1.1.1.1"
TEMPLATE_XDS_SD: Final = "1.3.6.1.4.1.19376.1.2.20"
TEMPLATE_XD_LAB: Final = "1.3.6.1.4.1.19376.1.3.3"
TEMPLATE_CR_BIO: Final = "1.2.250.1.213.1.1.1.55"

# XDS formatCode (IHE format codes, 1.3.6.1.4.1.19376.1.2.3): N1 as XDS-SD, CR-BIO as XD-LAB.
FORMAT_SCHEME: Final = "1.3.6.1.4.1.19376.1.2.3"
FORMAT_N1_PDF: Final = "urn:ihe:iti:xds-sd:pdf:2008"
FORMAT_N1_TEXT: Final = "urn:ihe:iti:xds-sd:text:2008"
FORMAT_CR_BIO: Final = "urn:ihe:lab:xd-lab:2008"
FORMAT_CODES: Final = frozenset({FORMAT_N1_PDF, FORMAT_N1_TEXT, FORMAT_CR_BIO})
# XDS classCode (TRE_A03-ClasseDocument).
CLASS_SCHEME: Final = "1.2.250.1.213.1.1.4.1"
CLASS_BY_CATEGORY: Final = {"synthese": ("11", "Synthèse")}
CLASS_DEFAULT: Final = ("10", "Compte rendu")
# The DMP's visibility codes (XDS confidentialityCode beside HL7's N).
VISIBILITY_OID: Final = "1.2.250.1.213.1.1.4.13"
MASKED: Final = "MASQUE_PS"
INVISIBLE: Final = "INVISIBLE_PATIENT"

CR_BIO_TYPE: Final = "11502-2"
LAB_CHAPTER: Final = ("26436-6", "Examens de laboratoire")
PDF_COPY_SECTION: Final = ("55108-5", "Copie du document")

# Profession (portal key) → TRE_G15 code and display name.
PROFESSIONS: Final = {
    "medecin": ("G15_10", "Médecin"),
    "pharmacien": ("G15_21", "Pharmacien"),
    "audioprothesiste": ("G15_26", "Audioprothésiste"),
    "opticien_lunetier": ("G15_28", "Opticien-Lunetier"),
    "chirurgien_dentiste": ("G15_40", "Chirurgien-Dentiste"),
    "sage_femme": ("G15_50", "Sage-Femme"),
    "infirmier": ("G15_60", "Infirmier"),
    "masseur_kinesitherapeute": ("G15_70", "Masseur-Kinésithérapeute"),
    "pedicure_podologue": ("G15_80", "Pédicure-Podologue"),
    "orthophoniste": ("G15_91", "Orthophoniste"),
    "orthoptiste": ("G15_92", "Orthoptiste"),
    "ergotherapeute": ("G15_94", "Ergothérapeute"),
    "dieteticien": ("G15_95", "Diététicien"),
    "psychomotricien": ("G15_96", "Psychomotricien"),
    "manipulateur_radio": ("G15_98", "Manipulateur ERM"),
    # A biologiste médical is a médecin or a pharmacien; without knowing which, the
    # médecin biologiste code is used.
    "biologiste": ("G15_10/SM03", "Médecin - Biologie médicale (SM)"),
}
# Specialty (portal key, médecins only) → TRE_R38 combined code.
SPECIALTIES: Final = {
    "medecine_generale": ("G15_10/SM54", "Médecin - Médecine Générale (SM)"),
    "anesthesie_reanimation": ("G15_10/SM02", "Médecin - Anesthésie-réanimation (SM)"),
    "cardiologie": ("G15_10/SM04", "Médecin - Cardiologie et maladies vasculaires (SM)"),
    "dermatologie": ("G15_10/SM15", "Médecin - Dermatologie et Vénéréologie (SM)"),
    "endocrinologie": ("G15_10/SM62", "Médecin - Endocrinologie, diabétologie, nutrition (SM)"),
    "gastro_enterologie": ("G15_10/SM24", "Médecin - Gastro-entérologie et hépatologie (SM)"),
    "geriatrie": ("G15_10/SM18", "Médecin - Gériatrie (SM)"),
    "gynecologie_obstetrique": ("G15_10/SM20", "Médecin - Gynécologie-obstétrique (SM)"),
    "medecine_urgence": ("G15_10/SM59", "Médecin - Médecine d'urgence (SM)"),
    "nephrologie": ("G15_10/SM30", "Médecin - Néphrologie (SM)"),
    "neurologie": ("G15_10/SM32", "Médecin - Neurologie (SM)"),
    "oncologie": ("G15_10/SM36", "Médecin - Oncologie, opt médicale (SM)"),
    "ophtalmologie": ("G15_10/SM38", "Médecin - Ophtalmologie (SM)"),
    "orl": ("G15_10/SM39", "Médecin - Oto-rhino-laryngologie (SM)"),
    "pediatrie": ("G15_10/SM40", "Médecin - Pédiatrie (SM)"),
    "pneumologie": ("G15_10/SM41", "Médecin - Pneumologie (SM)"),
    "psychiatrie": ("G15_10/SM42", "Médecin - Psychiatrie (SM)"),
    "radiologie": ("G15_10/SM74", "Médecin - Radiologie et imagerie médicale (SM)"),
    "rhumatologie": ("G15_10/SM48", "Médecin - Rhumatologie (SM)"),
    "chirurgie_generale": ("G15_10/SM05", "Médecin - Chirurgie générale (SM)"),
    "chirurgie_orthopedique": (
        "G15_10/SM08",
        "Médecin - Chirurgie orthopédique et Traumatologie (SM)",
    ),
    "biologie_medicale": ("G15_10/SM03", "Médecin - Biologie médicale (SM)"),
    "medecine_du_travail": ("G15_10/SM25", "Médecin - Médecine du travail (SM)"),
}


def uuid_oid(value: uuid.UUID | str) -> str:
    """A UUID as an OID of the arc 2.25 (what a CDA ``id/@root`` may carry)."""
    return f"2.25.{uuid.UUID(str(value)).int}"


def oid_uuid(oid: str) -> uuid.UUID | None:
    """The UUID of a 2.25 OID (None for any other OID)."""
    prefix, _, number = oid.partition("2.25.")
    if prefix or not number.isdigit() or len(number) > 39:
        return None
    value = int(number)
    return uuid.UUID(int=value) if value < 2**128 else None


def author_code(profession: str, specialty: str) -> tuple[str, str]:
    if specialty and specialty in SPECIALTIES:
        return SPECIALTIES[specialty]
    return PROFESSIONS.get(profession, PROFESSIONS["medecin"])


def carries_qualified_ins(patient: Any) -> bool:
    """The qualified INS goes in a document only with the identity qualified and the traits
    the CI-SIS requires with it (birth name, first names, sex, birth date, birth place)."""
    return bool(
        patient.identity_status == "QUAL"
        and patient.matricule_ins
        and patient.matricule_oid in QUALIFIED_INS_OIDS
        and patient.birth_name
        and patient.first_names
        and patient.sex in ("F", "M")
        and patient.birth_date
        and patient.birth_place_code
    )


@dataclass(frozen=True)
class PortalIdentity:
    """The portal in the documents it produces: the custodian (structure id under
    ``STRUCTURE_OID``, name) and the XDS sourceId of its submission sets."""

    custodian_id: str
    name: str
    source_oid: str


def portal_identity() -> PortalIdentity:
    """From the settings ``DMP_CDA_CUSTODIAN_ID``, ``DMP_CDA_CUSTODIAN_NAME``,
    ``DMP_XDS_SOURCE_OID`` (documented defaults in ``.env.example``)."""
    from django.conf import settings

    return PortalIdentity(
        settings.DMP_CDA_CUSTODIAN_ID, settings.DMP_CDA_CUSTODIAN_NAME, settings.DMP_XDS_SOURCE_OID
    )
