"""The app on a phone (issue 12), a tablet and a narrow laptop window: from 390 to 1280 px
nothing runs off the side — no horizontal scrolling, every control and card within the
screen's width — and the numbers are there (at 800-1180 px the charts ran 80-460 px off
the screen until December 2026). Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ARTIFACTS

pytestmark = pytest.mark.browser

TARGET = ".cx-ctl-touchpoints-complaints-lever-target"


@pytest.mark.parametrize("width", [1280, 1180, 1024, 800, 390])
def test_the_app_fits_the_screen(browser: Any, app_server: Any, app_page: Any,
                                 width: int) -> None:
    page = app_page(browser, app_server.url)
    try:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)  # layout settles after the resize
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow}px wider than a {width}px screen"
        wide = page.evaluate("""w => [...document.querySelectorAll(
              '.cx-card, .cx-box, .cx-ctl, #cx-pitch-text, input, select, button')]
            .filter(e => e.offsetParent !== null)
            .filter(e => { const r = e.getBoundingClientRect();
                           return r.left < -1 || r.right > w + 1; })
            .map(e => e.className || e.id || e.tagName)""", width)
        assert not wide, f"cut off at {width}px: {wide[:5]}"
        assert page.locator(".cx-card[data-metric=npv]").is_visible()
        assert page.locator(f"{TARGET} .cx-box").is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"app-{width}px.png"), full_page=width == 390)
    finally:
        page.close()
