"""Feedback after a case in Debian's Chromium, over the real stack.

A case opens when an employee asks for someone to reach out, and its responder resolves it
in the console (a high case, not a critical one: a critical case gives its responder rest, and
with both demo responders resting the on-call test would find nobody on call); the escalation service asks both sides for feedback and the notifications service
accepts the two requests. Each side follows the link the notifications service builds for
its request (``MessageLinks.for_sending``, over the request it stored), signs in through
Keycloak, is brought back to the question and answers; the escalation service records it.
A repeat is thanked as already given; someone else following a link is refused with the same
calm page as an unknown case. Every page passes axe-core with no CSP violation.
"""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Page, expect

from kinship_contracts.notifications import NotificationRequest
from kinship_devstack.keycloak import DEMO_PASSWORD
from kinship_notifications.domain.links import MessageLinks
from tests.browser.conftest import Stack, Visit
from tests.browser.test_console_cases import checked, escalation_schema, open_case

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


async def self_referral_case(stack: Stack, open_visit: Any, employee: str) -> tuple[str, str]:
    """The employee asks for someone to reach out in the console; the escalation service
    opens a case and assigns a responder. Returns (case id, responder). The employee must have
    no open case (ada's is resolved by test_console_cases)."""
    cases = f'"{escalation_schema(stack)}".cases'
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        earlier = [row["id"] for row in await conn.fetch(f"SELECT id FROM {cases}")]
    finally:
        await conn.close()
    async with open_visit() as visit:
        await visit.sign_in(employee)
        page = visit.page
        await page.goto(f"{stack.console_url}/reach-out")
        await page.get_by_role("button", name="Ask someone to reach out").click()
        await expect(page.locator("main")).to_contain_text("A peer responder will reach out")
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        for _ in range(600):
            row = await conn.fetchrow(
                f"SELECT id, responder_id FROM {cases} WHERE responder_id IS NOT NULL"
                " AND status = 'assigned' AND NOT (id = ANY($1::text[]))",
                earlier,
            )
            if row is not None:
                return str(row["id"]), str(row["responder_id"])
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise AssertionError("no case was opened and assigned for the request to reach out")


async def resolve_as_responder(visit: Visit, case_id: str) -> None:
    """The responder takes the case, records first contact and resolves it as supported."""
    page = await open_case(visit, case_id)
    await page.click("#acknowledge")
    await expect(page.locator("#flash")).to_contain_text("You have taken this case.")
    await page.check("#contact-channel-phone")
    await page.click("text=Record first contact")
    await expect(page.locator("#flash")).to_contain_text("First contact recorded.")
    await page.check("#resolve-outcome-supported")
    await page.click("text=Resolve the case")
    await expect(page.locator("#flash")).to_contain_text("The case is resolved.")


async def feedback_links(stack: Stack, case_id: str) -> dict[str, str]:
    """Each side's link, as the notifications service completes the feedback request it
    accepted for the case when it sends it."""
    schema = stack.checkin_schema.removesuffix("_checkin") + "_notifications"
    links = MessageLinks(secret=b"not-used-by-feedback-links", console_url=stack.console_url)
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        for _ in range(600):
            rows = await conn.fetch(
                f'SELECT request FROM "{schema}".deliveries'
                " WHERE kind = 'feedback_request' AND request->>'case_id' = $1",
                case_id,
            )
            if len(rows) == 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the feedback requests did not reach the notifications service")
    finally:
        await conn.close()
    found: dict[str, str] = {}
    for row in rows:
        stored = row["request"]
        request = NotificationRequest.model_validate(
            json.loads(stored) if isinstance(stored, str) else stored
        )
        sent = links.for_sending(request, datetime.now(UTC))
        found[request.params["from"]] = sent.params["feedback_url"]
    return found


async def recorded_feedback(stack: Stack, case_id: str) -> dict[str, int]:
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        rows = await conn.fetch(
            f'SELECT given_by, score FROM "{escalation_schema(stack)}".feedback WHERE case_id = $1',
            case_id,
        )
    finally:
        await conn.close()
    return {str(row["given_by"]): int(row["score"]) for row in rows}


async def follow_and_sign_in(visit: Visit, link: str, person: str) -> Page:
    """Open a link while signed out: Keycloak's sign-in, then back to the link's page."""
    page = visit.page
    await page.goto(link)
    assert page.url.startswith(visit.stack.issuer), "a signed-out person is sent to sign in"
    await page.fill("#username", person)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#kc-login")
    await page.wait_for_url(link)
    return page


async def answer(page: Page, label: str) -> None:
    await page.get_by_label(label).check()
    await page.click("#send-feedback")


async def test_both_sides_give_feedback_through_their_links_and_nobody_else_can(
    stack: Stack, open_visit: Any
) -> None:
    case_id, responder = await self_referral_case(stack, open_visit, "ada")
    async with open_visit() as visit:
        await visit.sign_in(responder)
        await resolve_as_responder(visit, case_id)
    links = await feedback_links(stack, case_id)
    assert links == {
        "person": f"{stack.console_url}/feedback/{case_id}?from=person",
        "responder": f"{stack.console_url}/feedback/{case_id}?from=responder",
    }
    assert await recorded_feedback(stack, case_id) == {}

    async with open_visit() as visit:  # the person supported
        page = await follow_and_sign_in(visit, links["person"], "ada")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "How helpful was your conversation?"
        )
        await expect(page.locator("fieldset legend")).to_have_text(
            "How helpful was the support you received?"
        )
        await checked(visit)
        await visit.screenshot("feedback")
        await page.click("#send-feedback")  # nothing chosen: the form says so
        await expect(page.locator(".error-summary")).to_contain_text(
            "Choose one of the five answers."
        )
        await checked(visit)
        await answer(page, "4 · Very helpful")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Thank you for your feedback"
        )
        await expect(page.locator("main")).to_contain_text("Your answer was recorded.")
        await checked(visit)
        await visit.screenshot("feedback-thanks")
        assert await recorded_feedback(stack, case_id) == {"person": 4}

        # A second answer through the same link is thanked, and the first one stays.
        await page.goto(links["person"])
        await answer(page, "1 · Not helpful at all")
        await expect(page.locator("main")).to_contain_text("already given")
        assert await recorded_feedback(stack, case_id) == {"person": 4}

        # The responder's link is not the person's to answer.
        await page.goto(links["responder"])
        await answer(page, "5 · Very well")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "This feedback link is not for you"
        )
        await checked(visit)

    async with open_visit() as visit:  # the responder
        page = await follow_and_sign_in(visit, links["responder"], responder)
        await expect(page.get_by_role("heading", level=1)).to_have_text("How did the case go?")
        await checked(visit)
        await answer(page, "5 · Very well")
        await expect(page.locator("main")).to_contain_text("Your answer was recorded.")
    assert await recorded_feedback(stack, case_id) == {"person": 4, "responder": 5}

    async with open_visit() as visit:  # someone else, and a case that does not exist
        page = await follow_and_sign_in(visit, links["person"], "ben")
        await answer(page, "2 · A little helpful")
        refused = page.locator("main")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "This feedback link is not for you"
        )
        await checked(visit)
        someone_elses = await refused.inner_text()
        unknown = f"{stack.console_url}/feedback/no-such-case?from=person"
        await page.goto(unknown)
        async with page.expect_response(unknown) as posted:
            await answer(page, "2 · A little helpful")
        assert (await posted.value).status == 404
        assert await refused.inner_text() == someone_elses, "the refusals read the same"
    assert await recorded_feedback(stack, case_id) == {"person": 4, "responder": 5}
