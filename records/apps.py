from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "records"
    verbose_name = _("Contenu du dossier")

    def ready(self) -> None:
        from allauth.account.signals import user_logged_in
        from django.contrib.auth.signals import user_logged_in as django_logged_in

        from records import family
        from records.sso import on_user_logged_in

        user_logged_in.connect(on_user_logged_in, dispatch_uid="dmp_sso_logged_in")
        # Django's own signal: every way in, the activation's first login included.
        django_logged_in.connect(family.on_user_logged_in, dispatch_uid="dmp_majority_review")
