"""Administration of accounts and professionals. No clinical data, and no way to one.

An administrator verifies professionals and deactivates accounts; they set nobody's password,
second factor, e-mail address, role or staff flags, and cannot move a professional's profile
to another account: any of these would let them log in as a professional (issue 18). Recovery
goes through the owner's own channel (``identity.account_recovery``): a reset link sent to the
owner's address, a second-factor reset approved by a second administrator. Every act is traced
on the owner's account page. Patients' accounts are shown by an opaque number, never by name or
address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import ActionLocation, helpers
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from identity import account_recovery
from identity.admin_rules import FixedLookupsMixin, ReadOnlyAdmin
from identity.auth import AuthenticatedHttpRequest, sensitive_action
from identity.errors import UserError
from identity.models import (
    MfaResetRequest,
    MfaResetStatus,
    Professional,
    Role,
    User,
    VerificationStatus,
)
from identity.services import professional_reject, professional_verify

# The admin shows neither authenticators nor e-mail addresses: deleting a professional's TOTP
# or pointing his verified address at another mailbox was half of the takeover.
for _model in (Authenticator, EmailAddress):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

BOTH_PAGES = [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]


def account_label(user: User) -> str:
    """How the admin names an account: its address, or an opaque number for a patient's."""
    if user.role == Role.PATIENT:
        return gettext("Compte patient n° %(number)s") % {"number": str(user.public_id)[:8]}
    return user.email


def _act_on_each[R](
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    rows: Iterable[tuple[R, str]],
    act: Callable[[R], object],
    done: Callable[[int], str],
) -> None:
    """Run ``act`` on each selected row (named by its label); a refusal is shown for its row
    and the others go on."""
    count = 0
    for row, label in rows:
        try:
            act(row)
        except UserError as error:
            model_admin.message_user(request, f"{label} : {error.message}", messages.ERROR)
        else:
            count += 1
    if count:
        model_admin.message_user(request, done(count), messages.SUCCESS)


def _accounts(queryset: QuerySet[User]) -> Iterable[tuple[User, str]]:
    return ((account, account_label(account)) for account in queryset)


def _requests(queryset: QuerySet[MfaResetRequest]) -> Iterable[tuple[MfaResetRequest, str]]:
    return ((reset, account_label(reset.account)) for reset in queryset.select_related("account"))


class AccountViewForm(forms.ModelForm[User]):
    """The account page is read-only: no field of the account is a form field."""

    class Meta:
        model = User
        fields: list[str] = []


@admin.register(User)
class UserAdmin(FixedLookupsMixin[User], BaseUserAdmin[User]):
    form = AccountViewForm
    change_form_template = "admin/identity/user/change_form.html"
    # Newest first: sorting by address would place patients' rows among the others by initial.
    ordering = ("-date_joined",)
    list_display = ("account", "role", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    search_fields = ("email",)  # the box; what it searches is get_search_results'
    actions = ("send_password_reset", "request_mfa_reset", "deactivate", "reactivate")
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "role", "usable_password", "password1", "password2"),
            },
        ),
    )

    # --- What the page shows (read-only) -------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        signin = (_("Connexion"), {"fields": ("last_login", "date_joined", "second_factor")})
        done = (_("Actions de l'administration"), {"fields": ("mfa_reset", "account_events")})
        if obj.role == Role.PATIENT:
            return ((None, {"fields": ("account", "public_id", "role", "is_active")}), signin, done)
        identity = ("account", "public_id", "first_name", "last_name", "role", "is_active")
        rights = (
            _("Droits d'administration"),
            {
                "fields": ("is_staff", "is_superuser", "groups"),
                "description": _(
                    "Ces droits concernent l'administration du portail. Ils ne donnent jamais "
                    "accès aux dossiers médicaux, et ne se modifient pas ici."
                ),
            },
        )
        return ((None, {"fields": (*identity, "professional")}), rights, signin, done)

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> Any:
        if obj is None:
            return ()
        return (
            "account",
            "public_id",
            "first_name",
            "last_name",
            "role",
            "is_active",
            "is_staff",
            "is_superuser",
            "groups",
            "professional",
            "last_login",
            "date_joined",
            "second_factor",
            "mfa_reset",
            "account_events",
        )

    @admin.display(description=_("compte"))
    def account(self, obj: User) -> str:
        return account_label(obj)

    def action_checkbox(self, obj: User) -> SafeString:
        # Django's own names the row by str(obj): a patient's account by her name.
        attrs = {
            "class": "action-select",
            "aria-label": format_html(
                gettext("Select this object for an action - {}"), account_label(obj)
            ),
        }
        checkbox = forms.CheckboxInput(attrs, lambda value: False)
        return checkbox.render(helpers.ACTION_CHECKBOX_NAME, str(obj.pk))

    @admin.display(description=_("second facteur"))
    def second_factor(self, obj: User) -> str:
        kinds = sorted(
            {
                str(Authenticator.Type(t).label)
                for t in Authenticator.objects.filter(user=obj).values_list("type", flat=True)
            }
        )
        return ", ".join(kinds) or gettext("aucun")

    @admin.display(description=_("profil professionnel"))
    def professional(self, obj: User) -> str:
        profile = Professional.objects.filter(user=obj).first()
        if profile is None:
            return "—"
        url = reverse("admin:identity_professional_change", args=[profile.pk])
        return format_html(
            '<a href="{}">RPPS {} — {}</a>',
            url,
            profile.rpps,
            profile.get_verification_status_display(),
        )

    @admin.display(description=_("réinitialisation du second facteur"))
    def mfa_reset(self, obj: User) -> str:
        pending = MfaResetRequest.objects.filter(account=obj, status=MfaResetStatus.PENDING).first()
        if pending is None:
            return gettext("aucune demande en attente")
        url = reverse("admin:identity_mfaresetrequest_changelist")
        return format_html(
            '<a href="{}">{}</a>',
            url,
            gettext("Demandée le %(at)s par %(by)s : en attente d'un second administrateur")
            % {"at": f"{pending.requested_at:%d/%m/%Y %H:%M}", "by": pending.requested_by},
        )

    @admin.display(description=_("historique (visible par le titulaire)"))
    def account_events(self, obj: User) -> str:
        events = account_recovery.account_events_for(obj)[:50]
        if not events:
            return gettext("aucune action")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} — {} ({}){}</li>",
                (
                    (
                        f"{event.at:%d/%m/%Y %H:%M}",
                        event.get_kind_display(),
                        event.actor_label or "—",
                        f" : {event.reason}" if event.reason else "",
                    )
                    for event in events
                ),
            ),
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[User], search_term: str
    ) -> tuple[QuerySet[User], bool]:
        """Other accounts by part of their address or name; a patient's account only by its
        full address or number (its owner gives it to the support), never by a fragment."""
        term = search_term.strip()
        if not term:
            return queryset, False
        fragment = Q(email__icontains=term) | Q(first_name__icontains=term)
        fragment |= Q(last_name__icontains=term)
        exact = Q(email__iexact=term)
        if len(term) >= 8:  # the number the lists show, or the whole public id
            exact |= Q(public_id__startswith=term.lower()[:36])
        return queryset.filter((fragment & ~Q(role=Role.PATIENT)) | exact), False

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"role": Role.PROFESSIONAL}

    # --- What is refused ---------------------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        """Model level (no object): Django's permission to change accounts, which the actions
        below and the add form need. Object level: never, the account's page is read-only."""
        return obj is None and bool(super().has_change_permission(request))

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return False  # accounts are deactivated: the trail and the DMPs point at them

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # Setting another account's password is how an administrator became dr. Martin.
        raise PermissionDenied("No one sets another account's password.")

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Django's history names the account; its history is the list on the account's page.
        raise PermissionDenied("An account's history is on its page.")

    @method_decorator(sensitive_action)
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().changelist_view(request, extra_context)

    @method_decorator(sensitive_action)
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        context = {**(extra_context or {}), "subtitle": account_label(obj) if obj else None}
        context["account_label"] = context["subtitle"]
        return super().change_view(request, object_id, form_url, context)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        actor = request.user
        if not isinstance(actor, User):  # the admin's pages are behind its login
            raise PermissionDenied
        super().save_model(request, obj, form, change)
        if not change:
            account_recovery.account_created(actor=actor, account=obj)

    # --- Acts on accounts, each traced and told to the owner --------------------------------

    @admin.action(
        description=_("Envoyer un lien de réinitialisation du mot de passe au titulaire"),
        permissions=("change",),
        location=BOTH_PAGES,
    )
    def send_password_reset(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[User]
    ) -> None:
        _act_on_each(
            self,
            request,
            _accounts(queryset),
            lambda account: account_recovery.account_password_reset_send(
                actor=request.user, account=account, request=request
            ),
            lambda n: (
                ngettext(
                    "Lien envoyé à l'adresse du titulaire de %d compte.",
                    "Liens envoyés aux adresses des titulaires de %d comptes.",
                    n,
                )
                % n
            ),
        )

    @admin.action(
        description=_("Désactiver le compte"), permissions=("change",), location=BOTH_PAGES
    )
    def deactivate(self, request: AuthenticatedHttpRequest, queryset: QuerySet[User]) -> None:
        _act_on_each(
            self,
            request,
            _accounts(queryset),
            lambda account: account_recovery.account_deactivate(
                actor=request.user, account=account
            ),
            lambda n: ngettext("%d compte désactivé.", "%d comptes désactivés.", n) % n,
        )

    @admin.action(
        description=_("Réactiver le compte"), permissions=("change",), location=BOTH_PAGES
    )
    def reactivate(self, request: AuthenticatedHttpRequest, queryset: QuerySet[User]) -> None:
        _act_on_each(
            self,
            request,
            _accounts(queryset),
            lambda account: account_recovery.account_reactivate(
                actor=request.user, account=account
            ),
            lambda n: ngettext("%d compte réactivé.", "%d comptes réactivés.", n) % n,
        )

    @admin.action(
        description=_(
            "Demander la réinitialisation du second facteur (un second administrateur approuve)"
        ),
        permissions=("change",),
        location=BOTH_PAGES,
    )
    def request_mfa_reset(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[User]
    ) -> TemplateResponse | None:
        """First an intermediate page asks the reason; its POST (``confirm``) files the requests."""
        error = ""
        if request.POST.get("confirm") == "yes":
            try:
                reason = account_recovery.reason_clean(request.POST.get("reason", ""))
            except UserError as refused:
                error = refused.message
            else:
                _act_on_each(
                    self,
                    request,
                    _accounts(queryset),
                    lambda account: account_recovery.mfa_reset_request(
                        actor=request.user, account=account, reason=reason
                    ),
                    lambda n: (
                        ngettext(
                            "%d demande enregistrée, à approuver par un second administrateur.",
                            "%d demandes enregistrées, à approuver par un second administrateur.",
                            n,
                        )
                        % n
                    ),
                )
                return None
        return TemplateResponse(
            request,
            "admin/identity/user/mfa_reset_request.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Réinitialisation du second facteur"),
                "opts": self.opts,
                "accounts": [(account.pk, account_label(account)) for account in queryset],
                # The action's own fields (changelist or change page), posted back as they came.
                "resubmit": [
                    (name, value)
                    for name, values in request.POST.lists()
                    if name not in {"csrfmiddlewaretoken", "reason", "confirm"}
                    for value in values
                ],
                "reason": request.POST.get("reason", ""),
                "error": error,
            },
        )


@admin.register(MfaResetRequest)
class MfaResetRequestAdmin(ReadOnlyAdmin[MfaResetRequest]):
    """The requests waiting for a second administrator, and the decided ones."""

    list_display = (
        "account_name",
        "requested_by",
        "requested_at",
        "reason",
        "status",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status",)
    list_select_related = ("account", "requested_by", "decided_by")
    fields = list_display
    readonly_fields = list_display
    actions = ("approve", "cancel")

    @admin.display(description=_("compte"))
    def account_name(self, obj: MfaResetRequest) -> str:
        return account_label(obj.account)

    def has_account_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and bool(
            admin.ModelAdmin.has_change_permission(self, request)
        )

    @method_decorator(sensitive_action)
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Approuver (second administrateur)"), permissions=("account",))
    def approve(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[MfaResetRequest]
    ) -> None:
        _act_on_each(
            self,
            request,
            _requests(queryset),
            lambda reset: account_recovery.mfa_reset_approve(actor=request.user, reset=reset),
            lambda n: (
                ngettext(
                    "%d second facteur supprimé ; le titulaire est prévenu.",
                    "%d seconds facteurs supprimés ; les titulaires sont prévenus.",
                    n,
                )
                % n
            ),
        )

    @admin.action(description=_("Annuler la demande"), permissions=("account",))
    def cancel(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[MfaResetRequest]
    ) -> None:
        _act_on_each(
            self,
            request,
            _requests(queryset),
            lambda reset: account_recovery.mfa_reset_cancel(actor=request.user, reset=reset),
            lambda n: ngettext("%d demande annulée.", "%d demandes annulées.", n) % n,
        )


@admin.register(Professional)
class ProfessionalAdmin(FixedLookupsMixin[Professional]):
    list_display = (
        "display_name",
        "email",
        "rpps",
        "profession",
        "verification_status",
        "is_regulation_doctor",
        "registered",
        "verified_at",
    )
    list_filter = ("verification_status", "profession", "specialty", "is_regulation_doctor")
    search_fields = ("rpps", "user__email", "user__last_name", "user__first_name")
    search_help_text = _("Nom, e-mail ou RPPS")
    list_select_related = ("user",)
    # Those waiting for a verification first ("pending" < "rejected" < "verified").
    ordering = ("verification_status", "user__last_name", "pk")
    # The account a profile belongs to never changes here: moving dr. Martin's verified profile
    # onto an account one holds would make that account dr. Martin.
    readonly_fields = ("public_id", "user", "verification_status", "verified_at", "verified_by")
    actions = ("verify", "reject")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # professionals register themselves, with their RPPS; the admin verifies

    def has_delete_permission(self, request: HttpRequest, obj: Professional | None = None) -> bool:
        return False  # a profile is rejected, never deleted: the trail names it

    @admin.display(description=_("nom"), ordering="user__last_name")
    def display_name(self, obj: Professional) -> str:
        return obj.display_name

    @admin.display(description=_("e-mail"), ordering="user__email")
    def email(self, obj: Professional) -> str:
        return obj.user.email

    @admin.display(description=_("inscrit le"), ordering="user__date_joined")
    def registered(self, obj: Professional) -> Any:
        return obj.user.date_joined

    @admin.action(
        description=_("Vérifier les professionnels sélectionnés"), permissions=("change",)
    )
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

    @admin.action(description=_("Refuser / retirer la vérification"), permissions=("change",))
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


# --- Groups: permissions named in the reader's language -------------------------------------

_ACTIONS = {
    "add": _("Peut ajouter : %(model)s"),
    "change": _("Peut modifier : %(model)s"),
    "delete": _("Peut supprimer : %(model)s"),
    "view": _("Peut voir : %(model)s"),
}


def permission_label(permission: Permission) -> str:
    """A permission as the reader reads it: its model's verbose name now, in the active
    language (the stored name was written once, in French, by the migration)."""
    model = permission.content_type.model_class()
    action, _sep, model_name = permission.codename.partition("_")
    if model is None or action not in _ACTIONS or model_name != model._meta.model_name:
        return str(permission)
    verbose = model._meta.verbose_name
    return f"{model._meta.app_config.verbose_name} | {_ACTIONS[action] % {'model': verbose}}"


class PermissionsField(forms.ModelMultipleChoiceField[Permission]):
    def label_from_instance(self, obj: Any) -> str:
        return permission_label(obj)


if admin.site.is_registered(Group):
    admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin):
    def formfield_for_manytomany(
        self, db_field: Any, request: HttpRequest | None = None, **kwargs: Any
    ) -> Any:
        if db_field.name == "permissions":
            kwargs["form_class"] = PermissionsField
        return super().formfield_for_manytomany(db_field, request, **kwargs)
