"""RPPS numbers (Répertoire partagé des professionnels de santé): 11 digits, Luhn key.

Framework-free apart from the ValidationError it raises, so forms, services and tests share it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

RPPS_LENGTH = 11


def luhn_is_valid(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only) passes the Luhn check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def luhn_complete(prefix: str) -> str:
    """Return ``prefix`` followed by the Luhn digit that makes it valid."""
    for digit in "0123456789":
        if luhn_is_valid(prefix + digit):
            return prefix + digit
    raise AssertionError("unreachable: one Luhn digit always fits")  # pragma: no cover


def validate_rpps(value: str) -> str:
    """Return the normalised RPPS number (spaces removed) or raise a precise ValidationError."""
    cleaned = "".join(str(value).split())
    if not cleaned:
        raise ValidationError(_("Saisissez le numéro RPPS."), code="rpps_empty")
    if not cleaned.isascii() or not cleaned.isdigit():
        raise ValidationError(
            _("Le numéro RPPS ne contient que des chiffres (0 à 9)."), code="rpps_characters"
        )
    if len(cleaned) != RPPS_LENGTH:
        raise ValidationError(
            _("Le numéro RPPS compte 11 chiffres ; vous en avez saisi %(count)d."),
            code="rpps_length",
            params={"count": len(cleaned)},
        )
    if not luhn_is_valid(cleaned):
        raise ValidationError(
            _(
                "Ce numéro RPPS n'est pas valide : son dernier chiffre (clé de Luhn) ne "
                "correspond pas aux dix premiers. Vérifiez la saisie."
            ),
            code="rpps_key",
        )
    return cleaned


def rpps_validator(value: str) -> None:
    """Model-field validator form of :func:`validate_rpps`."""
    validate_rpps(value)
