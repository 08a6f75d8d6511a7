"""The ANS's own validation material (``ansforge/TestContenuCDA-3-0``) run on CDA documents:
the CDA schema ``CDA_extended.xsd`` (lxml) and the CI-SIS schematrons (saxonche, XSLT 2).

One validator for the deposit (``records.cda.read``) and the test suite (``tests/records/
cda_ans.py``). The material carries no licence, so the portal does not ship it: a deployment
points ``settings.DMP_ANS_CDA_DIR`` at a copy (default ``var/ans-cda``, which ``.ci/run``
fills). Without it ``material()`` is None and the deposit checks what it always checks (safe
XML, the header the portal reads, the patient, the PDF) but neither schema nor schematron.

Schematrons are compiled once per process, in two steps (measured on 2 shared cores, loaded,
the header schematron): the ISO skeleton turns the ``.sch`` into XSLT (include → abstract
expansion → SVRL for XSLT 2, the skeleton shipped in the material's ``schematrons/moteur``;
~3–5 s, a 10 MB XSLT), then Saxon compiles that XSLT (~7–11 s; the CR-BIO one ~0.2 s in all).
The generated XSLT is kept in ``settings.DMP_ANS_CDA_CACHE_DIR`` (default ``var/cache/ans-cda``)
under a digest of the material's schematrons, written atomically and checked against its own
SHA-256 when read (a truncated or altered file is generated again): a new process, a restart,
another worker only compile. Saxon-HE cannot save a compiled stylesheet (SEF export is
Saxon-EE), so each process still compiles: ``warm_up()`` does it before a gunicorn worker takes
requests (``dmp_portal/gunicorn_conf.py``) and ``manage.py warm_ans_cda`` fills the cache at
deployment. Nothing is written into the material, which may be read-only and shared: the one
value set the header schematron reads and the repository lacks is derived into the cache
(``_missing_value_set``). A document then validates in a few ms to ~50 ms. Saxon's executables
are not thread-safe (and hold the GIL while they compile): one lock serialises them.
"""

from __future__ import annotations

import functools
import hashlib
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


MISSING_VALUE_SET = "voc-1.2.250.1.213.1.1.5.471-DYNAMIC.xml"
MISSING_VALUE_SET_REFERENCE = f"doc('include/{MISSING_VALUE_SET}')"


def cache_dir() -> Path:
    """Where the generated XSLT and the derived value set are kept (never the material)."""
    return Path(settings.DMP_ANS_CDA_CACHE_DIR)


@functools.cache
def _material_digest(base: Path) -> str:
    """SHA-256 of every file of the material's ``schematrons`` (paths and contents) and of the
    value set derived below: what the generated XSLT depends on (~0.3 s, once per process)."""
    digest = hashlib.sha256()
    schematrons = base / "schematrons"
    for path in sorted(schematrons.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(schematrons)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    digest.update((base / "jeuxDeValeurs" / "JDV_J07_XdsTypeCode_CISIS.xml").read_bytes())
    return digest.hexdigest()[:32]


def _write_atomically(target: Path, data: bytes) -> None:
    """``data`` at ``target`` through a temporary file of the same directory and a rename: a
    reader sees the old file or the new one, never half of one; two writers racing both
    leave a whole file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _missing_value_set(base: Path) -> str | None:
    """The header schematron reads the document types from an ART-DECOR export
    (``voc-1.2.250.1.213.1.1.5.471-DYNAMIC.xml``) that the ANS repository does not ship; the
    same value set (JDV_J07_XdsTypeCode_CISIS, id 1.2.250.1.213.1.1.5.471) is in its
    ``jeuxDeValeurs`` as SVS: the concepts are copied over, nothing added, into the cache
    (rewritten when it differs from what it should hold). Its ``file:`` URI, or None when the
    material has the file itself."""
    if (base / "schematrons" / HEADER).parent.joinpath("include", MISSING_VALUE_SET).exists():
        return None
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
    data = etree.tostring(sets, xml_declaration=True, encoding="UTF-8")
    target = cache_dir() / _material_digest(base) / MISSING_VALUE_SET
    if not target.is_file() or target.read_bytes() != data:
        _write_atomically(target, data)
    return target.resolve().as_uri()


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


def warm_up(base: Path | None = None) -> list[str]:
    """Compile every schematron the deposit runs (the generated XSLT from the cache, made
    when missing): what a gunicorn worker does before it takes requests, and ``manage.py
    warm_ans_cda`` at deployment. The schematrons compiled; none without the material."""
    found = material(base)
    if found is None:
        return []
    _schema(found)
    for schematron in (HEADER, CR_BIO):
        _executable(found, schematron)
    return [HEADER, CR_BIO]


def _generated_path(base: Path, schematron: str) -> Path:
    name = schematron.replace("/", "_").removesuffix(".sch")
    return cache_dir() / _material_digest(base) / f"{name}.xsl.cache"


def _generated(base: Path, schematron: str) -> str:
    """The XSLT the ISO skeleton makes of ``schematron``: read from the cache when the file
    there is whole (its first line is the SHA-256 of the rest), else generated and kept."""
    cached = _generated_path(base, schematron)
    try:
        head, _, body = cached.read_bytes().partition(b"\n")
        if head.decode("ascii") == hashlib.sha256(body).hexdigest():
            return body.decode("utf-8")
        log.warning("CI-SIS schematron cache %s is damaged: generated again", cached)
    except (OSError, UnicodeDecodeError):
        pass  # not there yet (or unreadable): generated below
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
    body = text.encode("utf-8")
    _write_atomically(cached, hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body)
    return text


@functools.cache
def _compiled(base: Path, schematron: str) -> Any:
    text = _generated(base, schematron)
    derived = _missing_value_set(base)
    if derived is not None:  # the value set the material lacks, read from the cache
        text = text.replace(MISSING_VALUE_SET_REFERENCE, f"doc('{derived}')")
    xslt = _processor().new_xslt30_processor()
    xslt.set_cwd(f"{(base / 'schematrons' / schematron).parent}/")  # the value sets' base
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
