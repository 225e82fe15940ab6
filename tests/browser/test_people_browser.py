"""The employee's and the team manager's pages in Debian's Chromium over the real stack: the
real Keycloak, the four services and the console as processes, Kafka and PostgreSQL.

Each page a test reaches passes axe-core (no serious or critical violation) with no CSP
violation reported by the browser. The erasure test erases ``sam`` (a responder nobody else
here signs in as), so it runs last in this file.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from kinship_devstack.demo import TEAM
from tests.browser.conftest import API_KEY, SMALL_TEAM, Stack, Visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


async def checked(visit: Visit) -> None:
    """The page passes axe-core and the browser reported no CSP violation."""
    assert await visit.axe() == []
    assert visit.csp_violations == []


async def _count(stack: Stack, schema_suffix: str, table: str) -> int:
    schema = stack.checkin_schema.removesuffix("_checkin") + f"_{schema_suffix}"
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        return int(await conn.fetchval(f'SELECT count(*) FROM "{schema}".{table}'))
    finally:
        await conn.close()


def _last_week() -> datetime:
    """Saturday noon of last week (UTC): a closed week for the trends."""
    now = datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return monday - timedelta(days=2) + timedelta(hours=12)


async def _record_last_week(stack: Stack, people: list[str], mood: int) -> None:
    """Check-ins of last week, recorded as a calling system (an HR tool's import) may."""
    async with httpx.AsyncClient(base_url=stack.checkin_url, timeout=10.0) as client:
        for index, person in enumerate(people):
            answer = await client.post(
                "/v1/checkins",
                headers={"Authorization": f"Bearer {API_KEY}"},
                json={
                    "id": f"browser-trend-{person}-{stack.checkin_schema}",
                    "person_id": person,
                    "occurred_at": (_last_week() + timedelta(minutes=index)).isoformat(),
                    "source": "browser-tests",
                    "mood": mood,
                    "stress": 2,
                    "energy": 4,
                },
            )
            assert answer.status_code == 202, answer.text


@pytest.fixture(scope="module")
async def trends(stack: Stack) -> None:
    platform = [name for name, team in TEAM if team == "platform"] + ["mia"]
    assert len(platform) >= 5
    await _record_last_week(stack, platform, mood=4)
    await _record_last_week(stack, list(SMALL_TEAM), mood=2)


async def test_a_manager_of_a_four_person_team_sees_the_trend_withheld(
    visit: Visit, trends: None
) -> None:
    await visit.sign_in("theo")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/teams")
    assert page.url == f"{visit.stack.console_url}/teams/kiosk", "one team: straight to it"
    await expect(page.get_by_role("heading", level=2, name="Trend withheld")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("Fewer than 5 people")
    assert await page.locator("svg.trend-chart").count() == 0
    assert await page.locator("table").count() == 0
    await checked(visit)
    await visit.screenshot("team-trend-withheld")


async def test_a_manager_of_a_larger_team_sees_the_chart_and_its_table(
    visit: Visit, trends: None
) -> None:
    await visit.sign_in("mia")
    page = visit.page
    await page.goto(visit.stack.console_url)
    await page.get_by_role("navigation").get_by_role("link", name="Team trends").click()
    assert page.url == f"{visit.stack.console_url}/teams/platform"
    chart = page.get_by_role("img", name="Team platform: weekly mood, stress and energy")
    await expect(chart).to_be_visible()
    assert await page.locator("svg.trend-chart circle.series-mood").count() == 1
    table = page.get_by_role("table", name="Week by week")
    await expect(table).to_be_visible()
    row = table.locator("tbody tr").last
    await expect(row.locator("td").nth(0)).to_have_text(
        str(len([t for t in TEAM if t[1] == "platform"]) + 1)
    )
    await expect(row.locator("td").nth(2)).to_have_text("4")  # mood
    await checked(visit)
    await visit.screenshot("team-trend")
    # Another team's trend is the check-in service's to refuse, and the page says so.
    await page.goto(f"{visit.stack.console_url}/teams/kiosk")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not available to you")


async def test_kudos_to_a_colleague_found_by_name(visit: Visit) -> None:
    await visit.sign_in("cleo")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/kudos")
    await checked(visit)
    await page.fill("#q", "be")
    await page.get_by_role("button", name="Search").click()
    ben = page.get_by_role("radio", name="Ben")
    await expect(ben).to_be_checked()  # the only match (cleo is never offered herself)
    await page.fill("#message", "Thanks for pairing on the incident review!")
    await checked(visit)
    await visit.screenshot("kudos")
    before = await _count(visit.stack, "recognition", "kudos")
    await page.get_by_role("button", name="Send kudos").click()
    await expect(page.get_by_role("status")).to_contain_text("Your kudos were sent.")
    for _ in range(100):  # the recognition service records it from Kafka
        if await _count(visit.stack, "recognition", "kudos") == before + 1:
            break
        await page.wait_for_timeout(100)
    assert await _count(visit.stack, "recognition", "kudos") == before + 1
    await checked(visit)


async def test_kudos_to_yourself_are_explained(visit: Visit) -> None:
    await visit.sign_in("cleo")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/kudos?q=cl")
    await expect(page.locator("main")).to_contain_text("Nobody with that name was found")
    await checked(visit)


async def test_outreach_preference_and_reaching_out(visit: Visit) -> None:
    await visit.sign_in("cleo")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/outreach")
    await expect(page.get_by_role("radio", name="Ask me first")).to_be_checked()
    await checked(visit)
    await visit.screenshot("outreach")
    await page.get_by_role("radio", name="A peer may reach out to me").check()
    await page.get_by_role("button", name="Save my preference").click()
    await expect(page.get_by_role("status")).to_have_text("Your outreach preference was saved.")
    await expect(page.get_by_role("radio", name="A peer may reach out to me")).to_be_checked()
    await checked(visit)

    await page.goto(f"{visit.stack.console_url}/reach-out")
    await checked(visit)
    await visit.screenshot("reach-out")
    await page.fill("#note", "Could someone call me this afternoon?")
    await page.get_by_label("Share this note with a responder").check()
    await page.get_by_role("button", name="Ask someone to reach out").click()
    await expect(page.locator("main")).to_contain_text("A peer responder will reach out to you.")
    await checked(visit)


async def test_my_data_download_then_erase_with_confirmation(visit: Visit, tmp_path: Path) -> None:
    await visit.sign_in("sam")
    page = visit.page
    console = visit.stack.console_url
    # A WHO-5 check-in first, so that the download has something of the person's.
    await page.goto(f"{console}/checkin?instrument=who5")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Wellbeing check-in (WHO-5)")
    await checked(visit)
    for item in range(1, 6):
        await page.check(f"#who5_{item}-3")
    await page.click("text=Send check-in")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Thank you: your check-in was sent"
    )
    await page.goto(f"{console}/streak")
    await expect(page.get_by_role("heading", level=1)).to_have_text("My streak")
    await checked(visit)
    await visit.screenshot("streak")

    await page.goto(f"{console}/me/data")
    await checked(visit)
    await visit.screenshot("my-data")
    async with page.expect_download() as started:
        await page.get_by_role("link", name="Download my data").click()
    download = await started.value
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    exported: dict[str, Any] = json.loads(target.read_text())
    assert download.suggested_filename == "kinship-my-data.json"
    assert exported["person_id"] == "sam"
    assert set(exported["services"]) == {"checkin", "recognition", "notifications", "escalation"}
    assert [c["who5"] for c in exported["services"]["checkin"]["checkins"]] == [[3, 3, 3, 3, 3]]

    await page.get_by_role("link", name="Erase my data…").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Erase my data")
    await checked(visit)
    await visit.screenshot("erase-confirm")
    await page.get_by_role("button", name="Erase my data").click()
    await expect(page.get_by_role("alert")).to_contain_text("Tick the box to confirm")
    await checked(visit)
    await page.get_by_label("I understand: erase my data from Kinship").check()
    await page.get_by_role("button", name="Erase my data").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Erasure status")
    assert "/me/erasure/" in page.url
    for _ in range(60):  # every service erases and sends its receipt through Kafka
        if "Done: every part" in await page.locator("main").inner_text():
            break
        await page.wait_for_timeout(1000)
        await page.reload()
    await expect(page.locator("main")).to_contain_text(
        "Done: every part of Kinship has erased your data."
    )
    await checked(visit)
    await visit.screenshot("erasure-status")
