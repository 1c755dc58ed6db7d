"""The committed notebooks: clean sources (nbdev_clean) whose outputs show no warning, traceback or machine path."""
import sys
from pathlib import Path

import nbformat
import pytest

from mnist_report.core import project_root

sys.path.insert(0, str(Path(__file__).parent))
from browser_check import visible_problems  # noqa: E402  (the same rules as for the rendered pages)

NOTEBOOKS = sorted((project_root(Path(__file__).parent)/'nbs').glob('*.ipynb'))


def _output_text(output) -> str:
    "What a reader of the notebook sees of one output (images aside)."
    if output.output_type == 'stream':
        return output.text
    if output.output_type == 'error':
        return '\n'.join(output.traceback)
    data = output.get('data', {})
    return '\n'.join(data[k] for k in ('text/plain', 'text/markdown', 'text/html') if k in data)


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_outputs_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    problems = [(i, p) for i, cell in enumerate(nb.cells) if cell.cell_type == 'code'
                for output in cell.get('outputs', []) for p in visible_problems(_output_text(output))]
    assert not problems, problems[:5]
    assert not [c for c in nb.cells if c.cell_type == 'code' and c.get('execution_count')], 'run nbdev_clean'
