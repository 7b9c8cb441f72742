"""The ``spiking`` kind: hypotheses as spiking populations simulated by brian2 (see :mod:`.region`).

- :mod:`.region`: the kind itself (:class:`Spiking`) and its parameters;
- :mod:`.circuit`: the brian2 circuit and the session that runs it window by window (the only module that
  imports brian2, an optional extra).
"""
from cortex.regions import register

from .region import STDP, Drive, Inhibition, Neuron, Params, Recurrent, Spiking, State

register("spiking")(Spiking)

__all__ = ["STDP", "Drive", "Inhibition", "Neuron", "Params", "Recurrent", "Spiking", "State"]
