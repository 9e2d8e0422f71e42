"""Registered word vectors as an MLflow pyfunc: a table of words in, their vectors out.

Logged with MLflow's models-from-code (``python_model=<this file>``): the copy inside each model runs
at load time, so no class is pickled by import path, and it needs nothing of seqflow. The vectors
arrive as one file, the artifact ``vectors``: the embeddings flow's ``word, count, vector`` Parquet
(most frequent word first).

``predict`` takes a pandas DataFrame with a ``word`` column and returns one row per input row, in
its order: ``dim_0 .. dim_{n-1}`` (float32), all NaN for a word outside the vocabulary. A word is
looked up as given, then lowercased (the vocabulary is lowercase unless ``tokenize.lowercase`` was
off; of several case variants the most frequent wins, as the evaluation does). A table without a
``word`` column is refused as an ``MlflowException`` of kind INVALID_PARAMETER_VALUE (HTTP 400 from
``mlflow models serve``).
"""

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel


class WordVectorLookup(PythonModel):
    """Look words up in a fixed vocabulary of vectors."""

    def load_context(self, context):
        frame = pd.read_parquet(context.artifacts["vectors"])
        self.words = tuple(frame["word"].tolist())
        self.counts = frame["count"].to_numpy(np.int64)
        self.vectors = np.stack(frame["vector"].to_numpy()).astype(np.float32, copy=False)  # (n_words, vector_size)
        self.columns = [f"dim_{k}" for k in range(self.vectors.shape[1])]
        self._index = {word: i for i, word in enumerate(self.words)}
        self._lowered = {}
        for i in range(len(self.words) - 1, -1, -1):  # the most frequent case variant wins
            self._lowered[self.words[i].lower()] = i

    def _row(self, word):
        if not isinstance(word, str):
            return None
        found = self._index.get(word)
        return found if found is not None else self._lowered.get(word.lower())

    def predict(self, context, model_input, params=None):
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if "word" not in frame.columns:
            raise MlflowException(f"the input needs a `word` column; its columns are: {', '.join(map(str, frame.columns))}",
                                  error_code=INVALID_PARAMETER_VALUE)
        out = np.full((len(frame), len(self.columns)), np.nan, dtype=np.float32)  # (n_rows, vector_size)
        for k, word in enumerate(frame["word"].tolist()):
            row = self._row(word)
            if row is not None:
                out[k] = self.vectors[row]
        return pd.DataFrame(out, columns=self.columns, index=frame.index)


mlflow.models.set_model(WordVectorLookup())
