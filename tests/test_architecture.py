"""Structure rules that keep the access funnel the only door."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_DIRS = ["dmp_portal", "identity", "records", "imaging"]
# guardian's direct foreign-key permission models must sit in the models modules.
ALLOWED_GUARDIAN_IMPORTERS = {
    "records/access.py",
    "identity/models.py",
    "records/models.py",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _app_modules() -> list[Path]:
    return [
        path
        for app in APP_DIRS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    ]


def test_only_the_access_module_imports_guardian() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _app_modules()
        if any(name == "guardian" or name.startswith("guardian.") for name in _imports(path))
        and str(path.relative_to(ROOT)) not in ALLOWED_GUARDIAN_IMPORTERS
    ]
    assert offenders == []


def test_models_modules_import_only_guardian_models() -> None:
    for relative in ALLOWED_GUARDIAN_IMPORTERS - {"records/access.py"}:
        guardian = {n for n in _imports(ROOT / relative) if n.startswith("guardian")}
        assert guardian <= {"guardian.models"}, relative


def test_no_view_or_template_decides_clinical_access_with_has_perm() -> None:
    offenders = []
    for path in [*_app_modules(), *(ROOT / "templates").rglob("*.html")]:
        text = path.read_text(encoding="utf-8")
        if ".has_perm(" in text or "get_obj_perms" in text or "perms." in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# --- Layers: identity ← records ← imaging ← dmp_portal --------------------------------------

# What each app may import of the others. identity is a leaf (people, accounts, identifier
# rules); records is the DMP (the funnel, the trail, the lifecycle, entries); imaging builds on
# records; dmp_portal is wiring (settings, urls, middleware, error pages, the demo command)
# and no app imports it.
LAYERS = {
    "identity": set(),
    "records": {"identity"},
    "imaging": {"identity", "records"},
    "dmp_portal": {"identity", "records", "imaging"},
}
# Pure cores: identifier rules, reference data, DICOM: no models, no database, no app above.
PURE_CORES = [
    "identity/ins.py",
    "identity/rpps.py",
    "identity/names.py",
    "records/reference.py",
    "records/reference_io.py",
    "records/labs.py",
    "records/merkle.py",
    "imaging/dicom",
]
_MODEL_MODULES = ("django.db", "guardian", "allauth")


def _app_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in LAYERS else None


def test_every_import_points_down_the_layers() -> None:
    offenders = []
    for path in _app_modules():
        app = path.relative_to(ROOT).parts[0]
        for name in _imports(path):
            other = _app_of(name)
            if other and other != app and other not in LAYERS[app]:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_the_layer_test_sees_a_wrong_import(tmp_path: Path) -> None:
    """The check above would fail on an upward import (it is not vacuous)."""
    module = tmp_path / "probe.py"
    module.write_text("from records.access import dmp_for\nimport imaging.models\n")
    assert {"records.access", "imaging.models"} <= _imports(module)
    assert "records" not in LAYERS["identity"] and "imaging" not in LAYERS["records"]


def _pure_core_files() -> list[Path]:
    files = []
    for relative in PURE_CORES:
        path = ROOT / relative
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def test_pure_cores_import_no_models() -> None:
    offenders = []
    for path in _pure_core_files():
        for name in _imports(path):
            bad = name.startswith(_MODEL_MODULES) or name.endswith((".models", ".access"))
            if bad or (_app_of(name) and name.split(".")[0] != path.relative_to(ROOT).parts[0]):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
    assert len(_pure_core_files()) >= len(PURE_CORES)  # every core listed exists


# --- Patient data reaches views, forms and template tags through the funnel only -------------

PROTECTED_MODELS = {
    # identity: the DMP's own rows
    "Patient",
    "Consent",
    "DmpTransition",
    "ActivationCode",
    "PatientUserObjectPermission",
    # records
    "Entry",
    "LabReport",
    "Observation",
    "Report",
    "Allergy",
    "SubmissionKey",
    "CareRelation",
    "EmergencyAccess",
    "Notification",
    "AccessEvent",
    "TrailNode",
    "TreeHead",
    "EntryUserObjectPermission",
    # imaging
    "ImagingStudy",
    "Series",
    "Instance",
}


def _presentation_modules() -> list[Path]:
    """Views, forms and template tags: what turns data into pages."""
    found = []
    for path in _app_modules():
        parts = path.relative_to(ROOT).parts
        if any(p.removesuffix(".py") in {"views", "forms", "templatetags"} for p in parts):
            found.append(path)
    return found


def _direct_reads(path: Path) -> list[str]:
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    reads = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in {"objects", "_default_manager", "_base_manager"}
            and isinstance(node.value, ast.Name)
            and node.value.id in PROTECTED_MODELS
        ):
            reads.append(f"{shown}:{node.lineno} {node.value.id}.{node.attr}")
    return reads


def test_no_view_form_or_template_tag_reads_a_protected_model_directly() -> None:
    modules = _presentation_modules()
    assert len(modules) >= 8  # the views, forms and tags of the three apps are all looked at
    offenders = [read for path in modules for read in _direct_reads(path)]
    assert offenders == []


def test_the_direct_read_check_sees_one(tmp_path: Path) -> None:
    module = tmp_path / "views.py"
    module.write_text("def v(request):\n    return Entry.objects.all()\n")
    assert _direct_reads(module) == ["views.py:2 Entry.objects"]
