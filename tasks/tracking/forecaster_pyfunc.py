"""A served forecaster as an MLflow pyfunc: a history table in, the forecast table out.

Logged with MLflow's models-from-code (``python_model=<this file>``): the copy inside each model
runs at load time, so no class is pickled by import path. What the model needs arrives as files:
``keras_model_0`` .. ``keras_model_{n-1}`` (the ensemble's networks, or every network an auto
forecaster's choice reads; a model logged before ensembles has one ``keras_model``) and ``bundle`` (JSON: the window and split settings, the scaler rule,
the frequency, the interval half-widths and the whole flow config). The code that maps a history to
a forecast is named in the model's ``model_config`` (``serving_module``, a module of the ``tasks``
package that travels inside the model as its code path) and is imported by name, like the modules
that register custom Keras cells: this package stays free of domain imports.

``predict`` takes a pandas DataFrame ``series_id, timestamp, value`` (``series_id`` optional for
one series) and returns ``series_id, timestamp, yhat, lower, upper``. A history that breaks a rule
(columns, dates, numbers, gaps, too short) is refused with one line naming the row, column and
rule, as an ``MlflowException`` of kind INVALID_PARAMETER_VALUE (HTTP 400 from ``mlflow models serve``).

Served (``MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT`` set, as ``mlflow models serve`` and ``seqflow
serve-model`` set it), a request stops at 90 % of that timeout and answers DEADLINE_EXCEEDED (HTTP
504) saying how many series fit, instead of running on after the server has answered its bare 504.
"""

import importlib
import json
import os
import time

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import DEADLINE_EXCEEDED, INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel


class SeriesForecaster(PythonModel):
    """Forecast every series of a history ``horizon`` steps ahead, with prediction intervals."""

    def load_context(self, context):
        import keras

        config = context.model_config or {}
        for module in config.get("keras_modules", []):
            importlib.import_module(module)  # registers custom cells with Keras before loading
        with open(context.artifacts["bundle"], encoding="utf-8") as f:
            self.bundle = json.load(f)
        self._serving = importlib.import_module(config["serving_module"])
        self._errors = importlib.import_module(config.get("errors_module", "tasks.errors"))
        names = sorted((k for k in context.artifacts if k.startswith("keras_model_")), key=lambda k: int(k.rsplit("_", 1)[1]))
        # A model logged before ensembles has one keras_model; an auto forecaster whose choice reads
        # statistical members only has none.
        names = names or [k for k in ("keras_model",) if k in context.artifacts]
        self._models = [keras.saving.load_model(context.artifacts[k], compile=False) for k in names]
        # One predict function per member: the serving module forecasts with each and takes the median.
        self._predicts = [lambda x, m=m: np.asarray(m(x, training=False)) for m in self._models]

    def predict(self, context, model_input, params=None):
        history = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        source = (params or {}).get("source", "input")
        limit = os.environ.get("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT")
        timed = {}
        if limit and hasattr(self._serving, "OutOfTime"):
            timed = {"deadline": time.monotonic() + 0.9 * float(limit), "limit_seconds": float(limit)}
        try:
            return self._serving.forecast_frame(history, self.bundle, self._predicts, source=source, **timed)
        except self._errors.InputError as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        except Exception as exc:
            if timed and isinstance(exc, self._serving.OutOfTime):
                raise MlflowException(str(exc), error_code=DEADLINE_EXCEEDED) from None
            raise


mlflow.models.set_model(SeriesForecaster())
