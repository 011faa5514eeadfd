"""A neural network written in NumPy alone, to read next to the maths and train live.

- ``net.py``: the network a learner reads (activations, forward, backward, SGD, gradient check);
  the From-scratch page shows exactly this file;
- ``train.py``: its settings, the MNIST data, the training loop and the same network in Keras;
- ``session.py``: the page's background trainings (one per visitor) and their Keras twins.
"""

from nnlab.scratch.net import ACTIVATIONS, INITS, MLP, SGD, activate, activation_grad, gradient_check
from nnlab.scratch.train import (
    BOUNDS,
    MAX_HIDDEN_LAYERS,
    MAX_UNITS,
    ScratchConfig,
    ScratchData,
    ScratchResult,
    build_net,
    evaluate,
    first_layer_images,
    grad_norms,
    keras_spec,
    keras_train_config,
    keras_twin_name,
    n_params,
    prepare_data,
    train,
    validate_config,
)

__all__ = [
    "ACTIVATIONS",
    "BOUNDS",
    "INITS",
    "MAX_HIDDEN_LAYERS",
    "MAX_UNITS",
    "MLP",
    "SGD",
    "ScratchConfig",
    "ScratchData",
    "ScratchResult",
    "activate",
    "activation_grad",
    "build_net",
    "evaluate",
    "first_layer_images",
    "grad_norms",
    "gradient_check",
    "keras_spec",
    "keras_train_config",
    "keras_twin_name",
    "n_params",
    "prepare_data",
    "train",
    "validate_config",
]
