"""Word embeddings: a streamed corpus → tokens → word2vec → evaluation → exports.

Pure modules (no Prefect, MLflow, storage or paths): ``config``, ``corpus``, ``text``, ``gensim_w2v``,
``evaluation``, ``projection``, ``records``. ``steps.py`` wires them to Parquet and MLflow, and
``flows/embed.py`` tells the story.
"""
