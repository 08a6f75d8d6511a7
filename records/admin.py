"""Administration of the access rules' data. The trail is read-only; no clinical content here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from records.models import (
    AccessEvent,
    CareRelation,
    EmergencyAccess,
    Notification,
    ProfessionDocumentRule,
)


@admin.register(ProfessionDocumentRule)
class ProfessionDocumentRuleAdmin(admin.ModelAdmin):
    list_display = ("profession", "document_type")
    list_filter = ("profession",)
    search_fields = ("document_type",)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdmin):
    """The trail, read-only (append-only and hash-chained; see verify_access_log)."""

    list_display = ("seq", "at", "actor_label", "actor_rpps", "action", "mode", "patient_insc")
    list_filter = ("action", "mode")
    search_fields = ("actor_rpps", "patient_insc", "actor_label")
    date_hierarchy = "at"
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).order_by("-seq")


@admin.register(CareRelation)
class CareRelationAdmin(ReadOnlyAdmin):
    list_display = ("patient_id", "professional", "status", "reason", "since")
    list_filter = ("status", "reason")
    list_select_related = ("professional__user",)


@admin.register(EmergencyAccess)
class EmergencyAccessAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "expires_at", "professional", "mode", "reason")
    list_filter = ("mode", "reason")
    list_select_related = ("professional__user",)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "recipient", "kind", "emailed", "read_at")
    list_filter = ("kind", "emailed")
