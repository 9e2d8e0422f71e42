"""Log trained Keras models as MLflow pyfunc models and load them back."""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities import LoggedModelOutput
from mlflow.models import Model, ModelSignature, infer_signature

from tasks import paths
from tasks.tracking.store import client

PYFUNC_CODE = Path(__file__).with_name("keras_pyfunc.py")


class _KnownNoise(logging.Filter):
    """Drop MLflow messages that are expected here and would bury the pipeline's own output."""

    NOISE = (
        # uv-built environments have no pip; the model's requirements are pinned explicitly.
        "Failed to resolve installed pip version",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in self.NOISE)


for _name in ("mlflow.pyfunc", "mlflow.utils.environment"):
    logging.getLogger(_name).addFilter(_KnownNoise())
logging.getLogger("mlflow.utils.uv_utils").setLevel(logging.WARNING)  # per-model "copied uv.lock" chatter


@contextlib.contextmanager
def _quiet_type_hint_warning() -> Iterator[None]:
    """Run the block without MLflow's "Add type hints to the `predict` method" notice.

    The model's input is checked by its signature (a float64 tensor); type hints would validate it
    twice. The notice fires whenever the wrapper's class is defined (at logging and at loading). No
    warnings filter can drop it: the MLflow function that emits it is wrapped in
    ``filter_user_warnings_once``, which puts a "once" filter for every UserWarning in front of any
    filter set by a caller. So the notice is dropped where it would be shown; every other warning is
    shown as before.
    """
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if "Add type hints to the `predict` method" not in str(message):
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def _pinned(*names: str) -> list[str]:
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pins.append(name)
    return pins


class _PyfuncWithoutServingCheck:
    """``mlflow.pyfunc`` as a flavor for ``Model.log(..., validate_serving_input=False)``.

    ``Model.log`` reads that switch from its keyword arguments and passes them all on to the
    flavor's ``save_model``, which refuses unknown ones; this flavor drops it first.
    """

    __name__ = "mlflow.pyfunc"

    @staticmethod
    def save_model(**kwargs):
        kwargs.pop("validate_serving_input", None)
        return mlflow.pyfunc.save_model(**kwargs)


def log_keras_window_model(
    run_id: str,
    name: str,
    keras_path: Path,
    mean: list[float],
    std: list[float],
    keras_modules: list[str],
    input_example: np.ndarray,
    output_example: np.ndarray,
) -> tuple[str, str]:
    """Log a saved Keras window model as a pyfunc model with a signature and an input example.

    Args:
        run_id: the run the model belongs to.
        name: the logged model's name, saying what it is (e.g. ``lstm-sine``).
        keras_path: the ``.keras`` file.
        mean: the training scaler's mean per feature, ``(n_features,)``; ``std`` likewise.
        keras_modules: modules to import before loading (they register custom layers).
        input_example: ``(1, lookback, n_features)`` raw-unit window.
        output_example: the model's raw-unit output for ``input_example``.

    Returns:
        ``(model_uri, model_id)``: the ``models:/`` URI that ``mlflow.pyfunc.load_model`` accepts.
    """
    client()  # point the fluent API at this project's store
    example = np.asarray(input_example, dtype=np.float64)
    signature = infer_signature(example, np.asarray(output_example, dtype=np.float32))
    with _quiet_type_hint_warning(), mlflow.start_run(run_id=run_id):
        # What mlflow.pyfunc.log_model does, less one step: MLflow's check that the input example
        # serves would load the Keras model and predict once more (0.4 s a model, on a thread that
        # must not run TensorFlow). The example is still saved with the model; the caller has just
        # computed its output with the same network, and the tests load and serve logged models.
        info = Model.log(
            artifact_path=None,
            name=name,
            flavor=_PyfuncWithoutServingCheck,
            flavor_name="pyfunc.ModelFromCode",
            python_model=str(PYFUNC_CODE),
            artifacts={"keras_model": str(keras_path)},
            model_config={"mean": list(map(float, mean)), "std": list(map(float, std)),
                          "keras_modules": list(keras_modules)},
            code_paths=[str(paths.PROJECT_ROOT / "tasks")],
            signature=signature,
            input_example=example,
            # Pinned here: inferring requirements would reload the model in a subprocess (slow).
            pip_requirements=_pinned("tensorflow", "keras", "numpy", "mlflow"),
            validate_serving_input=False,
        )
    return info.model_uri, info.model_id


def link_model(run_id: str, model_id: str, step: int = 0) -> None:
    """Show a logged model among a run's outputs (e.g. the best child's model on the parent run)."""
    client().log_outputs(run_id, [LoggedModelOutput(model_id, step)])


def load_model(model_uri: str):
    """Load a logged model with ``mlflow.pyfunc.load_model``, from this project's store."""
    client()
    with _quiet_type_hint_warning():
        return mlflow.pyfunc.load_model(model_uri)


FORECASTER_CODE = Path(__file__).with_name("forecaster_pyfunc.py")


def log_forecaster_model(
    run_id: str,
    name: str,
    keras_paths: list[Path],
    bundle: dict,
    serving_module: str,
    keras_modules: list[str],
    input_example,
    history_columns: Sequence[str] = (),
    forecast_columns: Sequence[str] = (),
    requirements: Sequence[str] = (),
) -> tuple[str, str]:
    """Log a servable forecaster (history table in, forecast table out) as a models-from-code pyfunc.

    The bundle (settings, scaler rule, interval half-widths, the flow config) is written as
    ``bundle.json`` inside the model: JSON, never a pickle. The run may be the flow's parent run,
    still open: it is left RUNNING, as it was.

    Args:
        run_id: the run the model belongs to.
        name: the logged model's name (e.g. ``forecaster-monthly-milk``).
        keras_paths: the ``.keras`` files of the ensemble's members (one or more), logged as
            artifacts ``keras_model_0`` .. ``keras_model_{n-1}``; the model predicts with their median.
        bundle: JSON-ready dict the serving module reads.
        serving_module: the module with ``forecast_frame(history, bundle, predicts, source)``.
        keras_modules: modules to import before loading (they register custom layers).
        input_example: a small history table (``series_id, timestamp, value``).
        history_columns: the history's columns, ``forecast_columns`` the forecast's: the model's
            signature (see :func:`forecaster_signature`); none given, none is logged.
        requirements: distributions the serving module needs besides TensorFlow, Keras, NumPy,
            pandas and MLflow (e.g. ``statsmodels``), pinned to their installed versions.

    Returns:
        ``(model_uri, model_id)``.
    """
    import json
    import tempfile

    c = client()
    was = c.get_run(run_id).info.status
    with tempfile.TemporaryDirectory() as tmp:
        bundle_path = Path(tmp) / "bundle.json"
        bundle_path.write_text(json.dumps(bundle, indent=2, sort_keys=True), encoding="utf-8")
        with _quiet_type_hint_warning(), mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(FORECASTER_CODE),
                artifacts={**{f"keras_model_{k}": str(p) for k, p in enumerate(keras_paths)},
                           "bundle": str(bundle_path)},
                model_config={"serving_module": serving_module, "keras_modules": list(keras_modules),
                              "errors_module": "tasks.errors"},
                code_paths=[str(paths.PROJECT_ROOT / "tasks")],
                signature=forecaster_signature(history_columns, forecast_columns) if history_columns else False,
                input_example=input_example,
                pip_requirements=_pinned("tensorflow", "keras", "numpy", "pandas", "mlflow", *requirements),
            )
    if was == "RUNNING":
        c.update_run(run_id, status="RUNNING")  # leaving the `with` ended it; its owner ends it
    return info.model_uri, info.model_id


def forecaster_signature(history_columns: Sequence[str], forecast_columns: Sequence[str]) -> ModelSignature:
    """A served forecaster's signature: the history's columns in, the forecast's out.

    Every input column is of type ``any`` and optional: MLflow then passes the table through as
    given, and the model checks it itself with the ingestion rules' messages (row, column, rule); a
    typed or required column would be refused first, in MLflow's words. The outputs are typed:
    ``series_id`` text, ``timestamp`` a datetime, every other column a float.
    """
    from mlflow.types.schema import AnyType, ColSpec, Schema

    types = {"series_id": "string", "timestamp": "datetime"}
    return ModelSignature(
        inputs=Schema([ColSpec(AnyType(), name, required=False) for name in history_columns]),
        outputs=Schema([ColSpec(types.get(name, "double"), name) for name in forecast_columns]),
    )


def load_forecaster(model_uri: str):
    """Load a served forecaster (see :func:`log_forecaster_model`) by any ``models:/`` URI; return it and its bundle.

    Raises:
        InputError: the model cannot be found or loaded, or it is no seqflow forecaster (one line,
            naming ``--model`` and the URI).
    """
    from mlflow.exceptions import MlflowException

    from tasks.errors import InputError

    try:
        model = load_model(model_uri)
    except (MlflowException, OSError) as exc:
        text = exc.message if isinstance(exc, MlflowException) else str(exc)
        raise InputError(f"cannot load the model: {text.strip().splitlines()[0]}", key="--model", value=model_uri) from None
    bundle = getattr(model.unwrap_python_model(), "bundle", None)
    if not isinstance(bundle, dict):
        raise InputError("is not a seqflow forecaster (no bundle.json); `seqflow run forecast` on a CSV or M4 "
                         "source registers one", key="--model", value=model_uri)
    return model, bundle


def predict_table(model, frame):
    """Call a loaded pyfunc model on a table; a refused input becomes :class:`tasks.errors.InputError`."""
    from mlflow.exceptions import MlflowException

    from tasks.errors import InputError

    try:
        return model.predict(frame)
    except MlflowException as exc:
        raise InputError(exc.message.strip()) from None


VECTORS_CODE = Path(__file__).with_name("vectors_pyfunc.py")


def vector_columns(vector_size: int) -> list[str]:
    """The output columns of a vectors model (``vectors_pyfunc.py`` names them alike): ``dim_0 .. dim_{n-1}``."""
    return [f"dim_{k}" for k in range(vector_size)]


def log_vectors_model(run_id: str, name: str, vectors_path: Path, example_words: list[str],
                      example_vectors: np.ndarray) -> tuple[str, str]:
    """Log word vectors as a models-from-code pyfunc (a ``word`` table in, ``dim_*`` columns out).

    The signature and the input example are written from ``example_words`` and their rows of
    ``example_vectors``; MLflow's check that the example serves is skipped (it would load the
    vectors once more), and the tests load and call logged models. The run may be the flow's parent
    run, still open: it is left RUNNING, as it was.

    Args:
        run_id: the run the model belongs to.
        name: the logged model's name (e.g. ``vectors-lee_background``).
        vectors_path: the ``word, count, vector`` Parquet, logged as the artifact ``vectors``.
        example_words: a few words, one of them unknown to the vocabulary.
        example_vectors: their vectors, ``(len(example_words), vector_size)``; NaN rows for unknown words.

    Returns:
        ``(model_uri, model_id)``.
    """
    import pandas as pd

    c = client()
    was = c.get_run(run_id).info.status
    example = pd.DataFrame({"word": list(example_words)})
    output = pd.DataFrame(np.asarray(example_vectors, dtype=np.float32),
                          columns=vector_columns(np.asarray(example_vectors).shape[1]))
    with _quiet_type_hint_warning(), mlflow.start_run(run_id=run_id):
        info = Model.log(
            artifact_path=None,
            name=name,
            flavor=_PyfuncWithoutServingCheck,
            flavor_name="pyfunc.ModelFromCode",
            python_model=str(VECTORS_CODE),
            artifacts={"vectors": str(vectors_path)},
            signature=infer_signature(example, output),
            input_example=example,
            pip_requirements=_pinned("numpy", "pandas", "pyarrow", "mlflow"),
            validate_serving_input=False,
        )
    if was == "RUNNING":
        c.update_run(run_id, status="RUNNING")  # leaving the `with` ended it; its owner ends it
    return info.model_uri, info.model_id


def load_vectors(model_uri: str) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The vocabulary of a vectors model (see :func:`log_vectors_model`): words, counts ``(n_words,)``, vectors ``(n_words, vector_size)``.

    Raises:
        InputError: the model cannot be loaded, or it holds no word vectors (one line naming the URI).
    """
    from mlflow.exceptions import MlflowException

    from tasks.errors import InputError

    try:
        model = load_model(model_uri)
    except (MlflowException, OSError) as exc:
        text = exc.message if isinstance(exc, MlflowException) else str(exc)
        raise InputError(f"cannot load the model: {text.strip().splitlines()[0]}", key="model", value=model_uri) from None
    inner = model.unwrap_python_model()
    if not all(hasattr(inner, k) for k in ("words", "counts", "vectors")):
        raise InputError("holds no word vectors (not registered by the embeddings flow)", key="model", value=model_uri)
    return inner.words, inner.counts, inner.vectors
