"""When each professional last looked at each DMP, and under which name each DMP they were given
is listed: "Mes patients" sorts and searches its rows with them, and counts what is new since
then, without reading the trail nor sorting every DMP a professional holds.

One row per (professional's account, DMP) they ever looked at (``LOOKED_AT_THE_DMP``: the
DMP's page or its list of documents), written by ``records.trail.record_access`` in the same
transaction as the event it follows (one upsert, only on those events). The trail stays the
proof; this table is derived from it (migration 0014 filled it from the trail) and holds no
more than the trail says.
"""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["LastLook", "Listed", "first_names_key", "fold", "name_key"]


class LastLook(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        "identity.Patient", on_delete=models.CASCADE, related_name="last_looks"
    )
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("dernier accès au DMP")
        verbose_name_plural = _("derniers accès aux DMP")
        constraints = [
            models.UniqueConstraint(fields=["user", "patient"], name="records_lastlook_once"),
        ]
        indexes = [
            # "Mes patients" by last access: the user's rows newest first, walked in order.
            models.Index(fields=["user", "-at", "patient"], name="records_lastlook_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.patient_id} {self.at:%Y-%m-%d %H:%M}"


def name_key(*, birth_name: str, used_name: str, first_names: str) -> str:
    """The patient's name as "Mes patients" sorts and searches it: the name shown first (used
    name, else birth name), then the first names, then a different birth name; without case,
    accents or punctuation ("Élodie O'Brien-Séguin" → "obrien seguin elodie"), so that both
    databases compare it byte for byte, in the same order."""
    shown = used_name or birth_name
    parts = [shown, first_names, birth_name if birth_name != shown else ""]
    return fold(" ".join(parts))


def first_names_key(*, birth_name: str, used_name: str, first_names: str) -> str:
    """The same name from the first names ("zoe abadie"): searched too, never sorted by."""
    return fold(f"{first_names} {used_name or birth_name}")


def fold(text: str) -> str:
    """Lower case ASCII-ish words separated by single spaces: what ``name_key`` stores and
    what a typed search is compared with."""
    plain = "".join(
        char
        for char in unicodedata.normalize("NFKD", text)
        if not unicodedata.combining(char) and char not in "'’"
    ).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())[:250]


class Listed(models.Model):
    """One row per (professional's account, DMP) they were given: authorised (by the patient,
    at opening, by attested consent), named médecin traitant, or in emergency access. It holds
    the DMP's ``name_key`` (and ``first_names_key``, searched too): "Mes patients" sorted by
    name walks the user's rows in the order of its index and stops after a page, whatever the
    number of DMPs they hold (sorting them all cost the 5 000-DMP professional 1.5× the
    typical one's page).

    Not a grant: the access funnel (``records.access.my_listed``) keeps only the rows whose DMP
    it lets the user read now, checked row by row as the walk reaches them. Written by the
    funnel's ``dmp_list`` / ``dmp_grant``, dropped by ``dmp_revoke`` (when nothing else holds
    the DMP) and with every grant at the purge (the name must not outlive it). Patients'
    names are set at the opening and never edited afterwards (INS traits).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("identity.Patient", on_delete=models.CASCADE, related_name="+")
    name_key = models.CharField(max_length=250)
    first_names_key = models.CharField(max_length=250)

    class Meta:
        verbose_name = _("DMP de la liste d'un professionnel")
        verbose_name_plural = _("DMP des listes des professionnels")
        constraints = [
            models.UniqueConstraint(fields=["user", "patient"], name="records_listed_once"),
        ]
        indexes = [
            # "Mes patients" by name: the user's rows in name order, walked a page at a time.
            models.Index(fields=["user", "name_key", "patient"], name="records_listed_by_name"),
            # A name typed from the first names ("Zoé A…"): another range of the user's rows.
            models.Index(fields=["user", "first_names_key"], name="records_listed_by_first"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.patient_id}"
