"""A network and its training settings as the code the Keras tutorials teach.

- ``code.py``: each piece of that code (a layer, the optimizer, the schedule, the callbacks);
- ``script.py``: the sections of the program, and ``export_script``, a standalone Python script;
- ``notebook.py``: ``export_notebook``, the same sections as a Jupyter notebook (``nbformat``).

The script needs only TensorFlow: it reads the MNIST files bundled with nnlab when nnlab is
installed, or a folder of IDX files given with ``--data``.
"""

from nnlab.export.notebook import export_notebook
from nnlab.export.script import Exported, export_problems, export_script, file_stem, sections

__all__ = ["Exported", "export_notebook", "export_problems", "export_script", "file_stem", "sections"]
