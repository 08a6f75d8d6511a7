"""CDA R2 pages: the download of one entry ("Télécharger en CDA R2": a report as N1, a lab
report as N3 CR-BIO, ``records.cda``), through the funnel (``entry_for``), traced like the PDF
download, an attachment no cache keeps; and the deposit of a CDA R2 file by a professional
("Déposer un document CDA", ``records.services.cda``)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from identity.auth import AuthenticatedHttpRequest, professional_required
from records import cda, facts
from records.cda import ans
from records.cda.read import MAX_CDA_BYTES, CdaError
from records.models import AccessAction, EntryKind
from records.services import care as care_services
from records.services import cda as cda_services
from records.uploads import capped_upload, upload_too_large
from records.views.deposits import _form_dmp as form_dmp
from records.views.deposits import _trace_refused_file as trace_refused_file
from records.views.documents import attachment_name, scoped_entry

CDA_KINDS = (EntryKind.REPORT, EntryKind.LAB_REPORT)


@login_required
@require_GET
def entry_cda(request: AuthenticatedHttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """The entry as a CDA R2 document (404 for the kinds that have none, as for a missing one)."""
    entry, dmp = scoped_entry(request.user, entry_id)
    if entry.kind not in CDA_KINDS:
        raise Http404("No CDA form")
    care_services.read_traced(
        actor=request.user,
        dmp=dmp,
        action=AccessAction.DOWNLOAD,
        entry=entry,
        request=request,
        detail="CDA R2",
    )
    document = cda.document_as_cda(entry)
    response = HttpResponse(document, content_type="text/xml; charset=utf-8")
    response["Content-Disposition"] = attachment_name(entry.title, "xml")
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


class CdaUploadForm(forms.Form):
    fichier = forms.FileField(
        label=gettext_lazy("Document CDA R2 (N1 ou compte rendu de biologie N3)")
    )

    def __init__(self, *args: Any, too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The upload cap dropped the file while it streamed in: the refusal says so (413).
        self.too_large = too_large
        self.fields["fichier"].required = not too_large
        size = {"size": MAX_CDA_BYTES // (1024 * 1024)}
        if ans.material() is not None:
            checked = _(
                "Fichier XML, %(size)s Mo au plus. Il est vérifié avec le schéma CDA et les "
                "schématrons du CI-SIS publiés par l'ANS (en-tête, et volet CR-BIO pour la "
                "biologie) : un document qui ne les respecte pas est refusé."
            )
        else:
            checked = _(
                "Fichier XML, %(size)s Mo au plus. Ce portail n'a pas le matériel de "
                "validation de l'ANS : le schéma CDA et les schématrons du CI-SIS ne sont pas "
                "vérifiés (seuls l'en-tête lu, le patient et le PDF le sont)."
            )
        self.fields["fichier"].help_text = checked % size

    def clean(self) -> dict[str, Any] | None:
        if self.too_large:
            too_large = CdaError("too_large", size=MAX_CDA_BYTES // (1024 * 1024))
            raise facts.cda_validation_error(too_large)
        return super().clean()


@never_cache
@professional_required
@require_http_methods(["GET", "POST"])
@capped_upload(max_file=MAX_CDA_BYTES)
def cda_new(request: AuthenticatedHttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A professional deposits a CDA R2 document (N1, or N3 CR-BIO) in the DMP."""
    dmp = form_dmp(request, public_id)
    patient = dmp.patient
    if request.method != "POST":
        form = CdaUploadForm()
        return render(request, "records/cda_form.html", {"patient": patient, "form": form})
    posted, files = request.POST, request.FILES  # read the body: the cap decides as it streams
    too_large = upload_too_large(request)
    form = CdaUploadForm(posted, files, too_large=too_large)
    status = 413 if too_large else 400
    if form.is_valid():
        data = form.cleaned_data["fichier"].read()
        try:
            entry = cda_services.cda_deposit(actor=request.user, patient=patient, data=data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Le document est déposé dans le DMP."))
            return redirect("records:entry_detail", entry_id=entry.public_id)
    trace_refused_file(
        request, patient, [e for errors in form.errors.as_data().values() for e in errors]
    )
    context = {"patient": patient, "form": form}
    return render(request, "records/cda_form.html", context, status=status)
