"""When each professional last looked at each DMP: "Mes patients" sorts and searches its rows
with it, and counts what is new since then, without reading the trail.

One row per (professional's account, DMP) they ever looked at (``LOOKED_AT_THE_DMP``: the
DMP's page or its list of documents), written by ``records.trail.record_access`` in the same
transaction as the event it follows (one upsert, only on those events). The trail stays the
proof; this table is derived from it (migration 0014 filled it from the trail) and holds no
more than the trail says.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["LastLook"]


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
