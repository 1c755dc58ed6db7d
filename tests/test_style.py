"""Code hygiene that ruff cannot see: line length in the exported library, size limits per function and module."""
import ast
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parent.parent/'mnist_report'
MODULES = sorted(p for p in LIBRARY.glob('*.py') if p.name != '_modidx.py')
MAX_LINE, MAX_FUNCTION, MAX_MODULE = 120, 50, 350


def _generated_all_lines(lines: list[str]) -> set[int]:
    "Line numbers of nbdev's generated `__all__ = [...]` block (nbdev wraps it after its 10-character prefix)."
    start = next((i for i, line in enumerate(lines) if line.startswith('__all__ = [')), None)
    if start is None:
        return set()
    end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(']'))
    return set(range(start, end + 1))


@pytest.mark.parametrize('module', MODULES, ids=lambda p: p.name)
def test_lines_at_most_120_characters(module):
    lines = module.read_text().splitlines()
    skip = _generated_all_lines(lines)
    long = [i + 1 for i, line in enumerate(lines) if len(line) > MAX_LINE and i not in skip]
    assert not long, f'{module.name}: lines over {MAX_LINE} characters: {long}'


@pytest.mark.parametrize('module', MODULES, ids=lambda p: p.name)
def test_functions_and_modules_are_small(module):
    text = module.read_text()
    assert len(text.splitlines()) <= MAX_MODULE, f'{module.name} has over {MAX_MODULE} lines'
    tree = ast.parse(text)
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    big = [f'{f.name} ({f.end_lineno - f.lineno + 1} lines)' for f in functions
           if f.end_lineno - f.lineno + 1 > MAX_FUNCTION]
    assert not big, f'{module.name}: functions over {MAX_FUNCTION} lines: {big}'


def test_the_checks_can_fail(tmp_path):
    "The generated-block detection skips nbdev's `__all__` only, not an ordinary long line."
    lines = ["__all__ = ['a', 'b',", "           'c']", 'x = 1', 'y = "' + 'z' * 130 + '"']
    assert _generated_all_lines(lines) == {0, 1}
