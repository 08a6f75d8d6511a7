"""Seeded list of common allergens and intolerances: medications, foods, environment, biologics.

Framework-free constants. Codes carry their system as a prefix so they never collide:

* ``atc:`` — medications by their WHO ATC code (a substance such as ``atc:J01CA04``
  amoxicilline, or a class such as ``atc:J01C`` pénicillines, since allergies are often to a
  class); label: the French INN (DCI) or class name.
* ``aliment:`` — foods: the 14 allergens of EU regulation 1169/2011 (annex II) and a few
  others frequent in France; ``env:`` — environmental allergens; ``bio:`` — biologics
  without an ATC code of their own. These are the portal's own stable slugs.

Anything missing is entered as free text (empty code), never forced into the list.

Labels are French (stored with the allergy when it is recorded); each also has an English
twin for display (``Allergen.display_label``, ``category_label``, ``allergen_choices``),
chosen with ``records.reference.display_language``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from records.reference import display_language

__all__ = [
    "ALLERGENS",
    "CATEGORY_LABELS",
    "CATEGORY_LABELS_EN",
    "Allergen",
    "allergen",
    "allergen_choices",
    "category_label",
]

MEDICATION = "medication"
FOOD = "food"
ENVIRONMENT = "environment"
BIOLOGIC = "biologic"

CATEGORY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        MEDICATION: "Médicament",
        FOOD: "Aliment",
        ENVIRONMENT: "Environnement",
        BIOLOGIC: "Produit biologique",
    }
)

CATEGORY_LABELS_EN: Mapping[str, str] = MappingProxyType(
    {
        MEDICATION: "Medication",
        FOOD: "Food",
        ENVIRONMENT: "Environment",
        BIOLOGIC: "Biological product",
    }
)


def category_label(category: str, lang: str | None = None) -> str:
    """Display label of a category in ``lang`` (default: the active language)."""
    labels = CATEGORY_LABELS_EN if display_language(lang) == "en" else CATEGORY_LABELS
    return labels.get(category, category)


@dataclass(frozen=True, slots=True)
class Allergen:
    code: str
    label: str  # French (INN / DCI or class name)
    category: str
    label_en: str = ""  # English (INN or class name)

    def display_label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (default: the active language)."""
        if self.label_en and display_language(lang) == "en":
            return self.label_en
        return self.label


_M, _F, _E, _B = MEDICATION, FOOD, ENVIRONMENT, BIOLOGIC

ALLERGENS: tuple[Allergen, ...] = (
    # --- Médicaments (ATC) ---
    Allergen("atc:J01C", "Pénicillines (classe)", _M, label_en="Penicillins (class)"),
    Allergen("atc:J01CA04", "Amoxicilline", _M, label_en="Amoxicillin"),
    Allergen(
        "atc:J01CR02",
        "Amoxicilline et acide clavulanique",
        _M,
        label_en="Amoxicillin and clavulanic acid",
    ),
    Allergen(
        "atc:J01CE01",
        "Benzylpénicilline (pénicilline G)",
        _M,
        label_en="Benzylpenicillin (penicillin G)",
    ),
    Allergen(
        "atc:J01D",
        "Céphalosporines et autres bêta-lactamines (classe)",
        _M,
        label_en="Cephalosporins and other beta-lactams (class)",
    ),
    Allergen("atc:J01DB01", "Céfalexine", _M, label_en="Cefalexin"),
    Allergen("atc:J01DD04", "Ceftriaxone", _M, label_en="Ceftriaxone"),
    Allergen(
        "atc:J01E",
        "Sulfamides antibactériens (classe)",
        _M,
        label_en="Antibacterial sulfonamides (class)",
    ),
    Allergen(
        "atc:J01EE01",
        "Sulfaméthoxazole et triméthoprime (cotrimoxazole)",
        _M,
        label_en="Sulfamethoxazole and trimethoprim (co-trimoxazole)",
    ),
    Allergen("atc:J01FA09", "Clarithromycine", _M, label_en="Clarithromycin"),
    Allergen("atc:J01FA10", "Azithromycine", _M, label_en="Azithromycin"),
    Allergen("atc:J01MA02", "Ciprofloxacine", _M, label_en="Ciprofloxacin"),
    Allergen("atc:J01GB03", "Gentamicine", _M, label_en="Gentamicin"),
    Allergen("atc:J01XA01", "Vancomycine", _M, label_en="Vancomycin"),
    Allergen(
        "atc:M01A",
        "Anti-inflammatoires non stéroïdiens (AINS, classe)",
        _M,
        label_en="Non-steroidal anti-inflammatory drugs (NSAIDs, class)",
    ),
    Allergen(
        "atc:N02BA01",
        "Acide acétylsalicylique (aspirine)",
        _M,
        label_en="Acetylsalicylic acid (aspirin)",
    ),
    Allergen("atc:M01AE01", "Ibuprofène", _M, label_en="Ibuprofen"),
    Allergen("atc:M01AE02", "Naproxène", _M, label_en="Naproxen"),
    Allergen("atc:M01AB05", "Diclofénac", _M, label_en="Diclofenac"),
    Allergen("atc:N02BE01", "Paracétamol", _M, label_en="Paracetamol"),
    Allergen("atc:N02AA01", "Morphine", _M, label_en="Morphine"),
    Allergen("atc:R05DA04", "Codéine", _M, label_en="Codeine"),
    Allergen("atc:N02AX02", "Tramadol", _M, label_en="Tramadol"),
    Allergen("atc:N03AF01", "Carbamazépine", _M, label_en="Carbamazepine"),
    Allergen("atc:N03AX09", "Lamotrigine", _M, label_en="Lamotrigine"),
    Allergen("atc:N03AB02", "Phénytoïne", _M, label_en="Phenytoin"),
    Allergen("atc:M04AA01", "Allopurinol", _M, label_en="Allopurinol"),
    Allergen("atc:C09AA05", "Ramipril (IEC)", _M, label_en="Ramipril (ACE inhibitor)"),
    Allergen("atc:B01AB01", "Héparine", _M, label_en="Heparin"),
    Allergen("atc:B01AB05", "Énoxaparine", _M, label_en="Enoxaparin"),
    Allergen("atc:N01BB02", "Lidocaïne", _M, label_en="Lidocaine"),
    Allergen(
        "atc:M03AB01",
        "Suxaméthonium (curare)",
        _M,
        label_en="Suxamethonium (neuromuscular blocker)",
    ),
    Allergen(
        "atc:M03AC09", "Rocuronium (curare)", _M, label_en="Rocuronium (neuromuscular blocker)"
    ),
    Allergen("atc:D08AC02", "Chlorhexidine", _M, label_en="Chlorhexidine"),
    Allergen("atc:D08AG02", "Povidone iodée", _M, label_en="Povidone-iodine"),
    Allergen("atc:V08A", "Produits de contraste iodés", _M, label_en="Iodinated contrast media"),
    # --- Aliments (règlement UE 1169/2011, annexe II, et autres) ---
    Allergen("aliment:arachide", "Arachide (cacahuète)", _F, label_en="Peanut"),
    Allergen(
        "aliment:fruits-a-coque",
        "Fruits à coque (noix, noisette, amande, cajou…)",
        _F,
        label_en="Tree nuts (walnut, hazelnut, almond, cashew…)",
    ),
    Allergen("aliment:lait", "Lait de vache (protéines)", _F, label_en="Cow's milk (proteins)"),
    Allergen("aliment:lactose", "Lactose (intolérance)", _F, label_en="Lactose (intolerance)"),
    Allergen("aliment:oeuf", "Œuf", _F, label_en="Egg"),
    Allergen("aliment:poisson", "Poisson", _F, label_en="Fish"),
    Allergen("aliment:crustaces", "Crustacés", _F, label_en="Crustaceans"),
    Allergen("aliment:mollusques", "Mollusques", _F, label_en="Molluscs"),
    Allergen("aliment:soja", "Soja", _F, label_en="Soy"),
    Allergen(
        "aliment:gluten",
        "Céréales contenant du gluten (blé, seigle, orge…)",
        _F,
        label_en="Cereals containing gluten (wheat, rye, barley…)",
    ),
    Allergen("aliment:sesame", "Sésame", _F, label_en="Sesame"),
    Allergen("aliment:moutarde", "Moutarde", _F, label_en="Mustard"),
    Allergen("aliment:celeri", "Céleri", _F, label_en="Celery"),
    Allergen("aliment:lupin", "Lupin", _F, label_en="Lupin"),
    Allergen(
        "aliment:sulfites",
        "Sulfites (anhydride sulfureux)",
        _F,
        label_en="Sulphites (sulphur dioxide)",
    ),
    Allergen("aliment:kiwi", "Kiwi", _F, label_en="Kiwi fruit"),
    Allergen(
        "aliment:pomme",
        "Pomme (syndrome pollen-aliment)",
        _F,
        label_en="Apple (pollen-food syndrome)",
    ),
    # --- Environnement ---
    Allergen("env:acariens", "Acariens", _E, label_en="House dust mites"),
    Allergen("env:graminees", "Pollens de graminées", _E, label_en="Grass pollen"),
    Allergen("env:bouleau", "Pollen de bouleau", _E, label_en="Birch pollen"),
    Allergen("env:ambroisie", "Pollen d'ambroisie", _E, label_en="Ragweed pollen"),
    Allergen("env:cypres", "Pollen de cyprès", _E, label_en="Cypress pollen"),
    Allergen("env:chat", "Chat (phanères)", _E, label_en="Cat (dander)"),
    Allergen("env:chien", "Chien (phanères)", _E, label_en="Dog (dander)"),
    Allergen("env:moisissures", "Moisissures", _E, label_en="Moulds"),
    Allergen("env:latex", "Latex", _E, label_en="Latex"),
    Allergen("env:venin-guepe", "Venin de guêpe", _E, label_en="Wasp venom"),
    Allergen("env:venin-abeille", "Venin d'abeille", _E, label_en="Bee venom"),
    Allergen("env:nickel", "Nickel (allergie de contact)", _E, label_en="Nickel (contact allergy)"),
    # --- Produits biologiques ---
    Allergen(
        "bio:produits-sanguins",
        "Produits sanguins labiles (transfusion)",
        _B,
        label_en="Labile blood products (transfusion)",
    ),
    Allergen("atc:J07BB", "Vaccin contre la grippe", _B, label_en="Influenza vaccine"),
    Allergen(
        "atc:J06BB02", "Immunoglobulines antitétaniques", _B, label_en="Tetanus immunoglobulin"
    ),
    Allergen("atc:L04AB02", "Infliximab", _B, label_en="Infliximab"),
)

_BY_CODE: Mapping[str, Allergen] = MappingProxyType({item.code: item for item in ALLERGENS})
if len(_BY_CODE) != len(ALLERGENS):  # pragma: no cover - a typo in the table above
    raise RuntimeError("duplicate allergen code")


def allergen(code: str) -> Allergen | None:
    """The listed allergen with this code, or None."""
    return _BY_CODE.get(code) if isinstance(code, str) else None


def allergen_choices(lang: str | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped ``(category label, [(code, label), …])`` choices for a select, list order,
    in ``lang`` (default: the active language; build them per request)."""
    return [
        (
            category_label(category, lang),
            [
                (item.code, item.display_label(lang))
                for item in ALLERGENS
                if item.category == category
            ],
        )
        for category in CATEGORY_LABELS
    ]
