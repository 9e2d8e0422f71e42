"""The MLflow Model Registry: register a logged model under a name and move aliases."""

from __future__ import annotations

import mlflow

from tasks.tracking.store import client


def register(model_uri: str, name: str, alias: str | None = None) -> str:
    """Register ``model_uri`` as a new version of ``name``; point ``alias`` at it; return the version."""
    client()
    version = mlflow.register_model(model_uri, name).version
    if alias:
        client().set_registered_model_alias(name, alias, version)
    return str(version)


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
