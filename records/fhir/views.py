"""The FHIR endpoints. Each URL maps its methods to (interaction, handler); ``endpoint`` does
the rest once for all: 405 for another method, the token (``records.api_auth.api_user``), the
trail naming the software (``records.trail.acting_through``), and every refusal answered as an
OperationOutcome — out of scope exactly like missing, never a 500 for bad input.

Emergency access is not opened by the API, nor used by it: a DMP held only through an
emergency access answers 404, as out of scope (the banner and the notice belong to the pages).
"""

from __future__ import annotations

import base64
import datetime
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from identity.errors import AccessDenied
from identity.models import Patient, Professional, VerificationStatus
from records import access, trail
from records.api_auth import ApiClient, ApiForbidden, ApiRateLimited, ApiUnauthorized, api_user
from records.fhir import resources
from records.fhir.deposit import DocumentInput, document_input, invalid, reference_id
from records.fhir.http import (
    FHIR_JSON,
    FhirError,
    check_params,
    json_response,
    not_found,
    outcome,
    page_params,
    read_json,
    searchset,
)
from records.models import AccessAction, Entry, EntryKind, EntryStatus
from records.services import care as care_services
from records.services import cda as cda_services
from records.services.content import (
    DuplicateSubmission,
    StorageUnavailable,
    report_deposit,
    reports_deposit,
)

logger = logging.getLogger(__name__)

Handler = Callable[..., HttpResponse]


def _refusal(request: HttpRequest, error: Exception) -> FhirError:
    if isinstance(error, FhirError):
        return error
    if isinstance(error, ApiUnauthorized):
        return FhirError(401, "login", _("Jeton d'accès absent, invalide ou expiré."))
    if isinstance(error, ApiForbidden):
        return FhirError(
            403,
            "forbidden",
            _("Les autorisations (scopes) du jeton ne permettent pas cette action."),
        )
    if isinstance(error, ApiRateLimited):
        return FhirError(429, "throttled", _("Trop de requêtes : réessayez dans une minute."))
    if isinstance(error, Http404):
        return not_found()
    if isinstance(error, AccessDenied):
        return FhirError(403, "forbidden", _("Action non autorisée sur ce dossier."))
    if isinstance(error, ValidationError):
        return invalid(" ".join(error.messages))
    if isinstance(error, StorageUnavailable):
        return FhirError(
            503, "transient", _("Stockage indisponible : rien n'a été enregistré, réessayez.")
        )
    raise error


def endpoint(resource: str, methods: dict[str, tuple[str, Handler]]) -> Handler:
    """A view serving ``methods`` (HTTP method → (SMART interaction letter, handler))."""

    @csrf_exempt
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in methods:
            response = outcome(
                FhirError(405, "not-supported", _("Méthode non prise en charge ici."))
            )
            response["Allow"] = ", ".join(methods)
            return response
        interaction, handler = methods[request.method]
        try:
            client = api_user(request, resource, interaction)
            with trail.acting_through(client.application_name):
                return handler(request, client, *args, **kwargs)
        except (
            FhirError,
            ApiUnauthorized,
            ApiForbidden,
            ApiRateLimited,
            Http404,
            AccessDenied,
            ValidationError,
            StorageUnavailable,
        ) as error:
            return outcome(_refusal(request, error))

    return view


# --- Scope helpers: the funnel, normal access only -----------------------------------------------


def scoped_dmp(client: ApiClient, public_id: str) -> access.DmpAccess:
    dmp = access.dmp_for(client.user, public_id)
    if dmp.is_emergency:
        raise Http404("emergency access is not used by the API")
    return dmp


def scoped_entry(
    client: ApiClient,
    public_id: str,
    kind: str,
    related: tuple[str, ...] = ("report", "replaces"),
) -> tuple[Entry, access.DmpAccess]:
    """One entry of ``kind`` in the caller's scope, held in normal (or patient) access."""
    entry, dmp = access.entry_for(client.user, public_id, related=related)
    if dmp.is_emergency or entry.kind != kind:
        raise Http404("not in the API's scope")
    return entry, dmp


def search_dmp(request: HttpRequest, client: ApiClient) -> access.DmpAccess:
    """The DMP a search is about: ``patient`` (required for a professional; a patient's app
    reaches only its own, which is the default)."""
    raw = request.GET.get("patient") or request.GET.get("subject")
    if raw is None:
        if client.user.is_patient:
            return access.own_dmp(client.user)
        raise FhirError(400, "required", _("Le paramètre patient est obligatoire."))
    return scoped_dmp(client, raw.rsplit("/", 1)[-1])


# --- Patient -------------------------------------------------------------------------------------


def patient_read(request: HttpRequest, client: ApiClient, public_id: str) -> HttpResponse:
    dmp = scoped_dmp(client, public_id)
    care_services.read_traced(
        actor=client.user, dmp=dmp, action=AccessAction.DMP_VIEW, request=request
    )
    return json_response(resources.patient_resource(dmp.patient))


def _identifier_value(raw: str) -> str:
    system, sep, value = raw.rpartition("|")
    if sep and system not in (resources.INSC_SYSTEM, ""):
        raise FhirError(
            400,
            "not-supported",
            _("Seul l'INS-C (%(system)s) est recherché ici.") % {"system": resources.INSC_SYSTEM},
        )
    return value


def patient_search(request: HttpRequest, client: ApiClient) -> HttpResponse:
    """By INS-C (``identifier``) or ``_id``: only DMPs in the caller's scope (normal access);
    each one found is traced."""
    check_params(request, ("identifier", "_id"))
    if not client.user.is_patient and not {"identifier", "_id"} & set(request.GET):
        # A lookup by identity (PDQm), not a listing of every DMP the professional may open.
        raise FhirError(400, "required", _("Le paramètre identifier est obligatoire."))
    count, offset = page_params(request)
    patients: QuerySet[Patient] = access.patients_for(client.user).select_related(
        "medecin_traitant"
    )
    if "identifier" in request.GET:
        patients = patients.filter(insc=_identifier_value(request.GET["identifier"]))
    if "_id" in request.GET:
        try:
            patients = patients.filter(public_id=uuid.UUID(request.GET["_id"]))
        except ValueError:
            patients = patients.none()
    found = list(patients.order_by("pk")[offset : offset + count + 1])
    shown = []
    for patient in found[:count]:
        dmp = (  # the patient's own DMP, or one they speak for (records.mandates)
            access.how_listed(client.user, patient) if client.user.is_patient else None
        )
        if dmp is None:
            dmp = access.dmp_access(client.user, patient)
        if dmp is None or dmp.is_emergency:
            continue
        care_services.read_traced(
            actor=client.user, dmp=dmp, action=AccessAction.DMP_VIEW, request=request
        )
        shown.append(resources.patient_resource(patient))
    return json_response(
        searchset(request, shown, count=count, offset=offset, more=len(found) > count)
    )


# --- Practitioner, PractitionerRole: the directory of verified professionals ---------------------


def _professionals() -> QuerySet[Professional]:
    return Professional.objects.filter(
        verification_status=VerificationStatus.VERIFIED
    ).select_related("user")


def _professional(public_id: str) -> Professional:
    try:
        return _professionals().get(public_id=public_id)
    except (Professional.DoesNotExist, ValueError, ValidationError):
        raise not_found() from None


def practitioner_read(request: HttpRequest, client: ApiClient, public_id: str) -> HttpResponse:
    return json_response(resources.practitioner_resource(_professional(public_id)))


def practitioner_role_read(request: HttpRequest, client: ApiClient, public_id: str) -> HttpResponse:
    return json_response(resources.practitioner_role_resource(_professional(public_id)))


def practitioner_search(request: HttpRequest, client: ApiClient) -> HttpResponse:
    """By RPPS (``identifier``: ``8`` + RPPS under the IDNPS OID, or the RPPS alone)."""
    check_params(request, ("identifier",))
    count, offset = page_params(request)
    raw = request.GET.get("identifier")
    if raw is None:
        raise FhirError(400, "required", _("Le paramètre identifier est obligatoire."))
    system, _sep, value = raw.rpartition("|")
    if system == resources.IDNPS_SYSTEM and value.startswith("8"):
        value = value[1:]
    found = list(_professionals().filter(rpps=value).order_by("pk")[offset : offset + count + 1])
    shown = [resources.practitioner_resource(pro) for pro in found[:count]]
    return json_response(
        searchset(request, shown, count=count, offset=offset, more=len(found) > count)
    )


# --- DocumentReference and Binary ----------------------------------------------------------------


def document_read(request: HttpRequest, client: ApiClient, public_id: str) -> HttpResponse:
    entry, dmp = scoped_entry(client, public_id, EntryKind.REPORT)
    care_services.read_traced(
        actor=client.user, dmp=dmp, action=AccessAction.ENTRY_VIEW, entry=entry, request=request
    )
    return json_response(resources.document_reference(entry, report_of(entry)))


def report_of(entry: Entry) -> Any:
    try:
        return entry.report
    except Entry.report.RelatedObjectDoesNotExist:
        return None


def _date_filter(entries: QuerySet[Entry], field: str, values: list[str]) -> QuerySet[Entry]:
    prefixes = {"ge": "gte", "le": "lte", "gt": "gt", "lt": "lt", "eq": ""}
    for raw in values:
        prefix, text = (raw[:2], raw[2:]) if raw[:2] in prefixes else ("eq", raw)
        try:
            day = datetime.date.fromisoformat(text[:10])
        except ValueError:
            raise FhirError(
                400, "invalid", _("Date de recherche invalide : %(value)s.") % {"value": raw[:40]}
            ) from None
        lookup = f"{field}__{prefixes[prefix]}" if prefixes[prefix] else field
        if field == "deposited_at":
            lookup = f"deposited_at__date__{prefixes[prefix] or 'exact'}"
        entries = entries.filter(**{lookup: day})
    return entries


_STATUS = {"current": EntryStatus.CURRENT, "superseded": EntryStatus.REPLACED}
# A search for a DMP's page of documents and nothing more: its statement is kept per caller.
_PLAIN_SEARCH = frozenset(("patient", "subject", "_count", "_offset", "_sort"))


def _document_filters(request: HttpRequest, entries: QuerySet[Entry]) -> QuerySet[Entry]:
    """A document search's filters but the dates (type, category, status, author)."""
    if "type" in request.GET:
        entries = entries.filter(document_type=request.GET["type"].rpartition("|")[2])
    if "category" in request.GET:
        entries = entries.filter(
            document_type__in=_category_types(request.GET["category"].rpartition("|")[2])
        )
    if "status" in request.GET:
        status = _STATUS.get(request.GET["status"])
        if status is None:
            raise FhirError(400, "invalid", _("status : current ou superseded."))
        entries = entries.filter(status=status)
    if "author" in request.GET:
        try:
            author = uuid.UUID(request.GET["author"].rsplit("/", 1)[-1])
        except ValueError:
            raise FhirError(
                400, "invalid", _("author : référence Practitioner attendue.")
            ) from None
        entries = entries.filter(author__public_id=author)
    return entries


def document_search(request: HttpRequest, client: ApiClient) -> HttpResponse:
    """The documents of one DMP the caller may read, newest first (``_sort=date`` for oldest
    first), 50 a page: one traced event per page, as the timeline."""
    check_params(
        request,
        (
            "patient",
            "subject",
            "type",
            "status",
            "date",
            "author",
            "category",
            "_lastUpdated",
            "_sort",
        ),
    )
    count, offset = page_params(request)
    dmp = search_dmp(request, client)
    plain = _PLAIN_SEARCH.issuperset(request.GET)  # a DMP's page: its statement is kept
    if not plain:
        entries = _document_filters(
            request, access.entries_for(client.user, dmp).filter(kind=EntryKind.REPORT)
        )
        entries = _date_filter(entries, "act_date", request.GET.getlist("date"))
        entries = _date_filter(entries, "deposited_at", request.GET.getlist("_lastUpdated"))
    sort = request.GET.get("_sort", "-date")
    if sort not in ("-date", "date"):
        raise FhirError(400, "not-supported", _("_sort : date ou -date."))
    order = ("act_date", "id") if sort == "date" else ("-act_date", "-id")
    care_services.read_traced(
        actor=client.user,
        dmp=dmp,
        action=AccessAction.TIMELINE_VIEW,
        request=request,
        detail="FHIR DocumentReference",
    )

    def one_page(entries: QuerySet[Entry], values: dict[str, Any]) -> QuerySet[Entry]:
        # The DMP's patient is known (set on each row below); a report's text is not shown;
        # the author and the replaced version are read as columns of the rows
        # (resources.PAGE_COLUMNS), not as model instances.
        return (
            entries.select_related("report")
            .defer("report__body")
            .annotate(**resources.PAGE_COLUMNS)
            .order_by(*order)[offset : offset + count + 1]
        )

    if plain:
        rows = access.entries_kept(
            client.user,
            dmp,
            ("fhir DocumentReference", order, offset, count),
            lambda entries, values: one_page(entries.filter(kind=EntryKind.REPORT), values),
            {},
        )
    else:
        rows = list(one_page(entries, {}))
    for entry in rows:
        entry.patient = dmp.patient
    shown = [resources.document_reference(entry, report_of(entry)) for entry in rows[:count]]
    return json_response(
        searchset(request, shown, count=count, offset=offset, more=len(rows) > count)
    )


def _category_types(category: str) -> list[str]:
    from records.reference import DOCUMENT_TYPES

    return [doc.code for doc in DOCUMENT_TYPES if doc.category == category]


def binary_read(request: HttpRequest, client: ApiClient, public_id: str) -> HttpResponse:
    """A report's content: its PDF, or its text when it has none. As raw bytes (sandboxed
    attachment) unless the client asks for FHIR JSON (then a Binary resource, base64)."""
    entry, dmp = scoped_entry(client, public_id, EntryKind.REPORT)
    report = report_of(entry)
    if report is None:
        raise not_found()
    care_services.read_traced(
        actor=client.user, dmp=dmp, action=AccessAction.DOWNLOAD, entry=entry, request=request
    )
    if report.pdf:
        try:
            with default_storage.open(report.pdf.name, "rb") as handle:
                data, content_type = handle.read(), "application/pdf"
        except OSError:
            logger.error("stored PDF missing", extra={"entry": str(entry.public_id)})
            raise not_found() from None
    else:
        data, content_type = report.body.encode(), "text/plain; charset=utf-8"
    if FHIR_JSON in request.META.get("HTTP_ACCEPT", ""):
        return json_response(
            {
                "resourceType": "Binary",
                "id": str(entry.public_id),
                "contentType": content_type,
                "securityContext": resources.ref("DocumentReference", entry.public_id),
                "data": base64.b64encode(data).decode(),
            }
        )
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = "attachment"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "no-store"
    return response


def _deposit_target(client: ApiClient, doc: DocumentInput) -> dict[str, Any]:
    """The service's arguments for one parsed DocumentReference: its DMP through the funnel
    (404 out of scope), what it replaces (404 out of scope, 409 if no longer current)."""
    dmp = scoped_dmp(client, doc.patient_id)
    fields = {**doc.fields, "patient": dmp.patient}
    if doc.replaces_id is not None:
        old, _held = scoped_entry(client, doc.replaces_id, EntryKind.REPORT)
        if old.patient_id != dmp.patient.pk:
            raise invalid(_("relatesTo : le document remplacé appartient à un autre patient."))
        if old.status != EntryStatus.CURRENT:
            raise FhirError(
                409,
                "conflict",
                _("Ce document a déjà été remplacé : remplacez sa dernière version."),
            )
        fields["replaces"] = old
    return fields


def _created(request: HttpRequest, entry: Entry, status: int = 201) -> HttpResponse:
    """The deposited document (its rows were just written, with their relations cached)."""
    location = request.build_absolute_uri(f"/fhir/DocumentReference/{entry.public_id}")
    return json_response(
        resources.document_reference(entry, report_of(entry)), status=status, Location=location
    )


def document_create(request: HttpRequest, client: ApiClient) -> HttpResponse:
    """Deposit a report (MHD-style: the attachment inline; ``relatesTo: replaces`` makes it
    the new version of a current one). The same ``masterIdentifier`` twice keeps one
    document: the second answer is 200 with the first one."""
    doc = document_input(read_json(request, "DocumentReference"))
    fields = _deposit_target(client, doc)
    try:
        if "cda" in fields:
            data = fields.pop("cda")
            entry = cda_services.cda_deposit(actor=client.user, data=data, **fields)
        else:
            entry = report_deposit(actor=client.user, **fields)
    except DuplicateSubmission as duplicate:
        if duplicate.entry is None:
            raise FhirError(409, "duplicate", _("Soumission déjà reçue.")) from None
        first, _held = scoped_entry(client, str(duplicate.entry.public_id), EntryKind.REPORT)
        return _created(request, first, status=200)
    except ValidationError as error:
        if getattr(error, "code", None) == "not_current":
            raise FhirError(
                409,
                "conflict",
                _("Ce document a déjà été remplacé : remplacez sa dernière version."),
            ) from None
        raise
    return _created(request, entry)


# --- Transaction Bundle (MHD ITI-65: SubmissionSet List + DocumentReference + Binary) ------------


def _bundle_parts(
    bundle: dict[str, Any],
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A transaction Bundle's Binaries (by fullUrl), DocumentReferences and Lists; 422 for
    anything else, or for no document, or for more than 50 entries."""
    if bundle.get("type") != "transaction":
        raise invalid(_("Bundle : seul le type transaction est accepté."))
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries or len(entries) > 50:
        raise invalid(_("Bundle.entry : de 1 à 50 entrées."))
    binaries: dict[str, dict[str, Any]] = {}
    parts: dict[str, list[dict[str, Any]]] = {"DocumentReference": [], "List": []}
    for item in entries:
        resource = item.get("resource") if isinstance(item, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind == "Binary" and isinstance(resource, dict) and isinstance(item, dict):
            binaries[str(item.get("fullUrl"))] = resource
        elif kind in parts and isinstance(resource, dict):
            parts[str(kind)].append(resource)
        else:
            raise invalid(_("Bundle.entry : List, DocumentReference ou Binary attendus."))
    if not parts["DocumentReference"]:
        raise invalid(_("Bundle : aucun DocumentReference à déposer."))
    return binaries, parts["DocumentReference"], parts["List"]


def transaction(request: HttpRequest, client: ApiClient) -> HttpResponse:
    """An MHD ITI-65 submission: every DocumentReference (its content a Binary of the Bundle)
    deposited all or nothing; the SubmissionSet List is checked (same patient), not kept."""
    binaries, documents, lists = _bundle_parts(read_json(request, "Bundle"))
    parsed = [document_input(resource, binaries) for resource in documents]
    if any("cda" in doc.fields for doc in parsed):
        raise FhirError(
            415,
            "not-supported",
            _("Bundle : un document CDA se dépose seul (POST DocumentReference)."),
        )
    patients = {doc.patient_id for doc in parsed} | {
        reference_id(item.get("subject"), "Patient", "List.subject") for item in lists
    }
    if len(patients) != 1:
        raise invalid(_("Bundle : toutes les ressources doivent concerner le même patient."))
    targets = [_deposit_target(client, doc) for doc in parsed]
    try:
        created = reports_deposit(actor=client.user, reports=targets)
    except DuplicateSubmission:
        raise FhirError(
            409,
            "duplicate",
            _("Un document de cette soumission a déjà été reçu : rien n'a été enregistré."),
        ) from None
    except ValidationError as error:
        raise invalid(
            _("Bundle : rien n'a été enregistré. %(why)s") % {"why": " ".join(error.messages)}
        ) from None
    response_entries = [
        {"response": {"status": "201 Created", "location": f"DocumentReference/{entry.public_id}"}}
        for entry in created
    ]
    return json_response(
        {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": response_entries,
        }
    )


# --- AuditEvent: the patient's own access history ------------------------------------------------


def audit_search(request: HttpRequest, client: ApiClient) -> HttpResponse:
    check_params(request, ("patient", "_sort"))
    if not client.user.is_patient:
        raise FhirError(403, "forbidden", _("L'historique des accès n'est lu que par le patient."))
    count, offset = page_params(request)
    dmp = search_dmp(request, client)
    care_services.read_traced(
        actor=client.user, dmp=dmp, action=AccessAction.HISTORY_VIEW, request=request
    )
    rows = list(access.history_of(dmp)[offset : offset + count + 1])
    shown = [resources.audit_event(event) for event in rows[:count]]
    return json_response(
        searchset(request, shown, count=count, offset=offset, more=len(rows) > count)
    )


# --- The URL table -------------------------------------------------------------------------------

patient_type = endpoint("Patient", {"GET": ("s", patient_search)})
patient_instance = endpoint("Patient", {"GET": ("r", patient_read)})
practitioner_type = endpoint("Practitioner", {"GET": ("s", practitioner_search)})
practitioner_instance = endpoint("Practitioner", {"GET": ("r", practitioner_read)})
practitioner_role_instance = endpoint("PractitionerRole", {"GET": ("r", practitioner_role_read)})
document_type = endpoint(
    "DocumentReference", {"GET": ("s", document_search), "POST": ("c", document_create)}
)
document_instance = endpoint("DocumentReference", {"GET": ("r", document_read)})
binary_instance = endpoint("Binary", {"GET": ("r", binary_read)})
audit_type = endpoint("AuditEvent", {"GET": ("s", audit_search)})
transaction_endpoint = endpoint("DocumentReference", {"POST": ("c", transaction)})
