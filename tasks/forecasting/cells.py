"""Where the hand-built cells lived before ``tasks/nets``: models logged then name this module.

Every model logged or registered by an earlier seqflow lists ``tasks.forecasting.cells`` among the
modules its loader imports (to register the hand-built cells with Keras) before it reads its Keras
files. This name keeps those models loading in a process that already imports today's ``tasks``
(``seqflow predict``); new models name :mod:`tasks.nets.cells`.
"""

from tasks.nets.cells import ManualRNNCell, PeepholeLSTMCell, recurrent_layer

__all__ = ["ManualRNNCell", "PeepholeLSTMCell", "recurrent_layer"]
