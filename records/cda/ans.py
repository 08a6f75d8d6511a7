"""The ANS's own validation material (``ansforge/TestContenuCDA-3-0``) run on CDA documents:
the CDA schema ``CDA_extended.xsd`` (lxml) and the CI-SIS schematrons (saxonche, XSLT 2).

One validator for the deposit (``records.cda.read``) and the test suite (``tests/records/
cda_ans.py``). The material carries no licence, so the portal does not ship it: a deployment
points ``settings.DMP_ANS_CDA_DIR`` at a copy (default ``var/ans-cda``, which ``.ci/run``
fills). Without it ``material()`` is None and the deposit checks what it always checks (safe
XML, the header the portal reads, the patient, the PDF) but neither schema nor schematron.

Schematrons are compiled in memory once per process (ISO include → abstract expansion →
SVRL for XSLT 2, the ISO skeleton shipped in the material's ``schematrons/moteur``), with the
``.sch``'s directory as base so that its relative paths to the value sets resolve; nothing is
written into the material but one value set the header schematron reads and the repository
lacks (``_derive_missing_value_set``). Measured here (2 shared cores, loaded): compiling the
header schematron ~20 s, the CR-BIO one ~0.2 s; then a document validates in a few ms to
~50 ms (see the issue note). Saxon's executables are not thread-safe: one lock serialises them.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from lxml import etree

SVRL = "{http://purl.oclc.org/dsdl/svrl}"
XSD = Path("infrastructure") / "cda" / "CDA_extended.xsd"

# The schematrons a document is checked against: the CI-SIS header ("structuration minimale",
# every document), and the volet of a CR-BIO N3.
HEADER = "profils/structurationMinimale/ASIP-STRUCT-MIN-StrucMin.sch"
CR_BIO = "CI-SIS_BIO-CR-BIO_2024.01.sch"

_LOCK = threading.RLock()
log = logging.getLogger(__name__)


class Unavailable(RuntimeError):
    """The material is there but cannot be run (a schematron missing or unreadable, a value
    set that cannot be written, Saxon failing): the deposit refuses rather than store a
    document it could not check, and the cause goes to the log."""


@dataclass(frozen=True)
class Failure:
    """One ``svrl:failed-assert`` that is an error: where (XPath) and what (the ANS's text)."""

    location: str
    text: str
    role: str


def material(base: Path | None = None) -> Path | None:
    """The material's directory (``base``, else the setting) when it holds the CDA schema."""
    found = base or Path(getattr(settings, "DMP_ANS_CDA_DIR", "") or "-")
    return found if (found / XSD).is_file() else None


@functools.cache
def _schema(base: Path) -> etree.XMLSchema:
    # The schema's includes are local files: a parser without network.
    return etree.XMLSchema(etree.parse(str(base / XSD), etree.XMLParser(no_network=True)))


def schema_errors(base: Path, root: etree._Element) -> list[etree._LogEntry]:
    """The errors of ``root`` against ``CDA_extended.xsd`` (none: valid)."""
    schema = _schema(base)
    with _LOCK:
        if schema.validate(root):
            return []
        return list(schema.error_log)


def _derive_missing_value_set(base: Path) -> None:
    """The header schematron reads the document types from an ART-DECOR export
    (``voc-1.2.250.1.213.1.1.5.471-DYNAMIC.xml``) that the ANS repository does not ship; the
    same value set (JDV_J07_XdsTypeCode_CISIS, id 1.2.250.1.213.1.1.5.471) is in its
    ``jeuxDeValeurs`` as SVS: the concepts are copied over, nothing added. Written once,
    atomically (several processes may start at once)."""
    target = (
        base
        / "schematrons/profils/structurationMinimale/include"
        / "voc-1.2.250.1.213.1.1.5.471-DYNAMIC.xml"
    )
    if target.exists():
        return
    svs = etree.parse(str(base / "jeuxDeValeurs" / "JDV_J07_XdsTypeCode_CISIS.xml"))
    sets = etree.Element("valueSets")
    value_set = etree.SubElement(sets, "valueSet", id="1.2.250.1.213.1.1.5.471")
    concepts = etree.SubElement(value_set, "conceptList")
    for concept in svs.iter("{urn:ihe:iti:svs:2008}Concept"):
        etree.SubElement(
            concepts,
            "concept",
            code=concept.get("code", ""),
            codeSystem=concept.get("codeSystem", ""),
            displayName=concept.get("displayName", ""),
        )
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(etree.tostring(sets, xml_declaration=True, encoding="UTF-8"))
    os.replace(temporary, target)


@functools.cache
def _processor() -> Any:
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


def _executable(base: Path, schematron: str) -> Any:
    """The schematron compiled to XSLT, then to an executable: once per process (the lock
    outside the cache, so that a second request waits for the first compile, not redo it)."""
    with _LOCK:
        try:
            return _compiled(base, schematron)
        except Exception as error:  # Saxon's own errors, OSError: whatever stops the compile
            log.error(
                "CI-SIS schematron %s cannot be compiled from %s: %s", schematron, base, error
            )
            raise Unavailable(schematron) from error


@functools.cache
def _compiled(base: Path, schematron: str) -> Any:
    _derive_missing_value_set(base)
    source = base / "schematrons" / schematron
    engine = base / "schematrons" / "moteur"
    here = f"{source.parent}/"
    node = _processor().parse_xml(xml_file_name=str(source))
    text = ""
    for step in ("iso_dsdl_include.xsl", "iso_abstract_expand.xsl", "iso_svrl_for_xslt2.xsl"):
        xslt = _processor().new_xslt30_processor()
        xslt.set_cwd(here)
        executable = xslt.compile_stylesheet(stylesheet_file=str(engine / step))
        executable.set_cwd(here)
        text = executable.transform_to_string(xdm_node=node)
        node = _processor().parse_xml(xml_text=text)
    xslt = _processor().new_xslt30_processor()
    xslt.set_cwd(here)  # the base of the compiled XSLT's relative paths (value sets)
    return xslt.compile_stylesheet(stylesheet_text=text)


def schematron_failures(base: Path, document: bytes, schematron: str) -> list[Failure]:
    """The ``svrl:failed-assert`` of ``document`` against ``schematron`` that are errors
    (role absent or ``error``; warnings and information are not failures), in order."""
    executable = _executable(base, schematron)
    with _LOCK:
        try:
            node = _processor().parse_xml(xml_text=document.decode("utf-8"))
            report = executable.transform_to_string(xdm_node=node)
        except Exception as error:  # Saxon's dynamic errors (a value set unreadable…)
            log.error("CI-SIS schematron %s failed to run: %s", schematron, error)
            raise Unavailable(schematron) from error
    svrl = etree.fromstring(report.encode("utf-8"), etree.XMLParser(resolve_entities=False))
    failures = []
    for failed in svrl.iter(f"{SVRL}failed-assert"):
        role = (failed.get("role") or "error").lower()
        if role in ("warning", "warn", "info", "information"):
            continue
        text = " ".join("".join(failed.itertext()).split())
        failures.append(Failure(failed.get("location", ""), text, role))
    return failures
