"""On call in Debian's Chromium over the real stack: a responder sees who answers now and
takes a private calendar link that a calendar app can read; a coordinator puts someone on
call with an override and sees who answers change, with the responders' load beside it."""

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from tests.browser.conftest import Stack, Visit
from tests.browser.test_console_cases import checked, escalation_schema

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


async def store_schedule(stack: Stack) -> None:
    """A care schedule (rosa and sam a week each, hand-off Monday 09:00 London), stored as a
    coordinator's PUT would store it; the API itself is tested in tests/integration."""
    start = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    schedule = {
        "name": "care-week",
        "time_zone": "Europe/London",
        "layers": [
            {
                "name": "weekly",
                "participants": ["rosa", "sam"],
                "rotation": {"every": 1, "unit": "weeks"},
                "handoff_time": "09:00",
                "start_date": start,
            }
        ],
    }
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        await conn.execute(
            f'INSERT INTO "{escalation_schema(stack)}".schedules (name, body)'
            " VALUES ($1, $2::text::jsonb) ON CONFLICT (name) DO NOTHING",
            schedule["name"],
            json.dumps(schedule),
        )
    finally:
        await conn.close()


async def test_a_responder_sees_who_is_on_call_and_subscribes_a_calendar(visit: Visit) -> None:
    await store_schedule(visit.stack)
    await visit.sign_in("rosa")
    page = visit.page
    await page.click("nav >> text=On call")
    await expect(page.get_by_role("heading", level=1)).to_have_text("On call")
    row = page.locator("table.data tbody tr", has_text="care-week")
    await expect(row).to_contain_text("Europe/London")
    on_call = (await row.locator("td").first.inner_text()).strip()
    # The name first; a second line says why when someone covers ("covering for someone
    # resting": an earlier test of the session may have marked rosa away).
    assert on_call.splitlines()[0] in ("You", "sam"), on_call
    await checked(visit)
    await visit.screenshot("oncall")

    await page.click("text=Get my calendar link")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your calendar link")
    url = await page.locator("#feed-url").input_value()
    assert url.startswith("http://127.0.0.1:") and url.endswith(".ics")
    await checked(visit)
    async with httpx.AsyncClient() as client:  # a calendar app: no sign-in, the URL is all
        feed = await client.get(url)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in feed.text and "care-week" in feed.text

    await page.click("text=Back to On call")
    await page.click("text=Stop my calendar link")
    await expect(page.locator("#flash")).to_contain_text("Your calendar link was stopped.")
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 404


async def test_a_coordinator_overrides_who_is_on_call(visit: Visit) -> None:
    await store_schedule(visit.stack)
    await visit.sign_in("cora")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/coordinator")
    await page.click(".subnav >> text=On call and load")
    await expect(page.get_by_role("heading", level=1)).to_have_text("On call and load")
    await checked(visit)

    await page.select_option("#schedule", "care-week")
    await page.fill("#person_id", "cora")
    await page.fill("#end", "2020-01-01T00:00")
    await page.click("text=Add the override")
    await expect(page.locator("#end-error")).to_contain_text("The end must be after the start")
    await checked(visit)

    now = datetime.now(UTC)
    await page.fill("#start", (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    await page.fill("#end", (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    await page.click("text=Add the override")
    await expect(page.locator("#flash")).to_contain_text("The override was saved.")
    row = page.locator("table.data tbody tr", has_text="care-week")
    await expect(row).to_contain_text("cora")
    await expect(row).to_contain_text("by an override")
    await expect(page.locator("ul.overrides")).to_contain_text("cora")
    await checked(visit)
    await visit.screenshot("coordinator-oncall")

    await page.get_by_role("button", name="Remove the override of cora in care-week").click()
    await expect(page.locator("#flash")).to_contain_text("The override was removed.")
    await expect(page.locator("table.data tbody tr", has_text="care-week")).not_to_contain_text(
        "by an override"
    )
