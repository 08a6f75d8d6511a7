"""Administration of the access rules' data, and supervision of the trail without patient data.

The profession × document-type matrix is edited here. The trail is supervised, not browsed
(``records.services.supervision``): counts per day, action and mode, the chain's integrity,
pseudonymous lists (an opaque number per patient, the professional by RPPS, no name, INS-C or
free text), and one patient's trail only with a stated reason that is itself traced on that
patient. Care relations and notifications have no list here (their counts are on the
supervision page): a list of them is a list of who cares for whom.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from oauth2_provider.models import AccessToken, Application, Grant, IDToken, RefreshToken

from identity.admin_rules import FixedLookupsMixin, ReadOnlyAdmin
from identity.auth import AuthenticatedHttpRequest, sensitive_action
from identity.errors import UserError
from identity.models import Profession
from records.models import AccessEvent, AccessMode, EmergencyAccess, ProfessionDocumentRule
from records.reference import document_type_choices, document_type_label
from records.services import supervision


@admin.register(ProfessionDocumentRule)
class ProfessionDocumentRuleAdmin(FixedLookupsMixin[ProfessionDocumentRule]):
    list_display = ("profession", "document_type_shown")
    list_filter = ("profession",)
    search_fields = ("document_type",)

    @admin.display(description=_("type de document (LOINC)"), ordering="document_type")
    def document_type_shown(self, rule: ProfessionDocumentRule) -> str:
        return f"{document_type_label(rule.document_type)} ({rule.document_type})"

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        """The document types named in the reader's language (the model's choices are the
        French labels, fixed at import)."""
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "document_type" and isinstance(field, forms.ChoiceField):
            field.choices = [
                ("", "---------"),
                *((code, f"{label} ({code})") for code, label in document_type_choices(None)),
            ]
        return field


class PseudonymousAdmin[M: AccessEvent | EmergencyAccess](ReadOnlyAdmin[M]):
    """Rows that concern a patient, shown with the patient's opaque number only."""

    @admin.display(description=_("patient (n° opaque)"))
    def patient_number(self, obj: M) -> str:
        return supervision.patient_pseudonym(obj.patient_id)


@admin.register(AccessEvent)
class AccessEventAdmin(PseudonymousAdmin[AccessEvent]):
    """The trail, read-only (append-only, in a signed Merkle tree) and pseudonymous."""

    change_list_template = "admin/records/accessevent/change_list.html"
    change_form_template = "admin/records/accessevent/change_form.html"
    list_display = ("number", "when", "action", "mode", "actor_kind", "patient_number")
    list_filter = ("action", "mode")
    date_hierarchy = "at"
    show_full_result_count = False
    # What the page shows of an event: never patient_insc, actor_label, detail (free texts,
    # the patient's own name when they acted) nor the patient's row.
    fields = (
        "number",
        "when",
        "action",
        "mode",
        "actor_kind",
        "patient_number",
        "texts",
        "leaf_index",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessEvent]:
        return super().get_queryset(request).order_by("-id")

    @admin.display(description=_("n°"), ordering="id")
    def number(self, obj: AccessEvent) -> int:
        return obj.pk

    @admin.display(description=_("date"), ordering="at")
    def when(self, obj: AccessEvent) -> Any:
        return obj.at

    @admin.display(description=_("qui"))
    def actor_kind(self, obj: AccessEvent) -> str:
        return supervision.actor_description(obj)

    @admin.display(description=_("textes libres"))
    def texts(self, obj: AccessEvent) -> str:
        if obj.detail_salt:
            return gettext("présents (non affichés ici ; le patient les lit dans son historique)")
        return gettext("effacés avec le DMP")

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "supervision/",
                wrap(self.supervision_view),
                name="records_accessevent_supervision",
            ),
            path(
                "<int:event_id>/trace-du-patient/",
                wrap(self.patient_trail_view),
                name="records_accessevent_patient_trail",
            ),
            *super().get_urls(),
        ]

    def supervision_view(self, request: HttpRequest) -> HttpResponse:
        """Counts and, on request (POST), the chain's integrity: the whole chain is walked."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "POST"):
            return HttpResponse(status=405)
        chain = supervision.chain_check() if request.method == "POST" else None
        return TemplateResponse(
            request,
            "admin/records/accessevent/supervision.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Supervision de la traçabilité"),
                "opts": self.opts,
                "counts": supervision.trail_counts(days=30),
                "chain": chain,
            },
        )

    @method_decorator(require_POST)
    @method_decorator(sensitive_action)
    def patient_trail_view(self, request: AuthenticatedHttpRequest, event_id: int) -> HttpResponse:
        """One patient's trail, for the reason stated on the event's page; the read is traced on
        the patient first. Only a POST shows it: no address to bookmark, nothing to browse."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        event = get_object_or_404(AccessEvent, pk=event_id)
        try:
            events = supervision.patient_trail_consult(
                actor=request.user,
                event=event,
                reason=request.POST.get("reason", ""),
                request=request,
            )
        except UserError as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return redirect("admin:records_accessevent_change", event.pk)
        return TemplateResponse(
            request,
            "admin/records/accessevent/patient_trail.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Trace d'un patient"),
                "opts": self.opts,
                "patient_number": supervision.patient_pseudonym(event.patient_id),
                "rows": [
                    {
                        "seq": row.pk,
                        "at": row.at,
                        "action": row.get_action_display(),
                        "mode": row.get_mode_display(),
                        "actor": supervision.actor_description(row),
                    }
                    for row in events
                ],
                "limit": supervision.PATIENT_TRAIL_LIMIT,
            },
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "reason_max_length": supervision.AUDIT_REASON_MAX_LENGTH,
        }
        return super().change_view(request, object_id, form_url, context)


class EmergencyStateFilter(admin.SimpleListFilter):
    title = _("état")
    parameter_name = "etat"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("en_cours", _("en cours")), ("termine", _("terminé"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[EmergencyAccess]
    ) -> QuerySet[EmergencyAccess]:
        if self.value() == "en_cours":
            return queryset.filter(expires_at__gt=timezone.now())
        if self.value() == "termine":
            return queryset.filter(expires_at__lte=timezone.now())
        return queryset


class EmergencyModeFilter(admin.SimpleListFilter):
    """The mode by its label (the field holds AccessMode values without choices)."""

    title = _("mode")
    parameter_name = "mode"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(mode.value, mode.label) for mode in (AccessMode.EMERGENCY, AccessMode.SAMU)]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[EmergencyAccess]
    ) -> QuerySet[EmergencyAccess]:
        if self.value() in (AccessMode.EMERGENCY, AccessMode.SAMU):
            return queryset.filter(mode=self.value())
        return queryset


class EmergencyProfessionFilter(admin.SimpleListFilter):
    title = _("profession")
    parameter_name = "profession"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(Profession.choices)

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[EmergencyAccess]
    ) -> QuerySet[EmergencyAccess]:
        if self.value() in Profession.values:
            return queryset.filter(professional__profession=self.value())
        return queryset


@admin.register(EmergencyAccess)
class EmergencyAccessAdmin(PseudonymousAdmin[EmergencyAccess]):
    """Who declared an emergency access, when, in which mode: never on whom (an opaque number)
    nor why (the reason is the patient's clinical situation)."""

    list_display = (
        "started",
        "expires",
        "state",
        "professional_name",
        "profession",
        "access_mode",
        "patient_number",
    )
    list_filter = (EmergencyModeFilter, EmergencyStateFilter, EmergencyProfessionFilter)
    # The professional, by name or RPPS: never the patient (opaque here) nor the reason.
    search_fields = (
        "professional__user__last_name",
        "professional__user__first_name",
        "=professional__rpps",
    )
    search_help_text = _("Nom ou RPPS du professionnel")
    list_select_related = ("professional__user",)
    ordering = ("-started_at",)
    fields = list_display
    readonly_fields = list_display

    @admin.display(description=_("état"), boolean=False)
    def state(self, obj: EmergencyAccess) -> str:
        return str(_("en cours") if obj.expires_at > timezone.now() else _("terminé"))

    @admin.display(description=_("profession"), ordering="professional__profession")
    def profession(self, obj: EmergencyAccess) -> str:
        return str(obj.professional.get_profession_display())

    @admin.display(description=_("déclaré le"), ordering="started_at")
    def started(self, obj: EmergencyAccess) -> Any:
        return obj.started_at

    @admin.display(description=_("expire le"), ordering="expires_at")
    def expires(self, obj: EmergencyAccess) -> Any:
        return obj.expires_at

    @admin.display(description=_("professionnel"), ordering="professional__user__last_name")
    def professional_name(self, obj: EmergencyAccess) -> str:
        return f"{obj.professional.display_name} ({obj.professional.rpps})"

    @admin.display(description=_("mode"))
    def access_mode(self, obj: EmergencyAccess) -> str:
        return str(AccessMode(obj.mode).label)


# --- Software registered for the FHIR API (django-oauth-toolkit) ------------------------------
# Administrators register software here. Tokens, grants and ID tokens are the users' own
# (which patient's DMP a token reads is in its user): no admin page lists them; each user sees
# and revokes their own on "Applications autorisées".
for _model in (AccessToken, RefreshToken, Grant, IDToken, Application):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(Application)
class SoftwareAdmin(FixedLookupsMixin[Application]):
    """A registered software: authorization code with PKCE only, exact https redirect URIs,
    the user's approval always asked (never skipped)."""

    list_display = ("name", "client_id", "client_type", "created")
    list_filter = ("client_type",)
    fields = (
        "name",
        "client_id",
        "client_type",
        "client_secret",
        "hash_client_secret",
        "redirect_uris",
        "algorithm",
    )

    def save_model(self, request: HttpRequest, obj: Application, form: Any, change: bool) -> None:
        obj.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
        obj.skip_authorization = False
        if not change:
            obj.user = request.user
        super().save_model(request, obj, form, change)
