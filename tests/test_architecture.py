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


def test_dependencies_point_one_way() -> None:
    """identity ← records ← imaging ← dmp_portal: an app never imports one built on it (the
    purge erases imaging's rows through their foreign keys to records, never by name)."""
    built_on = {
        "identity": ("records", "imaging", "dmp_portal"),
        "records": ("imaging", "dmp_portal"),
        "imaging": ("dmp_portal",),
    }
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for app, later in built_on.items()
        for path in _app_modules()
        if path.relative_to(ROOT).parts[0] == app
        for name in _imports(path)
        if name.split(".")[0] in later
    ]
    assert offenders == []
