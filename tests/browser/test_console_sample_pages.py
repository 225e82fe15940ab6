"""Pages whose data the real stack cannot produce yet, over fakes in a real browser:
My cases with cases of each severity passes axe-core, in English and German."""

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import AXE
from tests.browser.sample_screens import sample_console, signed_in_page

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("locale", "heading"), [("en-GB", "My cases"), ("de-DE", "Meine Fälle")])
async def test_my_cases_with_cases_passes_the_accessibility_check(
    browser: Browser, locale: str, heading: str
) -> None:
    async with sample_console() as url:
        context, page = await signed_in_page(browser, url, locale)
        try:
            await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            assert await page.locator("li.case").count() == 3
            await page.evaluate(AXE.read_text() + "\n;undefined")
            violations = await page.evaluate(
                "axe.run(document).then(r => r.violations"
                ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id))"
            )
            assert violations == []
        finally:
            await context.close()
