"""A saved Keras window model as an MLflow pyfunc, logged with MLflow's models-from-code.

This file is *copied into every logged model* (``python_model=<this file>``): loading a model runs
the copy, not this module, so no class is pickled by import path and moving this file later cannot
break models already logged or registered. Everything it needs arrives in the model's
``model_config``: the training scaler and the modules that register custom Keras layers.

``predict`` takes raw-unit windows ``(batch, lookback, n_features)`` as float64 (NumPy's default)
and returns the model's output in the same raw units: ``(batch, horizon, n_features)`` for a
horizon model, ``(batch, lookback, n_features)`` for a shifted-target model.
"""

import importlib

import mlflow
import numpy as np
from mlflow.pyfunc import PythonModel


class KerasWindowModel(PythonModel):
    """Scale raw windows with the training scaler, run the Keras model, unscale its output."""

    def load_context(self, context):
        import keras

        config = context.model_config or {}
        for module in config.get("keras_modules", []):
            importlib.import_module(module)  # registers custom cells with Keras before loading
        self._model = keras.saving.load_model(context.artifacts["keras_model"], compile=False)
        self._mean = np.asarray(config["mean"], dtype=np.float32)
        self._std = np.asarray(config["std"], dtype=np.float32)

    def predict(self, context, model_input, params=None):
        x = np.asarray(model_input, dtype=np.float32)
        if x.ndim != 3 or x.shape[-1] != self._mean.shape[0]:
            raise ValueError(
                f"model input has shape {x.shape}; expected (batch, lookback, {self._mean.shape[0]})"
            )
        scaled = (x - self._mean) / self._std
        out = np.asarray(self._model(scaled, training=False))
        k = out.shape[-1]  # outputs are the first k input features (the value; covariates are inputs only)
        return out * self._std[:k] + self._mean[:k]


mlflow.models.set_model(KerasWindowModel())
