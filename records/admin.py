"""Administration of the access rules' data. The trail is read-only; no clinical content here."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from records.models import (
    AccessEvent,
    CareRelation,
    EmergencyAccess,
    Notification,
    ProfessionDocumentRule,
)


@admin.register(ProfessionDocumentRule)
class ProfessionDocumentRuleAdmin(admin.ModelAdmin[ProfessionDocumentRule]):
    list_display = ("profession", "document_type")
    list_filter = ("profession",)
    search_fields = ("document_type",)


class ReadOnlyAdmin[M: models.Model](admin.ModelAdmin[M]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdmin[AccessEvent]):
    """The trail, read-only (append-only and hash-chained; see verify_access_log)."""

    list_display = ("seq", "at", "actor_label", "actor_rpps", "action", "mode", "patient_insc")
    list_filter = ("action", "mode")
    search_fields = ("actor_rpps", "patient_insc", "actor_label")
    date_hierarchy = "at"
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessEvent]:
        return super().get_queryset(request).order_by("-seq")


@admin.register(CareRelation)
class CareRelationAdmin(ReadOnlyAdmin[CareRelation]):
    list_display = ("patient_id", "professional", "status", "reason", "since")
    list_filter = ("status", "reason")
    list_select_related = ("professional__user",)


@admin.register(EmergencyAccess)
class EmergencyAccessAdmin(ReadOnlyAdmin[EmergencyAccess]):
    list_display = ("started_at", "expires_at", "professional", "mode", "reason")
    list_filter = ("mode", "reason")
    list_select_related = ("professional__user",)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin[Notification]):
    list_display = ("created_at", "recipient", "kind", "emailed", "read_at")
    list_filter = ("kind", "emailed")
