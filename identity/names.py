"""Checks on identity traits typed by hand: names as on the Carte Vitale.

Refuses what would corrupt an identity silently: control and invisible characters, digits,
and letters from another script that look Latin (a Cyrillic « а » in « Mаrie »).
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_NAME_LENGTH = 100
_ALLOWED_PUNCTUATION = {" ", "-", "'", "’"}


def clean_person_name(value: str, *, required: bool = True) -> str:
    """Return the name NFC-normalised with single spaces, or raise a precise ValidationError."""
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs", "Cn"} for ch in value):
        raise ValidationError(
            _("Ce champ contient des caractères invisibles ou de contrôle : ressaisissez-le."),
            code="control_characters",
        )
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        if required:
            raise ValidationError(_("Ce champ est obligatoire."), code="required")
        return ""
    if len(text) > MAX_NAME_LENGTH:
        raise ValidationError(
            _("%(max)d caractères au plus (vous en avez saisi %(count)d)."),
            code="too_long",
            params={"max": MAX_NAME_LENGTH, "count": len(text)},
        )
    if any(ch.isdigit() for ch in text):
        raise ValidationError(_("Un nom ou un prénom ne contient pas de chiffres."), code="digits")
    for ch in text:
        if ch in _ALLOWED_PUNCTUATION:
            continue
        if not ch.isalpha():
            raise ValidationError(
                _("Caractère « %(char)s » non admis : lettres, espaces, tirets et apostrophes."),
                code="character",
                params={"char": ch},
            )
        if not unicodedata.name(ch, "").startswith("LATIN"):
            raise ValidationError(
                _(
                    "La lettre « %(char)s » n'appartient pas à l'alphabet latin (alphabet grec, "
                    "cyrillique… qui lui ressemble) : saisissez le nom tel qu'il figure sur la "
                    "carte Vitale."
                ),
                code="mixed_scripts",
                params={"char": ch},
            )
    return text
