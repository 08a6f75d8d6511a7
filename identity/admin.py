"""Administration of accounts and professionals (verification). No clinical data here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from identity.auth import AuthenticatedHttpRequest
from identity.models import Professional, User, VerificationStatus
from identity.services import professional_reject, professional_verify


class ProfessionalInline(admin.StackedInline[Professional, User]):
    model = Professional
    fk_name = "user"
    can_delete = False
    extra = 0
    readonly_fields = ("verification_status", "verified_at", "verified_by")


@admin.register(User)
class UserAdmin(BaseUserAdmin[User]):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "role", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("public_id", "last_login", "date_joined")
    inlines = (ProfessionalInline,)
    fieldsets = (
        (None, {"fields": ("public_id", "email", "password")}),
        (_("Identité"), {"fields": ("first_name", "last_name", "role")}),
        (
            _("Droits d'administration"),
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                "description": _(
                    "Ces droits concernent l'administration du portail. Ils ne donnent jamais "
                    "accès aux dossiers médicaux."
                ),
            },
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "role", "password1", "password2")}),
    )


@admin.register(Professional)
class ProfessionalAdmin(admin.ModelAdmin[Professional]):
    list_display = (
        "display_name",
        "rpps",
        "profession",
        "specialty",
        "verification_status",
        "is_regulation_doctor",
        "verified_at",
    )
    list_filter = ("verification_status", "profession", "specialty", "is_regulation_doctor")
    search_fields = ("rpps", "user__email", "user__last_name", "user__first_name")
    list_select_related = ("user",)
    readonly_fields = ("public_id", "verification_status", "verified_at", "verified_by")
    raw_id_fields = ("user",)
    actions = ("verify", "reject")  # run behind admin_view: a logged-in, active staff member

    @admin.display(description=_("nom"), ordering="user__last_name")
    def display_name(self, obj: Professional) -> str:
        return obj.display_name

    @admin.action(description=_("Vérifier les professionnels sélectionnés"))
    def verify(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Professional]) -> None:
        count = 0
        for professional in queryset.exclude(verification_status=VerificationStatus.VERIFIED):
            professional_verify(actor=request.user, professional=professional)
            count += 1
        self.message_user(
            request,
            ngettext("%d professionnel vérifié.", "%d professionnels vérifiés.", count) % count,
            messages.SUCCESS,
        )

    @admin.action(description=_("Refuser / retirer la vérification"))
    def reject(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Professional]) -> None:
        count = 0
        for professional in queryset:
            professional_reject(actor=request.user, professional=professional)
            count += 1
        self.message_user(
            request,
            ngettext("%d vérification retirée.", "%d vérifications retirées.", count) % count,
            messages.WARNING,
        )
