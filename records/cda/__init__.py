"""CDA R2 documents with the CI-SIS header: out (``document_as_cda``, ``xds_metadata``) and in
(``records.cda.read``).

Stable API for the callers (the document download, the "Télécharger mon DMP" export):

* ``document_as_cda(entry) -> bytes``: a report as CDA R2 N1, a lab report as CDA R2 N3
  CR-BIO; ``NotRenderable`` for any other kind.
* ``xds_metadata(entry, document=None) -> XdsMetadata``: the XDS DocumentEntry metadata of that
  document (builds it when not given).

The caller does the access control (entries from the funnel) and fetches the rows with
``PREFETCH``/``SELECT_RELATED`` so that N entries cost a constant number of queries::

    entries.select_related(*records.cda.SELECT_RELATED).prefetch_related(*records.cda.PREFETCH)

A replacement chain deeper than ``SELECT_RELATED`` reaches costs one query per older version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from records.cda.build import NotRenderable, document_as_cda
from records.cda.xds import Coded, XdsAuthor, XdsMetadata
from records.cda.xds import xds_metadata as _xds_metadata

if TYPE_CHECKING:
    from records.models import Entry

__all__ = [
    "PREFETCH",
    "SELECT_RELATED",
    "Coded",
    "NotRenderable",
    "XdsAuthor",
    "XdsMetadata",
    "document_as_cda",
    "xds_metadata",
]

SELECT_RELATED = (
    "patient",
    "author__user",
    "report",
    "lab_report",
    "replaces__replaces__replaces",
)
PREFETCH = ("lab_report__observations",)


def xds_metadata(entry: Entry, document: bytes | None = None) -> XdsMetadata:
    """The XDS metadata of ``entry``'s CDA (``document``, built when not given)."""
    return _xds_metadata(entry, document if document is not None else document_as_cda(entry))
