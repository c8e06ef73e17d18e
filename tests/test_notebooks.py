"""The notebooks run top to bottom, and are stored without outputs.

Each notebook is executed with nbclient in a fresh ``python3`` kernel from ``notebooks/``.
A cell that raises fails the test, and so does a Python warning that reaches a cell's
stderr: the notebooks record expected warnings (``FewStudiesWarning`` for the small MSC-RA
analyses) with ``warnings.catch_warnings(record=True)`` and print them, so none may leak.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01-quickstart.ipynb", "02-msc-ra-evidence.ipynb"]
TIMEOUT = 600  # seconds per cell

# A warning printed by Python's warnings machinery: "file.py:12: SomeWarning: message".
LEAKED_WARNING = re.compile(r"^\S*:\d+: \w*Warning: ", re.M)


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    import nbformat

    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(book)
    assert book.nbformat == 4
    assert book.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: cell {i} has stored outputs"
            assert cell.execution_count is None, f"{name}: cell {i} has an execution count"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name: str) -> None:
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        book,
        kernel_name="python3",
        timeout=TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError on the first cell that fails
    for i, cell in enumerate(book.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                assert not LEAKED_WARNING.search(out["text"]), (
                    f"{name}: cell {i} leaked a warning:\n{out['text']}"
                )
