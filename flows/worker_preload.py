"""Imported by each worker of a local Dask cluster as it starts (Dask's ``preload``).

TensorFlow (without its start-up lines) and the flows whose tasks the workers run: their imports
then happen while the cluster starts, beside the CLI's own, not when the first task arrives.
"""

from tasks.runtime import import_tensorflow

import_tensorflow()

import flows.forecast  # noqa: E402,F401  (the sweep's points and the forecast's units run from here)
import flows.sweep  # noqa: E402,F401
