"""Who-sees-what pages: the patient's controls and access history; the professional's
attested consent and emergency access. Decisions come from records.access; writes from
records.services."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from datetime import datetime, time
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identity.auth import patient_required, professional_required, sensitive_action
from identity.models import Patient, Profession, Professional, VerificationStatus
from records import access, trail
from records.forms.dmp import (
    AttestConsentForm,
    DirectorySearchForm,
    EmergencyForm,
    HistoryFilterForm,
)
from records.models import (
    AccessAction,
    AccessEvent,
    AuthorisationReason,
    CareRelation,
    CareRelationStatus,
    EmergencyAccess,
)
from records.services import care as care_services
from records.services.lifecycle import medecin_traitant_set

HISTORY_PAGE_SIZE = 50
MAX_HISTORY_PAGE = 100_000
EMERGENCY_SESSION_KEY = "dmp_emergencies"


# --- The patient's controls --------------------------------------------------------------------


def _access_rows(patient: Patient) -> dict[str, list[Any]]:
    """Everyone with a relation to this DMP, grouped, in three queries whatever their number."""
    relations = list(
        CareRelation.objects.filter(patient=patient)
        .select_related("professional__user")
        .order_by("professional__user__last_name")
    )
    emergencies = list(
        EmergencyAccess.objects.filter(patient=patient, expires_at__gt=timezone.now())
        .select_related("professional__user")
        .order_by("-expires_at")
    )
    traitant_id = patient.medecin_traitant_id
    return {
        "authorised": [r for r in relations if r.status == CareRelationStatus.AUTHORISED],
        "blocked": [r for r in relations if r.status == CareRelationStatus.BLOCKED],
        "revoked": [
            r
            for r in relations
            if r.status == CareRelationStatus.REVOKED and r.professional_id != traitant_id
        ],
        "emergencies": emergencies,
    }


@never_cache
@patient_required
@require_GET
def my_access(request: HttpRequest) -> HttpResponse:
    """Professionals with access and why; search the directory of verified professionals."""
    patient = access.own_patient(request.user)
    if not patient.is_open:
        return redirect("records:my_dmp")
    search = DirectorySearchForm(request.GET if "q" in request.GET else None)
    found: QuerySet[Professional] | list[Professional] = []
    if search.is_bound and search.is_valid():
        query = search.cleaned_data["q"]
        terms = Q(rpps=query.replace(" ", "")) | Q(user__last_name__icontains=query)
        if " " in query:
            first, _sep, last = query.partition(" ")
            terms |= Q(user__first_name__icontains=first, user__last_name__icontains=last)
        found = (
            Professional.objects.filter(terms, verification_status=VerificationStatus.VERIFIED)
            .select_related("user")
            .order_by("user__last_name", "user__first_name")[:20]
        )
    trail.record_access(
        actor=request.user, patient=patient, action=AccessAction.DMP_VIEW, detail="droits d'accès"
    )
    return render(
        request,
        "records/my_access.html",
        {"patient": patient, "search": search, "found": found, **_access_rows(patient)},
    )


@patient_required
@sensitive_action
@require_POST
def my_access_change(request: HttpRequest) -> HttpResponse:
    """Authorise, revoke, block, unblock a professional, or name them médecin traitant."""
    patient = access.own_patient(request.user)
    if not patient.is_open:
        return redirect("records:my_dmp")
    action = request.POST.get("action", "")
    professional_id = _uuid_or_none(request.POST.get("professional"))
    professional = (
        Professional.objects.select_related("user").filter(public_id=professional_id).first()
        if professional_id
        else None
    )
    if professional is None or action not in _ACTIONS:
        messages.error(request, _("Action impossible : professionnel ou action inconnus."))
        return redirect("records:my_access")
    try:
        _ACTIONS[action](request.user, patient, professional)
    except (ValidationError, care_services.AccessRefused) as error:
        message = error.message if hasattr(error, "message") else str(error)
        messages.error(request, str(message))
    else:
        messages.success(request, _("C'est enregistré."))
    return redirect("records:my_access")


def _uuid_or_none(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _authorise(actor: Any, patient: Patient, professional: Professional) -> None:
    care_services.care_authorise(
        actor=actor, patient=patient, professional=professional, reason=AuthorisationReason.PATIENT
    )


def _traitant(actor: Any, patient: Patient, professional: Professional) -> None:
    if professional.profession != Profession.MEDECIN:
        raise ValidationError(_("Le médecin traitant doit être un médecin."))
    medecin_traitant_set(actor=actor, patient=patient, professional=professional)


_ACTIONS = {
    "authorise": _authorise,
    "revoke": lambda actor, patient, pro: care_services.care_revoke(
        actor=actor, patient=patient, professional=pro
    ),
    "block": lambda actor, patient, pro: care_services.care_block(
        actor=actor, patient=patient, professional=pro
    ),
    "unblock": lambda actor, patient, pro: care_services.care_unblock(
        actor=actor, patient=patient, professional=pro
    ),
    "medecin_traitant": _traitant,
}


# --- Access history -----------------------------------------------------------------------------


def _history(patient: Patient, form: HistoryFilterForm) -> QuerySet[AccessEvent]:
    events = AccessEvent.objects.filter(patient=patient).order_by("-at", "-seq")
    if not form.is_valid():
        return events
    data = form.cleaned_data
    if data["who"]:
        who = data["who"]
        events = events.filter(Q(actor_label__icontains=who) | Q(actor_rpps=who.replace(" ", "")))
    tz = timezone.get_current_timezone()
    if data["start"]:
        events = events.filter(at__gte=datetime.combine(data["start"], time.min, tzinfo=tz))
    if data["end"]:
        events = events.filter(at__lte=datetime.combine(data["end"], time.max, tzinfo=tz))
    if data["mode"]:
        events = events.filter(mode=data["mode"])
    return events


@never_cache
@patient_required
@require_GET
def my_history(request: HttpRequest) -> HttpResponse:
    """Historique des accès: every access to the DMP, filterable; reading it is recorded."""
    patient = access.own_patient(request.user)
    form = HistoryFilterForm(request.GET or None)
    try:
        # Bounded: an absurd page number must not reach the database as an overflowing OFFSET.
        page = min(max(1, int(request.GET.get("page", "1"))), MAX_HISTORY_PAGE)
    except ValueError:
        page = 1
    trail.record_access(actor=request.user, patient=patient, action=AccessAction.HISTORY_VIEW)
    offset = (page - 1) * HISTORY_PAGE_SIZE
    rows = list(_history(patient, form)[offset : offset + HISTORY_PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "records/my_history.html",
        {
            "patient": patient,
            "form": form,
            "events": rows[:HISTORY_PAGE_SIZE],
            "page": page,
            "has_next": len(rows) > HISTORY_PAGE_SIZE,
            "query": query.urlencode(),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


@patient_required
@require_GET
def my_history_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The same history as CSV (UTF-8 with BOM for spreadsheets), streamed."""
    patient = access.own_patient(request.user)
    form = HistoryFilterForm(request.GET or None)
    trail.record_access(
        actor=request.user, patient=patient, action=AccessAction.EXPORT, detail="historique CSV"
    )
    writer = csv.writer(_Echo(), delimiter=";")
    events = _history(patient, form)

    def rows() -> Iterator[str]:
        yield "\ufeff"
        yield writer.writerow(["date", "qui", "RPPS", "profession", "action", "mode", "document"])
        for event in events.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S"),
                    _csv_safe(event.actor_label),
                    event.actor_rpps,
                    event.actor_profession,
                    event.get_action_display(),
                    event.get_mode_display(),
                    event.entry_public_id or "",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="historique-acces-dmp.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _csv_safe(value: str) -> str:
    """No formula injection when the file is opened in a spreadsheet."""
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


# --- Professionals: attested consent and emergency access --------------------------------------


def _patient_by_insc(insc: str) -> Patient:
    patient = Patient.objects.filter(insc=insc).select_related("medecin_traitant__user").first()
    if patient is None or not patient.is_open:
        raise Http404("No such DMP")
    return patient


@professional_required
@require_POST
def attest_consent(request: HttpRequest) -> HttpResponse:
    """A professional attests that the patient, present, consents to their access."""
    form = AttestConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Le consentement du patient est nécessaire."))
        return redirect("records:patient_search")
    patient = _patient_by_insc(form.cleaned_data["insc"])
    try:
        care_services.care_authorise(
            actor=request.user,  # type: ignore[arg-type]
            patient=patient,
            professional=request.user.professional,  # type: ignore[union-attr]
            reason=AuthorisationReason.CONSULTATION,
        )
    except care_services.AccessRefused as error:
        messages.error(request, error.message)
        return redirect("records:patient_search")
    messages.success(request, _("Accès accordé. Le patient en est informé."))
    return redirect("records:patient_home", public_id=patient.public_id)


@never_cache
@professional_required
@sensitive_action
@require_http_methods(["GET", "POST"])
def emergency(request: HttpRequest) -> HttpResponse:
    """Bris de glace (or SAMU regulation): reason, fresh re-authentication, 4 hours."""
    samu = request.GET.get("mode") == "samu" or request.POST.get("mode") == "samu"
    data = request.POST if request.method == "POST" else None
    form = EmergencyForm(data, initial={"insc": request.GET.get("insc", "")}, samu=samu)
    if request.method == "POST" and form.is_valid():
        patient = _patient_by_insc(form.cleaned_data["insc"])
        try:
            grant = care_services.emergency_declare(
                actor=request.user,  # type: ignore[arg-type]
                patient=patient,
                samu=samu,
                reason=form.cleaned_data["reason"],
                reason_text=form.cleaned_data["reason_text"],
            )
        except care_services.AccessRefused as error:
            form.add_error(None, error.message)
        else:
            banners = request.session.get(EMERGENCY_SESSION_KEY, [])
            banners.append(
                {
                    "name": patient.display_name,
                    "url": reverse("records:patient_home", args=[patient.public_id]),
                    "until": grant.expires_at.timestamp(),
                    "samu": samu,
                }
            )
            request.session[EMERGENCY_SESSION_KEY] = banners[-5:]
            return redirect("records:patient_home", public_id=patient.public_id)
    return render(request, "records/emergency.html", {"form": form, "samu": samu})
