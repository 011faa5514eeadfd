"""The exported program as a Jupyter notebook: a Markdown cell and a code cell per section."""

from __future__ import annotations

import re

from nnlab.architectures import Spec
from nnlab.export.code import comment_text
from nnlab.export.script import Exported, file_stem, sections
from nnlab.training import TrainConfig


def markdown_text(text: object, max_chars: int = 100) -> str:
    """``text`` as literal Markdown: on one line, every character Markdown or HTML could read escaped."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~:&$])", r"\\\1", comment_text(text, max_chars))


def export_notebook(spec: Spec, config: TrainConfig, source: str = "NN Lab's editor") -> Exported:
    """The network and its training as a notebook (``<name>.ipynb``). Raises ``InvalidSettings``."""
    import nbformat  # here: every page imports this module (markdown_text), few export a notebook
    from nbformat import v4

    name = markdown_text(spec.get("name", "Custom network"))
    cells = [
        v4.new_markdown_cell(
            f"# {name}\n\nA network for the MNIST digits, built and trained with Keras: exported from "
            f"NN Lab ({markdown_text(source)}) with the same layers and training settings. Run the cells "
            "in order; set `DATA_DIR` below to a folder of MNIST IDX files if nnlab is not installed."
        )
    ]
    for section in sections(spec, config):
        if section.in_notebook:
            cells.append(v4.new_markdown_cell(f"## {section.title}\n\n{section.text}"))
            cells.append(v4.new_code_cell(section.code))
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i + 1}"  # the same network always gives the same file
    notebook = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(notebook)
    stem = file_stem(spec.get("name", "network"))
    return Exported(f"{stem}.ipynb", nbformat.writes(notebook))
