"""INS-C (Identifiant National de Santé calculé) and NIR (numéro de sécurité sociale).

The exact rules are in ``shared/INS.md`` (ASIP Santé design file of 30 Oct 2009):

* INS-C = SHA-256 of ``name10 + YYMMDD + NIR13`` (29 ASCII characters); the first
  8 bytes of the digest, read as an unsigned big-endian integer *n*, give the 20-digit
  body (zero-padded) and the key ``97 - n % 97`` on 2 digits.
* NIR = 13 characters + 2-digit key ``97 - (NIR13 mod 97)``, Corsica ``2A``/``2B`` read
  as ``19``/``18`` **for the key only** (the INS-C seed keeps the letters).

Framework-free apart from the ValidationError it raises and the lazy translations of its
messages, so forms, services, importers and tests share it.  ``compute_insc`` is on the hot
path of bulk imports: it avoids regexes, caches name normalisation and date formatting, and
checks an already clean 13-digit NIR with a handful of C-level string operations.
"""

from __future__ import annotations

import datetime
import hashlib
import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

__all__ = [
    "INSC_LENGTH",
    "NIR13_LENGTH",
    "NIR_LENGTH",
    "OID_INSC",
    "OID_INSC_DEMO",
    "OID_INSC_TEST",
    "OID_NIA",
    "OID_NIR",
    "OID_NIR_DEMO",
    "OID_NIR_TEST",
    "NirTraits",
    "check_nir_against_traits",
    "compute_insc",
    "nir_key",
    "nir_traits",
    "normalize_first_names",
    "validate_insc",
    "validate_nir",
    "validate_nir13",
]

# --- OIDs (ASIP Santé / ANS) ---------------------------------------------------------------
_OID_ROOT: Final = "1.2.250.1.213.1.4"
OID_NIR: Final = f"{_OID_ROOT}.8"
OID_NIA: Final = f"{_OID_ROOT}.9"
OID_NIR_TEST: Final = f"{_OID_ROOT}.10"
OID_NIR_DEMO: Final = f"{_OID_ROOT}.11"
OID_INSC: Final = f"{_OID_ROOT}.2"
OID_INSC_TEST: Final = f"{_OID_ROOT}.6"
OID_INSC_DEMO: Final = f"{_OID_ROOT}.7"

# --- Shapes --------------------------------------------------------------------------------
NIR_LENGTH: Final = 15
NIR13_LENGTH: Final = 13
INSC_LENGTH: Final = 22
NAME_LENGTH: Final = 10
_INSC_BODY_LIMIT: Final = 2**64

_DIGITS: Final = frozenset("0123456789")
# Sex digit: 1 man, 2 woman, 3/4 rare (historic registrations), 7/8 provisional numbers.
_SEX_DIGITS: Final = frozenset("123478")
_PROVISIONAL_SEX_DIGITS: Final = frozenset("78")
_MALE_SEX_DIGITS: Final = frozenset("137")
# Month: 01-12, or 20-42 / 50-99 when the civil record is incomplete.  Never 00, 13-19, 43-49.
_KNOWN_MONTHS: Final = range(1, 13)
_VALID_MONTHS: Final = frozenset(
    f"{m:02d}" for m in (*_KNOWN_MONTHS, *range(20, 43), *range(50, 100))
)
# Corsica (positions 6-7): letters kept as such, except for the NIR key computation.
_CORSICA_KEY_DIGITS: Final = {"2A": "19", "2B": "18"}
_LETTER_INDEX: Final = 6  # 0-based index of the only letter a NIR may hold (A/B of 2A/2B)
_SEX_CODES: Final = frozenset({"M", "F", "U"})

# --- First-name normalisation tables -------------------------------------------------------
_NAME_CACHE_SIZE: Final = 65536  # distinct first-name spellings kept (LRU)
_DATE_CACHE_SIZE: Final = 65536  # about 180 years of birth dates
_PAD: Final = " " * NAME_LENGTH
# Every byte that is not A-Z, for bytes.translate(None, delete).  Turning such a character
# into a space and then removing every space (INS.md steps 1-2) is the same as deleting it.
# bytes.translate is about 4x faster than str.translate with a mapping (which goes through
# a dict lookup per character), hence the encode/decode round trip.
_NON_AZ_BYTES: Final = bytes(code for code in range(256) if not (65 <= code <= 90))
# Letters that NFKD does not decompose into A-Z.  Applied after upper(), so ß is already SS.
_LATIN_EXTRAS: Final = str.maketrans(
    {
        "Æ": "AE",
        "Œ": "OE",
        "ẞ": "SS",
        "Ø": "O",
        "Đ": "D",
        "Ð": "D",
        "Ł": "L",
        "Þ": "TH",
        "Ħ": "H",
        "Ŋ": "N",
        "Ŧ": "T",
    }
)


def _error(message: str | _StrPromise, code: str, **params: object) -> ValidationError:
    """Build a ValidationError; ``params`` are interpolated lazily by Django."""
    return ValidationError(message, code=code, params=params or None)


# =========================================================================================
# First names
# =========================================================================================


def _normalize_uncached(value: str) -> str:
    """Normalisation without the cache (see ``normalize_first_names``)."""
    if not isinstance(value, str):
        raise _error(_("Le prénom doit être une chaîne de caractères."), code="first_names_type")
    if value.isascii():
        letters = value.upper()
        if not letters.isalpha():  # ASCII isalpha: A-Z only once upper-cased
            letters = letters.encode("ascii").translate(None, _NON_AZ_BYTES).decode("ascii")
    else:
        upper = unicodedata.normalize("NFKD", value).upper().translate(_LATIN_EXTRAS)
        # upper() may compose again (e.g. ŉ -> ʼN); a second NFKD then splits every mark off,
        # and the ASCII encoding drops the marks and every other non-ASCII character.
        decomposed = unicodedata.normalize("NFKD", upper).encode("ascii", "ignore")
        letters = decomposed.upper().translate(None, _NON_AZ_BYTES).decode("ascii")
    return (letters[:NAME_LENGTH] + _PAD)[:NAME_LENGTH]


@lru_cache(maxsize=_NAME_CACHE_SIZE)
def normalize_first_names(value: str) -> str:
    """Return the INS-C form of the first name(s): exactly 10 characters.

    Upper-case, accents removed, ligatures expanded (Æ→AE, Œ→OE, ß→SS…), every character
    that is not A–Z (space, hyphen, apostrophe, digit…) removed, first 10 letters kept,
    right-padded with spaces.  ``"Marie-Odile"`` → ``"MARIEODILE"``, ``"Zoé"`` →
    ``"ZOE       "``, a blank name → 10 spaces.  Idempotent on its own output.  Results are
    cached (bounded LRU), the ASCII case avoids Unicode decomposition entirely.
    """
    return _normalize_uncached(value)


# =========================================================================================
# NIR
# =========================================================================================


def _clean(value: str) -> str:
    """Remove every whitespace character (users type NIRs in groups); upper-case ASCII."""
    if not isinstance(value, str):
        raise _error(_("Le NIR doit être une chaîne de caractères."), code="nir_type")
    cleaned = "".join(value.split())
    if not cleaned:
        raise _error(
            _("Saisissez le NIR (numéro de sécurité sociale) : 15 caractères, clé comprise."),
            code="nir_empty",
        )
    # upper() only on ASCII: a non-ASCII character fails the character check anyway, and
    # upper() could change the length (ß → SS) before the length is reported.
    return cleaned.upper() if cleaned.isascii() else cleaned


def _check_characters(nir: str) -> None:
    """Digits everywhere, except A/B right after a 2 at positions 6–7 (Corsica)."""
    for index, char in enumerate(nir):
        if char in _DIGITS:
            continue
        if index == _LETTER_INDEX and char in "AB" and nir[index - 1] == "2":
            continue
        raise _error(
            _(
                "Caractère « %(char)s » non autorisé en position %(position)d du NIR : seuls "
                "les chiffres sont admis, et les lettres uniquement sous la forme 2A ou 2B "
                "(Corse) en positions 6 et 7."
            ),
            code="nir_character",
            char=char,
            position=index + 1,
        )


def _check_sex_and_month(nir: str) -> None:
    """Sex digit in 1, 2, 3, 4, 7, 8; month in 01–12, 20–42 or 50–99."""
    if nir[0] not in _SEX_DIGITS:
        raise _error(
            _(
                "Le premier chiffre du NIR (sexe) vaut %(digit)s, ce qui est impossible : "
                "valeurs admises 1 (homme), 2 (femme), 3 ou 4 (rares), 7 ou 8 (numéro "
                "provisoire)."
            ),
            code="nir_sex",
            digit=nir[0],
        )
    if nir[3:5] not in _VALID_MONTHS:
        raise _error(
            _(
                "Le mois de naissance du NIR (positions 4 et 5) vaut %(month)s, ce qui est "
                "impossible : valeurs admises 01 à 12, ou 20 à 42 et 50 à 99 (état civil "
                "incomplet)."
            ),
            code="nir_month",
            month=nir[3:5],
        )


def _key13(nir13: str) -> str:
    """Key of an already validated 13-character NIR (2A → 19, 2B → 18 for the key only)."""
    digits = nir13
    corsica = _CORSICA_KEY_DIGITS.get(nir13[5:7])
    if corsica is not None:
        digits = nir13[:5] + corsica + nir13[7:]
    return f"{97 - int(digits) % 97:02d}"


def validate_nir13(value: str) -> str:
    """Return the normalised 13-character NIR (without key) or raise a ValidationError.

    Spaces are removed and letters upper-cased; ``2A``/``2B`` are kept as letters.  Checks
    the characters, the sex digit and the month (there is no key to check).
    """
    nir = _clean(value)
    if len(nir) != NIR13_LENGTH:
        raise _error(
            _("Le NIR sans sa clé doit comporter 13 caractères ; %(count)d caractère(s) reçu(s)."),
            code="nir_length",
            count=len(nir),
        )
    _check_characters(nir)
    _check_sex_and_month(nir)
    return nir


def validate_nir(value: str) -> str:
    """Return the normalised 15-character NIR (spaces removed, upper-case) or raise.

    Each failure raises a ValidationError with a French message and its own code:
    ``nir_empty``, ``nir_length``, ``nir_character``, ``nir_sex``, ``nir_month``,
    ``nir_key``.  The key message never reveals the expected key (it would let anyone
    "fix" a mistyped number into somebody else's).
    """
    nir = _clean(value)
    if len(nir) != NIR_LENGTH:
        raise _error(
            _(
                "Le NIR doit comporter 15 caractères (13 caractères suivis de la clé à 2 "
                "chiffres) ; %(count)d caractère(s) reçu(s)."
            ),
            code="nir_length",
            count=len(nir),
        )
    _check_characters(nir)
    _check_sex_and_month(nir)
    if nir[13:] != _key13(nir[:13]):
        # No digit at all in this message, so it can never echo the expected key.
        raise _error(
            _("La clé du NIR ne correspond pas au numéro : vérifiez les quinze caractères."),
            code="nir_key",
        )
    return nir


def nir_key(nir13: str) -> str:
    """Return the 2-digit key of a 13-character NIR (validated first, spaces allowed)."""
    return _key13(validate_nir13(nir13))


@dataclass(frozen=True, slots=True)
class NirTraits:
    """What a NIR says about its holder (see ``nir_traits``)."""

    sex_digit: str  # "1", "2", "3", "4", "7" or "8"
    year: str  # 2 digits, century unknown
    month: int  # 1-12, or 20-42 / 50-99 when the civil record is incomplete
    department: str  # "75", "2A", "971" (overseas: 3 characters), "99" (born abroad)
    commune: str  # INSEE commune code (3 characters, 2 overseas) or country code after 99
    order: str  # 3-digit order number in the birth register
    provisional: bool  # sex digit 7 or 8: provisional number
    month_unknown: bool  # month 20-42 or 50-99

    @property
    def place_code(self) -> str:
        """The 5-character place of birth (department + commune)."""
        return self.department + self.commune

    @property
    def sex(self) -> str:
        """``"M"`` for sex digits 1, 3, 7; ``"F"`` for 2, 4, 8."""
        return "M" if self.sex_digit in _MALE_SEX_DIGITS else "F"

    @property
    def born_abroad(self) -> bool:
        """Department 99: born outside France (the commune is then a country code)."""
        return self.department == "99"


def _validate_nir13_or_15(value: str) -> str:
    """Validated 13-character NIR from a 13-character one or a 15-character one with key."""
    cleaned = _clean(value)
    if len(cleaned) == NIR_LENGTH:
        return validate_nir(cleaned)[:NIR13_LENGTH]
    if len(cleaned) == NIR13_LENGTH:
        return validate_nir13(cleaned)
    raise _error(
        _(
            "Le NIR doit comporter 15 caractères avec sa clé, ou 13 sans la clé ; "
            "%(count)d caractère(s) reçu(s)."
        ),
        code="nir_length",
        count=len(cleaned),
    )


def nir_traits(nir: str) -> NirTraits:
    """Decode a NIR (15 characters with key, or 13 without; spaces allowed).

    Raises ValidationError exactly like ``validate_nir`` / ``validate_nir13``.
    """
    nir13 = _validate_nir13_or_15(nir)
    month = int(nir13[3:5])
    overseas = nir13[5:7] in ("97", "98")
    department = nir13[5:8] if overseas else nir13[5:7]
    return NirTraits(
        sex_digit=nir13[0],
        year=nir13[1:3],
        month=month,
        department=department,
        commune=nir13[5 + len(department) : 10],
        order=nir13[10:13],
        provisional=nir13[0] in _PROVISIONAL_SEX_DIGITS,
        month_unknown=month not in _KNOWN_MONTHS,
    )


def check_nir_against_traits(nir: str, *, sex: str, birth_date: datetime.date) -> list[str]:
    """Compare a NIR with the declared sex and birth date; return French warnings.

    Policy (documented choice):

    * the NIR's **year** must equal ``birth_date.year % 100`` and, when the NIR's month is
      a real month (01–12), it must equal the birth month: a mismatch is a typing error on
      one side or the other, so it **blocks** (ValidationError, code ``nir_incoherent``);
      a month 20–42 / 50–99 (incomplete civil record) is never compared;
    * a **sex** mismatch only **warns**: sex changes keep the original NIR, and 3/4/7/8
      numbers exist, so the declared sex may legitimately differ from the NIR's first digit;
      ``sex="U"`` (unknown) is never compared.

    ``sex`` must be ``"M"``, ``"F"`` or ``"U"`` (anything else is a programming error:
    ValueError).  The NIR itself is validated first (15 or 13 characters).
    """
    if sex not in _SEX_CODES:
        raise ValueError(f"sex must be one of 'M', 'F', 'U', not {sex!r}")
    traits = nir_traits(nir)
    year_ok = traits.year == f"{birth_date.year % 100:02d}"
    month_ok = traits.month_unknown or traits.month == birth_date.month
    if not (year_ok and month_ok):
        raise _incoherence(traits, birth_date, year_ok=year_ok, month_ok=month_ok)
    warnings: list[str] = []
    if sex != "U" and sex != traits.sex:
        warnings.append(
            _(
                "Le NIR commence par %(digit)s (%(nir_sex)s) alors que le sexe saisi est "
                "%(sex)s : vérifiez le NIR et le sexe (un changement de sexe à l'état civil "
                "conserve le NIR d'origine)."
            )
            % {
                "digit": traits.sex_digit,
                "nir_sex": _("masculin") if traits.sex == "M" else _("féminin"),
                "sex": _("masculin") if sex == "M" else _("féminin"),
            }
        )
    return warnings


def _incoherence(
    traits: NirTraits, birth_date: datetime.date, *, year_ok: bool, month_ok: bool
) -> ValidationError:
    """Blocking error for a year and/or month of birth that contradicts the NIR."""
    params = {
        "nir_year": traits.year,
        "year": f"{birth_date.year % 100:02d}",
        "nir_month": f"{traits.month:02d}",
        "month": f"{birth_date.month:02d}",
    }
    if not (year_ok or month_ok):
        message = _(
            "Le NIR indique l'année %(nir_year)s et le mois %(nir_month)s, mais la date de "
            "naissance saisie donne l'année %(year)s et le mois %(month)s : corrigez le NIR "
            "ou la date de naissance."
        )
    elif not year_ok:
        message = _(
            "Le NIR indique l'année de naissance %(nir_year)s (positions 2 et 3), mais la "
            "date de naissance saisie donne %(year)s : corrigez le NIR ou la date de naissance."
        )
    else:
        message = _(
            "Le NIR indique le mois de naissance %(nir_month)s (positions 4 et 5), mais la "
            "date de naissance saisie donne %(month)s : corrigez le NIR ou la date de naissance."
        )
    return ValidationError(message, code="nir_incoherent", params=params)


# =========================================================================================
# INS-C
# =========================================================================================


@lru_cache(maxsize=_DATE_CACHE_SIZE)
def _date6(value: datetime.date) -> str:
    """``YYMMDD`` of a date (two-digit year, as on the Carte Vitale)."""
    return f"{value.year % 100:02d}{value.month:02d}{value.day:02d}"


def _date6_slow(value: object) -> str:
    """Validate a birth date that is not a clean 6-digit string (slow path)."""
    if isinstance(value, datetime.date):
        return _date6(value)
    if isinstance(value, str):
        raise _error(
            _(
                "La date de naissance doit comporter 6 chiffres AAMMJJ, telle qu'elle figure "
                "sur la carte Vitale ; reçu : « %(value)s »."
            ),
            code="birth_date_format",
            value=value,
        )
    raise _error(
        _("La date de naissance doit être une date ou une chaîne AAMMJJ de 6 chiffres."),
        code="birth_date_type",
    )


_sha256 = hashlib.sha256
# First 8 bytes of the digest as an unsigned big-endian integer, without slicing.
_unpack_u64 = struct.Struct(">Q").unpack_from
# Key of every n % 97, precomputed: 97 - (n mod 97) on 2 digits ("01" ... "97").
_INSC_KEYS: Final = tuple(f"{97 - remainder:02d}" for remainder in range(97))


_normalize = normalize_first_names


def compute_insc(first_names: str, birth_date: datetime.date | str, nir: str) -> str:
    """Return the 22-digit INS-C (20-digit body + 2-digit key) of a patient.

    ``first_names``: the *prénom* field of the card (normalised, see
    ``normalize_first_names``).  ``birth_date``: a ``date`` (formatted ``YYMMDD``) or the
    6-digit ``YYMMDD`` string as on the card — "lunar" dates (day 00, 300230…) are kept
    untouched, only the 6 digits are checked.  ``nir``: the patient's own NIR, 13
    characters, or 15 with its key (then checked); spaces allowed; ``2A``/``2B`` stay
    letters in the seed.  Raises ValidationError for a bad input.

    >>> compute_insc("PHILIPPE", "610217", "1610275754289")
    '0833910461279517589858'
    """
    # Fast paths: a clean 13-digit NIR and a clean 6-digit date string skip the validators
    # (same acceptance rules as validate_nir13, checked here with C-level str operations).
    if not (
        type(nir) is str
        and len(nir) == NIR13_LENGTH
        and nir[0] in _SEX_DIGITS
        and nir[3:5] in _VALID_MONTHS
        and nir.isdigit()
        and nir.isascii()
    ):
        nir = _validate_nir13_or_15(nir)
    if not (
        type(birth_date) is str
        and len(birth_date) == 6
        and birth_date.isdigit()
        and birth_date.isascii()
    ):
        birth_date = _date6_slow(birth_date)
    try:
        name = _normalize(first_names)
    except TypeError:  # unhashable, hence not a str
        raise _error(
            _("Le prénom doit être une chaîne de caractères."), code="first_names_type"
        ) from None
    n: int = _unpack_u64(_sha256((name + birth_date + nir).encode("ascii")).digest())[0]
    # str.zfill is about twice as fast as f"{n:020d}" here.
    return str(n).zfill(20) + _INSC_KEYS[n % 97]


def validate_insc(value: str) -> str:
    """Return a typed INS-C (spaces removed) or raise a ValidationError.

    22 digits, body (first 20) below 2**64, key (last 2) equal to ``97 - body % 97``.
    Codes: ``insc_empty``, ``insc_character``, ``insc_length``, ``insc_range``,
    ``insc_key``.  As for the NIR, the key message never reveals the expected key.
    """
    if not isinstance(value, str):
        raise _error(_("L'INS-C doit être une chaîne de caractères."), code="insc_type")
    cleaned = "".join(value.split())
    if not cleaned:
        raise _error(_("Saisissez l'INS-C : 22 chiffres."), code="insc_empty")
    for index, char in enumerate(cleaned):
        if char not in _DIGITS:
            raise _error(
                _(
                    "Caractère « %(char)s » non autorisé en position %(position)d de l'INS-C "
                    ": seuls les chiffres sont admis."
                ),
                code="insc_character",
                char=char,
                position=index + 1,
            )
    if len(cleaned) != INSC_LENGTH:
        raise _error(
            _(
                "L'INS-C doit comporter 22 chiffres (20 chiffres suivis de la clé à 2 "
                "chiffres) ; %(count)d chiffre(s) reçu(s)."
            ),
            code="insc_length",
            count=len(cleaned),
        )
    body = int(cleaned[:20])
    if body >= _INSC_BODY_LIMIT:
        raise _error(
            _(
                "Cet INS-C est impossible : ses 20 premiers chiffres dépassent la valeur "
                "maximale 18446744073709551615. Vérifiez la saisie."
            ),
            code="insc_range",
        )
    if cleaned[20:] != f"{97 - body % 97:02d}":
        raise _error(
            _(
                "La clé de l'INS-C (deux derniers chiffres) ne correspond pas au numéro : "
                "vérifiez les vingt-deux chiffres."
            ),
            code="insc_key",
        )
    return cleaned
