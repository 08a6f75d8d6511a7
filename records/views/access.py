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
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identity.auth import (
    AuthenticatedHttpRequest,
    patient_required,
    professional_required,
    sensitive_action,
)
from identity.errors import UserError
from identity.models import Patient, Profession, Professional, User, VerificationStatus
from records import access, merkle, trail, visits
from records.forms.dmp import (
    AttestConsentForm,
    DirectorySearchForm,
    EmergencyForm,
    HistoryFilterForm,
)
from records.models import (
    AccessAction,
    AccessEvent,
    AccessMode,
    AuthorisationReason,
)
from records.services import care as care_services
from records.services.lifecycle import medecin_traitant_set
from records.views.targets import target_insc

MAX_HISTORY_OFFSET = 10_000_000
EMERGENCY_SESSION_KEY = "dmp_emergencies"


# --- The patient's controls --------------------------------------------------------------------


@never_cache
@patient_required
@require_GET
def my_access(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Professionals with access and why; search the directory of verified professionals."""
    dmp = access.own_dmp(request.user)
    patient = dmp.patient
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
    care_services.read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.DMP_VIEW,
        detail="droits d'accès",
        request=request,
    )
    team = access.care_team(dmp)
    return render(
        request,
        "records/my_access.html",
        {
            "patient": patient,
            "search": search,
            "found": found,
            "authorised": team.authorised,
            "blocked": team.blocked,
            "revoked": team.revoked,
            "emergencies": team.emergencies,
            # A read-only proxy sees who has access, and is offered no change (refused).
            "may_act": dmp.may_act,
        },
    )


@patient_required
@sensitive_action
@require_POST
def my_access_change(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Authorise, revoke, block, unblock a professional, or name them médecin traitant."""
    patient = access.own_dmp(request.user).patient
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
    except UserError as error:
        messages.error(request, error.message)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("C'est enregistré."))
    return redirect("records:my_access")


def _uuid_or_none(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _authorise(actor: User, patient: Patient, professional: Professional) -> None:
    care_services.care_authorise(
        actor=actor, patient=patient, professional=professional, reason=AuthorisationReason.PATIENT
    )


def _traitant(actor: User, patient: Patient, professional: Professional) -> None:
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


def _history(dmp: access.DmpAccess, form: HistoryFilterForm) -> QuerySet[AccessEvent]:
    """The DMP's events as filtered; the patient's own reads only when asked for."""
    events = access.history_of(dmp)
    # The patient's own reads are apart by default; a refused login in their name is not a
    # read of theirs and stays shown.
    own_reads = Q(mode=AccessMode.PATIENT) & ~Q(action=AccessAction.LOGIN_REFUSED)
    if not form.is_valid():
        return events.exclude(own_reads)
    data = form.cleaned_data
    if not data["own"]:
        events = events.exclude(own_reads)
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
def my_history(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Historique des accès: one line per visit, the raw events under it; filterable (the
    patient's own reads apart, off by default); reading it is recorded."""
    dmp = access.own_dmp(request.user)
    patient = dmp.patient
    form = HistoryFilterForm(request.GET or None)
    try:
        # Bounded: an absurd offset must not reach the database as an overflowing OFFSET.
        offset = min(max(0, int(request.GET.get("depuis", "0"))), MAX_HISTORY_OFFSET)
    except ValueError:
        offset = 0
    care_services.read_traced(
        actor=request.user, dmp=dmp, action=AccessAction.HISTORY_VIEW, request=request
    )
    page = visits.visit_page(request.user, patient, _history(dmp, form), offset)
    query = request.GET.copy()
    query.pop("depuis", None)
    return render(
        request,
        "records/my_history.html",
        {
            "patient": patient,
            "form": form,
            "visits": page.visits,
            "first_page": offset == 0,
            "next_offset": page.next_offset,
            "query": query.urlencode(),
            "checker": reverse("records:proof_checker"),
            # The names the files are saved under, in the reader's language (the command shown
            # names them as saved).
            "checker_name": _("verifier-preuve.py"),
            "proof_example": _("preuve-acces-….json"),
            "key_id": trail.key_id(),
        },
    )


@never_cache
@patient_required
@require_GET
def my_history_proof(request: AuthenticatedHttpRequest, event_id: uuid.UUID) -> HttpResponse:
    """The proof that one event of the patient's history is in the trail's tree, signed (JSON,
    as an attachment), for ``verifier-preuve.py``. Reading it is recorded. An event not yet in
    the tree (the sequencer runs every minute) sends the patient back to their history."""
    dmp = access.own_dmp(request.user)
    event = access.history_of(dmp).filter(public_id=event_id).first()
    if event is None:
        raise Http404("No such event")
    care_services.read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.EXPORT,
        detail="preuve d'inclusion",
        request=request,
    )
    proof = trail.inclusion_proof(event)
    if proof is None:
        messages.info(
            request,
            _(
                "Cet accès est bien enregistré, mais pas encore scellé dans l'arbre signé de la "
                "traçabilité : sa preuve sera prête dans quelques minutes."
            ),
        )
        return redirect("records:my_history")
    response = JsonResponse(proof, json_dumps_params={"indent": 1, "ensure_ascii": False})
    name = f"{_('preuve-acces')}-{event.public_id}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Content-Security-Policy"] = "sandbox"
    return response


@require_GET
def proof_checker(request: HttpRequest) -> HttpResponse:
    """The standalone checker of a proof (``records/merkle.py``, nothing of the portal in
    it), to read and run: ``python3 verifier-preuve.py preuve.json``."""
    with open(merkle.__file__, encoding="utf-8") as source:
        response = HttpResponse(source.read(), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="verifier-preuve.py"'
    response["Content-Security-Policy"] = "sandbox"
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


@patient_required
@require_GET
def my_history_csv(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """The raw events of the history as CSV (UTF-8 with BOM for spreadsheets), streamed, in
    the reader's language; documents by their titles (one query per 2 000 rows)."""
    dmp = access.own_dmp(request.user)
    form = HistoryFilterForm(request.GET or None)
    care_services.read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.EXPORT,
        detail="historique CSV",
        request=request,
    )
    writer = csv.writer(_Echo(), delimiter=";")
    events = _history(dmp, form)
    user, patient = request.user, dmp.patient
    header = [
        _("date"),
        _("qui"),
        "RPPS",
        _("profession"),
        _("structure"),
        _("action"),
        _("mode"),
        _("document"),
        _("détail"),
        _("logiciel"),
    ]

    def rows() -> Iterator[str]:
        yield "\ufeff"
        yield writer.writerow(header)
        chunk: list[AccessEvent] = []
        for event in events.iterator(chunk_size=CSV_CHUNK):
            chunk.append(event)
            if len(chunk) == CSV_CHUNK:
                yield from _csv_rows(writer, user, patient, chunk)
                chunk = []
        yield from _csv_rows(writer, user, patient, chunk)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="historique-acces-dmp.csv"'
    response["Cache-Control"] = "no-store"
    return response


CSV_CHUNK = 2000


def _csv_rows(writer: Any, user: User, patient: Patient, chunk: list[AccessEvent]) -> Iterator[str]:
    documents = visits.documents_of(user, patient, chunk)
    for event in chunk:
        yield writer.writerow(
            [
                timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S"),
                _csv_safe(event.actor_label),
                event.actor_rpps,
                visits.profession_label(event.actor_profession),
                _csv_safe(event.actor_structure or ""),
                event.get_action_display(),
                event.get_mode_display(),
                _csv_safe(visits.document_title(event, documents)),
                _csv_safe(visits.detail_text(event.detail)),
                _csv_safe(event.application or ""),
            ]
        )


def _csv_safe(value: str) -> str:
    """No formula injection when the file is opened in a spreadsheet."""
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


# --- Professionals: attested consent and emergency access --------------------------------------


def _open_dmp_by_insc(request: AuthenticatedHttpRequest, insc: str, purpose: str) -> Patient:
    """The open DMP a professional acts on before they may read it (consent, emergency):
    looked up through the funnel, which traces it; 404 when there is none (or closed)."""
    found = access.dmp_lookup(request.user, insc, request=request, purpose=purpose)
    if found.patient is None or not found.patient.is_open:
        raise Http404("No such DMP")
    return found.patient


@professional_required
@sensitive_action
@require_POST
def attest_consent(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A professional attests that the patient, present, consents to their access. It grants
    access: fresh re-authentication first, as for an emergency (a stolen session must not
    widen its own reach)."""
    form = AttestConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Le consentement du patient est nécessaire."))
        return redirect("records:patient_search")
    patient = _open_dmp_by_insc(request, form.cleaned_data["insc"], "consentement attesté")
    try:
        care_services.care_authorise(
            actor=request.user,
            patient=patient,
            professional=request.user.professional,
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
def emergency(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Bris de glace (or SAMU regulation): reason, fresh re-authentication, 4 hours.

    Reached from a search result by a link naming the DMP with a token of the session
    (records.views.targets), never its INS-C; the INS-C rides in the form's body, and the
    page shows it, so that the professional sees whose DMP they are about to open."""
    samu = request.GET.get("mode") == "samu" or request.POST.get("mode") == "samu"
    if request.method == "GET":
        insc = target_insc(request, request.GET.get("cible"))
        form = EmergencyForm(initial={"insc": insc}, samu=samu)
    else:
        form = EmergencyForm(request.POST, samu=samu)
        form.is_valid()
        insc = None if form.has_error("insc") else form.cleaned_data["insc"]
    # The patient is named (name, birth date, INS-C) before anything is declared; a forged,
    # expired or missing target names no one, and then nothing can be declared.
    found = (
        access.dmp_lookup(request.user, insc, request=request, purpose="accès en urgence")
        if insc
        else None
    )
    if found is not None and found.state == "readable" and found.patient is not None:
        return redirect("records:patient_home", public_id=found.patient.public_id)
    target = found.patient if found is not None and found.state != "none" else None
    refusal = (
        care_services.emergency_refusal(actor=request.user, patient=found.patient, samu=samu)
        if found is not None and found.patient is not None and found.state != "readable"
        else ""
    )
    if request.method == "POST" and target is not None and not refusal and form.is_valid():
        try:
            grant = care_services.emergency_declare(
                actor=request.user,
                patient=target,
                samu=samu,
                reason=form.cleaned_data["reason"],
                reason_text=form.cleaned_data["reason_text"],
            )
        except care_services.AccessRefused as error:
            form.add_error(None, error.message)
        else:
            _emergency_banner(request, target, grant.expires_at.timestamp(), samu)
            return redirect("records:patient_home", public_id=target.public_id)
    return render(
        request,
        "records/emergency.html",
        {"form": form, "samu": samu, "target": target, "refusal": refusal},
    )


def _emergency_banner(
    request: AuthenticatedHttpRequest, patient: Patient, until: float, samu: bool
) -> None:
    """The banner every page shows while the emergency access lasts (the last five)."""
    banners = request.session.get(EMERGENCY_SESSION_KEY, [])
    banners.append(
        {
            "name": patient.display_name,
            "url": reverse("records:patient_home", args=[patient.public_id]),
            "until": until,
            "samu": samu,
        }
    )
    request.session[EMERGENCY_SESSION_KEY] = banners[-5:]
