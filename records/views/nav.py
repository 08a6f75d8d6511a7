"""The one navigation of a DMP: what the shared patient header (``records/_patient_header.html``,
included by the records and imaging pages alike) needs to know, asked once of the funnel's
``DmpAccess`` (no query)."""

from __future__ import annotations

from typing import Any

from records import access
from records.services import profile
from records.services.content import ALLERGY_DOCUMENT_TYPE, LAB_DOCUMENT_TYPE

# Kinds with a form of their own: "a report" is any other type the professional may deposit.
_OWN_FORMS = {
    LAB_DOCUMENT_TYPE,
    ALLERGY_DOCUMENT_TYPE,
    profile.PROBLEM_DOCUMENT_TYPE,
    profile.TREATMENT_DOCUMENT_TYPE,
    profile.VACCINATION_DOCUMENT_TYPE,
    profile.MEASURE_DOCUMENT_TYPE,
    profile.WISHES_DOCUMENT_TYPE,
    profile.PATIENT_DOCUMENT_TYPE,
}


def dmp_nav(dmp: access.DmpAccess) -> dict[str, Any]:
    """Context for the patient header: the patient, whose side it is, the access mode, and
    which deposit links to offer (none during an emergency access: it reads, it does not
    write)."""
    types = dmp.deposit_types()
    return {
        "patient": dmp.patient,
        "professional": not dmp.is_patient,
        "nav_mode": dmp.mode,
        "nav_deposit": {
            "lab": LAB_DOCUMENT_TYPE in types,
            "report": bool(types - _OWN_FORMS),
            "allergy": ALLERGY_DOCUMENT_TYPE in types,
            "problem": profile.PROBLEM_DOCUMENT_TYPE in types,
            "treatment": profile.TREATMENT_DOCUMENT_TYPE in types,
            "vaccination": profile.VACCINATION_DOCUMENT_TYPE in types,
            "measure": profile.MEASURE_DOCUMENT_TYPE in types,
        },
    }
