"""Open every page of a rendered report in headless Chromium: no image may be missing; save a screenshot.

    .venv/bin/python tests/browser_check.py _site figures/report-screenshot.png
"""
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'


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


def check_site(site: Path, screenshot: Path | None = None) -> dict:
    "Per page: the images and whether each loaded (naturalWidth > 0), and local links that point nowhere."
    site = Path(site).resolve()
    pages = sorted(site.glob('*.html'))
    if not pages: raise FileNotFoundError(f'no HTML pages in {site}')
    report = {}
    driver = browser()
    try:
        for page in pages:
            driver.get(page.as_uri())
            images = driver.execute_script(
                "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);")
            links = driver.execute_script("return Array.from(document.links).map(a => a.href);")
            broken = [href for href in links if href.startswith('file:')
                      and not Path(unquote(urlparse(href).path)).exists()]
            report[page.name] = {'images': len(images), 'missing_images': [src for src, ok in images if not ok],
                                 'broken_links': broken, 'title': driver.title}
        if screenshot:
            driver.get((site/'index.html').as_uri())
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(screenshot))
    finally:
        driver.quit()
    return report


if __name__ == '__main__':
    result = check_site(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    for name, page in result.items():
        print(f"{name:22s} {page['images']:3d} images, missing {page['missing_images'] or 'none'}, "
              f"broken links {page['broken_links'] or 'none'}  ({page['title']})")
    sys.exit(1 if any(p['missing_images'] or p['broken_links'] for p in result.values()) else 0)
