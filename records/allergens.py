"""Seeded list of common allergens and intolerances: medications, foods, environment, biologics.

Framework-free constants. Codes carry their system as a prefix so they never collide:

* ``atc:`` — medications by their WHO ATC code (a substance such as ``atc:J01CA04``
  amoxicilline, or a class such as ``atc:J01C`` pénicillines, since allergies are often to a
  class); label: the French INN (DCI) or class name.
* ``aliment:`` — foods: the 14 allergens of EU regulation 1169/2011 (annex II) and a few
  others frequent in France; ``env:`` — environmental allergens; ``bio:`` — biologics
  without an ATC code of their own. These are the portal's own stable slugs.

Anything missing is entered as free text (empty code), never forced into the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["ALLERGENS", "CATEGORY_LABELS", "Allergen", "allergen", "allergen_choices"]

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


@dataclass(frozen=True, slots=True)
class Allergen:
    code: str
    label: str
    category: str


_M, _F, _E, _B = MEDICATION, FOOD, ENVIRONMENT, BIOLOGIC

ALLERGENS: tuple[Allergen, ...] = (
    # --- Médicaments (ATC) ---
    Allergen("atc:J01C", "Pénicillines (classe)", _M),
    Allergen("atc:J01CA04", "Amoxicilline", _M),
    Allergen("atc:J01CR02", "Amoxicilline et acide clavulanique", _M),
    Allergen("atc:J01CE01", "Benzylpénicilline (pénicilline G)", _M),
    Allergen("atc:J01D", "Céphalosporines et autres bêta-lactamines (classe)", _M),
    Allergen("atc:J01DB01", "Céfalexine", _M),
    Allergen("atc:J01DD04", "Ceftriaxone", _M),
    Allergen("atc:J01E", "Sulfamides antibactériens (classe)", _M),
    Allergen("atc:J01EE01", "Sulfaméthoxazole et triméthoprime (cotrimoxazole)", _M),
    Allergen("atc:J01FA09", "Clarithromycine", _M),
    Allergen("atc:J01FA10", "Azithromycine", _M),
    Allergen("atc:J01MA02", "Ciprofloxacine", _M),
    Allergen("atc:J01GB03", "Gentamicine", _M),
    Allergen("atc:J01XA01", "Vancomycine", _M),
    Allergen("atc:M01A", "Anti-inflammatoires non stéroïdiens (AINS, classe)", _M),
    Allergen("atc:N02BA01", "Acide acétylsalicylique (aspirine)", _M),
    Allergen("atc:M01AE01", "Ibuprofène", _M),
    Allergen("atc:M01AE02", "Naproxène", _M),
    Allergen("atc:M01AB05", "Diclofénac", _M),
    Allergen("atc:N02BE01", "Paracétamol", _M),
    Allergen("atc:N02AA01", "Morphine", _M),
    Allergen("atc:R05DA04", "Codéine", _M),
    Allergen("atc:N02AX02", "Tramadol", _M),
    Allergen("atc:N03AF01", "Carbamazépine", _M),
    Allergen("atc:N03AX09", "Lamotrigine", _M),
    Allergen("atc:N03AB02", "Phénytoïne", _M),
    Allergen("atc:M04AA01", "Allopurinol", _M),
    Allergen("atc:C09AA05", "Ramipril (IEC)", _M),
    Allergen("atc:B01AB01", "Héparine", _M),
    Allergen("atc:B01AB05", "Énoxaparine", _M),
    Allergen("atc:N01BB02", "Lidocaïne", _M),
    Allergen("atc:M03AB01", "Suxaméthonium (curare)", _M),
    Allergen("atc:M03AC09", "Rocuronium (curare)", _M),
    Allergen("atc:D08AC02", "Chlorhexidine", _M),
    Allergen("atc:D08AG02", "Povidone iodée", _M),
    Allergen("atc:V08A", "Produits de contraste iodés", _M),
    # --- Aliments (règlement UE 1169/2011, annexe II, et autres) ---
    Allergen("aliment:arachide", "Arachide (cacahuète)", _F),
    Allergen("aliment:fruits-a-coque", "Fruits à coque (noix, noisette, amande, cajou…)", _F),
    Allergen("aliment:lait", "Lait de vache (protéines)", _F),
    Allergen("aliment:lactose", "Lactose (intolérance)", _F),
    Allergen("aliment:oeuf", "Œuf", _F),
    Allergen("aliment:poisson", "Poisson", _F),
    Allergen("aliment:crustaces", "Crustacés", _F),
    Allergen("aliment:mollusques", "Mollusques", _F),
    Allergen("aliment:soja", "Soja", _F),
    Allergen("aliment:gluten", "Céréales contenant du gluten (blé, seigle, orge…)", _F),
    Allergen("aliment:sesame", "Sésame", _F),
    Allergen("aliment:moutarde", "Moutarde", _F),
    Allergen("aliment:celeri", "Céleri", _F),
    Allergen("aliment:lupin", "Lupin", _F),
    Allergen("aliment:sulfites", "Sulfites (anhydride sulfureux)", _F),
    Allergen("aliment:kiwi", "Kiwi", _F),
    Allergen("aliment:pomme", "Pomme (syndrome pollen-aliment)", _F),
    # --- Environnement ---
    Allergen("env:acariens", "Acariens", _E),
    Allergen("env:graminees", "Pollens de graminées", _E),
    Allergen("env:bouleau", "Pollen de bouleau", _E),
    Allergen("env:ambroisie", "Pollen d'ambroisie", _E),
    Allergen("env:cypres", "Pollen de cyprès", _E),
    Allergen("env:chat", "Chat (phanères)", _E),
    Allergen("env:chien", "Chien (phanères)", _E),
    Allergen("env:moisissures", "Moisissures", _E),
    Allergen("env:latex", "Latex", _E),
    Allergen("env:venin-guepe", "Venin de guêpe", _E),
    Allergen("env:venin-abeille", "Venin d'abeille", _E),
    Allergen("env:nickel", "Nickel (allergie de contact)", _E),
    # --- Produits biologiques ---
    Allergen("bio:produits-sanguins", "Produits sanguins labiles (transfusion)", _B),
    Allergen("atc:J07BB", "Vaccin contre la grippe", _B),
    Allergen("atc:J06BB02", "Immunoglobulines antitétaniques", _B),
    Allergen("atc:L04AB02", "Infliximab", _B),
)

_BY_CODE: Mapping[str, Allergen] = MappingProxyType({item.code: item for item in ALLERGENS})
if len(_BY_CODE) != len(ALLERGENS):  # pragma: no cover - a typo in the table above
    raise RuntimeError("duplicate allergen code")


def allergen(code: str) -> Allergen | None:
    """The listed allergen with this code, or None."""
    return _BY_CODE.get(code) if isinstance(code, str) else None


def allergen_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped ``(category label, [(code, label), …])`` choices for a select, list order."""
    return [
        (label, [(item.code, item.label) for item in ALLERGENS if item.category == category])
        for category, label in CATEGORY_LABELS.items()
    ]
