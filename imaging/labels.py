"""The French phrases imaging stores with each file (key tags' labels, window presets) shown
in the reader's language. What is stored is never rewritten: it is translated when shown;
a text not listed (a label read from the file itself) is shown as it is."""

from __future__ import annotations

import re
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_PHRASES: dict[str, Promise] = {
    "Patient (DICOM)": gettext_lazy("Patient (DICOM)"),
    "Date de naissance (DICOM)": gettext_lazy("Date de naissance (DICOM)"),
    "Sexe (DICOM)": gettext_lazy("Sexe (DICOM)"),
    "Identifiant patient (DICOM)": gettext_lazy("Identifiant patient (DICOM)"),
    "Date de l'examen": gettext_lazy("Date de l'examen"),
    "Description de l'étude": gettext_lazy("Description de l'étude"),
    "Numéro d'accession": gettext_lazy("Numéro d'accession"),
    "Modalité": gettext_lazy("Modalité"),
    "Type d'image": gettext_lazy("Type d'image"),
    "Série": gettext_lazy("Série"),
    "Région anatomique": gettext_lazy("Région anatomique"),
    "Numéro d'instance": gettext_lazy("Numéro d'instance"),
    "Matrice": gettext_lazy("Matrice"),
    "Images dans le fichier": gettext_lazy("Images dans le fichier"),
    "Taille du pixel": gettext_lazy("Taille du pixel"),
    "Épaisseur de coupe": gettext_lazy("Épaisseur de coupe"),
    "Photométrie": gettext_lazy("Photométrie"),
    "Bits stockés": gettext_lazy("Bits stockés"),
    "Compression avec perte": gettext_lazy("Compression avec perte"),
    "Syntaxe de transfert": gettext_lazy("Syntaxe de transfert"),
    "Préambule d'origine": gettext_lazy("Préambule d'origine"),
    "oui": gettext_lazy("oui"),
    "non": gettext_lazy("non"),
    "Fenêtre enregistrée par la modalité": gettext_lazy("Fenêtre enregistrée par la modalité"),
    "Tissus mous": gettext_lazy("Tissus mous"),
    "Poumon": gettext_lazy("Poumon"),
    "Os": gettext_lazy("Os"),
    "Cerveau": gettext_lazy("Cerveau"),
    "Foie": gettext_lazy("Foie"),
    "Médiastin, abdomen, muscles": gettext_lazy("Médiastin, abdomen, muscles"),
    "Parenchyme pulmonaire": gettext_lazy("Parenchyme pulmonaire"),
    "Structures osseuses": gettext_lazy("Structures osseuses"),
    "Parenchyme cérébral": gettext_lazy("Parenchyme cérébral"),
    "Parenchyme hépatique après injection": gettext_lazy("Parenchyme hépatique après injection"),
}
_FILE_WINDOW = re.compile(r"^Fenêtre (\d+) du fichier$")
_PREAMBLE = re.compile(r"^non vide \((.*)\), remis à zéro$")
INSTANCE_NUMBER = "Numéro d'instance"


def shown(text: str) -> str:
    """A stored phrase in the active language."""
    if text in _PHRASES:
        return str(_PHRASES[text])
    if match := _FILE_WINDOW.match(text):
        return _("Fenêtre %(number)s du fichier") % {"number": match[1]}
    if match := _PREAMBLE.match(text):
        return _("non vide (%(kind)s), remis à zéro") % {"kind": match[1]}
    return text


def key_tags(stored: list[list[str]]) -> list[tuple[str, str, bool]]:
    """(label, value, is the instance number) of the stored key tags, as shown."""
    return [(shown(label), shown(value), label == INSTANCE_NUMBER) for label, value in stored]


def presets(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Window presets with their label and explanation as shown."""
    return [
        {
            **preset,
            "label": shown(str(preset.get("label", ""))),
            "explanation": shown(str(preset.get("explanation", ""))),
        }
        for preset in stored
    ]
