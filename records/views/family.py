"""Family pages (``records.mandates``): choose whose DMP one looks at, grant and revoke a
proxy, record a minor's legal representatives (professional), review at 18.

The patient pages themselves are not copied: acting for someone, the existing pages get that
DMP from the funnel's ``own_dmp`` (``records.family``), narrowed by the rules."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from identity.auth import AuthenticatedHttpRequest, patient_required, professional_required
from records import access, family
from records.forms.family import ProxyGrantForm, RepresentativeForm
from records.mandates import MandateEnd, MandateKind
from records.models import AccessAction, AccessMode
from records.services import family as family_services
from records.services.care import read_traced


def _own(request: AuthenticatedHttpRequest) -> access.DmpAccess | None:
    """The user's own DMP, whatever they are acting for (None when they have none)."""
    acting = getattr(request.user, "acting_for", None)
    request.user.acting_for = None  # type: ignore[attr-defined]
    try:
        return access.own_dmp(request.user)
    except Http404:
        return None
    finally:
        request.user.acting_for = acting  # type: ignore[attr-defined]


def _name(patient: object) -> str:
    first = getattr(patient, "first_names", "").split(" ")[0]
    last = getattr(patient, "used_name", "") or getattr(patient, "birth_name", "")
    return f"{first} {last}".strip()


@never_cache
@patient_required
@require_GET
def family_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """ "My DMP" and the DMPs one speaks for; the proxies one gave; a proxy to give."""
    own = _own(request)
    represented = list(access.represented_by(request.user).order_by("birth_name", "pk"))
    granted = list(access.mandates_on(own)) if own is not None else []
    return render(
        request,
        "records/family.html",
        {
            "own": own,
            "represented": [(p, _name(p), access.how_listed(request.user, p)) for p in represented],
            "granted": [m for m in granted if m.kind == MandateKind.PROXY],
            "representatives": [m for m in granted if m.is_representative],
            "form": ProxyGrantForm(),
            "acting": family.acting_for(request),
            "may_grant": own is not None and own.patient.is_open,
        },
    )


@patient_required
@require_POST
def family_choose(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Act for a DMP one speaks for (checked by the funnel), or back to one's own."""
    chosen = request.POST.get("dmp", "")
    if not chosen:
        family.choose(request, public_id=None)
        return redirect("records:my_dmp")
    held = access.dmp_for(request.user, chosen)
    if not held.on_behalf:
        raise Http404("No such DMP")
    family.choose(request, public_id=str(held.patient.public_id), name=_name(held.patient))
    return redirect("records:my_dmp")


@patient_required
@require_POST
def proxy_grant(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The adult patient gives a proxy (only on their own DMP: never while acting for
    someone, and never by a proxy: the service refuses)."""
    dmp = access.own_dmp(request.user)
    form = ProxyGrantForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            family_services.proxy_grant(
                actor=request.user,
                patient=dmp.patient,
                email=data["email"],
                read_only=data["read_only"],
                kinds=data["kinds"],
                ends_on=data["ends_on"],
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Procuration enregistrée."))
            return redirect("records:family")
    else:
        messages.error(request, _("Procuration non enregistrée : vérifiez les champs."))
    own = _own(request)
    granted = list(access.mandates_on(own)) if own is not None else []
    return render(
        request,
        "records/family.html",
        {
            "own": own,
            "represented": [],
            "granted": [m for m in granted if m.kind == MandateKind.PROXY],
            "representatives": [m for m in granted if m.is_representative],
            "form": form,
            "acting": family.acting_for(request),
            "may_grant": own is not None and own.patient.is_open,
        },
        status=400,
    )


@patient_required
@require_POST
def mandate_end(request: AuthenticatedHttpRequest, mandate_id: uuid.UUID) -> HttpResponse:
    """The patient revokes a proxy, or the holder gives up their mandate."""
    mandate = access.mandate_for(request.user, mandate_id)
    family_services.mandate_revoke(actor=request.user, mandate=mandate)
    messages.success(request, _("Accès retiré."))
    return redirect("records:family")


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
def majority_review(request: AuthenticatedHttpRequest) -> HttpResponse:
    """At 18: what the former representatives could see, to mask what should be; led to on
    every login until the young adult says it is done (POST)."""
    dmp = _own(request)
    if dmp is None:
        raise Http404("No such DMP")
    if request.method == "POST":
        family_services.majority_review_done(actor=request.user, dmp=dmp)
        family.review_done(request)
        return redirect("records:my_dmp")
    read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        detail="revue à la majorité",
        request=request,
    )
    former = [m for m in access.mandates_on(dmp) if m.ended_reason == MandateEnd.MAJORITY]
    entries = (
        access.entries_for(request.user, dmp.patient)
        .filter(secret=False, hidden_from_representatives=False)
        .order_by("-act_date", "-id")[:200]
    )
    return render(
        request,
        "records/majority_review.html",
        {
            "former": former,
            "entries": entries,
            "patient": dmp.patient,
            "pending": any(m.reviewed_at is None for m in former),
        },
    )


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
def representatives(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The professional records a minor's legal representatives (or an adult's tutor)."""
    dmp = access.dmp_for(request.user, public_id)
    if dmp.mode != AccessMode.NORMAL:
        raise Http404("No such DMP")
    form = RepresentativeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                family_services.representative_add(
                    actor=request.user,
                    patient=dmp.patient,
                    email=data["email"],
                    kind=data["kind"],
                    basis=data["basis"],
                    proof=data["proof"],
                )
            except ValidationError as error:
                form.add_error(None, error)
                status = 400
            else:
                messages.success(request, _("Représentant enregistré."))
                return redirect("records:representatives", public_id=public_id)
        else:
            status = 400
    else:
        read_traced(
            actor=request.user,
            dmp=dmp,
            action=AccessAction.DMP_VIEW,
            detail="représentants",
            request=request,
        )
    return render(
        request,
        "records/representatives.html",
        {
            "patient": dmp.patient,
            "mandates": [m for m in access.mandates_on(dmp) if m.is_representative],
            "form": form,
            "minor": family.is_minor(dmp.patient.birth_date),
        },
        status=status,
    )
