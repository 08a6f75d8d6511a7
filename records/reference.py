"""Reference data of the records app: LOINC document types, lab analytes, UCUM units, conversions.

Framework-free (no Django import at module level): plain frozen dataclasses and tuples,
usable by models (choices), forms (validation), views and the trend chart alike.

Languages
---------
French is the source language: ``label`` / ``short_label`` are French and are what the
services store and what their (French) messages quote. Every label also has an English
twin (``label_en``...), used only for display: the ``display_*`` accessors below take a
``lang`` ("fr", "en", "en-GB"...) or, when it is ``None``, read the active Django language
(imported lazily, inside the accessor); anything else than English falls back to French.

Sources and conventions
-----------------------
* Document types: the DMP's LOINC type codes with the French labels of the ANS value set
  ``JDV_J279-Loinc-UPNOS`` (OID 1.2.250.1.213.1.1.5.800). The psychiatric note uses
  68599-0 "Synthèse psychiatrique" (a distinct code of that list, not 11488-4 which is the
  generic consultation note); rehabilitation reports use 47420-5 "CR de bilan fonctionnel";
  radiotherapy and other treatments use 11505-5 "CR d'acte thérapeutique (autre)".
* Analytes: ``code`` is the LOINC code most used for the analyte (often the
  mass-concentration one); ``alt_codes`` are other LOINC codes of the same clinical quantity
  (typically the molar-concentration code, or another method), so that an observation coded
  either way lands in the same trend. ``default_unit`` follows French laboratory usage
  (µmol/L for creatinine, mmol/L for calcium...) and may belong to an alternative code's
  property. Every code passes the LOINC mod-10 check digit (see ``loinc_check_digit_ok``).
* Units are UCUM codes (``umol/L``, ``10*9/L``, ``U/L``, ``m[IU]/L``...) with a French display
  label (µmol/L, G/L, UI/L, mUI/L...). ``normalize_unit`` maps what people type to the code.
* Conversions: within one kind of unit (mass concentration, substance concentration,
  counts...) by exact factors; across kinds only with the analyte's molar mass (mass <->
  substance), the creatinine molar mass for urinary ratios (mg/mmol <-> mg/g), or an affine
  formula (HbA1c % <-> mmol/mol, IFCC/NGSP master equation). Anything else is
  ``NotConvertible``: values are never converted on a guess (Lp(a) in nmol/L vs mg/dL, for
  instance, depends on the apolipoprotein(a) isoform and stays a separate series).
* Triglycerides use the triolein convention, 885.7 g/mol (1 mmol/L = 0.8857 g/L, the IFCC
  and US convention); some French laboratories use the rounded factor 1.14 (g/L -> mmol/L),
  i.e. ~877 g/mol: results may differ by about 1 %.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

__all__ = [
    "ANALYTES",
    "ANALYTE_GROUPS",
    "CONVERSIONS",
    "DOCUMENT_CATEGORIES",
    "DOCUMENT_TYPES",
    "UNITS",
    "AffineConversion",
    "Analyte",
    "AnalyteGroup",
    "Conversion",
    "DocumentCategory",
    "DocumentType",
    "NotConvertible",
    "Unit",
    "UnknownCode",
    "analyte",
    "analytes_in_group",
    "can_convert",
    "convert",
    "convertible_units",
    "display_language",
    "display_unit_label",
    "document_type",
    "document_type_choices",
    "document_type_label",
    "find_analyte",
    "loinc_check_digit",
    "loinc_check_digit_ok",
    "normalize_unit",
    "unit",
    "unit_label",
]


class UnknownCode(LookupError):
    """A LOINC or UCUM code that is not in the reference tables (message in French)."""

    def __str__(self) -> str:  # LookupError's default repr-quotes the message
        return str(self.args[0]) if self.args else ""


class NotConvertible(ValueError):
    """The value cannot be converted between these units for this analyte (message in French)."""


# --------------------------------------------------------------------------------------------
# LOINC check digit
# --------------------------------------------------------------------------------------------

_LOINC_RE = re.compile(r"^([1-9][0-9]{0,6})-([0-9])$")


def loinc_check_digit(number: str) -> int:
    """Mod-10 check digit of the numeric part of a LOINC code (the part before the dash).

    LOINC's algorithm: counting from the right, the digits in odd positions are doubled
    (as one number), the digits in even positions appended, all digits of the result summed;
    the check digit brings the sum up to the next multiple of ten. This is the Luhn scheme.
    """
    if not number.isascii() or not number.isdigit():
        raise ValueError(f"Partie numérique LOINC invalide : « {number} ».")
    total = 0
    for position, char in enumerate(reversed(number), start=1):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


def loinc_check_digit_ok(code: str) -> bool:
    """True when ``code`` has the LOINC form ``NNNNN-C`` and ``C`` is its mod-10 check digit."""
    match = _LOINC_RE.match(code) if isinstance(code, str) else None
    if match is None:
        return False
    return loinc_check_digit(match.group(1)) == int(match.group(2))


# --------------------------------------------------------------------------------------------
# Display language
# --------------------------------------------------------------------------------------------


def display_language(lang: str | None = None) -> str:
    """``"en"`` for an English language tag, else ``"fr"`` (the source language).

    With ``lang=None`` the active Django language is used (``get_language()``), imported
    here so that this module stays usable without Django; without Django, or outside any
    configured project, French.
    """
    if lang is None:
        try:  # lazy: the module itself stays framework-free
            from django.core.exceptions import ImproperlyConfigured
            from django.utils.translation import get_language
        except ImportError:  # pragma: no cover - Django is installed with the portal
            return "fr"
        try:
            lang = get_language()
        except ImproperlyConfigured:  # settings not configured: the source language
            return "fr"
    if isinstance(lang, str) and lang.strip().lower()[:2] == "en":
        return "en"
    return "fr"


def _pick(french: str, english: str, lang: str | None) -> str:
    return english if english and display_language(lang) == "en" else french


# --------------------------------------------------------------------------------------------
# Document types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _KeyedLabel:
    """A keyed family with a French label and its English twin."""

    key: str
    label: str  # French
    label_en: str = ""

    def display_label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (default: the active language)."""
        return _pick(self.label, self.label_en, lang)


@dataclass(frozen=True, slots=True)
class DocumentCategory(_KeyedLabel):
    """A family of document types, the column of the profession x document-type matrix."""


@dataclass(frozen=True, slots=True)
class DocumentType:
    code: str  # LOINC
    label: str  # French label (ANS value set)
    category: str  # DocumentCategory.key
    label_en: str = ""  # English display label

    def display_label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (default: the active language)."""
        return _pick(self.label, self.label_en, lang)


DOCUMENT_CATEGORIES: tuple[DocumentCategory, ...] = (
    DocumentCategory("biologie", "Biologie", "Laboratory medicine"),
    DocumentCategory("imagerie", "Imagerie", "Imaging"),
    DocumentCategory(
        "anatomopathologie", "Anatomie et cytologie pathologiques", "Pathology and cytology"
    ),
    DocumentCategory("genetique", "Génétique", "Genetics"),
    DocumentCategory("chirurgie", "Chirurgie et anesthésie", "Surgery and anaesthesia"),
    DocumentCategory(
        "hospitalisation", "Hospitalisation et urgences", "Hospital stays and emergencies"
    ),
    DocumentCategory("consultation", "Consultation", "Consultation"),
    DocumentCategory("synthese", "Synthèse médicale", "Medical summaries"),
    DocumentCategory("psychiatrie", "Psychiatrie et psychologie", "Psychiatry and psychology"),
    DocumentCategory("maternite", "Grossesse et naissance", "Pregnancy and birth"),
    DocumentCategory(
        "actes", "Actes diagnostiques et thérapeutiques", "Diagnostic and therapeutic procedures"
    ),
    DocumentCategory(
        "paramedical", "Soins paramédicaux et rééducation", "Allied health care and rehabilitation"
    ),
    DocumentCategory("prescription", "Prescription", "Prescription"),
    DocumentCategory("dispensation", "Dispensation", "Dispensing"),
    DocumentCategory("vaccination", "Vaccination", "Vaccination"),
    DocumentCategory(
        "certificat",
        "Certificats et documents administratifs",
        "Certificates and administrative documents",
    ),
)

DOCUMENT_TYPES: tuple[DocumentType, ...] = (
    DocumentType("11502-2", "CR d'examens biologiques", "biologie", label_en="Laboratory report"),
    DocumentType(
        "18748-4", "CR d'imagerie médicale", "imagerie", label_en="Diagnostic imaging report"
    ),
    DocumentType(
        "60568-3",
        "CR d'anatomie et de cytologie pathologiques",
        "anatomopathologie",
        label_en="Pathology and cytology report",
    ),
    DocumentType(
        "51969-4", "CR de génétique moléculaire", "genetique", label_en="Molecular genetics report"
    ),
    DocumentType("34874-8", "CR opératoire", "chirurgie", label_en="Operative report"),
    DocumentType("77436-4", "CR d'anesthésie", "chirurgie", label_en="Anaesthesia report"),
    DocumentType(
        "34749-2",
        "CR de consultation pré-anesthésique",
        "chirurgie",
        label_en="Pre-anaesthesia consultation report",
    ),
    DocumentType(
        "11490-0",
        "Lettre de liaison à la sortie d'un établissement de soins",
        "hospitalisation",
        label_en="Discharge letter from a healthcare facility",
    ),
    DocumentType(
        "34112-3", "CR hospitalier (séjour)", "hospitalisation", label_en="Hospital stay report"
    ),
    DocumentType(
        "15507-7",
        "CR de passage aux urgences",
        "hospitalisation",
        label_en="Emergency department visit report",
    ),
    DocumentType(
        "18761-7",
        "Note de transfert (dont lettre de liaison à l'entrée en établissement de soins)",
        "hospitalisation",
        label_en="Transfer note (including admission letter to a healthcare facility)",
    ),
    DocumentType(
        "11488-4",
        "CR ou fiche de consultation ou de visite",
        "consultation",
        label_en="Consultation or visit note",
    ),
    DocumentType("85208-7", "CR de télémédecine", "consultation", label_en="Telemedicine report"),
    DocumentType("96349-6", "Lettre d'adressage", "consultation", label_en="Referral letter"),
    DocumentType(
        "34794-8",
        "CR de réunion de concertation pluridisciplinaire",
        "consultation",
        label_en="Multidisciplinary team meeting report",
    ),
    DocumentType("60591-5", "Synthèse médicale", "synthese", label_en="Medical summary"),
    DocumentType(
        "34133-9", "Synthèse d'épisode de soins", "synthese", label_en="Episode of care summary"
    ),
    DocumentType(
        "68599-0", "Synthèse psychiatrique", "psychiatrie", label_en="Psychiatric summary"
    ),
    DocumentType(
        "83901-9", "Bilan psychologique", "psychiatrie", label_en="Psychological assessment"
    ),
    DocumentType("15508-5", "CR d'accouchement", "maternite", label_en="Delivery report"),
    DocumentType(
        "70004-7",
        "CR d'acte diagnostique (autre)",
        "actes",
        label_en="Diagnostic procedure report (other)",
    ),
    DocumentType(
        "11505-5",
        "CR d'acte thérapeutique (autre)",
        "actes",
        label_en="Therapeutic procedure report (other)",
    ),
    DocumentType(
        "11506-3",
        "CR ou fiche de suivi de soins par auxiliaire médical",
        "paramedical",
        label_en="Allied health care follow-up note",
    ),
    DocumentType(
        "47420-5", "CR de bilan fonctionnel", "paramedical", label_en="Functional assessment report"
    ),
    DocumentType(
        "57833-6",
        "Prescription de produits de santé",
        "prescription",
        label_en="Prescription of health products",
    ),
    DocumentType(
        "57832-8", "Prescription de soins", "prescription", label_en="Prescription of care"
    ),
    DocumentType(
        "60593-1", "Dispensation médicamenteuse", "dispensation", label_en="Medication dispensing"
    ),
    DocumentType(
        "11369-6", "Historique des vaccinations", "vaccination", label_en="Immunisation history"
    ),
    DocumentType("87273-9", "Note de vaccination", "vaccination", label_en="Vaccination note"),
    DocumentType("89601-9", "Certificat médical", "certificat", label_en="Medical certificate"),
    DocumentType(
        "51851-4", "Document administratif", "certificat", label_en="Administrative document"
    ),
    DocumentType(
        "48765-2", "Allergies et intolérances", "synthese", label_en="Allergies and intolerances"
    ),
)

_DOCUMENT_TYPES_BY_CODE: Mapping[str, DocumentType] = MappingProxyType(
    {doc.code: doc for doc in DOCUMENT_TYPES}
)


def document_type(code: str) -> DocumentType:
    """The document type of a LOINC code; ``UnknownCode`` (French message) otherwise."""
    try:
        return _DOCUMENT_TYPES_BY_CODE[code.strip()]
    except (KeyError, AttributeError):
        raise UnknownCode(f"Type de document inconnu : « {code} ».") from None


def document_type_choices(lang: str | None = "fr") -> tuple[tuple[str, str], ...]:
    """``(code, label)`` pairs, in table order, for a Django ``choices``.

    French by default (stable, e.g. for a model field); ``lang=None`` follows the active
    language: build such choices per request (a callable ``choices``), not at import time.
    """
    return tuple((doc.code, doc.display_label(lang)) for doc in DOCUMENT_TYPES)


def document_type_label(code: str, lang: str | None = None) -> str:
    """Display label of a document type in ``lang`` (default: the active language); an
    unknown code is shown as given."""
    found = _DOCUMENT_TYPES_BY_CODE.get(code.strip()) if isinstance(code, str) else None
    return found.display_label(lang) if found is not None else str(code or "")


# --------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """A UCUM unit accepted by the portal.

    ``kind`` groups units convertible by a plain factor; ``factor`` multiplies a value in this
    unit to get it in the kind's base unit (g/L, mol/L, /L, U/L, mUI/L, g/g, g/mol, g/24 h...).
    """

    code: str  # UCUM
    label: str  # French display
    kind: str
    factor: float
    aliases: tuple[str, ...] = ()
    label_en: str = ""  # English display, only where it differs from the French one

    def display_label(self, lang: str | None = None) -> str:
        """The display label in ``lang`` (default: the active language)."""
        return _pick(self.label, self.label_en, lang)


UNITS: tuple[Unit, ...] = (
    # Mass concentration (base g/L).
    Unit("g/L", "g/L", "mass_conc", 1.0, ("g/l", "gramme/L", "grammes/L")),
    Unit("g/dL", "g/dL", "mass_conc", 10.0, ("g/100mL", "g/100 mL")),
    Unit("mg/L", "mg/L", "mass_conc", 1e-3),
    Unit("mg/dL", "mg/dL", "mass_conc", 1e-2, ("mg/100mL", "mg%")),
    Unit("ug/mL", "µg/mL", "mass_conc", 1e-3, ("mcg/mL",)),
    Unit("ug/dL", "µg/dL", "mass_conc", 1e-5, ("mcg/dL",)),
    Unit("ug/L", "µg/L", "mass_conc", 1e-6, ("mcg/L",)),
    Unit("ng/mL", "ng/mL", "mass_conc", 1e-6),
    Unit("ng/dL", "ng/dL", "mass_conc", 1e-8),
    Unit("ng/L", "ng/L", "mass_conc", 1e-9),
    Unit("pg/mL", "pg/mL", "mass_conc", 1e-9),
    # Substance concentration (base mol/L).
    Unit("mmol/L", "mmol/L", "subst_conc", 1e-3, ("mM",)),
    Unit("umol/L", "µmol/L", "subst_conc", 1e-6, ("mcmol/L",)),
    Unit("nmol/L", "nmol/L", "subst_conc", 1e-9),
    Unit("pmol/L", "pmol/L", "subst_conc", 1e-12),
    # Number concentration (base /L). "G" (capital) is giga, "g" (lower case) is gram.
    Unit(
        "10*9/L",
        "G/L",
        "number_conc",
        1e9,
        ("G/l", "giga/L", "x10*9/L", "10E9/L"),
        label_en="×10⁹/L",
    ),
    Unit(
        "10*12/L",
        "T/L",
        "number_conc",
        1e12,
        ("tera/L", "x10*12/L", "10E12/L"),
        label_en="×10¹²/L",
    ),
    Unit("10*3/uL", "10³/µL", "number_conc", 1e9, ("10*3/mm3", "K/uL", "x10*3/uL")),
    Unit("10*6/uL", "10⁶/µL", "number_conc", 1e12, ("10*6/mm3", "M/uL", "x10*6/uL")),
    Unit("/mm3", "/mm³", "number_conc", 1e6, ("/uL", "par mm3")),
    # Fractions.
    Unit("%", "%", "fraction", 1e-2, ("pourcent", "pour cent")),
    Unit("L/L", "L/L", "fraction", 1.0),
    Unit("mmol/mol", "mmol/mol", "substance_fraction", 1e-3),
    # Entitic (per cell) quantities.
    Unit("fL", "fL", "entitic_volume", 1.0, ("fl", "µm3", "um3")),
    Unit("pg", "pg", "entitic_mass", 1.0),
    # Catalytic / arbitrary enzyme units (base U/L).
    Unit("U/L", "UI/L", "u_conc", 1.0, ("IU/L", "U/l"), label_en="U/L"),
    Unit("ukat/L", "µkat/L", "u_conc", 60.0),
    Unit("U/mL", "U/mL", "u_conc", 1e3),
    Unit("kU/L", "kU/L", "u_conc", 1e3),
    # International units (base mUI/L).
    Unit("m[IU]/L", "mUI/L", "iu_conc", 1.0, ("mIU/L", "mU/L", "mUI/l"), label_en="mIU/L"),
    Unit(
        "u[IU]/mL",
        "µUI/mL",
        "iu_conc",
        1.0,
        ("uIU/mL", "µU/mL", "uU/mL", "microUI/mL"),
        label_en="µIU/mL",
    ),
    Unit("[IU]/mL", "UI/mL", "iu_conc", 1e3, ("IU/mL",), label_en="IU/mL"),
    Unit("k[IU]/L", "kUI/L", "iu_conc", 1e3, ("kIU/L",), label_en="kIU/L"),
    # Coagulation, sedimentation, filtration.
    Unit("s", "s", "time", 1.0, ("sec", "seconde", "secondes")),
    Unit("{INR}", "INR", "inr", 1.0),
    Unit("mm/h", "mm/h", "sedimentation", 1.0, ("mm/1h", "mm/heure", "mm/1re heure")),
    Unit(
        "mL/min/{1.73_m2}",
        "mL/min/1,73 m²",
        "gfr",
        1.0,
        ("mL/min/1.73m2", "mL/min/1.73 m2", "mL/min/1,73m2"),
        label_en="mL/min/1.73 m²",
    ),
    # Urinary ratios and 24-hour outputs.
    Unit("g/g", "g/g", "mass_ratio", 1.0),
    Unit("mg/g", "mg/g", "mass_ratio", 1e-3),
    Unit("mg/mmol", "mg/mmol", "mass_per_substance", 1.0),
    Unit("g/(24.h)", "g/24 h", "mass_rate", 1.0, ("g/24h", "g/j", "g/jour", "g/d")),
    Unit("mg/(24.h)", "mg/24 h", "mass_rate", 1e-3, ("mg/24h", "mg/j", "mg/jour", "mg/d")),
)

_UNITS_BY_CODE: Mapping[str, Unit] = MappingProxyType({u.code: u for u in UNITS})

_SPACES_RE = re.compile(r"\s+")


def _unit_key(text: str) -> str:
    """Spelling-insensitive key: NFKC (µ, ², ³...), micro -> u, no spaces, no * or ^, '.'."""
    key = unicodedata.normalize("NFKC", text)
    key = key.replace("\u03bc", "u").replace("×", "x")
    key = _SPACES_RE.sub("", key).replace("*", "").replace("^", "").replace(",", ".")
    return key


def _build_unit_indexes() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    exact: dict[str, str] = {}
    folded: dict[str, set[str]] = {}
    for u in UNITS:
        for spelling in (u.code, u.label, *u.aliases, *((u.label_en,) if u.label_en else ())):
            key = _unit_key(spelling)
            if exact.setdefault(key, u.code) != u.code:
                raise RuntimeError(f"unit spelling {spelling!r} is ambiguous")
            folded.setdefault(key.casefold(), set()).add(u.code)
    return exact, {k: frozenset(v) for k, v in folded.items()}


_UNIT_EXACT, _UNIT_FOLDED = _build_unit_indexes()

UNIT_MAX_LENGTH = 40


def normalize_unit(text: str) -> str:
    """The UCUM code of a unit as typed (``"µmol/l"`` -> ``"umol/L"``, ``"G/L"`` -> ``"10*9/L"``).

    Spelling is normalised (µ/u/μ, spaces, ², 10^9 or 10*9, decimal comma); case is ignored
    only where that leaves a single unit: "G/L" is giga per litre (blood counts) whereas
    "g/L" and "g/l" are grams per litre. Raises ``ValueError`` with a French message.
    """
    if not isinstance(text, str):
        raise ValueError("L'unité doit être un texte.")
    stripped = text.strip()
    if not stripped:
        raise ValueError("Unité manquante.")
    if len(stripped) > UNIT_MAX_LENGTH:
        raise ValueError(f"Unité trop longue ({UNIT_MAX_LENGTH} caractères au maximum).")
    key = _unit_key(stripped)
    if key in _UNIT_EXACT:
        return _UNIT_EXACT[key]
    candidates = _UNIT_FOLDED.get(key.casefold(), frozenset())
    if len(candidates) == 1:
        return next(iter(candidates))
    if candidates:
        labels = " ou ".join(sorted(_UNITS_BY_CODE[c].label for c in candidates))
        raise ValueError(f"Unité ambiguë : « {stripped} » ({labels}) ; respectez les majuscules.")
    raise ValueError(
        f"Unité inconnue : « {stripped} ». Exemples d'unités acceptées : "
        "mmol/L, g/L, µmol/L, G/L, UI/L, %."
    )


def unit(code: str) -> Unit:
    """The ``Unit`` of a UCUM code (or of any accepted spelling)."""
    try:
        return _UNITS_BY_CODE[normalize_unit(code)]
    except ValueError as exc:
        raise UnknownCode(str(exc)) from None


def unit_label(code: str) -> str:
    """French display label of a unit; an unknown unit is shown as given.

    Always French (the services quote it in their messages and in stored summaries); for
    display in the reader's language use ``display_unit_label``."""
    return display_unit_label(code, "fr")


def display_unit_label(code: str, lang: str | None = None) -> str:
    """Display label of a unit in ``lang`` (default: the active language); an unknown unit
    is shown as given."""
    found = _UNITS_BY_CODE.get(code)
    if found is None:
        try:
            found = _UNITS_BY_CODE[normalize_unit(code)]
        except ValueError:
            return code
    return found.display_label(lang)


# --------------------------------------------------------------------------------------------
# Analytes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnalyteGroup(_KeyedLabel):
    """A family of analytes (Hématologie, Ionogramme, …)."""


@dataclass(frozen=True, slots=True)
class AffineConversion:
    """``to = slope * from + intercept`` (used when a plain factor is wrong, e.g. HbA1c)."""

    from_unit: str
    to_unit: str
    slope: float
    intercept: float
    formula: str  # French, for display
    formula_en: str = ""  # English (decimal point)


@dataclass(frozen=True, slots=True)
class Analyte:
    code: str  # main LOINC code
    label: str  # French label
    short_label: str  # French abbreviation for tables and charts
    group: str  # AnalyteGroup.key
    default_unit: str  # UCUM, French usage
    units: tuple[str, ...]  # accepted UCUM units (default first)
    alt_codes: tuple[str, ...] = ()  # other LOINC codes of the same quantity
    molar_mass: float | None = None  # g/mol: mass <-> substance concentrations
    denominator_molar_mass: float | None = None  # g/mol of the ratio's denominator (mg/mmol)
    affine: tuple[AffineConversion, ...] = ()
    label_en: str = ""  # English label
    short_label_en: str = ""  # English abbreviation

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.code, *self.alt_codes)

    def display_label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (default: the active language)."""
        return _pick(self.label, self.label_en, lang)

    def display_short_label(self, lang: str | None = None) -> str:
        """The abbreviation in ``lang`` (default: the active language)."""
        return _pick(self.short_label, self.short_label_en, lang)


ANALYTE_GROUPS: tuple[AnalyteGroup, ...] = (
    AnalyteGroup("hematologie", "Hématologie / NFS", "Haematology / full blood count"),
    AnalyteGroup("ionogramme", "Ionogramme", "Electrolytes"),
    AnalyteGroup("renal", "Fonction rénale", "Renal function"),
    AnalyteGroup("glycemie", "Glycémie et diabète", "Blood glucose and diabetes"),
    AnalyteGroup("lipides", "Bilan lipidique", "Lipid profile"),
    AnalyteGroup("hepatique", "Bilan hépatique", "Liver function tests"),
    AnalyteGroup("pancreas", "Pancréas", "Pancreas"),
    AnalyteGroup("thyroide", "Thyroïde", "Thyroid"),
    AnalyteGroup("inflammation", "Inflammation", "Inflammation"),
    AnalyteGroup("coagulation", "Coagulation", "Coagulation"),
    AnalyteGroup("fer", "Bilan martial", "Iron studies"),
    AnalyteGroup("vitamines", "Vitamines", "Vitamins"),
    AnalyteGroup("marqueurs_tumoraux", "Marqueurs tumoraux", "Tumour markers"),
    AnalyteGroup("cardiaque", "Marqueurs cardiaques", "Cardiac markers"),
    AnalyteGroup("urines", "Urines", "Urine"),
    AnalyteGroup("metabolisme", "Métabolisme et hormones", "Metabolism and hormones"),
)

# Molar masses (g/mol) used for conversions.
_GLUCOSE = 180.16
_CREATININE = 113.12
_CHOLESTEROL = 386.65
_TRIGLYCERIDES = 885.7  # triolein convention, see module docstring
_UREA = 60.06
_UREA_NITROGEN = 28.014  # 2 N per urea molecule: BUN mg/dL <-> urea mmol/L
_CALCIUM = 40.08
_PHOSPHORUS = 30.97
_MAGNESIUM = 24.305
_URIC_ACID = 168.11
_BILIRUBIN = 584.66
_IRON = 55.845
_CALCIDIOL = 400.64  # 25-OH vitamin D3, also the usual convention for D2 + D3
_COBALAMIN = 1355.37
_FOLATE = 441.4
_FREE_T4 = 776.87
_FREE_T3 = 650.97
_CORTISOL = 362.46
_LACTATE = 90.08
_HOMOCYSTEINE = 135.18
_PTH = 9425.0  # intact PTH 1-84
_NT_PROBNP = 8457.0

_HBA1C_SLOPE = 10.929
_HBA1C_OFFSET = 2.15
_HBA1C = (
    AffineConversion(
        "%",
        "mmol/mol",
        _HBA1C_SLOPE,
        -_HBA1C_OFFSET * _HBA1C_SLOPE,
        "mmol/mol = (% − 2,15) × 10,929",
        "mmol/mol = (% − 2.15) × 10.929",
    ),
    AffineConversion(
        "mmol/mol",
        "%",
        1 / _HBA1C_SLOPE,
        _HBA1C_OFFSET,
        "% = mmol/mol ÷ 10,929 + 2,15",
        "% = mmol/mol ÷ 10.929 + 2.15",
    ),
)

_COUNT = ("10*9/L", "10*3/uL", "/mm3")
_RBC = ("10*12/L", "10*6/uL")
_ENZYME = ("U/L", "ukat/L")
_TROPONIN = ("ng/L", "ug/L", "pg/mL", "ng/mL")
_NG_ML = ("ng/mL", "ug/L")
_A = Analyte

ANALYTES: tuple[Analyte, ...] = (
    # --- Hématologie / NFS ---
    _A(
        "718-7",
        "Hémoglobine",
        "Hb",
        "hematologie",
        "g/dL",
        ("g/dL", "g/L"),
        label_en="Haemoglobin",
        short_label_en="Hb",
    ),
    _A(
        "4544-3",
        "Hématocrite",
        "Ht",
        "hematologie",
        "%",
        ("%", "L/L"),
        label_en="Haematocrit",
        short_label_en="Hct",
    ),
    _A(
        "789-8",
        "Érythrocytes (globules rouges)",
        "GR",
        "hematologie",
        "10*12/L",
        _RBC,
        label_en="Erythrocytes (red blood cells)",
        short_label_en="RBC",
    ),
    _A(
        "787-2",
        "Volume globulaire moyen",
        "VGM",
        "hematologie",
        "fL",
        ("fL",),
        label_en="Mean corpuscular volume",
        short_label_en="MCV",
    ),
    _A(
        "785-6",
        "Teneur corpusculaire moyenne en hémoglobine",
        "TCMH",
        "hematologie",
        "pg",
        ("pg",),
        label_en="Mean corpuscular haemoglobin",
        short_label_en="MCH",
    ),
    _A(
        "786-4",
        "Concentration corpusculaire moyenne en hémoglobine",
        "CCMH",
        "hematologie",
        "g/dL",
        ("g/dL", "g/L"),
        label_en="Mean corpuscular haemoglobin concentration",
        short_label_en="MCHC",
    ),
    _A(
        "788-0",
        "Indice de distribution des globules rouges",
        "IDR",
        "hematologie",
        "%",
        ("%",),
        label_en="Red cell distribution width",
        short_label_en="RDW",
    ),
    _A(
        "6690-2",
        "Leucocytes (globules blancs)",
        "GB",
        "hematologie",
        "10*9/L",
        _COUNT,
        label_en="Leukocytes (white blood cells)",
        short_label_en="WBC",
    ),
    _A(
        "751-8",
        "Polynucléaires neutrophiles",
        "PNN",
        "hematologie",
        "10*9/L",
        _COUNT,
        label_en="Neutrophils",
        short_label_en="Neut",
    ),
    _A(
        "711-2",
        "Polynucléaires éosinophiles",
        "PNE",
        "hematologie",
        "10*9/L",
        _COUNT,
        label_en="Eosinophils",
        short_label_en="Eos",
    ),
    _A(
        "704-7",
        "Polynucléaires basophiles",
        "PNB",
        "hematologie",
        "10*9/L",
        _COUNT,
        label_en="Basophils",
        short_label_en="Baso",
    ),
    _A(
        "731-0",
        "Lymphocytes",
        "Lympho",
        "hematologie",
        "10*9/L",
        _COUNT,
        label_en="Lymphocytes",
        short_label_en="Lymph",
    ),
    _A(
        "742-7",
        "Monocytes",
        "Mono",
        "hematologie",
        "10*9/L",
        _COUNT,
        label_en="Monocytes",
        short_label_en="Mono",
    ),
    _A(
        "777-3",
        "Plaquettes",
        "Plaq",
        "hematologie",
        "10*9/L",
        _COUNT,
        label_en="Platelets",
        short_label_en="Plt",
    ),
    _A(
        "32623-1",
        "Volume plaquettaire moyen",
        "VPM",
        "hematologie",
        "fL",
        ("fL",),
        label_en="Mean platelet volume",
        short_label_en="MPV",
    ),
    # --- Ionogramme ---
    _A(
        "2951-2",
        "Sodium",
        "Na",
        "ionogramme",
        "mmol/L",
        ("mmol/L",),
        label_en="Sodium",
        short_label_en="Na",
    ),
    _A(
        "2823-3",
        "Potassium",
        "K",
        "ionogramme",
        "mmol/L",
        ("mmol/L",),
        label_en="Potassium",
        short_label_en="K",
    ),
    _A(
        "2075-0",
        "Chlore",
        "Cl",
        "ionogramme",
        "mmol/L",
        ("mmol/L",),
        label_en="Chloride",
        short_label_en="Cl",
    ),
    _A(
        "1963-8",
        "Bicarbonates",
        "HCO3",
        "ionogramme",
        "mmol/L",
        ("mmol/L",),
        label_en="Bicarbonate",
        short_label_en="HCO3",
    ),
    _A(
        "17861-6",
        "Calcium",
        "Ca",
        "ionogramme",
        "mmol/L",
        ("mmol/L", "mg/L", "mg/dL"),
        alt_codes=("2000-8",),
        molar_mass=_CALCIUM,
        label_en="Calcium",
        short_label_en="Ca",
    ),
    _A(
        "1994-3",
        "Calcium ionisé",
        "Ca ionisé",
        "ionogramme",
        "mmol/L",
        ("mmol/L", "mg/L", "mg/dL"),
        molar_mass=_CALCIUM,
        label_en="Ionised calcium",
        short_label_en="iCa",
    ),
    _A(
        "2777-1",
        "Phosphore (phosphates)",
        "P",
        "ionogramme",
        "mmol/L",
        ("mmol/L", "mg/L", "mg/dL"),
        alt_codes=("14879-1",),
        molar_mass=_PHOSPHORUS,
        label_en="Phosphorus (phosphate)",
        short_label_en="P",
    ),
    _A(
        "19123-9",
        "Magnésium",
        "Mg",
        "ionogramme",
        "mmol/L",
        ("mmol/L", "mg/L", "mg/dL"),
        alt_codes=("2601-3",),
        molar_mass=_MAGNESIUM,
        label_en="Magnesium",
        short_label_en="Mg",
    ),
    # --- Fonction rénale ---
    _A(
        "2160-0",
        "Créatinine",
        "Créat",
        "renal",
        "umol/L",
        ("umol/L", "mg/L", "mg/dL"),
        alt_codes=("14682-9",),
        molar_mass=_CREATININE,
        label_en="Creatinine",
        short_label_en="Creat",
    ),
    _A(
        "62238-1",
        "Débit de filtration glomérulaire estimé (CKD-EPI)",
        "DFG CKD-EPI",
        "renal",
        "mL/min/{1.73_m2}",
        ("mL/min/{1.73_m2}",),
        label_en="Estimated glomerular filtration rate (CKD-EPI)",
        short_label_en="eGFR CKD-EPI",
    ),
    _A(
        "98979-8",
        "Débit de filtration glomérulaire estimé (CKD-EPI 2021)",
        "DFG CKD-EPI 2021",
        "renal",
        "mL/min/{1.73_m2}",
        ("mL/min/{1.73_m2}",),
        label_en="Estimated glomerular filtration rate (CKD-EPI 2021)",
        short_label_en="eGFR CKD-EPI 2021",
    ),
    _A(
        "33914-3",
        "Débit de filtration glomérulaire estimé (MDRD)",
        "DFG MDRD",
        "renal",
        "mL/min/{1.73_m2}",
        ("mL/min/{1.73_m2}",),
        label_en="Estimated glomerular filtration rate (MDRD)",
        short_label_en="eGFR MDRD",
    ),
    _A(
        "3091-6",
        "Urée",
        "Urée",
        "renal",
        "mmol/L",
        ("mmol/L", "g/L", "mg/dL"),
        alt_codes=("22664-7",),
        molar_mass=_UREA,
        label_en="Urea",
        short_label_en="Urea",
    ),
    _A(
        "3094-0",
        "Azote uréique (BUN)",
        "BUN",
        "renal",
        "mg/dL",
        ("mg/dL", "mmol/L"),
        molar_mass=_UREA_NITROGEN,
        label_en="Blood urea nitrogen (BUN)",
        short_label_en="BUN",
    ),
    _A(
        "3084-1",
        "Acide urique",
        "Ac. urique",
        "renal",
        "umol/L",
        ("umol/L", "mg/L", "mg/dL"),
        alt_codes=("14933-6",),
        molar_mass=_URIC_ACID,
        label_en="Uric acid",
        short_label_en="Uric acid",
    ),
    _A(
        "33863-2",
        "Cystatine C",
        "Cystatine C",
        "renal",
        "mg/L",
        ("mg/L",),
        label_en="Cystatin C",
        short_label_en="Cystatin C",
    ),
    # --- Glycémie et diabète ---
    _A(
        "2345-7",
        "Glucose (glycémie)",
        "Glycémie",
        "glycemie",
        "g/L",
        ("g/L", "mmol/L", "mg/dL"),
        alt_codes=("14749-6",),
        molar_mass=_GLUCOSE,
        label_en="Glucose (blood glucose)",
        short_label_en="Glucose",
    ),
    _A(
        "1558-6",
        "Glucose à jeun (glycémie à jeun)",
        "Glycémie à jeun",
        "glycemie",
        "g/L",
        ("g/L", "mmol/L", "mg/dL"),
        alt_codes=("14771-0",),
        molar_mass=_GLUCOSE,
        label_en="Fasting glucose",
        short_label_en="Fasting glucose",
    ),
    _A(
        "4548-4",
        "Hémoglobine glyquée (HbA1c)",
        "HbA1c",
        "glycemie",
        "%",
        ("%", "mmol/mol"),
        alt_codes=("59261-8", "17856-6"),
        affine=_HBA1C,
        label_en="Glycated haemoglobin (HbA1c)",
        short_label_en="HbA1c",
    ),
    # --- Bilan lipidique ---
    _A(
        "2093-3",
        "Cholestérol total",
        "CT",
        "lipides",
        "g/L",
        ("g/L", "mmol/L", "mg/dL"),
        alt_codes=("14647-2",),
        molar_mass=_CHOLESTEROL,
        label_en="Total cholesterol",
        short_label_en="TC",
    ),
    _A(
        "2085-9",
        "HDL-cholestérol",
        "HDL-c",
        "lipides",
        "g/L",
        ("g/L", "mmol/L", "mg/dL"),
        alt_codes=("14646-4",),
        molar_mass=_CHOLESTEROL,
        label_en="HDL cholesterol",
        short_label_en="HDL-C",
    ),
    _A(
        "13457-7",
        "LDL-cholestérol (calculé)",
        "LDL-c calc.",
        "lipides",
        "g/L",
        ("g/L", "mmol/L", "mg/dL"),
        alt_codes=("39469-2",),
        molar_mass=_CHOLESTEROL,
        label_en="LDL cholesterol (calculated)",
        short_label_en="LDL-C calc.",
    ),
    _A(
        "18262-6",
        "LDL-cholestérol (dosage direct)",
        "LDL-c direct",
        "lipides",
        "g/L",
        ("g/L", "mmol/L", "mg/dL"),
        alt_codes=("69419-0",),
        molar_mass=_CHOLESTEROL,
        label_en="LDL cholesterol (direct assay)",
        short_label_en="LDL-C direct",
    ),
    _A(
        "2089-1",
        "LDL-cholestérol",
        "LDL-c",
        "lipides",
        "g/L",
        ("g/L", "mmol/L", "mg/dL"),
        alt_codes=("22748-8",),
        molar_mass=_CHOLESTEROL,
        label_en="LDL cholesterol",
        short_label_en="LDL-C",
    ),
    _A(
        "2571-8",
        "Triglycérides",
        "TG",
        "lipides",
        "g/L",
        ("g/L", "mmol/L", "mg/dL"),
        alt_codes=("14927-8",),
        molar_mass=_TRIGLYCERIDES,
        label_en="Triglycerides",
        short_label_en="TG",
    ),
    _A(
        "43396-1",
        "Cholestérol non-HDL",
        "non-HDL-c",
        "lipides",
        "g/L",
        ("g/L", "mmol/L", "mg/dL"),
        molar_mass=_CHOLESTEROL,
        label_en="Non-HDL cholesterol",
        short_label_en="Non-HDL-C",
    ),
    _A(
        "10835-7",
        "Lipoprotéine (a)",
        "Lp(a)",
        "lipides",
        "g/L",
        ("g/L", "mg/L", "mg/dL", "nmol/L"),
        alt_codes=("43583-4",),
        label_en="Lipoprotein(a)",
        short_label_en="Lp(a)",
    ),
    _A(
        "1884-6",
        "Apolipoprotéine B",
        "Apo B",
        "lipides",
        "g/L",
        ("g/L", "mg/dL"),
        label_en="Apolipoprotein B",
        short_label_en="Apo B",
    ),
    _A(
        "1869-7",
        "Apolipoprotéine A1",
        "Apo A1",
        "lipides",
        "g/L",
        ("g/L", "mg/dL"),
        label_en="Apolipoprotein A1",
        short_label_en="Apo A1",
    ),
    # --- Bilan hépatique ---
    _A(
        "1920-8",
        "Aspartate aminotransférase (ASAT, TGO)",
        "ASAT",
        "hepatique",
        "U/L",
        _ENZYME,
        label_en="Aspartate aminotransferase (AST)",
        short_label_en="AST",
    ),
    _A(
        "1742-6",
        "Alanine aminotransférase (ALAT, TGP)",
        "ALAT",
        "hepatique",
        "U/L",
        _ENZYME,
        label_en="Alanine aminotransferase (ALT)",
        short_label_en="ALT",
    ),
    _A(
        "2324-2",
        "Gamma-glutamyltransférase",
        "GGT",
        "hepatique",
        "U/L",
        _ENZYME,
        label_en="Gamma-glutamyl transferase",
        short_label_en="GGT",
    ),
    _A(
        "6768-6",
        "Phosphatases alcalines",
        "PAL",
        "hepatique",
        "U/L",
        _ENZYME,
        label_en="Alkaline phosphatase",
        short_label_en="ALP",
    ),
    _A(
        "1975-2",
        "Bilirubine totale",
        "Bili. totale",
        "hepatique",
        "umol/L",
        ("umol/L", "mg/L", "mg/dL"),
        alt_codes=("14631-6",),
        molar_mass=_BILIRUBIN,
        label_en="Total bilirubin",
        short_label_en="Total bili.",
    ),
    _A(
        "1968-7",
        "Bilirubine conjuguée (directe)",
        "Bili. conj.",
        "hepatique",
        "umol/L",
        ("umol/L", "mg/L", "mg/dL"),
        alt_codes=("14629-0",),
        molar_mass=_BILIRUBIN,
        label_en="Conjugated (direct) bilirubin",
        short_label_en="Direct bili.",
    ),
    _A(
        "1751-7",
        "Albumine",
        "Alb",
        "hepatique",
        "g/L",
        ("g/L", "g/dL"),
        label_en="Albumin",
        short_label_en="Alb",
    ),
    _A(
        "2885-2",
        "Protéines totales (protidémie)",
        "Prot",
        "hepatique",
        "g/L",
        ("g/L", "g/dL"),
        label_en="Total protein",
        short_label_en="Total prot.",
    ),
    _A(
        "14338-8",
        "Préalbumine (transthyrétine)",
        "Préalb",
        "hepatique",
        "g/L",
        ("g/L", "mg/L", "mg/dL"),
        label_en="Prealbumin (transthyretin)",
        short_label_en="Prealb",
    ),
    # --- Pancréas ---
    _A(
        "3040-3",
        "Lipase",
        "Lipase",
        "pancreas",
        "U/L",
        _ENZYME,
        label_en="Lipase",
        short_label_en="Lipase",
    ),
    _A(
        "1798-8",
        "Amylase",
        "Amylase",
        "pancreas",
        "U/L",
        _ENZYME,
        label_en="Amylase",
        short_label_en="Amylase",
    ),
    # --- Thyroïde ---
    _A(
        "3016-3",
        "Thyréostimuline (TSH)",
        "TSH",
        "thyroide",
        "m[IU]/L",
        ("m[IU]/L", "u[IU]/mL"),
        label_en="Thyroid-stimulating hormone (TSH)",
        short_label_en="TSH",
    ),
    _A(
        "3024-7",
        "Thyroxine libre (T4 libre)",
        "T4L",
        "thyroide",
        "pmol/L",
        ("pmol/L", "ng/L", "ng/dL"),
        alt_codes=("14920-3",),
        molar_mass=_FREE_T4,
        label_en="Free thyroxine (free T4)",
        short_label_en="FT4",
    ),
    _A(
        "3051-0",
        "Triiodothyronine libre (T3 libre)",
        "T3L",
        "thyroide",
        "pmol/L",
        ("pmol/L", "pg/mL", "ng/L"),
        alt_codes=("14928-6",),
        molar_mass=_FREE_T3,
        label_en="Free triiodothyronine (free T3)",
        short_label_en="FT3",
    ),
    _A(
        "8099-4",
        "Anticorps anti-thyroperoxydase",
        "Ac anti-TPO",
        "thyroide",
        "[IU]/mL",
        ("[IU]/mL", "k[IU]/L"),
        label_en="Thyroid peroxidase antibodies",
        short_label_en="Anti-TPO",
    ),
    # --- Inflammation ---
    _A(
        "1988-5",
        "Protéine C réactive",
        "CRP",
        "inflammation",
        "mg/L",
        ("mg/L", "mg/dL"),
        label_en="C-reactive protein",
        short_label_en="CRP",
    ),
    _A(
        "30522-7",
        "Protéine C réactive ultrasensible",
        "CRPus",
        "inflammation",
        "mg/L",
        ("mg/L", "mg/dL"),
        label_en="High-sensitivity C-reactive protein",
        short_label_en="hs-CRP",
    ),
    _A(
        "4537-7",
        "Vitesse de sédimentation (1re heure)",
        "VS",
        "inflammation",
        "mm/h",
        ("mm/h",),
        alt_codes=("30341-2",),
        label_en="Erythrocyte sedimentation rate (1st hour)",
        short_label_en="ESR",
    ),
    _A(
        "33959-8",
        "Procalcitonine",
        "PCT",
        "inflammation",
        "ng/mL",
        _NG_ML,
        label_en="Procalcitonin",
        short_label_en="PCT",
    ),
    # --- Coagulation ---
    _A(
        "5902-2",
        "Temps de Quick",
        "TQ",
        "coagulation",
        "s",
        ("s",),
        label_en="Prothrombin time",
        short_label_en="PT",
    ),
    _A(
        "5894-1",
        "Taux de prothrombine",
        "TP",
        "coagulation",
        "%",
        ("%",),
        label_en="Prothrombin activity",
        short_label_en="PT activity",
    ),
    _A(
        "6301-6",
        "INR",
        "INR",
        "coagulation",
        "{INR}",
        ("{INR}",),
        alt_codes=("34714-6", "38875-1"),
        label_en="INR",
        short_label_en="INR",
    ),
    _A(
        "14979-9",
        "Temps de céphaline activée",
        "TCA",
        "coagulation",
        "s",
        ("s",),
        alt_codes=("3173-2",),
        label_en="Activated partial thromboplastin time",
        short_label_en="aPTT",
    ),
    _A(
        "3255-7",
        "Fibrinogène",
        "Fib",
        "coagulation",
        "g/L",
        ("g/L", "mg/dL"),
        label_en="Fibrinogen",
        short_label_en="Fib",
    ),
    _A(
        "48065-7",
        "D-dimères (unités FEU)",
        "D-dimères",
        "coagulation",
        "ng/mL",
        ("ng/mL", "ug/mL", "mg/L", "ug/L"),
        label_en="D-dimer (FEU)",
        short_label_en="D-dimer",
    ),
    # --- Bilan martial ---
    _A(
        "2276-4",
        "Ferritine",
        "Ferritine",
        "fer",
        "ug/L",
        ("ug/L", "ng/mL"),
        label_en="Ferritin",
        short_label_en="Ferritin",
    ),
    _A(
        "2498-4",
        "Fer sérique",
        "Fer",
        "fer",
        "umol/L",
        ("umol/L", "ug/dL", "mg/L"),
        alt_codes=("14798-3",),
        molar_mass=_IRON,
        label_en="Serum iron",
        short_label_en="Iron",
    ),
    _A(
        "3034-6",
        "Transferrine",
        "Trf",
        "fer",
        "g/L",
        ("g/L", "mg/dL"),
        label_en="Transferrin",
        short_label_en="Trf",
    ),
    _A(
        "2502-3",
        "Coefficient de saturation de la transferrine",
        "CST",
        "fer",
        "%",
        ("%",),
        label_en="Transferrin saturation",
        short_label_en="TSAT",
    ),
    _A(
        "2500-7",
        "Capacité totale de fixation du fer",
        "CTF",
        "fer",
        "umol/L",
        ("umol/L", "ug/dL"),
        alt_codes=("14800-7",),
        molar_mass=_IRON,
        label_en="Total iron-binding capacity",
        short_label_en="TIBC",
    ),
    # --- Vitamines ---
    _A(
        "62292-8",
        "Vitamine D (25-OH D2 + D3)",
        "25-OH vit. D",
        "vitamines",
        "nmol/L",
        ("nmol/L", "ng/mL", "ug/L"),
        molar_mass=_CALCIDIOL,
        label_en="Vitamin D (25-OH D2 + D3)",
        short_label_en="25-OH vit. D",
    ),
    _A(
        "1989-3",
        "25-OH vitamine D3",
        "25-OH vit. D3",
        "vitamines",
        "nmol/L",
        ("nmol/L", "ng/mL", "ug/L"),
        alt_codes=("14635-7",),
        molar_mass=_CALCIDIOL,
        label_en="25-OH vitamin D3",
        short_label_en="25-OH vit. D3",
    ),
    _A(
        "2132-9",
        "Vitamine B12 (cobalamine)",
        "Vit. B12",
        "vitamines",
        "pmol/L",
        ("pmol/L", "pg/mL", "ng/L"),
        alt_codes=("14685-2",),
        molar_mass=_COBALAMIN,
        label_en="Vitamin B12 (cobalamin)",
        short_label_en="Vit. B12",
    ),
    _A(
        "2284-8",
        "Folates sériques (vitamine B9)",
        "Folates",
        "vitamines",
        "nmol/L",
        ("nmol/L", "ng/mL", "ug/L"),
        alt_codes=("14732-2",),
        molar_mass=_FOLATE,
        label_en="Serum folate (vitamin B9)",
        short_label_en="Folate",
    ),
    # --- Marqueurs tumoraux ---
    _A(
        "2857-1",
        "Antigène prostatique spécifique total",
        "PSA total",
        "marqueurs_tumoraux",
        "ng/mL",
        _NG_ML,
        label_en="Total prostate-specific antigen",
        short_label_en="Total PSA",
    ),
    _A(
        "10886-0",
        "Antigène prostatique spécifique libre",
        "PSA libre",
        "marqueurs_tumoraux",
        "ng/mL",
        _NG_ML,
        label_en="Free prostate-specific antigen",
        short_label_en="Free PSA",
    ),
    _A(
        "2039-6",
        "Antigène carcino-embryonnaire",
        "ACE",
        "marqueurs_tumoraux",
        "ng/mL",
        _NG_ML,
        label_en="Carcinoembryonic antigen",
        short_label_en="CEA",
    ),
    _A(
        "10334-1",
        "Antigène CA 125",
        "CA 125",
        "marqueurs_tumoraux",
        "U/mL",
        ("U/mL", "kU/L"),
        label_en="CA 125 antigen",
        short_label_en="CA 125",
    ),
    _A(
        "24108-3",
        "Antigène CA 19-9",
        "CA 19-9",
        "marqueurs_tumoraux",
        "U/mL",
        ("U/mL", "kU/L"),
        label_en="CA 19-9 antigen",
        short_label_en="CA 19-9",
    ),
    _A(
        "6875-9",
        "Antigène CA 15-3",
        "CA 15-3",
        "marqueurs_tumoraux",
        "U/mL",
        ("U/mL", "kU/L"),
        label_en="CA 15-3 antigen",
        short_label_en="CA 15-3",
    ),
    _A(
        "1834-1",
        "Alpha-fœtoprotéine",
        "AFP",
        "marqueurs_tumoraux",
        "ng/mL",
        _NG_ML,
        label_en="Alpha-fetoprotein",
        short_label_en="AFP",
    ),
    # --- Marqueurs cardiaques ---
    _A(
        "10839-9",
        "Troponine I cardiaque",
        "TnI",
        "cardiaque",
        "ng/L",
        _TROPONIN,
        label_en="Cardiac troponin I",
        short_label_en="TnI",
    ),
    _A(
        "89579-7",
        "Troponine I cardiaque ultrasensible",
        "TnI us",
        "cardiaque",
        "ng/L",
        _TROPONIN,
        label_en="High-sensitivity cardiac troponin I",
        short_label_en="hs-TnI",
    ),
    _A(
        "6598-7",
        "Troponine T cardiaque",
        "TnT",
        "cardiaque",
        "ng/L",
        _TROPONIN,
        label_en="Cardiac troponin T",
        short_label_en="TnT",
    ),
    _A(
        "67151-1",
        "Troponine T cardiaque ultrasensible",
        "TnT us",
        "cardiaque",
        "ng/L",
        _TROPONIN,
        label_en="High-sensitivity cardiac troponin T",
        short_label_en="hs-TnT",
    ),
    _A(
        "30934-4",
        "Peptide natriurétique de type B (BNP)",
        "BNP",
        "cardiaque",
        "pg/mL",
        ("pg/mL", "ng/L"),
        label_en="B-type natriuretic peptide (BNP)",
        short_label_en="BNP",
    ),
    _A(
        "33762-6",
        "NT-proBNP",
        "NT-proBNP",
        "cardiaque",
        "pg/mL",
        ("pg/mL", "ng/L", "pmol/L"),
        molar_mass=_NT_PROBNP,
        label_en="NT-proBNP",
        short_label_en="NT-proBNP",
    ),
    _A(
        "2157-6",
        "Créatine kinase (CK, CPK)",
        "CK",
        "cardiaque",
        "U/L",
        _ENZYME,
        label_en="Creatine kinase (CK, CPK)",
        short_label_en="CK",
    ),
    _A(
        "13969-1",
        "Créatine kinase MB (masse)",
        "CK-MB",
        "cardiaque",
        "ug/L",
        ("ug/L", "ng/mL"),
        label_en="Creatine kinase MB (mass)",
        short_label_en="CK-MB",
    ),
    _A(
        "2532-0",
        "Lactate déshydrogénase",
        "LDH",
        "cardiaque",
        "U/L",
        _ENZYME,
        label_en="Lactate dehydrogenase",
        short_label_en="LDH",
    ),
    _A(
        "2639-3",
        "Myoglobine",
        "Myoglobine",
        "cardiaque",
        "ug/L",
        ("ug/L", "ng/mL"),
        label_en="Myoglobin",
        short_label_en="Myoglobin",
    ),
    # --- Urines ---
    _A(
        "14959-1",
        "Rapport microalbuminurie / créatininurie",
        "RAC",
        "urines",
        "mg/mmol",
        ("mg/mmol", "mg/g"),
        denominator_molar_mass=_CREATININE,
        label_en="Urine microalbumin / creatinine ratio",
        short_label_en="ACR",
    ),
    _A(
        "9318-7",
        "Rapport albuminurie / créatininurie",
        "RAC (alb.)",
        "urines",
        "mg/mmol",
        ("mg/mmol", "mg/g"),
        denominator_molar_mass=_CREATININE,
        label_en="Urine albumin / creatinine ratio",
        short_label_en="ACR (alb.)",
    ),
    _A(
        "14957-5",
        "Microalbuminurie",
        "Microalb.",
        "urines",
        "mg/L",
        ("mg/L",),
        label_en="Urine microalbumin",
        short_label_en="Microalb.",
    ),
    _A(
        "2888-6",
        "Protéinurie",
        "Protéinurie",
        "urines",
        "g/L",
        ("g/L", "mg/L", "mg/dL"),
        label_en="Urine protein",
        short_label_en="Urine prot.",
    ),
    _A(
        "2889-4",
        "Protéinurie des 24 heures",
        "Protéinurie 24 h",
        "urines",
        "g/(24.h)",
        ("g/(24.h)", "mg/(24.h)"),
        label_en="24-hour urine protein",
        short_label_en="24 h urine prot.",
    ),
    _A(
        "2890-2",
        "Rapport protéinurie / créatininurie",
        "RPC",
        "urines",
        "mg/mmol",
        ("mg/mmol", "g/g", "mg/g"),
        denominator_molar_mass=_CREATININE,
        label_en="Urine protein / creatinine ratio",
        short_label_en="UPCR",
    ),
    _A(
        "2161-8",
        "Créatinine urinaire",
        "Créat. urin.",
        "urines",
        "mmol/L",
        ("mmol/L", "umol/L", "mg/dL", "g/L"),
        alt_codes=("14683-7",),
        molar_mass=_CREATININE,
        label_en="Urine creatinine",
        short_label_en="Urine creat.",
    ),
    _A(
        "2955-3",
        "Sodium urinaire",
        "Na urin.",
        "urines",
        "mmol/L",
        ("mmol/L",),
        label_en="Urine sodium",
        short_label_en="Urine Na",
    ),
    _A(
        "2828-2",
        "Potassium urinaire",
        "K urin.",
        "urines",
        "mmol/L",
        ("mmol/L",),
        label_en="Urine potassium",
        short_label_en="Urine K",
    ),
    # --- Métabolisme et hormones ---
    _A(
        "2524-7",
        "Lactates",
        "Lactates",
        "metabolisme",
        "mmol/L",
        ("mmol/L", "mg/dL", "mg/L"),
        alt_codes=("14118-4",),
        molar_mass=_LACTATE,
        label_en="Lactate",
        short_label_en="Lactate",
    ),
    _A(
        "13965-9",
        "Homocystéine",
        "Homocystéine",
        "metabolisme",
        "umol/L",
        ("umol/L", "mg/L"),
        alt_codes=("2428-1",),
        molar_mass=_HOMOCYSTEINE,
        label_en="Homocysteine",
        short_label_en="Homocysteine",
    ),
    _A(
        "2143-6",
        "Cortisol",
        "Cortisol",
        "metabolisme",
        "nmol/L",
        ("nmol/L", "ug/dL", "ug/L", "ng/mL"),
        alt_codes=("14675-3",),
        molar_mass=_CORTISOL,
        label_en="Cortisol",
        short_label_en="Cortisol",
    ),
    _A(
        "2731-8",
        "Parathormone intacte",
        "PTH",
        "metabolisme",
        "pg/mL",
        ("pg/mL", "ng/L", "pmol/L"),
        alt_codes=("14866-8",),
        molar_mass=_PTH,
        label_en="Intact parathyroid hormone",
        short_label_en="PTH",
    ),
)

del _A


def _index_analytes() -> Mapping[str, Analyte]:
    index: dict[str, Analyte] = {}
    for item in ANALYTES:
        for code in item.codes:
            if code in index:
                raise RuntimeError(f"LOINC code {code} appears twice in ANALYTES")
            index[code] = item
    return MappingProxyType(index)


_ANALYTES_BY_CODE = _index_analytes()


def find_analyte(code: str) -> Analyte | None:
    """The analyte of a LOINC code (main or alternative), or ``None``."""
    return _ANALYTES_BY_CODE.get(code.strip()) if isinstance(code, str) else None


def analyte(code: str) -> Analyte:
    """The analyte of a LOINC code (main or alternative); ``UnknownCode`` otherwise."""
    found = find_analyte(code)
    if found is None:
        raise UnknownCode(f"Analyse inconnue : code LOINC « {code} ».")
    return found


def analytes_in_group(group: str) -> tuple[Analyte, ...]:
    return tuple(item for item in ANALYTES if item.group == group)


# --------------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------------

_CROSS_KINDS = {
    frozenset({"mass_conc", "subst_conc"}),
    frozenset({"mass_ratio", "mass_per_substance"}),
}


def _to_float(value: float | int | Decimal) -> float:
    result = float(value)
    if not math.isfinite(result):
        raise ValueError("Valeur non finie : conversion impossible.")
    return result


def _canonical_unit(text: str) -> Unit:
    try:
        return _UNITS_BY_CODE[normalize_unit(text)]
    except ValueError as exc:
        raise NotConvertible(str(exc)) from None


def _cross_kind_factor(item: Analyte | None, source: Unit, target: Unit) -> float:
    """Factor from ``source``'s base unit to ``target``'s base unit across kinds."""
    kinds = frozenset({source.kind, target.kind})
    if kinds not in _CROSS_KINDS or item is None:
        raise NotConvertible(
            f"Conversion impossible de {source.label} en {target.label}"
            + (f" pour « {item.label} »." if item is not None else " sans analyse connue.")
        )
    if source.kind == "mass_conc" or source.kind == "subst_conc":
        mass = item.molar_mass
        if mass is None:
            raise NotConvertible(
                f"Conversion de {source.label} en {target.label} impossible pour "
                f"« {item.label} » : masse molaire non définie."
            )
        return 1 / mass if source.kind == "mass_conc" else mass
    ratio_mass = item.denominator_molar_mass
    if ratio_mass is None:
        raise NotConvertible(
            f"Conversion de {source.label} en {target.label} impossible pour « {item.label} »."
        )
    return ratio_mass if source.kind == "mass_ratio" else 1 / ratio_mass


def convert(analyte_code: str, value: float | int | Decimal, from_unit: str, to_unit: str) -> float:
    """``value`` expressed in ``from_unit`` converted to ``to_unit`` for this analyte.

    Units may be given as UCUM codes or any spelling ``normalize_unit`` accepts. Within one
    kind (g/L <-> mg/dL, G/L <-> /mm³...) the conversion does not depend on the analyte and
    also works for analytes missing from ``ANALYTES``; across kinds it needs the analyte's
    data. Raises ``NotConvertible`` (a ``ValueError``) with a French message otherwise.
    """
    number = _to_float(value)
    source, target = _canonical_unit(from_unit), _canonical_unit(to_unit)
    if source.code == target.code:
        return number
    item = find_analyte(analyte_code)
    if item is not None:
        for rule in item.affine:
            if rule.from_unit == source.code and rule.to_unit == target.code:
                return rule.slope * number + rule.intercept
    if source.kind == target.kind:
        return number * source.factor / target.factor
    return number * source.factor * _cross_kind_factor(item, source, target) / target.factor


def can_convert(analyte_code: str, from_unit: str, to_unit: str) -> bool:
    try:
        convert(analyte_code, 1, from_unit, to_unit)
    except NotConvertible:
        return False
    return True


def convertible_units(analyte_code: str, from_unit: str) -> tuple[str, ...]:
    """The analyte's accepted units that a value in ``from_unit`` converts to (itself excluded)."""
    item = analyte(analyte_code)
    source = normalize_unit(from_unit)
    return tuple(
        code for code in item.units if code != source and can_convert(item.code, source, code)
    )


@dataclass(frozen=True, slots=True)
class Conversion:
    """One convertible pair of an analyte's units, for display and documentation."""

    from_unit: str
    to_unit: str
    factor: float | None  # None for an affine conversion
    formula: str  # French
    formula_en: str = ""  # English (decimal point, English unit labels)

    def display_formula(self, lang: str | None = None) -> str:
        """The formula in ``lang`` (default: the active language)."""
        return _pick(self.formula, self.formula_en, lang)


def _format_factor(value: float, lang: str = "fr") -> str:
    text = f"{value:.6g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa} × 10^{int(exponent)}"
    return text.replace(".", ",") if lang == "fr" else text


def _conversions_of(item: Analyte) -> tuple[Conversion, ...]:
    result: list[Conversion] = []
    affine = {(rule.from_unit, rule.to_unit): rule for rule in item.affine}
    for source in item.units:
        for target in item.units:
            if source == target or not can_convert(item.code, source, target):
                continue
            rule = affine.get((source, target))
            if rule is not None:
                result.append(Conversion(source, target, None, rule.formula, rule.formula_en))
                continue
            factor = convert(item.code, 1, source, target)
            formula, formula_en = (
                f"1 {display_unit_label(source, lang)} = {_format_factor(factor, lang)} "
                f"{display_unit_label(target, lang)}"
                for lang in ("fr", "en")
            )
            result.append(Conversion(source, target, factor, formula, formula_en))
    return tuple(result)


CONVERSIONS: Mapping[str, tuple[Conversion, ...]] = MappingProxyType(
    {item.code: _conversions_of(item) for item in ANALYTES}
)
