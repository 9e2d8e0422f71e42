"""The pure embeddings modules import neither Prefect, MLflow, storage nor paths (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tasks" / "embeddings"
BANNED = ("prefect", "mlflow", "pyarrow", "tasks.storage", "tasks.paths", "tasks.tracking")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_pure_modules_import_no_io_homes():
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "steps.py":
            continue
        for name in _imports(path):
            if any(name == b or name.startswith(b + ".") for b in BANNED):
                offenders.append(f"{path.name} imports {name}")
    assert offenders == []
