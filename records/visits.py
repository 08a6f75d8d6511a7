"""The access history as a worried patient reads it: one line per visit.

A visit is a run of consecutive events of the DMP's trail by the same person in the same
mode, each within ``VISIT_GAP`` of the previous one. Its line says, in plain words and in the
reader's language, what was done (documents by their titles, the images folded into "a consulté
l'imagerie"); the raw events stay available under it and in the CSV. Everything is written at
display time from the stored facts (action, mode, entry, profession): the trail's free texts are
translated when they are one of the portal's fixed phrases.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identity.models import Patient, Profession, User
from records import access, facts
from records.models import (
    AccessAction,
    AccessEvent,
    AccessMode,
    AuthorisationReason,
    EmergencyReason,
    EntryKind,
)

VISIT_GAP = dt.timedelta(minutes=30)

# What the person did, as the patient reads it (third person, the subject shown before).
_DONE: dict[str, Promise] = {
    AccessAction.DMP_OPEN: gettext_lazy("a ouvert votre DMP"),
    AccessAction.ENTRY_VIEW: gettext_lazy("a consulté"),
    AccessAction.ENTRY_CREATE: gettext_lazy("a déposé"),
    AccessAction.ENTRY_UPDATE: gettext_lazy("a modifié"),
    AccessAction.DOWNLOAD: gettext_lazy("a téléchargé"),
    AccessAction.THUMBNAIL: gettext_lazy("a consulté l'imagerie"),
    AccessAction.TIMELINE_VIEW: gettext_lazy("a consulté la liste de vos documents"),
    AccessAction.ACCESS_CHANGE: gettext_lazy("a modifié les droits d'accès"),
    AccessAction.EMERGENCY_START: gettext_lazy("a déclaré un accès en urgence"),
    AccessAction.EXPORT: gettext_lazy("a exporté des données"),
    AccessAction.DMP_VIEW: gettext_lazy("a consulté votre DMP"),
    AccessAction.DMP_SEARCH_HIT: gettext_lazy("a recherché votre DMP"),
    AccessAction.DMP_UPDATE: gettext_lazy("a modifié les paramètres du DMP"),
    AccessAction.DMP_CLOSE: gettext_lazy("a fermé le DMP"),
    AccessAction.DMP_REOPEN: gettext_lazy("a rouvert le DMP"),
    AccessAction.LETTER_PRINT: gettext_lazy("a imprimé le courrier d'ouverture"),
    AccessAction.ACCOUNT_ACTIVATE: gettext_lazy("a activé le compte patient"),
    AccessAction.HISTORY_VIEW: gettext_lazy("a consulté l'historique des accès"),
    AccessAction.DENIED: gettext_lazy("s'est vu refuser l'accès"),
    AccessAction.DEPOSIT_REFUSED: gettext_lazy("a tenté un dépôt, refusé"),
    AccessAction.LOGIN_REFUSED: gettext_lazy("Connexion refusée (identité non concordante)"),
}
_IMAGING = "imaging"
_WITH_DOCUMENTS = {
    AccessAction.ENTRY_VIEW,
    AccessAction.ENTRY_CREATE,
    AccessAction.ENTRY_UPDATE,
    AccessAction.DOWNLOAD,
}

# The fixed phrases the portal writes into the trail's ``detail`` (French, chained: never
# rewritten), translated when shown. A part not listed (a name, a free text) is shown as is.
_DETAIL_PHRASES: dict[str, Promise] = {
    "droits d'accès": gettext_lazy("droits d'accès"),
    "paramètres": gettext_lazy("paramètres"),
    "historique CSV": gettext_lazy("historique CSV"),
    "carte des allergies": gettext_lazy("carte des allergies"),
    "formulaire de dépôt": gettext_lazy("formulaire de dépôt"),
    "nouvelle version": gettext_lazy("nouvelle version"),
    "masqué": gettext_lazy("masqué"),
    "démasqué": gettext_lazy("démasqué"),
    "annoncé": gettext_lazy("annoncé"),
    "oppositions": gettext_lazy("oppositions"),
    "notifications": gettext_lazy("notifications"),
    "médecin traitant": gettext_lazy("médecin traitant"),
    "imagerie": gettext_lazy("imagerie"),
    "visionneuse": gettext_lazy("visionneuse"),
    "images de l'examen": gettext_lazy("images de l'examen"),
    "DMP fermé": gettext_lazy("DMP fermé"),
    "sans autorisation": gettext_lazy("sans autorisation"),
    "accès en urgence": gettext_lazy("accès en urgence"),
    "consentement attesté": gettext_lazy("consentement attesté"),
    "autorisation retirée": gettext_lazy("autorisation retirée"),
    "blocage": gettext_lazy("blocage"),
    "déblocage": gettext_lazy("déblocage"),
    "compte rendu d'imagerie rattaché": gettext_lazy("compte rendu d'imagerie rattaché"),
    "compte rendu détaché": gettext_lazy("compte rendu détaché"),
    "preuve d'inclusion": gettext_lazy("preuve d'inclusion"),
    # records.mandates (services/family.py)
    "représentant enregistré": gettext_lazy("représentant enregistré"),
    "représentants": gettext_lazy("représentants"),
    "revue à la majorité": gettext_lazy("revue à la majorité"),
    "procuration donnée": gettext_lazy("procuration donnée"),
    "fin de représentation": gettext_lazy("fin de représentation"),
    "majorité : fin de l'accès des représentants légaux": gettext_lazy(
        "majorité : fin de l'accès des représentants légaux"
    ),
    **{str(label): label for label in EmergencyReason.labels},
    **{f"autorisation ({label})": label for label in AuthorisationReason.labels},
}


def detail_text(detail: str) -> str:
    """An event's stored detail in the reader's language (fixed phrases translated)."""
    fact = facts.render(detail)
    if fact is not None:
        return fact
    parts = detail.split(" — ")
    return " — ".join(_phrase(part) for part in parts)


def _phrase(part: str) -> str:
    if part.startswith("courbe "):  # a trend chart read: "courbe <what was charted>"
        return _("courbe %(what)s") % {"what": part.removeprefix("courbe ")}
    return str(_DETAIL_PHRASES.get(part, part))


def profession_label(code: str) -> str:
    return str(Profession(code).label) if code in Profession.values else code


@dataclass(frozen=True)
class Document:
    title: str
    kind: str


def documents_of(
    user: User, patient: Patient, events: Iterable[AccessEvent]
) -> dict[uuid.UUID, Document]:
    """The titles the patient may read of the documents these events name: one query. A
    document hidden from them (not yet announced) keeps no title here."""
    ids = {event.entry_public_id for event in events if event.entry_public_id}
    if not ids:
        return {}
    rows = access.entries_for(user, patient).filter(public_id__in=ids)
    return {
        public_id: Document(title, kind)
        for public_id, title, kind in rows.values_list("public_id", "title", "kind")
    }


def document_title(event: AccessEvent, documents: dict[uuid.UUID, Document]) -> str:
    if event.entry_public_id is None:
        return ""
    found = documents.get(event.entry_public_id)
    return found.title if found else _("document non visible pour vous")


@dataclass
class Visit:
    """One person's run of events on the DMP (newest first, as the history lists them)."""

    events: list[AccessEvent]
    documents: dict[uuid.UUID, Document] = field(repr=False)

    @property
    def first(self) -> AccessEvent:
        return self.events[-1]

    @property
    def last(self) -> AccessEvent:
        return self.events[0]

    @property
    def is_emergency(self) -> bool:
        return self.last.mode in (AccessMode.EMERGENCY, AccessMode.SAMU)

    @property
    def is_patient(self) -> bool:
        return self.last.mode == AccessMode.PATIENT

    @property
    def profession(self) -> str:
        return profession_label(self.last.actor_profession)

    @property
    def same_day(self) -> bool:
        return self.first.at.date() == self.last.at.date()

    def summary(self) -> list[str]:
        """What was done, oldest first, each kind of act once (documents by their titles)."""
        done: dict[str, list[str]] = {}
        for event in reversed(self.events):
            document = self.documents.get(event.entry_public_id) if event.entry_public_id else None
            key: str = event.action
            if event.action == AccessAction.THUMBNAIL or (
                document is not None
                and document.kind == EntryKind.IMAGING_STUDY
                and event.action in (AccessAction.ENTRY_VIEW, AccessAction.DOWNLOAD)
            ):
                key = _IMAGING
            titles = done.setdefault(key, [])
            if key in _WITH_DOCUMENTS and event.entry_public_id:
                title = document_title(event, self.documents)
                if title not in titles:
                    titles.append(title)
        lines = []
        for key, titles in done.items():
            if key == _IMAGING:
                lines.append(str(_DONE[AccessAction.THUMBNAIL]))
            elif titles:
                lines.append(
                    _("%(done)s : %(titles)s") % {"done": _DONE[key], "titles": ", ".join(titles)}
                )
            elif key in _WITH_DOCUMENTS:
                lines.append(f"{_DONE[key]} {_('un document')}")
            else:
                lines.append(str(_DONE.get(key, key)))
        return lines


def _same_visit(newer: AccessEvent, older: AccessEvent) -> bool:
    return (
        newer.actor_id == older.actor_id
        and newer.actor_label == older.actor_label
        and newer.mode == older.mode
        and newer.at - older.at <= VISIT_GAP
    )


def group(events: Sequence[AccessEvent], documents: dict[uuid.UUID, Document]) -> list[Visit]:
    """Consecutive events (newest first) of one person in one mode, close in time: visits."""
    visits: list[Visit] = []
    for event in events:
        if visits and _same_visit(visits[-1].events[-1], event):
            visits[-1].events.append(event)
        else:
            visits.append(Visit([event], documents))
    return visits


@dataclass(frozen=True)
class VisitPage:
    visits: list[Visit]
    next_offset: int | None  # where the next (older) page starts, in events


def visit_page(
    user: User,
    patient: Patient,
    events: QuerySet[AccessEvent],
    offset: int,
    *,
    visits: int = 50,
    window: int = 1000,
) -> VisitPage:
    """At most ``visits`` visits from the ``offset``-th event: two queries (the events, the
    titles of their documents) whatever the page holds. A visit cut by the window's end is
    left to the next page, unless it is the only one (then it is shown in parts)."""
    rows = list(events[offset : offset + window + 1])
    more = len(rows) > window
    rows = rows[:window]
    found = group(rows, documents_of(user, patient, rows))
    if more and len(found) > 1:
        found.pop()
    cut = found[:visits]
    used = sum(len(visit.events) for visit in cut)
    has_next = more or len(found) > visits
    return VisitPage(cut, offset + used if has_next else None)
