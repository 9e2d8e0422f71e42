"""The MLflow Model Registry: register a logged model under a name and move aliases."""

from __future__ import annotations

import mlflow

from tasks.tracking.store import client


def register(model_uri: str, name: str, alias: str | None = None, tags: dict[str, str] | None = None,
             description: str | None = None) -> str:
    """Register ``model_uri`` as a new version of ``name`` with its tags and description; point ``alias`` at it.

    Returns:
        The new version.
    """
    c = client()
    version = str(mlflow.register_model(model_uri, name, tags=tags or None).version)
    if description:
        c.update_model_version(name, version, description=description)
    if alias:
        c.set_registered_model_alias(name, alias, version)
    return version


def set_alias(name: str, alias: str, version: str) -> None:
    """Point ``alias`` of registered model ``name`` at ``version``."""
    client().set_registered_model_alias(name, alias, version)


def tag_version(name: str, version: str, tags: dict[str, str]) -> None:
    """Set tags on one version of a registered model."""
    c = client()
    for key, value in tags.items():
        c.set_model_version_tag(name, version, key, value)


def version_info(name: str, version: str) -> dict:
    """One version as a plain dict: version, run id, source, tags, description, aliases."""
    v = client().get_model_version(name, version)
    return {"version": str(v.version), "run_id": v.run_id, "source": v.source, "tags": dict(v.tags or {}),
            "description": v.description or "", "aliases": list(getattr(v, "aliases", []) or [])}


def list_models() -> list[dict]:
    """Every registered model with its aliases and versions (newest first), as plain dicts."""
    c = client()
    out = []
    for model in c.search_registered_models():
        versions = c.search_model_versions(f"name = '{model.name}'")
        out.append({
            "name": model.name,
            "aliases": {alias: str(version) for alias, version in (model.aliases or {}).items()},
            "versions": sorted(({"version": str(v.version), "run_id": v.run_id, "tags": dict(v.tags or {}),
                                 "description": v.description or ""} for v in versions),
                               key=lambda v: -int(v["version"])),
        })
    return sorted(out, key=lambda m: m["name"])


def version_by_alias(name: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when the model or alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def model_version_uri(name: str, alias: str) -> str:
    """The ``models:/NAME@ALIAS`` URI that ``mlflow.pyfunc.load_model`` and ``mlflow models serve`` accept."""
    return f"models:/{name}@{alias}"
