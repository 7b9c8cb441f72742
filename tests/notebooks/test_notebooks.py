"""Every notebook in notebooks/ runs top to bottom in a fresh kernel, so a change that breaks one fails the build.

The notebooks are executed from a copy in a temporary folder (the committed outputs stay as they are); any
cell that raises fails the test with the cell's error.
"""
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="executing notebooks needs the test extra (nbformat, nbclient)")
nbclient = pytest.importorskip("nbclient", reason="executing notebooks needs the test extra (nbformat, nbclient)")

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


def test_the_notebooks_are_there():
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01_quickstart", "02_hypothesis_competition", "03_rivalry", "04_camouflage_and_search",
                     "05_composition_and_context", "06_sequences", "07_new_concepts", "08_vision"]


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path):
    work = tmp_path / path.name
    shutil.copy(path, work)
    notebook = nbformat.read(work, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors
    images = sum(1 for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
                 if "image/png" in out.get("data", {}))
    assert images >= 3, "every notebook shows its figures"
