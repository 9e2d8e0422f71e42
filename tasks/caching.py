"""Cache keys for steps that write Parquet: the content of their inputs, their config and their code.

Prefect reuses a task's result when its cache key repeats. The key must change whenever anything
that shapes the output changes, so it hashes the input files' content hashes, the config and the
source code of every module that computes the output — not pickled DataFrames, whose keys are
unstable and whose cached results are large pickles.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from tasks import paths


def code_fingerprint(*modules: ModuleType) -> str:
    """SHA-256 over the source of ``modules``; a package counts with every ``.py`` file under it."""
    digest = hashlib.sha256()
    for module in modules:
        origin = Path(module.__file__)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for file in files:
            digest.update(file.relative_to(paths.PROJECT_ROOT).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def content_key(*parts: Any) -> str:
    """A short, file-name-safe hash of JSON-able ``parts`` (configs as ``model_dump(mode="json")``)."""
    payload = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def reuse_or_rebuild(key: str, output: Path) -> str:
    """Keep ``key`` unless Prefect holds a cached result for it whose output file has since gone.

    A cached record pointing at a deleted Parquet file would hand the next step a missing path, so
    the key is changed to force the step to run again.
    """
    record = Path(os.environ.get("PREFECT_LOCAL_STORAGE_PATH", paths.prefect_results())) / key
    if record.exists() and not output.exists():
        return f"{key}-rebuild-{os.urandom(4).hex()}"
    return key
