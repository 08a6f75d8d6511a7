"""Imaging in the "Télécharger mon DMP" archive: the DICOM files as stored, one ImagingStudy
per study in the FHIR Bundle (the API's serializer), one line per study in the index.

Registered with ``records.portability.SECTIONS`` at start-up (``imaging.apps``): records does
not import imaging. The studies are those of the entries the funnel gave (the patient's view).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext

from imaging.access import export_instances, export_studies
from imaging.fhir import imaging_study_resource
from records.models import Entry, EntryKind
from records.portability import ArchiveWriter, IndexRow


class ImagingSection:
    kinds = frozenset({EntryKind.IMAGING_STUDY.value})

    def write(self, archive: ArchiveWriter, entries: QuerySet[Entry]) -> None:
        studies = list(export_studies(entries))
        folders: dict[int, str] = {}
        rows: dict[int, IndexRow] = {}
        for number, study in enumerate(studies, start=1):
            archive.fhir(imaging_study_resource(study, None))
            folders[study.pk] = f"IMAGES/STUDY{number:03d}"
            entry = study.entry
            rows[study.pk] = IndexRow(
                date=entry.act_date,
                kind=str(entry.get_kind_display()),
                title=entry.display_title,
            )
        counts: dict[int, int] = {}
        series_numbers: dict[int, int] = {}
        for instance in export_instances(entries).iterator(chunk_size=500):
            series = instance.series
            study_id = series.study_id
            if series.pk not in series_numbers:
                series_numbers[series.pk] = len(series_numbers) + 1
            counts[study_id] = counts.get(study_id, 0) + 1
            name = (
                f"{folders[study_id]}/SER{series_numbers[series.pk]:03d}/"
                f"IMG{counts[study_id]:05d}.dcm"
            )
            archive.copy_stored(name, str(instance.file.name))
            if counts[study_id] == 1:
                rows[study_id].links.append((gettext("Images DICOM"), name))
        for study in studies:
            row = rows[study.pk]
            row.note = gettext("%(count)s images (dossier %(folder)s)") % {
                "count": counts.get(study.pk, 0),
                "folder": folders[study.pk],
            }
            archive.index(row)
            archive.step()
