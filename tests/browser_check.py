"""Open every page of a rendered report in headless Chromium and check what a reader sees; save a screenshot.

    .venv/bin/python tests/browser_check.py _site figures/report-screenshot.png

A page fails when its visible text shows rendering debris (`:::`, `#|`, `{#`), a traceback or warning, a path of the
machine that rendered it, when an image does not load, a local link points nowhere, or the sidebar lacks a page.
"""
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'

# what no reader should see: unrendered Quarto/nbdev syntax, errors, and the rendering machine's own paths
FORBIDDEN = {
    'fenced div': re.compile(r':::'),
    'cell directive': re.compile(r'#\|'),
    'attribute block': re.compile(r'\{#'),
    'traceback': re.compile(r'Traceback'),
    'warning': re.compile(r'Warning:'),
    'site-packages': re.compile(r'site-packages'),
    'absolute path': re.compile(r'(?<![\w:/.~-])/(?:home|root|tmp|work|usr|opt|var|mnt|srv|private|Users|nix)/[\w.-]'),
}


def browser():
    "Headless Chromium driven by Debian's chromedriver."
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,1000',
                '--allow-file-access-from-files'):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def visible_problems(text: str) -> list[str]:
    "Each forbidden thing in a page's visible `text`, with a little context."
    problems = []
    for name, pattern in FORBIDDEN.items():
        for m in pattern.finditer(text):
            problems.append(f'{name}: ...{text[max(0, m.start() - 40):m.end() + 40]!r}...')
    return problems


_PAGE_SCRIPT = """
return {
  text: document.body.innerText,
  images: Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]),
  links: Array.from(document.links).map(a => a.href),
  nav: Array.from(document.querySelectorAll('nav a')).map(a => a.href),
  captions: Array.from(document.querySelectorAll('figcaption')).map(f => f.innerText.trim()),
  search: !!document.querySelector('#quarto-search, .aa-Autocomplete, input[type=search]'),
};"""


def _page_report(page: dict, expected_pages) -> dict:
    "Per-page findings from what the browser returned."
    local = [unquote(urlparse(h).path) for h in page['links'] if h.startswith('file:')]
    nav_files = {Path(unquote(urlparse(h).path)).name for h in page['nav'] if h.startswith('file:')}
    return {'images': len(page['images']), 'missing_images': [src for src, ok in page['images'] if not ok],
            'broken_links': [p for p in local if not Path(p).exists()],
            'sidebar_missing': sorted(set(expected_pages) - nav_files),
            'problems': visible_problems(page['text']),
            'figure_captions': [c for c in page['captions'] if c.startswith('Figure')],
            'search': page['search']}


def check_site(site: Path, screenshot: Path | None = None, pages=None) -> dict:
    "Open each page of `site` (default: every HTML page); what a reader would find wrong with it."
    site = Path(site).resolve()
    files = [site/p for p in pages] if pages else sorted(site.glob('*.html'))
    if not files:
        raise FileNotFoundError(f'no HTML pages in {site}')
    expected = [f.name for f in files]
    report = {}
    driver = browser()
    try:
        for file in files:
            driver.get(file.as_uri())
            report[file.name] = {**_page_report(driver.execute_script(_PAGE_SCRIPT), expected), 'title': driver.title}
        if screenshot:
            driver.get((site/'index.html').as_uri())
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(screenshot))
    finally:
        driver.quit()
    return report


def failures(report: dict) -> dict:
    "The pages with anything wrong, and what."
    keys = ('missing_images', 'broken_links', 'sidebar_missing', 'problems')
    return {name: {k: page[k] for k in keys if page[k]} for name, page in report.items() if any(page[k] for k in keys)}


if __name__ == '__main__':
    result = check_site(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    for name, page in result.items():
        print(f"{name:22s} {page['images']:3d} images, {len(page['figure_captions']):2d} numbered figures  "
              f"({page['title']})")
    bad = failures(result)
    for name, what in bad.items():
        print(f'FAIL {name}: {what}')
    sys.exit(1 if bad else 0)
