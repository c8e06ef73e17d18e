"""The report's forest plots as a reader sees them in headless Chromium.

The browser set-up (Debian's ``chromium`` and ``chromium-driver``, no Selenium Manager) is
the ``driver`` fixture of ``tests/test_browser.py``, imported here; the test is skipped
where those files are missing.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from msc_meta.analyses import ANALYSES
from msc_meta.report import FOREST_FONTSIZE, PNG_DPI, build_report
from tests.test_browser import DESKTOP, driver  # noqa: F401  (driver is a fixture)

#: A headless browser: outside `make test-fast`.
pytestmark = pytest.mark.slow

#: Size of the smallest text of a forest plot (the heterogeneity and test lines): 0.9 of
#: the report's forest font, in pixels of the PNG.
SMALL_TEXT_PNG_PX = 0.9 * FOREST_FONTSIZE / 72.0 * PNG_DPI

#: Smallest size, in CSS pixels, at which that text may be shown on a desktop page (the
#: page's own small print is 0.85 rem, 13.6 px).
MIN_TEXT_PX = 12.0


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_report(tmp_path_factory.mktemp("report-browser") / "results", formats="png")


@pytest.fixture(scope="module")
def shown(driver: Any, page: Path) -> Any:  # noqa: F811  (the imported fixture)
    driver.set_window_size(DESKTOP, 900)
    driver.get(page.resolve().as_uri())
    return driver


def _forest_images(drv: Any) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = drv.execute_script(
        """
        return Array.from(document.querySelectorAll('img.forest')).map(img => {
          const article = img.closest('article');
          const style = getComputedStyle(article);
          const link = img.closest('a');
          return {
            analysis: article.id,
            shown: img.getBoundingClientRect().width,
            natural: img.naturalWidth,
            content: article.clientWidth - parseFloat(style.paddingLeft)
                     - parseFloat(style.paddingRight),
            href: link ? link.getAttribute('href') : null,
            resolved: link ? link.href : null,
            src: img.getAttribute('src'),
          };
        })
        """
    )
    return images


def test_forest_plots_fill_the_content_width(shown: Any) -> None:
    images = _forest_images(shown)
    assert sorted(i["analysis"] for i in images) == sorted(f"analysis-{n}" for n in ANALYSES)
    for img in images:
        assert img["natural"] > 0, img["analysis"]
        assert abs(img["shown"] - img["content"]) <= 1.0, img
        # the heterogeneity line is large enough to read
        text_px = SMALL_TEXT_PNG_PX * img["shown"] / img["natural"]
        assert text_px >= MIN_TEXT_PX, (img["analysis"], round(text_px, 1))


def test_forest_plots_link_to_their_full_size_file(shown: Any, page: Path) -> None:
    root = page.parent.resolve()
    images = _forest_images(shown)
    assert len(images) == len(ANALYSES)
    for img in images:
        name = img["analysis"].removeprefix("analysis-")
        assert img["href"] == f"figures/{name}_forest.png"
        target = Path(unquote(urlparse(img["resolved"]).path)).resolve()
        assert target == root / "figures" / f"{name}_forest.png" and target.is_file()
        # the file is the figure the page shows, at full size
        embedded = base64.b64decode(img["src"].split(",", 1)[1])
        assert target.read_bytes() == embedded
