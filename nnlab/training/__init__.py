"""Training a spec with Keras: the settings (``config.py``), one ``fit`` (``engine.py``) and the
callback that turns it into events and honours stop requests (``callback.py``)."""

from nnlab.training.config import (
    BOUNDS,
    OPTIMIZERS,
    PRESET_SETTINGS,
    SCHEDULES,
    TrainConfig,
    preset_config,
    validate_config,
)
from nnlab.training.engine import PreparedData, TrainResult, prepare_data, train

__all__ = [
    "BOUNDS",
    "OPTIMIZERS",
    "PRESET_SETTINGS",
    "SCHEDULES",
    "PreparedData",
    "TrainConfig",
    "TrainResult",
    "prepare_data",
    "preset_config",
    "train",
    "validate_config",
]
