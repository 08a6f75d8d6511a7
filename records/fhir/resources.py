"""Rows of the DMP as FHIR R4 resources (dicts ready for JSON).

Pure mapping: no query, no decision. The rows come from the funnel with what they need joined
(``select_related``), so a page of 50 resources costs the one query that fetched them.

Identifiers: INS-C under OID 1.2.250.1.213.1.4.2, the matricule INS under its own OID
(1.2.250.1.213.1.4.8–.11) when known — never the NIR typed to compute the INS-C, which is not
stored. A professional is ``8`` + RPPS under the IDNPS OID 1.2.250.1.71.4.2.1. Visibility is
carried as ``securityLabel`` with the DMP's codes (MASQUE_PS, INVISIBLE_PATIENT).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import F

from identity.models import Patient, Professional
from records.models import AccessEvent, Entry, EntryStatus
from records.reference import document_type

INSC_SYSTEM = "urn:oid:1.2.250.1.213.1.4.2"
IDNPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
LOINC = "http://loinc.org"
# The DMP's visibility codes (CI-SIS, "confidentialité du document").
VISIBILITY_SYSTEM = "urn:oid:1.2.250.1.213.1.1.4.13"
MASKED = "MASQUE_PS"
INVISIBLE = "INVISIBLE_PATIENT"
# Local code systems for what has no national code here (the portal's own keys).
PROFESSION_SYSTEM = "urn:dmp-portal:profession"
SPECIALTY_SYSTEM = "urn:dmp-portal:specialty"
ACTION_SYSTEM = "urn:dmp-portal:access-action"
IDENTITY_RELIABILITY = (
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
)
IDENTITY_STATUS_SYSTEM = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445"
_GENDER = {"F": "female", "M": "male", "U": "unknown"}


def instant(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat(timespec="seconds")


def ref(kind: str, public_id: object) -> dict[str, str]:
    return {"reference": f"{kind}/{public_id}"}


def patient_resource(patient: Patient) -> dict[str, Any]:
    identifiers: list[dict[str, Any]] = [
        {
            "use": "official",
            "type": {"coding": [{"system": "urn:dmp-portal:identifier-type", "code": "INS-C"}]},
            "system": INSC_SYSTEM,
            "value": patient.insc,
        }
    ]
    if patient.matricule_ins and patient.matricule_oid:
        identifiers.append(
            {
                "use": "official",
                "type": {"coding": [{"system": "urn:dmp-portal:identifier-type", "code": "INS"}]},
                "system": f"urn:oid:{patient.matricule_oid}",
                "value": patient.matricule_ins,
            }
        )
    names: list[dict[str, Any]] = [
        {"use": "official", "family": patient.birth_name, "given": patient.first_names.split()}
    ]
    if patient.used_name:
        names.append({"use": "usual", "family": patient.used_name})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.public_id),
        "identifier": identifiers,
        "active": patient.is_open,
        "name": names,
        "gender": _GENDER.get(patient.sex, "unknown"),
    }
    if patient.identity_status:
        resource["extension"] = [
            {
                "url": IDENTITY_RELIABILITY,
                "extension": [
                    {
                        "url": "identityStatus",
                        "valueCoding": {
                            "system": IDENTITY_STATUS_SYSTEM,
                            "code": patient.identity_status,
                        },
                    }
                ],
            }
        ]
    if patient.birth_date:
        resource["birthDate"] = patient.birth_date.isoformat()
    if patient.medecin_traitant_id is not None and patient.medecin_traitant is not None:
        resource["generalPractitioner"] = [ref("Practitioner", patient.medecin_traitant.public_id)]
    return resource


def _rpps_identifier(professional: Professional) -> dict[str, Any]:
    return {"system": IDNPS_SYSTEM, "value": f"8{professional.rpps}"}


def practitioner_resource(professional: Professional) -> dict[str, Any]:
    user = professional.user
    name: dict[str, Any] = {"use": "official", "family": user.last_name}
    if user.first_name:
        name["given"] = [user.first_name]
    return {
        "resourceType": "Practitioner",
        "id": str(professional.public_id),
        "identifier": [_rpps_identifier(professional)],
        "active": professional.is_verified and user.is_active,
        "name": [name],
    }


def practitioner_role_resource(professional: Professional) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": str(professional.public_id),
        "active": professional.is_verified,
        "practitioner": ref("Practitioner", professional.public_id),
        "code": [
            {
                "coding": [
                    {
                        "system": PROFESSION_SYSTEM,
                        "code": professional.profession,
                        "display": str(professional.get_profession_display()),
                    }
                ]
            }
        ],
    }
    if professional.specialty:
        resource["specialty"] = [
            {
                "coding": [
                    {
                        "system": SPECIALTY_SYSTEM,
                        "code": professional.specialty,
                        "display": str(professional.get_specialty_display()),
                    }
                ]
            }
        ]
    return resource


def security_labels(entry: Entry) -> list[dict[str, Any]]:
    labels = []
    if entry.masked:
        labels.append({"coding": [{"system": VISIBILITY_SYSTEM, "code": MASKED}]})
    if entry.invisible_to_patient and entry.announced_at is None:
        labels.append({"coding": [{"system": VISIBILITY_SYSTEM, "code": INVISIBLE}]})
    return labels


# What a page of DocumentReferences reads of each row's author and replaced version as columns
# of the rows (a single resource has them loaded as model instances).
PAGE_COLUMNS = {
    "author_public_id": F("author__public_id"),
    **Professional.name_columns("author"),
    "replaces_public_id": F("replaces__public_id"),
}


def _author(entry: Entry) -> list[dict[str, Any]]:
    if hasattr(entry, "author_public_id"):  # a page's row (PAGE_COLUMNS)
        if entry.author_id is None:
            return []
        public_id, name = entry.author_public_id, Professional.name_of(entry, "author")
    elif entry.author is None:
        return []
    else:
        public_id, name = entry.author.public_id, entry.author.display_name
    return [{**ref("Practitioner", public_id), "display": name}]


def _replaced(entry: Entry) -> Any:
    """The public id of the version ``entry`` replaces, or None."""
    if hasattr(entry, "replaces_public_id"):  # a page's row (PAGE_COLUMNS)
        return entry.replaces_public_id
    return entry.replaces.public_id if entry.replaces is not None else None


def _meta(entry: Entry) -> dict[str, Any]:
    meta: dict[str, Any] = {"versionId": "1", "lastUpdated": instant(entry.deposited_at)}
    labels = security_labels(entry)
    if labels:
        meta["security"] = [label["coding"][0] for label in labels]
    return meta


def document_reference(entry: Entry, report: Any) -> dict[str, Any]:
    """A report (``report``: its Report row, or None) as a DocumentReference; its content is
    the Binary of the same id (the PDF, or the text when there is no PDF)."""
    doc_type = document_type(entry.document_type)
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": str(entry.public_id),
        "meta": _meta(entry),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{entry.public_id}"}],
        "status": "current" if entry.status == EntryStatus.CURRENT else "superseded",
        "docStatus": "final",
        "type": {
            "coding": [
                {"system": LOINC, "code": doc_type.code, "display": doc_type.display_label()}
            ]
        },
        "category": [
            {"coding": [{"system": "urn:dmp-portal:document-category", "code": doc_type.category}]}
        ],
        "subject": ref("Patient", entry.patient.public_id),
        "date": instant(entry.deposited_at),
        "description": entry.title,
        "context": {"period": {"start": entry.act_date.isoformat()}},
    }
    author = _author(entry)
    if author:
        resource["author"] = author
    labels = security_labels(entry)
    if labels:
        resource["securityLabel"] = labels
    replaced = _replaced(entry)
    if replaced is not None:
        resource["relatesTo"] = [{"code": "replaces", "target": ref("DocumentReference", replaced)}]
    attachment: dict[str, Any] = {"url": f"Binary/{entry.public_id}", "title": entry.title}
    if report is not None and report.pdf:
        attachment.update(contentType="application/pdf", size=report.pdf_size or 0)
    else:
        attachment["contentType"] = "text/plain; charset=utf-8"
    resource["content"] = [{"attachment": attachment}]
    return resource


_ACTION_CODE = {"entry_create": "C", "entry_update": "U", "access_change": "U", "dmp_update": "U"}


def audit_event(event: AccessEvent) -> dict[str, Any]:
    """One event of the patient's access history."""
    who: dict[str, Any] = {"display": event.actor_label or "—"}
    if event.actor_rpps:
        who["identifier"] = {"system": IDNPS_SYSTEM, "value": f"8{event.actor_rpps}"}
    agents: list[dict[str, Any]] = [{"who": who, "requestor": True}]
    if event.application:
        agents.append(
            {
                "type": {"text": "application"},
                "who": {"display": event.application},
                "requestor": False,
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(event.public_id),
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
        },
        "subtype": [
            {"system": ACTION_SYSTEM, "code": event.action, "display": event.get_action_display()}
        ],
        "action": _ACTION_CODE.get(event.action, "R"),
        "recorded": instant(event.at),
        "outcome": "4" if event.action in ("denied", "deposit_refused") else "0",
        "agent": agents,
        "source": {"observer": {"display": "DMP Portal"}},
        "purposeOfEvent": [{"text": event.get_mode_display()}],
    }
    entity: list[dict[str, Any]] = []
    if event.entry_public_id:
        entity.append({"what": ref("DocumentReference", event.entry_public_id)})
    if event.detail:
        entity.append({"what": {"display": event.detail}})
    if entity:
        resource["entity"] = entity
    return resource
