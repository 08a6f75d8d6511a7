from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImagingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "imaging"
    verbose_name = _("Imagerie médicale")
