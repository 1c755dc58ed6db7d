"""The rendered report: both renderers give the same pages; every page passes a reader's check in Chromium."""
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mnist_report.chain import CHAPTERS
from mnist_report.report import RenderError, find_quarto, render, site_pages

from browser_check import CHROMEDRIVER, CHROMIUM, check_site, failures
from cli_helpers import cli   # tests/cli_helpers.py

EXPECTED_PAGES = [re.sub(r'^\d+_', '', name) + '.html' for name in site_pages()]   # Quarto drops the number


def _tiny_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    nbformat.write(new_notebook(cells=[new_markdown_cell('# Front\n\nHello.')]), folder/'index.ipynb')
    chapter = new_notebook(cells=[new_markdown_cell('# One'), new_markdown_cell('## Part'), new_code_cell('x = 1')])
    nbformat.write(chapter, folder/'01_eda.ipynb')
    return folder


@pytest.mark.renders
def test_failed_render_keeps_the_previous_site(tmp_path, monkeypatch):
    run = _tiny_run(tmp_path/'run')
    render(run, tmp_path/'site', renderer='fallback')
    before = (tmp_path/'site'/'eda.html').read_text()
    import mnist_report.report as report

    def fail(*args, **kwargs):
        raise RuntimeError('pandoc crashed')
    monkeypatch.setattr(report, 'render_fallback', fail)
    with pytest.raises(RuntimeError, match='pandoc crashed'):
        render(run, tmp_path/'site', renderer='fallback')
    assert (tmp_path/'site'/'eda.html').read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['run', 'site']       # no staging folder left behind


def test_quarto_requested_but_missing_and_empty_runs_are_clear_errors(tmp_path, monkeypatch):
    run = _tiny_run(tmp_path/'run')
    monkeypatch.setenv('PATH', str(tmp_path))             # a machine without Quarto
    monkeypatch.delenv('QUARTO_PATH', raising=False)
    with pytest.raises(RenderError, match='Quarto is not installed'):
        render(run, tmp_path/'site', renderer='quarto')
    (tmp_path/'empty').mkdir()
    with pytest.raises(RenderError, match='no executed notebooks'):
        render(tmp_path/'empty', tmp_path/'site2')


def _chain_run():
    return os.environ.get('MNIST_REPORT_CHAIN_RUN') or 'runs/canonical'


@pytest.fixture(scope='module', params=[pytest.param('auto', marks=pytest.mark.slow), 'fallback'])
def rendered_site(request, tmp_path_factory):
    "The quick chain of `make test` (or the canonical run) rendered by Quarto (auto) and by the fallback."
    if request.param == 'auto' and os.environ.get('CI') and not find_quarto():
        pytest.fail('CI renders with Quarto: make puts ../shared/tools/install-quarto on PATH')
    out = tmp_path_factory.mktemp(f'site-{request.param}')/'site'
    return render(_chain_run(), out, renderer=request.param)


@pytest.mark.renders
def test_both_renderers_give_every_chapter_in_order(rendered_site):
    assert rendered_site['pages'] == EXPECTED_PAGES and not rendered_site['warnings'], rendered_site
    index = (rendered_site['out']/'index.html').read_text()
    positions = [index.index(f'href="./{page}"' if 'Quarto' in rendered_site['renderer'] else f'href="{page}"')
                 for page in EXPECTED_PAGES[1:]]
    assert positions == sorted(positions)
    if 'Quarto' not in rendered_site['renderer']:
        assert 'fallback renderer' in index


@pytest.mark.renders
@pytest.mark.slow
def test_every_page_in_headless_chromium(rendered_site, tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get('CI'):
            pytest.fail('Chromium is required in CI: .ci/run installs chromium and chromium-driver')
        pytest.skip('headless Chromium not installed (apt-get install chromium chromium-driver)')
    shot = tmp_path/'report.png'
    report = check_site(rendered_site['out'], shot, EXPECTED_PAGES)
    assert not failures(report), failures(report)
    assert sum(p['images'] for p in report.values()) >= 10 and shot.stat().st_size > 10_000
    assert sum(len(p['figure_captions']) for p in report.values()) >= 8      # numbered, captioned figures
    if 'Quarto' in rendered_site['renderer']:
        assert all(p['search'] for p in report.values())


@pytest.mark.renders
def test_the_checker_catches_debris_and_missing_pages(tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip('headless Chromium not installed')
    page = '<html><body><nav><a href="index.html">x</a></nav><p>::: {#x .cell 0=\'e\'}</p><p>/work/x/site-packages' \
           '</p><img src="gone.png"></body></html>'
    (tmp_path/'index.html').write_text(page)
    (tmp_path/'eda.html').write_text('<html><body><nav><a href="index.html">x</a></nav>fine</body></html>')
    bad = failures(check_site(tmp_path, pages=['index.html', 'eda.html']))
    assert {'fenced div', 'attribute block', 'site-packages', 'absolute path'} <= \
        {p.split(':')[0] for p in bad['index.html']['problems']}
    assert bad['index.html']['missing_images'] and bad['eda.html']['sidebar_missing'] == ['eda.html']


@pytest.mark.skipif(not find_quarto() and not os.environ.get('CI'), reason='Quarto is not installed')
@pytest.mark.renders
@pytest.mark.slow
def test_rendering_the_canonical_run_twice_gives_the_same_pages(tmp_path):
    "Byte for byte, every file of the site (pages, figures, search index, assets): Quarto's output has no render date."
    sites = []
    for attempt in (1, 2):
        code, out, err = cli('render', '--out', tmp_path/f'site{attempt}')
        assert code == 0, err
        assert re.search(rf'rendered {len(CHAPTERS)} pages with Quarto [\d.]+ in [\d.]+ s', out), out
        site = tmp_path/f'site{attempt}'
        sites.append({str(p.relative_to(site)): p.read_bytes() for p in site.rglob('*') if p.is_file()})
    assert sorted(sites[0]) == sorted(sites[1]) and set(EXPECTED_PAGES) <= set(sites[0])
    differ = [name for name in sorted(sites[0]) if sites[0][name] != sites[1][name]]
    assert not differ, f'files that differ between two renders: {differ}; first: {_first_difference(sites, differ[0])}'
    shutil.rmtree(tmp_path)


def _first_difference(sites: list[dict], name: str) -> str:
    "Where file `name` of the two renders `sites` first differs, with 60 characters of context either side."
    a, b = (site[name].decode(errors='replace') for site in sites)
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f'{name} at character {i}: {a[max(0, i - 60):i + 60]!r} then {b[max(0, i - 60):i + 60]!r}'
