"""Models from files (``.keras``, or legacy ``.h5`` as the tutorials save them) brought into NN Lab.

- ``convert.py``: a loaded Keras model as an NN Lab spec, layer by layer, and why a layer cannot be
  one NN Lab knows;
- ``as_run.py``: a model file kept as one of a visitor's runs (so that Evaluate, Inspect and Draw
  work on it, and Build & Train can open it when every layer converts).

Every file goes through ``modelio.load_model_safely`` (its checks and bounds, Keras safe mode).
"""

from nnlab.importing.as_run import ImportedModel, import_model_bytes, import_model_file
from nnlab.importing.convert import Conversion, convert, editor_problems

__all__ = [
    "Conversion",
    "ImportedModel",
    "convert",
    "editor_problems",
    "import_model_bytes",
    "import_model_file",
]
