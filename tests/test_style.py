"""Code hygiene that ruff cannot see: line length in the exported library, size limits per function and module."""
import ast
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parent.parent/'mnist_report'
MODULES = sorted(p for p in LIBRARY.rglob('*.py') if p.name != '_modidx.py')   # subpackages too
MAX_LINE, MAX_FUNCTION, MAX_MODULE = 120, 50, 350


def _generated_all_lines(lines: list[str]) -> set[int]:
    "Line numbers of nbdev's generated `__all__ = [...]` block (nbdev wraps it after its 10-character prefix)."
    start = next((i for i, line in enumerate(lines) if line.startswith('__all__ = [')), None)
    if start is None:
        return set()
    end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(']'))
    return set(range(start, end + 1))


def _problems(text: str, name: str) -> list[str]:
    """What in the module source `text` (called `name` in the messages) breaks a limit: lines over 120 characters
    (bar nbdev's generated `__all__` block), functions over 50 lines, a module over 350 lines."""
    lines = text.splitlines()
    skip = _generated_all_lines(lines)
    problems = [f'{name}:{i + 1}: line of {len(line)} characters (over {MAX_LINE})'
                for i, line in enumerate(lines) if len(line) > MAX_LINE and i not in skip]
    functions = [n for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    problems += [f'{name}:{f.lineno}: function {f.name} of {f.end_lineno - f.lineno + 1} lines (over {MAX_FUNCTION})'
                 for f in functions if f.end_lineno - f.lineno + 1 > MAX_FUNCTION]
    if len(lines) > MAX_MODULE:
        problems.append(f'{name}: module of {len(lines)} lines (over {MAX_MODULE})')
    return problems


def _ids(path: Path) -> str:
    return str(path.relative_to(LIBRARY))


@pytest.mark.parametrize('module', MODULES, ids=_ids)
def test_lines_at_most_120_characters(module):
    long = [p for p in _problems(module.read_text(), _ids(module)) if ': line of ' in p]
    assert not long, long


@pytest.mark.parametrize('module', MODULES, ids=_ids)
def test_functions_and_modules_are_small(module):
    big = [p for p in _problems(module.read_text(), _ids(module)) if ': line of ' not in p]
    assert not big, big


def _function(name: str, length: int, indent: str = '') -> str:
    "Source of a function `name` of `length` lines, indented by `indent`."
    return f'{indent}def {name}():\n' + ''.join(f'{indent}    x{i} = {i}\n' for i in range(length - 1))


def test_the_checks_can_fail():
    "Synthetic source over each limit is reported; nbdev's generated `__all__` block, however long, is not."
    long_line = 'y = "' + 'z' * (MAX_LINE - 5) + '"\n'                                     # 121 characters
    assert _problems(long_line, 'm.py') == [f'm.py:1: line of {MAX_LINE + 1} characters (over {MAX_LINE})']
    nbdev_all = "__all__ = ['" + 'a' * MAX_LINE + "', 'b',\n" + ' ' * 11 + "'" + 'c' * MAX_LINE + "']"  # as nbdev wraps
    assert all(len(line) > MAX_LINE for line in nbdev_all.splitlines())
    assert _problems(nbdev_all + '\n' + long_line, 'm.py') == \
        [f'm.py:3: line of {MAX_LINE + 1} characters (over {MAX_LINE})']
    not_all = nbdev_all.replace('__all__', 'names_')
    assert [p.split(': ')[0] for p in _problems(not_all, 'm.py')] == ['m.py:1', 'm.py:2']

    big = _function('big', MAX_FUNCTION + 1)
    assert _problems(big, 'm.py') == [f'm.py:1: function big of {MAX_FUNCTION + 1} lines (over {MAX_FUNCTION})']
    method = 'class C:\n' + _function('method', MAX_FUNCTION + 1, indent='    ')
    assert _problems(method, 'm.py') == [f'm.py:2: function method of {MAX_FUNCTION + 1} lines (over {MAX_FUNCTION})']
    assert _problems('async ' + big, 'm.py')[0].startswith('m.py:1: function big of')

    big_module = ''.join(_function(f'f{i}', 10) for i in range(MAX_MODULE // 10 + 1))    # small functions only
    assert _problems(big_module, 'm.py') == [f'm.py: module of {MAX_MODULE + 10} lines (over {MAX_MODULE})']

    at_the_limits = _function('g', MAX_FUNCTION) + '#' * MAX_LINE + '\n' + '\n' * (MAX_MODULE - MAX_FUNCTION - 1)
    assert len(at_the_limits.splitlines()) == MAX_MODULE and _problems(at_the_limits, 'm.py') == []
