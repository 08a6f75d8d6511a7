"""The ANS's own validation material (``ansforge/TestContenuCDA-3-0``): the CDA schema
``CDA_extended.xsd`` and the CI-SIS schematrons, run with lxml (schema) and saxonche (XSLT 2).

The ANS repository carries no licence, so nothing of it is copied into this one: ``.ci/run``
fetches it at a pinned commit into ``var/ans-cda`` (or ``$DMP_ANS_CDA_DIR``). Without it the
tests that need it are skipped, unless ``DMP_REQUIRE_ANS_CDA=1`` (set by ``.ci/run``), which
turns the skip into a failure.

Schematrons are compiled once per session: ISO include → abstract expansion → SVRL for XSLT 2
(the ISO skeleton XSLs shipped in the ANS repository, ``schematrons/moteur``); the compiled
XSLT is written next to the ``.sch`` so that its relative paths to the value sets resolve.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

ANS_COMMIT = "7cd489b39368809df9bcf2cfef5e5d6354438a02"
ROOT = Path(__file__).resolve().parents[2]
SVRL = "{http://purl.oclc.org/dsdl/svrl}"

# The schematrons each kind of document the portal produces must pass.
HEADER = "profils/structurationMinimale/ASIP-STRUCT-MIN-StrucMin.sch"  # CI-SIS header (N1)
CR_BIO = "CI-SIS_BIO-CR-BIO_2024.01.sch"  # volet CR-BIO (header and body)


def ans_dir() -> Path:
    configured = os.environ.get("DMP_ANS_CDA_DIR")
    return Path(configured) if configured else ROOT / "var" / "ans-cda"


def require_ans() -> Path:
    base = ans_dir()
    if not (base / "infrastructure" / "cda" / "CDA_extended.xsd").exists():
        reason = f"ANS CDA material absent from {base} (.ci/run fetches it)"
        if os.environ.get("DMP_REQUIRE_ANS_CDA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return base


@functools.cache
def _schema(base: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(base / "infrastructure" / "cda" / "CDA_extended.xsd")))


def schema_errors(document: bytes) -> list[str]:
    schema = _schema(require_ans())
    if schema.validate(etree.fromstring(document)):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


def _derive_missing_value_set(base: Path) -> None:
    """The header schematron reads the document types from an ART-DECOR export
    (``voc-1.2.250.1.213.1.1.5.471-DYNAMIC.xml``) that the ANS repository does not ship; the
    same value set (JDV_J07_XdsTypeCode_CISIS, id 1.2.250.1.213.1.1.5.471) is in its
    ``jeuxDeValeurs`` as SVS: the concepts are copied over, nothing added."""
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
    target.write_bytes(etree.tostring(sets, xml_declaration=True, encoding="UTF-8"))


@functools.cache
def _compiled(base: Path, schematron: str) -> Path:
    _derive_missing_value_set(base)

    engine = base / "schematrons" / "moteur"
    source = base / "schematrons" / schematron
    target = source.with_suffix(".compiled.xsl")
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    xslt = _processor().new_xslt30_processor()
    current = str(source)
    steps = ("iso_dsdl_include.xsl", "iso_abstract_expand.xsl", "iso_svrl_for_xslt2.xsl")
    for number, step in enumerate(steps):
        out = source.with_suffix(f".step{number}.xml") if number < 2 else target
        executable = xslt.compile_stylesheet(stylesheet_file=str(engine / step))
        executable.transform_to_file(source_file=current, output_file=str(out))
        current = str(out)
    return target


@dataclass(frozen=True)
class Failure:
    location: str
    text: str
    role: str


@functools.cache
def _processor() -> Any:
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


@functools.cache
def _executable(schematron: str) -> Any:
    compiled = _compiled(require_ans(), schematron)
    return _processor().new_xslt30_processor().compile_stylesheet(stylesheet_file=str(compiled))


def schematron_failures(document: bytes, schematron: str) -> list[Failure]:
    """The ``svrl:failed-assert`` of ``document`` against ``schematron`` that are errors
    (role absent or ``error``; warnings and information are not failures)."""
    executable = _executable(schematron)
    node = _processor().parse_xml(xml_text=document.decode("utf-8"))
    report = executable.transform_to_string(xdm_node=node)
    svrl = etree.fromstring(report.encode("utf-8"))
    failures = []
    for failed in svrl.iter(f"{SVRL}failed-assert"):
        role = (failed.get("role") or "error").lower()
        if role in ("warning", "warn", "info", "information"):
            continue
        text = " ".join("".join(failed.itertext()).split())
        failures.append(Failure(failed.get("location", ""), text, role))
    return failures
