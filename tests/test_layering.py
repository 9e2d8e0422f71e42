"""One home per dependency: scan imports so the layering in DESIGN.md cannot silently erode."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module prefix -> the files allowed to import it (relative to the project root)
HOMES = {
    "mlflow": lambda rel: rel == "tasks/tracking.py",
    "prefect": lambda rel: rel.startswith("flows/") or rel.endswith("/steps.py"),
    "pyarrow": lambda rel: rel == "tasks/storage.py",
}
BANNED_NAMES = {"utils.py", "helpers.py", "io.py", "logging.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _sources():
    for folder in ("tasks", "flows"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_each_dependency_is_imported_only_in_its_home():
    offenders = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        for module in _imports(path):
            allowed = HOMES.get(module)
            if allowed is not None and not allowed(rel):
                offenders.append(f"{rel} imports {module}")
    assert offenders == []


def test_the_scan_sees_real_imports():
    assert "mlflow" in _imports(ROOT / "tasks" / "tracking.py")
    assert "prefect" in _imports(ROOT / "flows" / "forecast.py")


def test_no_grab_bag_module_names():
    assert [p for p in _sources() if p.name in BANNED_NAMES] == []
