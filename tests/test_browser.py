"""The report page and the documentation site in a real browser: headless Chromium.

Chromium and its driver are the Debian packages (``chromium``, ``chromium-driver``) that
``.ci/run`` installs; the paths are given explicitly so that Selenium Manager never runs
(it would try to download a browser). The test is skipped only where those files are
missing.

The documentation site is built with ``mkdocs build --strict`` and served from 127.0.0.1;
Chromium's network log shows every request the pages make, and none may leave the machine.
"""

from __future__ import annotations

import base64
import functools
import html
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from msc_meta.analyses import ANALYSES
from msc_meta.report import REPORT_TITLE, build_report
from tests.test_report import record_figures

#: A headless browser per module: outside `make test-fast`.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

#: Window width of a desktop browser, and of a phone, in CSS pixels.
DESKTOP = 1280
PHONE = 400

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "results"
    return build_report(out)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.skip(
            f"headless browser test skipped: {' and '.join(missing)} not found "
            "(Debian packages chromium and chromium-driver; .ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common import selenium_manager

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument(f"--window-size={DESKTOP},900")
    # "performance" is Chromium's network log: every request a page makes, even failed ones
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})

    def no_downloads(*args: object, **kwargs: object) -> None:
        raise AssertionError("Selenium Manager must not run: the driver path is given")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(selenium_manager.SeleniumManager, "binary_paths", no_downloads)
        drv = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        try:
            yield drv
        finally:
            drv.quit()


@pytest.fixture(scope="module")
def loaded(driver: Any, report: Path) -> Any:
    driver.set_window_size(DESKTOP, 900)
    driver.get(report.resolve().as_uri())
    return driver


def test_page_renders_with_every_analysis(loaded: Any) -> None:
    from selenium.webdriver.common.by import By

    assert loaded.title == REPORT_TITLE
    assert loaded.find_element(By.TAG_NAME, "h1").text == REPORT_TITLE
    h2 = [e.text for e in loaded.find_elements(By.TAG_NAME, "h2")]
    assert h2 == [
        "How much the evidence can bear (GRADE)",
        "Summary of the analyses",
        "The studies",
        "What the records hold",
        "Risk of bias",
        "The analyses",
        "Heterogeneity",
        "Caveats",
        "Methods and files",
    ]
    h3 = [e.text for e in loaded.find_elements(By.CSS_SELECTOR, "article.analysis h3")]
    assert h3 == [s.title for s in ANALYSES.values()]
    caveats = loaded.find_elements(By.CSS_SELECTOR, "#caveats li")
    assert len(caveats) >= 8
    body = loaded.find_element(By.TAG_NAME, "body").text
    assert "gives no treatment advice" in body


def test_every_image_is_loaded(loaded: Any) -> None:
    images = loaded.execute_script(
        "return Array.from(document.images).map(i => ({complete: i.complete, "
        "w: i.naturalWidth, h: i.naturalHeight, shown: i.getBoundingClientRect().width, "
        "right: i.getBoundingClientRect().right, src: i.getAttribute('src').slice(0, 22), "
        "alt: i.alt}))"
    )
    assert len(images) == len(ANALYSES) + len(record_figures(["png"]))
    width = loaded.execute_script("return window.innerWidth")
    for img in images:
        assert img["complete"] and img["w"] > 0 and img["h"] > 0, img
        assert img["src"] == "data:image/png;base64,", img
        assert img["shown"] > 0 and img["right"] <= width, img
        assert img["alt"].startswith("Forest plot: ") or img["alt"] in {
            "Evidence map",
            "Risk of bias: traffic-light plot",
            "Risk of bias: summary plot",
        }, img


def test_every_link_resolves_and_none_is_external(loaded: Any, report: Path) -> None:
    links = loaded.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => "
        "[a.getAttribute('href'), a.href])"
    )
    assert len(links) > 2 * len(ANALYSES)
    root = report.parent.resolve()
    for raw, resolved in links:
        if raw.startswith("#"):
            found = loaded.execute_script(
                "return document.getElementById(arguments[0]) !== null", raw[1:]
            )
            assert found, f"anchor {raw} has no target"
            continue
        url = urlparse(resolved)
        assert url.scheme == "file", f"external link {raw!r}"
        target = Path(unquote(url.path)).resolve()
        assert target.is_file(), f"broken link {raw!r} -> {target}"
        assert root in target.parents, f"link {raw!r} leaves the report folder"
    # every figure file and CSV table written is linked from the page
    linked = {
        Path(unquote(urlparse(r).path)).resolve() for raw, r in links if not raw.startswith("#")
    }
    on_disk = {
        p.resolve() for p in root.rglob("*") if p.suffix in {".pdf", ".svg", ".png", ".csv"}
    }
    assert on_disk - linked <= {root / "tables" / "warnings.csv"}


def test_no_external_resource_and_no_console_error(loaded: Any) -> None:
    outside = loaded.execute_script(
        "return Array.from(document.querySelectorAll('[src],[href]'))"
        ".map(e => e.getAttribute('src') || e.getAttribute('href'))"
        ".filter(u => /^[a-z][a-z0-9+.-]*:/i.test(u) && !u.startsWith('data:'))"
    )
    assert outside == []
    fetched = loaded.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name)"
        ".filter(n => !n.startsWith('data:'))"
    )
    assert fetched == []
    severe = [e for e in loaded.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_no_horizontal_scrolling_of_the_page(loaded: Any, report: Path, width: int) -> None:
    loaded.set_window_size(width, 900)
    try:
        inner, scroll = loaded.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]"
        )
        assert scroll <= inner, f"page is {scroll}px wide in a {inner}px window"
    finally:
        loaded.set_window_size(DESKTOP, 900)


def test_screenshot(loaded: Any, tmp_path: Path) -> None:
    metrics = loaded.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = loaded.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path = tmp_path / "report.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert width == int(size["width"]) and height > 3000
    viewport = tmp_path / "report-top.png"
    assert loaded.save_screenshot(str(viewport)) and viewport.stat().st_size > 10_000


def test_escaped_titles_render_as_text(loaded: Any) -> None:
    # titles with γ, ×, ² are shown as characters, not as entities
    source = loaded.page_source
    title = ANALYSES["acr20_ifng_addon_w12"].title
    assert "γ" in title and html.escape(title) in source


# --------------------------------------------------------------------------- documentation site

#: Hosts a documentation page may fetch from: this machine only.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})

#: The pages whose formulas are checked: the methods page and the API reference.
DOC_PAGES = ("methods/", "api/")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mkdocs build --strict`` into a temporary folder, served on 127.0.0.1."""
    site = tmp_path_factory.mktemp("docs") / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _open_docs_page(driver: Any, url: str) -> tuple[list[str], str]:
    """Load a page and wait for MathJax: the URLs it requested, and ``"ok"`` or what failed."""
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get_log("browser")
    driver.get(url)
    driver.set_script_timeout(60)
    typeset = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const mj = window.MathJax;"
        "if (!mj || !mj.startup || !mj.startup.promise) { done('MathJax did not load'); return; }"
        "mj.startup.promise.then(() => done('ok'), (e) => done('MathJax failed: ' + e));"
    )
    requested = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    return requested, typeset


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_formulas_render_without_the_network(driver: Any, docs_site: str, page: str) -> None:
    driver.set_window_size(DESKTOP, 900)
    requested, typeset = _open_docs_page(driver, docs_site + page)
    outside = [
        url
        for url in requested
        if urlparse(url).scheme not in ("data", "blob")
        and urlparse(url).hostname not in LOCAL_HOSTS
    ]
    assert outside == [], f"{page} fetched from outside this machine: {outside}"
    assert typeset == "ok", f"{page}: {typeset}"
    mathjax = [u for u in requested if u.endswith("/tex-mml-chtml.js")]
    assert mathjax == [docs_site + "javascripts/mathjax/tex-mml-chtml.js"], requested
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name)"
    )
    assert all(urlparse(u).hostname in LOCAL_HOSTS for u in fetched if "://" in u), fetched
    math = driver.execute_script(
        "const m = Array.from(document.querySelectorAll('.arithmatex'));"
        "return {total: m.length,"
        " typeset: m.filter(e => { const c = e.querySelector('mjx-container');"
        "   return c && c.getBoundingClientRect().width > 0; }).length,"
        " errors: document.querySelectorAll('mjx-merror').length,"
        " text: document.querySelector('.rst-content').innerText}"
    )
    assert math["total"] > 20, f"{page}: only {math['total']} formulas found"
    assert math["typeset"] == math["total"], f"{page}: {math}"
    assert math["errors"] == 0, f"{page}: MathJax reports {math['errors']} TeX errors"
    for raw in ("\\(", "\\[", "$$"):
        assert raw not in math["text"], f"{page}: raw TeX {raw!r} is shown"
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_wide_tables_scroll_inside_the_text(
    driver: Any, docs_site: str, page: str, width: int
) -> None:
    driver.set_window_size(width, 900)
    try:
        _, typeset = _open_docs_page(driver, docs_site + page)
        assert typeset == "ok", f"{page}: {typeset}"
        layout = driver.execute_script(
            "const box = document.querySelector('.rst-content').getBoundingClientRect();"
            "const tables = Array.from(document.querySelectorAll('.rst-content table'))"
            "  .map(t => { const r = t.getBoundingClientRect();"
            "    return {left: r.left, right: r.right, scroll: t.scrollWidth,"
            "            client: t.clientWidth, overflow: getComputedStyle(t).overflowX,"
            "            head: t.rows.length ? t.rows[0].innerText.slice(0, 60) : ''}; });"
            "return {left: box.left, right: box.right, tables: tables,"
            "        inner: window.innerWidth, page: document.documentElement.scrollWidth};"
        )
    finally:
        driver.set_window_size(DESKTOP, 900)
    assert layout["tables"], f"{page}: no tables"
    for table in layout["tables"]:
        assert layout["left"] - 1 <= table["left"], (page, width, table)
        assert table["right"] <= layout["right"] + 1, (page, width, table)
        if table["scroll"] > table["client"]:
            assert table["overflow"] in ("auto", "scroll"), (page, width, table)
    assert layout["page"] <= layout["inner"], (
        f"{page} is {layout['page']}px wide in a {layout['inner']}px window"
    )
    if page == "methods/" and width == PHONE:
        # the formula tables are wider than a phone: they scroll inside the text column
        assert any(t["scroll"] > t["client"] for t in layout["tables"])
