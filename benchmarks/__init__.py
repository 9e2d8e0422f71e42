"""Benchmarks and peer references: seqflow measured beside bare Keras, plain gensim and published scores.

Run from a source checkout (``seqflow bench``, ``make bench``, ``python -m benchmarks.MODULE``); this
package is not part of the installed product. ``speed``: start-up and the flow against the same
training bare (:mod:`benchmarks.plain_keras`); ``forecast``: M4 baselines beside the official scores,
milk and sales through the flow; ``embed`` and ``embed_flow``: word2vec on IMDB against plain gensim.
Importing it applies seqflow's embedded defaults, as importing ``flows`` does.
"""

from tasks.runtime import apply_defaults

apply_defaults()
