"""The console as people use it: Debian's Chromium, the real Keycloak, the real services.

Every page the tests reach is checked with axe-core (no serious or critical violation) and
for Content-Security-Policy violations reported by the browser.
"""

import hashlib
import re
from typing import Any

import asyncpg
import pytest
from playwright.async_api import expect

from kinship_console.adapters.sessions import SessionSealer
from tests.browser.conftest import Stack, Visit, decode_jwt_claims

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SESSION_COOKIE = "kinship-session"
FOCUSED = (
    "(() => { const e = document.activeElement;"
    " return e.id || e.getAttribute('href') || e.textContent.trim(); })()"
)


async def checked(visit: Visit) -> None:
    """The page passes axe-core and the browser reported no CSP violation."""
    assert await visit.axe() == []
    assert visit.csp_violations == []


async def test_an_employee_signs_in_through_keycloak_and_gets_the_checkin_form(
    visit: Visit,
) -> None:
    page = visit.page
    await page.goto(visit.stack.console_url)
    await expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    await checked(visit)
    await visit.screenshot("home-signed-out")
    await page.goto(f"{visit.stack.console_url}/checkin")
    assert page.url.startswith(visit.stack.issuer), "an anonymous visitor is sent to sign in"
    await page.fill("#username", "ada")
    await page.fill("#password", "kinship-demo")
    await page.click("#kc-login")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check in")
    assert page.url == f"{visit.stack.console_url}/checkin"
    assert await page.locator("input[type=radio]").count() == 3 * 5 + 5 * 6 + 9 * 4
    await checked(visit)
    await visit.screenshot("checkin")
    await page.goto(visit.stack.console_url)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome")
    await checked(visit)
    await visit.screenshot("home")


async def test_a_wrong_password_is_refused_by_keycloak(visit: Visit) -> None:
    await visit.sign_in("ada", "not-the-password")
    page = visit.page
    assert page.url.startswith(visit.stack.issuer)
    await expect(
        page.locator("#input-error, .kc-feedback-text, [id*=error]").first
    ).to_contain_text("Invalid username or password")
    await page.goto(f"{visit.stack.console_url}/checkin")
    assert page.url.startswith(visit.stack.issuer), "no console session after a refused sign-in"


async def test_keyboard_only_check_in_in_order_and_item_9_shows_crisis_resources(
    visit: Visit,
) -> None:
    await visit.sign_in("ben")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/checkin")
    # ben is no responder and manages no team: the navigation offers only what he can use.
    expected = ["#main", "/", "Sign out", "/", "/checkin", "/me/data", "/checkin?instrument=who5"]
    expected += ["mood-1", "stress-1", "energy-1"]
    expected += [f"who5_{n}-5" for n in range(1, 6)]
    expected += [f"phq9_{n}-0" for n in range(1, 10)]
    expected += ["note", "share_note", "wants_contact", "Send check-in"]
    reached = []
    for _ in expected:
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate(FOCUSED))
    assert reached == expected

    # The skip link moves focus to the main content.
    await page.goto(f"{visit.stack.console_url}/checkin")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"

    # Answer with the keyboard alone: Space picks the focused choice, arrows move within it.
    await page.keyboard.press("Tab")
    assert await page.evaluate(FOCUSED) == "/checkin?instrument=who5"
    await page.keyboard.press("Tab")
    assert await page.evaluate(FOCUSED) == "mood-1"
    await page.keyboard.press("ArrowRight")  # mood 2
    await page.keyboard.press("Tab")
    for _ in range(3):
        await page.keyboard.press("ArrowRight")  # stress 4
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # energy 1
    for _ in range(5):  # WHO-5 left out
        await page.keyboard.press("Tab")
    for item in range(1, 10):
        await page.keyboard.press("Tab")
        await page.keyboard.press("Space" if item < 9 else "ArrowRight")  # item 9: 1
    await page.keyboard.press("Tab")
    await page.keyboard.type("typed without a mouse")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # share the note
    await page.keyboard.press("Tab")
    await page.keyboard.press("Space")  # someone to reach out
    await page.keyboard.press("Tab")
    before = await _checkins(visit.stack)
    await page.keyboard.press("Enter")

    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "You don\u2019t have to face this alone"
    )
    assert page.url == f"{visit.stack.console_url}/checkin/done"
    crisis = page.locator(".crisis")
    await expect(crisis).to_contain_text("Emergency services")
    await expect(crisis).to_contain_text("Find a helpline")
    assert await _checkins(visit.stack) == before + 1, "the check-in service stored it"
    await checked(visit)
    await visit.screenshot("crisis-resources")
    await page.reload()
    assert page.url == f"{visit.stack.console_url}/checkin", "resources are shown once"


async def _checkins(stack: Stack) -> int:
    conn = await asyncpg.connect(stack.endpoints.database_url)
    try:
        return int(await conn.fetchval(f'SELECT count(*) FROM "{stack.checkin_schema}".checkins'))
    finally:
        await conn.close()


async def test_an_invalid_form_is_explained_on_the_page(visit: Visit) -> None:
    await visit.sign_in("cleo")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/checkin")
    await page.check("#who5_1-3")
    await page.click("text=Send check-in")
    await expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    await page.click(".error-summary a")
    assert page.url.endswith("#q-who5_2")
    await checked(visit)
    await visit.screenshot("checkin-error")


async def test_a_forged_or_missing_csrf_token_is_refused(visit: Visit) -> None:
    await visit.sign_in("ada")
    page = visit.page
    before = await _checkins(visit.stack)
    for tamper in (
        "document.querySelector('main input[name=csrf_token]').value = 'forged'",
        "document.querySelector('main input[name=csrf_token]').remove()",
    ):
        await page.goto(f"{visit.stack.console_url}/checkin")
        await page.check("#mood-3")
        await page.evaluate(tamper)
        async with page.expect_response(f"{visit.stack.console_url}/checkin") as answer:
            await page.click("text=Send check-in")
        assert (await answer.value).status == 403
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "This form could not be accepted"
        )
        await checked(visit)
    assert await _checkins(visit.stack) == before
    await visit.screenshot("csrf-refused")
    await page.goto(f"{visit.stack.console_url}/checkin")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check in")


async def test_sign_out_ends_the_session_and_the_old_cookie_no_longer_works(
    visit: Visit, open_visit: Any
) -> None:
    await visit.sign_in("ada")
    page = visit.page
    await expect(page.get_by_role("heading", level=1)).to_have_text("Welcome")
    (cookie,) = [c for c in await visit.context.cookies() if c["name"] == SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    await page.click("text=Sign out")
    await expect(page.get_by_role("heading", level=1)).to_have_text("You are signed out")
    assert page.url.startswith(f"{visit.stack.console_url}/signed-out")
    await checked(visit)
    await visit.screenshot("signed-out")
    # Keycloak's session ended too: signing in asks for the password again.
    await page.goto(f"{visit.stack.console_url}/signin")
    await expect(page.locator("#password")).to_be_visible()
    # The old cookie, replayed from another browser, opens nothing.
    async with open_visit() as other:
        await other.context.add_cookies([cookie])
        await other.page.goto(f"{visit.stack.console_url}/checkin")
        assert other.page.url.startswith(visit.stack.issuer)


async def test_german_when_the_browser_asks_for_de_de(stack: Stack, open_visit: Any) -> None:
    async with open_visit("de-DE") as visit:
        await visit.sign_in("cleo")
        page = visit.page
        await expect(page.get_by_role("heading", level=1)).to_have_text("Willkommen")
        assert await page.get_attribute("html", "lang") == "de-DE"  # German words, German formats
        await checked(visit)
        await page.goto(f"{stack.console_url}/checkin")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Einchecken")
        await expect(page.get_by_text("Ich war froh und guter Laune")).to_be_visible()
        await checked(visit)
        await visit.screenshot("checkin-de")


async def test_a_responder_sees_my_cases_from_the_escalation_service(visit: Visit) -> None:
    await visit.sign_in("rosa")
    page = visit.page
    await page.goto(f"{visit.stack.console_url}/cases")
    await expect(page.get_by_role("heading", level=1)).to_have_text("My cases")
    await expect(page.locator("#case-list")).to_contain_text("Updated at")
    # The refresh button is enhanced by htmx (a file under the CSP): the list is fetched and
    # swapped in place, without loading the page again.
    await page.evaluate("window.kinshipMarker = 'same page'")
    async with page.expect_response(
        lambda response: (
            response.url.endswith("/cases") and response.request.headers.get("hx-request") == "true"
        )
    ) as refreshed:
        await page.click("text=Refresh")
    assert (await refreshed.value).status == 200
    await expect(page.locator("#case-list")).to_contain_text("Updated at")
    assert await page.evaluate("window.kinshipMarker") == "same page"
    await checked(visit)
    await visit.screenshot("my-cases")


async def test_tokens_are_sealed_at_rest_and_carry_the_person_not_roles(visit: Visit) -> None:
    await visit.sign_in("sam")
    await expect(visit.page.get_by_role("heading", level=1)).to_have_text("Welcome")
    (cookie,) = [c for c in await visit.context.cookies() if c["name"] == SESSION_COOKIE]
    id_hash = hashlib.sha256(cookie["value"].encode()).digest()
    conn = await asyncpg.connect(visit.stack.endpoints.database_url)
    try:
        sealed = await conn.fetchval(
            f'SELECT sealed FROM "{visit.stack.console_schema}".sessions WHERE id_hash = $1',
            id_hash,
        )
    finally:
        await conn.close()
    assert sealed is not None
    assert b"eyJ" not in sealed, "no token in clear in the database"
    data = SessionSealer(visit.stack.session_key, "any").open(id_hash, sealed)
    assert data is not None
    access = decode_jwt_claims(data["access_token"])
    identity = decode_jwt_claims(data["id_token"])
    assert access["person_id"] == identity["person_id"] == "sam"
    audience = access["aud"] if isinstance(access["aud"], list) else [access["aud"]]
    assert "kinship" in audience
    assert access["iss"] == visit.stack.issuer
    assert access["exp"] - access["iat"] == 300
    assert not {"roles", "realm_access", "resource_access"} & set(access)
    assert data["refresh_token"]


async def test_pages_without_sign_in_pass_the_accessibility_check(visit: Visit) -> None:
    page = visit.page
    for path, heading in (("/nowhere", "Page not found"), ("/signed-out", "You are signed out")):
        await page.goto(f"{visit.stack.console_url}{path}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        await checked(visit)
    response = await page.goto(f"{visit.stack.console_url}/checkin")
    assert response is not None
    assert re.match(r"^http://127\.0\.0\.1:\d+/realms/kinship/", page.url)
