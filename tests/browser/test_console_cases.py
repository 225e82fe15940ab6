"""The case page and the coordinator's pages in Debian's Chromium, over the real stack.

An employee's check-in with PHQ-9 item 9 positive goes to the real check-in service; the
real escalation service opens an immediate-risk case and assigns a peer responder (rosa or
sam, from the demo directory); that responder signs in through Keycloak and works the case in
the console. Every page passes axe-core (no serious or critical violation) with no CSP
violation reported by the browser.
"""

import asyncio
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest
from babel.dates import format_date
from playwright.async_api import Page, expect

from kinship_recognition.domain.reports import Window
from tests.browser.conftest import Stack, Visit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

FOCUSABLE = """(() => {
  const all = [...document.querySelectorAll('a[href], button, input, select, textarea')]
    .filter(e => e.type !== 'hidden' && !e.disabled && e.offsetParent !== null);
  const seen = new Set();
  return all.filter(e => {
    if (e.type !== 'radio') return true;
    if (seen.has(e.name)) return false;
    seen.add(e.name);
    return true;
  }).map(e => e.id || e.getAttribute('href') || e.name + ':' + e.textContent.trim());
})()"""
FOCUSED = """(() => { const e = document.activeElement;
  return e.id || e.getAttribute('href') || e.name + ':' + e.textContent.trim(); })()"""


async def checked(visit: Visit) -> None:
    """The page passes axe-core and the browser reported no CSP violation."""
    assert await visit.axe() == []
    assert visit.csp_violations == []


def escalation_schema(stack: Stack) -> str:
    return stack.checkin_schema.removesuffix("_checkin") + "_escalation"


async def immediate_risk_case(stack: Stack, open_visit: Any, employee: str) -> tuple[str, str]:
    """The employee checks in with PHQ-9 item 9 positive in the console; the escalation
    service opens a case and assigns a responder. Returns (case id, responder). The employee
    must have no open case (a check-in then adds evidence to it): ben's is opened by
    test_console_browser, so these tests use ada and cleo."""
    cases = f'"{escalation_schema(stack)}".cases'
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        earlier = {row["id"] for row in await conn.fetch(f"SELECT id FROM {cases}")}
    finally:
        await conn.close()
    async with open_visit() as visit:
        await visit.sign_in(employee)
        page = visit.page
        await page.goto(f"{stack.console_url}/checkin")
        await page.check("#mood-1")
        for item in range(1, 9):
            await page.check(f"#phq9_{item}-1")
        await page.check("#phq9_9-1")
        await page.click("text=Send check-in")
        await expect(page.locator(".crisis")).to_be_visible()
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        for _ in range(600):
            row = await conn.fetchrow(
                f"SELECT id, responder_id FROM {cases} WHERE responder_id IS NOT NULL"
                " AND status = 'assigned' AND NOT (id = ANY($1::text[]))",
                list(earlier),
            )
            if row is not None:
                return str(row["id"]), str(row["responder_id"])
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise AssertionError("no case was opened and assigned for the check-in")


async def case_row(stack: Stack, case_id: str) -> asyncpg.Record:
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        row = await conn.fetchrow(
            f'SELECT status, outcome, contacted_at FROM "{escalation_schema(stack)}".cases'
            " WHERE id = $1",
            case_id,
        )
    finally:
        await conn.close()
    assert row is not None
    return row


async def open_case(visit: Visit, case_id: str) -> Page:
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/cases")
    await page.click(f"a[href='/cases/{case_id}']")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {case_id[:8]}")
    return page


async def test_a_responder_works_an_immediate_risk_case_from_alert_to_resolution(
    stack: Stack, open_visit: Any
) -> None:
    case_id, responder = await immediate_risk_case(stack, open_visit, "ada")
    assert responder in ("rosa", "sam")
    async with open_visit() as visit:
        await visit.sign_in(responder)
        page = await open_case(visit, case_id)
        await expect(page.locator("body")).to_contain_text("Immediate risk")
        await expect(page.locator("body")).to_contain_text("PHQ-9 item 9 answered positive")
        # The rules version as the escalation service gives it (it does not record it yet:
        # the view's explanation is not wired to the detection evidence; see docs).
        await expect(page.locator(".rules-version")).to_have_text(
            re.compile(r"Judged by the detection rules version \S+\.|The rules version was not")
        )
        await expect(page.locator(".timeline")).to_contain_text("Case opened")
        # The step's acknowledgement timeout, from the case's timer (or overdue, when the
        # step already timed out on a slow machine).
        await expect(page.locator(".case-meta .deadline")).to_have_text(
            re.compile(r"left to acknowledge|Acknowledgement overdue")
        )
        await checked(visit)
        await visit.screenshot("case-new")

        await page.click("#acknowledge")
        await expect(page.locator("#flash")).to_contain_text("You have taken this case.")
        await expect(page.locator(".case-meta .deadline")).to_have_text(
            re.compile(r"left to make first contact")
        )
        await checked(visit)

        async with page.expect_response(f"**/cases/{case_id}/reveal") as revealing:
            await page.click("#reveal")
        revealed = await revealing.value
        assert revealed.status == 200
        assert revealed.headers["cache-control"] == "no-store"
        section = page.locator(".revealed")
        await expect(section.locator(".person-name")).to_have_text("Ada")
        await expect(section).to_contain_text("ada@example.org")
        await expect(section).to_contain_text("Europe/London")
        await checked(visit)
        await visit.screenshot("case-revealed")

        await page.check("#contact-channel-phone")
        await page.click("text=Record first contact")
        await expect(page.locator("#flash")).to_contain_text("First contact recorded.")

        await page.fill("#note-text", "Talked for 20 minutes; calling again on Friday.")
        await page.click("text=Save note")
        await expect(page.locator("#flash")).to_contain_text("Your note was saved.")
        await expect(page.locator(".notes")).to_contain_text("calling again on Friday")

        await page.fill("#safety_plan-who_to_call", "Her sister; the crisis line")
        await page.fill("#safety_plan-what_helps", "A walk outside, music")
        await page.click("text=Save the safety plan")
        await expect(page.locator("#flash")).to_contain_text("The safety plan was saved.")
        await checked(visit)
        await visit.screenshot("case-working")

        await page.check("#resolve-outcome-supported")
        await page.click("text=Resolve the case")
        await expect(page.locator("#flash")).to_contain_text("The case is resolved.")
        await expect(page.locator(".timeline")).to_contain_text("Resolved")
        await checked(visit)
        await visit.screenshot("case-resolved")
    row = await case_row(stack, case_id)
    assert row["status"] == "resolved" and row["outcome"] == "supported"
    assert row["contacted_at"] is not None

    async with open_visit() as visit:  # the coordinator sees the case's actions audited
        await visit.sign_in("cora")
        page = visit.page
        await page.goto(f"{stack.console_url}/coordinator/audit")
        await page.fill("#filter-case", case_id)
        await page.click("form.filters button")
        rows = page.locator("table.data tbody tr")
        await expect(rows.first).to_be_visible()
        table = await page.locator("table.data tbody").inner_text()
        for action in ("Case opened", "Acknowledged", "Reveal granted", "Resolved"):
            assert action in table, action
        assert responder in table
        await expect(rows.first.locator(f'a[href="/cases/{case_id}"]')).to_be_visible()
        await checked(visit)
        # The case's notes are its responders' alone: the coordinator opens the case and is
        # told so (not asked to acknowledge a resolved case), and neither the note nor the
        # safety plan reaches her page.
        await rows.first.locator(f'a[href="/cases/{case_id}"]').click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {case_id[:8]}")
        notes = page.locator("section[aria-labelledby=notes-title] p:not(.hint)")
        await expect(notes).to_have_text("The notes are for the case's responders only.")
        main = page.locator("main")
        await expect(main).not_to_contain_text("calling again on Friday")
        await expect(main).not_to_contain_text("Her sister")
        await checked(visit)


async def test_the_case_page_works_with_the_keyboard_alone(stack: Stack, open_visit: Any) -> None:
    case_id, responder = await immediate_risk_case(stack, open_visit, "cleo")
    async with open_visit() as visit:
        await visit.sign_in(responder)
        page = await open_case(visit, case_id)
        # Acknowledge with the keyboard: Tab to the button, Enter.
        for _ in range(40):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.id") == "acknowledge":
                break
        await page.keyboard.press("Enter")
        await expect(page.locator("#flash")).to_contain_text("You have taken this case.")

        # Tab order reaches every control of the page, in document order.
        await page.goto(f"{stack.console_url}/cases/{case_id}")
        expected = await page.evaluate(FOCUSABLE)
        assert "reveal" in expected and "note-text" in expected
        reached = []
        await page.keyboard.press("Tab")  # the skip link
        for _ in expected:
            reached.append(await page.evaluate(FOCUSED))
            await page.keyboard.press("Tab")
        assert reached == expected

        # A form submitted with Enter: a channel chosen with Space, the button with Enter.
        await page.focus("#contact-channel-phone")
        await page.keyboard.press("ArrowDown")  # chat
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent.trim()") == (
            "Record first contact"
        )
        await page.keyboard.press("Enter")
        await expect(page.locator("#flash")).to_contain_text("First contact recorded.")
        await expect(page.locator("body")).to_contain_text("Chat")

        # Enter in a text field submits its form too (the hand-over's person id).
        await page.focus("#handover-to-person")
        await page.keyboard.press("Space")
        await page.focus("#handover-to_person_id")
        await page.keyboard.type("not-a-responder")
        await page.focus("#handover-reason-workload")
        await page.keyboard.press("Space")
        await page.focus("#handover-to_person_id")
        await page.keyboard.press("Enter")
        await expect(page.locator(".error-summary")).to_contain_text("not handed over")
        await checked(visit)
        assert (await case_row(stack, case_id))["status"] == "contacted"


def policy_timeout(page: Page) -> Any:
    return page.locator("#step-1-timeout")


async def test_a_coordinator_edits_the_policy_and_sees_each_page(visit: Visit) -> None:
    await visit.sign_in("cora")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/coordinator")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Unacknowledged cases")
    await checked(visit)
    await visit.screenshot("coordinator-unacknowledged")

    await page.click(".subnav >> text=Escalation policies")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Escalation policies")
    await expect(page.locator("#policy-default")).to_have_text("default")
    await checked(visit)
    await visit.screenshot("coordinator-policies")

    # A policy of platform's own for its high cases: rosa, then the coordinators.
    await page.click("text=Add a policy")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Add an escalation policy")
    await checked(visit)
    await page.fill("#name", "platform-high")
    await page.fill("#team_id", "platform")
    await page.select_option("#severity", "high")
    await page.fill("#step-1-people", "rosa, rosa")
    await page.fill("#step-1-timeout", "120")
    async with page.expect_response(f"{visit.stack.console_url}/coordinator/policies/new") as sent:
        await page.click("text=Save the policy")
    assert (await sent.value).status == 422
    await expect(page.locator("#step-1-people-error")).to_contain_text(
        "Each person can be named once in a step."
    )
    await checked(visit)
    await page.fill("#step-1-people", "rosa")
    await page.click("text=Save the policy")
    await expect(page.locator("#flash")).to_contain_text("The escalation policy was saved.")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Escalation policy platform-high"
    )
    # The service appended the coordinators step that ends every policy.
    await expect(page.locator("#step-2-coordinators")).to_be_checked()
    await page.click("text=All escalation policies")
    card = page.locator(".card", has=page.locator("#policy-platform-high"))
    await expect(card).to_contain_text("Team platform, high cases")
    await expect(card).to_contain_text("Rosa, then all coordinators")
    await checked(visit)

    # The default, edited as before.
    await page.click("a[href='/coordinator/policies/default']")
    await expect(page.get_by_role("heading", level=1)).to_have_text("The default escalation policy")
    await checked(visit)
    await visit.screenshot("coordinator-policy")
    previous = await policy_timeout(page).input_value()
    await policy_timeout(page).fill("0")
    default_url = f"{visit.stack.console_url}/coordinator/policies/default"
    async with page.expect_response(default_url) as sent:
        await page.click("text=Save the policy")
    assert (await sent.value).status == 422
    await expect(page.locator("#step-1-timeout-error")).to_contain_text(
        "Enter a whole number of seconds from 1 to 86400"
    )
    assert await policy_timeout(page).get_attribute("aria-invalid") == "true"
    await page.click(".error-summary a")
    assert page.url.endswith("#q-step-1-timeout")
    await checked(visit)
    await visit.screenshot("coordinator-policy-error")

    valid = str(max(int(previous or "0"), 900) + 60)
    await policy_timeout(page).fill(valid)
    await page.click("text=Save the policy")
    await expect(page.locator("#flash")).to_contain_text("The escalation policy was saved.")
    await expect(policy_timeout(page)).to_have_value(valid)
    await page.reload()
    await expect(policy_timeout(page)).to_have_value(valid)

    # platform's policy goes again (other tests open platform's cases), once confirmed.
    await page.goto(f"{visit.stack.console_url}/coordinator/policies/platform-high")
    await page.click("button.danger")
    await expect(page.locator("#confirm-error")).to_contain_text("Tick the box to confirm.")
    await page.check("#confirm")
    await page.click("button.danger")
    await expect(page.locator("#flash")).to_contain_text("The policy was deleted.")
    await expect(page.locator("#policy-platform-high")).to_have_count(0)
    await checked(visit)

    await page.click("text=Rotations")
    await page.fill("#rnew-name", "care-nights")
    await page.fill("#rnew-members", "rosa\nsam")
    await page.fill("#rnew-shift_hours", "12")
    await page.click("text=Add the rotation")
    await expect(page.locator("#flash")).to_contain_text("The rotation was saved.")
    await expect(page.locator("#r1-members")).to_have_value("rosa\nsam")
    await checked(visit)
    await visit.screenshot("coordinator-rotations")

    await page.click(".subnav >> text=Audit log")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    await checked(visit)
    await visit.screenshot("coordinator-audit")
    await page.fill("#filter-actor", "cora")
    await page.click("form.filters button")
    assert "actor=cora" in page.url
    rows = page.locator("table.data tbody tr")
    # Newest first: the audit page just read, then the rotation saved and the policy deleted
    # and saved above.
    await expect(rows.nth(0)).to_contain_text("Audit log read")
    await expect(rows.nth(1)).to_contain_text("Rotation saved")
    await expect(rows.nth(2)).to_contain_text("Escalation policy deleted")
    await expect(rows.nth(3)).to_contain_text("Escalation policy saved")
    await expect(rows.nth(3)).to_contain_text("cora")
    await checked(visit)


def recognition_schema(stack: Stack) -> str:
    return stack.checkin_schema.removesuffix("_checkin") + "_recognition"


async def closed_weeks_in_recognition(stack: Stack) -> tuple[date, date, int]:
    """Facts of the last two closed weeks in recognition's tables, each recorded during its
    week, as the service records what it consumes (a session cannot wait for a week to
    close): last week six people of platform checked in and five of them had a case; the
    week before only three checked in. Returns (last week, the week before, the directory's
    active members)."""
    last = Window.closed(datetime.now(UTC), 1).start
    before = last - timedelta(weeks=1)
    schema = recognition_schema(stack)
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        for week, people in ((last, 6), (before, 3)):
            recorded = datetime.combine(week, time(12), UTC) + timedelta(days=2)
            await conn.executemany(
                f'INSERT INTO "{schema}".checkin_weeks'
                " (subject_id, week_start, team_id, recorded_at) VALUES ($1, $2, 'platform', $3)",
                [(f"report-subject-{n}", week, recorded) for n in range(people)],
            )
        opened = datetime.combine(last, time(9), UTC) + timedelta(days=2)
        outcomes = ["supported"] * 3 + ["referred_professional"] * 2
        await conn.executemany(
            f'INSERT INTO "{schema}".case_facts (case_id, subject_id, team_id, severity,'
            " opened_at, acknowledged_at, contacted_at, resolved_at, outcome, recorded_at)"
            " VALUES ($1, $2, 'platform', 'high', $3, $4, $5, $6, $7, $6)",
            [
                (
                    f"report-case-{n}",
                    f"report-subject-{n}",
                    opened,
                    opened + timedelta(minutes=5 * n),  # 5, 10, 15, 20, 25 min
                    opened + timedelta(minutes=20 * n),  # 20, 40, 60, 80, 100 min
                    opened + timedelta(days=1),
                    outcome,
                )
                for n, outcome in enumerate(outcomes, start=1)
            ],
        )
        members = int(
            await conn.fetchval(f'SELECT count(*) FROM "{schema}".directory_people WHERE active')
        )
    finally:
        await conn.close()
    return last, before, members


def week_row(page: Page, table: str, week: date) -> Any:
    """The row of ``week`` in the table under the heading with id ``table``."""
    day = format_date(week, format="medium", locale="en_GB")
    return page.locator(f"div[aria-labelledby={table}] tbody tr").filter(
        has=page.get_by_role("rowheader", name=day, exact=True)
    )


async def test_a_coordinator_reads_the_programme_report_of_closed_weeks(visit: Visit) -> None:
    last, before, members = await closed_weeks_in_recognition(visit.stack)
    await visit.sign_in("cora")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/coordinator")
    await page.click("text=Programme report")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Programme report")
    await expect(page.locator(".lede")).to_contain_text("last 12 closed weeks")
    # Newest first, the week in progress never: recognition's twelve closed weeks.
    participation = page.locator("div[aria-labelledby=participation] tbody th")
    await expect(participation).to_have_count(12)
    await expect(participation.first).to_have_text(format_date(last, "medium", locale="en_GB"))
    share = f"{round(6 / members * 100)} %"
    await expect(week_row(page, "participation", last).locator("td")).to_have_text(["6", share])
    # Three people are fewer than five: that week's participation is withheld.
    await expect(week_row(page, "participation", before).locator("td")).to_have_text(["Withheld"])
    chart = page.get_by_role("img", name="Share of members who checked in, by week")
    await expect(chart).to_contain_text(share)
    # Five cases of five people last week, with how fast they were taken and reached.
    await expect(week_row(page, "timing", last).locator("td")).to_have_text(
        ["5", "5", "15 min", "23 min", "1 h 00 min", "1 h 32 min"]
    )
    outcomes = page.get_by_role("table", name="Resolved cases by outcome, in the weeks shown")
    await expect(outcomes.locator("tbody tr")).to_have_text(
        [
            re.compile(r"Supported: we talked and they are getting support\s*3"),
            re.compile(r"Referred to professional help\s*2"),
        ]
    )
    # Every chart label is drawn inside its chart, however long (outcomes were cut off).
    for svg in await page.locator("figure.chart svg").all():
        frame = await svg.bounding_box()
        assert frame is not None
        for label in await svg.locator(".chart-label").all():
            box = await label.bounding_box()
            assert box is not None
            assert frame["x"] - 1 <= box["x"], await label.text_content()
            assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
    await checked(visit)
    await visit.screenshot("coordinator-report")


async def test_a_coordinator_erases_a_person_for_hr_and_follows_it_to_complete(
    visit: Visit,
) -> None:
    # Someone who left: the directory no longer lists them, and every service still erases
    # what it may hold and sends its receipt through Kafka.
    await visit.sign_in("cora")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/coordinator/erasures")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Erasures")
    await checked(visit)
    await page.fill("#person_id", "left-in-2025")
    await page.click("text=Erase this person")
    await expect(page.get_by_role("alert")).to_contain_text("Tick the box to confirm")
    await checked(visit)
    await page.get_by_label("I understand: this erases the person's data").check()
    await page.click("text=Erase this person")
    await expect(page.locator("#flash")).to_contain_text("The erasure was requested.")
    first = page.locator("table.data tbody tr").first
    await expect(first).to_contain_text("a coordinator")
    for _ in range(60):
        if "Complete in every part" in await first.inner_text():
            break
        await page.wait_for_timeout(1000)
        await page.reload()
    await expect(first).to_contain_text("Complete in every part")
    assert "left-in-2025" not in await page.locator("main").inner_text()
    await checked(visit)
    await visit.screenshot("coordinator-erasures")
