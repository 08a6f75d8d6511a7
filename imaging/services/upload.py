"""The imaging upload workflow, HTTP aside: judge the files by their content, trace the
refusals, compare the identity in the files with the DMP's, then import, or stage the files
until the uploader confirms. The view keeps only HTTP (caps, session, redirects)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from identity.models import Patient, User
from imaging.ingest import (
    IdentityMismatch,
    Inspection,
    Refusal,
    identity_mismatches,
    inspect_paths,
    inspect_uploads,
)
from imaging.services.imports import (
    ImportResult,
    import_checked,
    require_depositor,
    study_import,
    uploads_refused_trace,
)
from imaging.uploads import refusal_rows
from records.models import Entry


@dataclass(frozen=True)
class UploadOutcome:
    """What became of an upload: the files refused (rows for the page), and either what the
    import did or the token of the files staged for the uploader's identity confirmation."""

    refused_rows: list[dict[str, str]]
    result: ImportResult | None = None
    staged_token: str | None = None


Stager = Callable[[Inspection, list[IdentityMismatch], list[dict[str, str]]], str]


def upload_receive(
    *,
    actor: User,
    patient: Patient,
    files: Sequence[Any],
    refused: Sequence[Refusal],
    report: Entry | None,
    stage: Stager,
    request: HttpRequest | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> UploadOutcome:
    """The imaging upload, HTTP aside: judge every file by its content (ZIP archives
    expanded under their caps), trace the refusals (``refused``: those the byte cap already
    refused), compare the patient identity in the files with the DMP's, then import — or,
    on a mismatch, ``stage`` the judged files (it returns a token) so that the uploader
    confirms or cancels: nothing is ever attached silently. The two flags of a minor's DMP
    go to every new study (``study_import``); ``stage`` keeps them with the files.

    Who may: as ``study_import`` (AccessDenied otherwise, before any file is stored).
    """
    require_depositor(actor, patient)
    refusals = list(refused)
    with inspect_uploads(files, tempdir=settings.FILE_UPLOAD_TEMP_DIR) as inspection:
        refusals += inspection.refusals
        uploads_refused_trace(actor=actor, patient=patient, refusals=refusals, request=request)
        rows = refusal_rows(refusals)
        mismatches = identity_mismatches(inspection.candidates, patient)
        if mismatches:
            return UploadOutcome(rows, staged_token=stage(inspection, mismatches, rows))
        result = import_checked(
            actor=actor,
            patient=patient,
            candidates=inspection.candidates,
            report=report,
            identity_confirmed=False,
            request=request,
            hidden_from_representatives=hidden_from_representatives,
            secret=secret,
        )
    return UploadOutcome(rows, result=result)


def staged_import(
    *,
    actor: User,
    patient: Patient,
    paths: Sequence[tuple[str, Path]],
    report: Entry | None,
    request: HttpRequest | None = None,
    hidden_from_representatives: bool = False,
    secret: bool = False,
) -> tuple[ImportResult, list[dict[str, str]]]:
    """Import files staged for an identity confirmation, once the uploader confirmed: they
    are judged again (the decision is on these bytes). Returns the result and the rows of
    the files refused now. Who may: as ``study_import``."""
    inspection = inspect_paths(paths)
    result = study_import(
        actor=actor,
        patient=patient,
        candidates=inspection.candidates,
        report=report,
        identity_confirmed=True,
        request=request,
        hidden_from_representatives=hidden_from_representatives,
        secret=secret,
    )
    return result, refusal_rows(inspection.refusals)
