"""Prefect flows and the ``seqflow`` CLI. Importing this package applies the embedded defaults."""

from tasks.runtime import apply_defaults

apply_defaults()
