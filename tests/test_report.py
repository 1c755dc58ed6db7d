"""The rendered report: the fallback site's shape, its errors, and every page in a real (headless) browser."""
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mnist_report.chain import CHAPTERS
from mnist_report.report import RenderError, render

from browser_check import CHROMEDRIVER, CHROMIUM, check_site


def _tiny_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    nbformat.write(new_notebook(cells=[new_markdown_cell('# Front\n\nHello.')]), folder/'index.ipynb')
    nbformat.write(new_notebook(cells=[new_markdown_cell('# One\n\n## Part'), new_code_cell('x = 1')]), folder/'01_eda.ipynb')
    return folder


def test_failed_render_keeps_the_previous_site(tmp_path, monkeypatch):
    run = _tiny_run(tmp_path/'run')
    render(run, tmp_path/'site', renderer='fallback')
    before = (tmp_path/'site'/'01_eda.html').read_text()
    import mnist_report.report as report
    def fail(*args, **kwargs): raise RuntimeError('pandoc crashed')
    monkeypatch.setattr(report, 'render_fallback', fail)
    with pytest.raises(RuntimeError, match='pandoc crashed'): render(run, tmp_path/'site', renderer='fallback')
    assert (tmp_path/'site'/'01_eda.html').read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['run', 'site']       # no staging folder left behind


def test_quarto_requested_but_missing_and_empty_runs_are_clear_errors(tmp_path):
    run = _tiny_run(tmp_path/'run')
    if not shutil.which('quarto'):
        with pytest.raises(RenderError, match='Quarto is not installed'): render(run, tmp_path/'site', renderer='quarto')
    (tmp_path/'empty').mkdir()
    with pytest.raises(RenderError, match='no executed notebooks'): render(tmp_path/'empty', tmp_path/'site2')


@pytest.fixture(scope='module')
def rendered_site(tmp_path_factory):
    "The quick chain of `make test` (or the canonical run) rendered into a temporary folder."
    run = os.environ.get('MNIST_REPORT_CHAIN_RUN') or 'runs/canonical'
    out = tmp_path_factory.mktemp('site')/'site'
    return render(run, out), out


def test_report_site_has_every_chapter_in_order(rendered_site):
    site, out = rendered_site
    assert site['pages'] == sorted(f'{c}.html' for c in CHAPTERS)
    index = (out/'index.html').read_text()
    positions = [index.index(f'href="{c}.html"') for c in ('index', *CHAPTERS[:-1])]
    assert positions == sorted(positions)
    if not shutil.which('quarto'): assert 'Quarto is not installed' in index and site['renderer'].startswith('pandoc')


def test_every_page_in_headless_chromium(rendered_site, tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get('CI'): pytest.fail('Chromium is required in CI: .ci/run installs chromium and chromium-driver')
        pytest.skip('headless Chromium not installed (apt-get install chromium chromium-driver)')
    _, out = rendered_site
    shot = Path(os.environ.get('MNIST_REPORT_SCREENSHOT', tmp_path/'report.png'))
    report = check_site(out, shot)
    assert len(report) == len(CHAPTERS)
    for name, page in report.items():
        assert not page['missing_images'] and not page['broken_links'], (name, page)
    assert sum(p['images'] for p in report.values()) >= 10 and shot.stat().st_size > 10_000
