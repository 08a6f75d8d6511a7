from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImagingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "imaging"
    verbose_name = _("Imagerie médicale")

    def ready(self) -> None:
        # Pillow's decompression-bomb warning becomes an error for every image the portal opens.
        from imaging.dicom import install_pillow_guards

        install_pillow_guards()
        # The studies' DICOM files in the "Télécharger mon DMP" archive.
        from imaging.export import ImagingSection
        from records.portability import SECTIONS

        if not any(isinstance(section, ImagingSection) for section in SECTIONS):
            SECTIONS.append(ImagingSection())
