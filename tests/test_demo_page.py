"""The demo sign-in page in headless Chromium (Debian's chromium, driven by playwright), against the
local user pool running in a thread: sign up, link from the mailbox, code, the error messages, and
the same page talking to "Cognito" at its AWS address."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from testkit.browser import claim_rows
from testkit.mail import code_in, link_in, mailbox, wrong

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
ALICE = "alice@example.com"
TIMEOUT_MS = 15_000


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], errors  # no JavaScript error on any path


def newest_code(server) -> str:
    return code_in(mailbox(server)[0])


def sign_up_on_the_page(page, server, email: str = ALICE) -> None:
    page.goto(server.url + "/")
    page.fill("#email", email)
    page.click("#sign-up")
    page.wait_for_selector("#message.ok")
    assert "Account created" in page.inner_text("#message")


def test_sign_up_then_sign_in_with_a_link_from_the_mailbox(page, server):
    sign_up_on_the_page(page, server)
    page.click("#ask-link")
    page.wait_for_selector("#link-sent:not([hidden])")
    assert page.inner_text("#link-to") == "a***@e***.com"

    page.goto(server.url + "/mailbox")
    link = page.locator(".mail").first.locator("pre a")
    href = link.get_attribute("href")
    assert href.startswith(server.url + "/#")
    link.click()

    page.wait_for_selector("#signed-in:not([hidden])")
    assert page.url == server.url + "/"  # the secret left the address bar at once
    assert page.inner_text("#who") == ALICE
    id_claims, access_claims = claim_rows(page, "id-claims"), claim_rows(page, "access-claims")
    assert id_claims["email"] == ALICE and id_claims["token_use"] == "id" and id_claims["email_verified"] == "true"
    assert id_claims["iss"] == f"{server.url}/{server.pool.pool_id}"
    assert access_claims["token_use"] == "access" and access_claims["client_id"] == server.pool.client_id
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-signed-in.png"), full_page=True)

    page.click("#refresh")
    page.wait_for_selector("#message.ok")
    assert page.inner_text("#message") == "Tokens refreshed."
    page.click("#sign-out")
    page.wait_for_selector("#start:not([hidden])")
    assert page.inner_text("#message") == "You are signed out."


def test_code_path_with_a_wrong_code_first(page, server):
    sign_up_on_the_page(page, server)
    page.click("#ask-code")
    page.wait_for_selector("#code:not([hidden])")
    assert page.inner_text("#code-to") == "a***@e***.com"
    code = newest_code(server)
    page.fill("#code-input", wrong(code))
    page.click("#submit-code")
    page.wait_for_selector("#message.error")
    assert page.inner_text("#message") == "That code is not right (or has expired). 2 attempts left."
    page.fill("#code-input", code)
    page.click("#submit-code")
    page.wait_for_selector("#signed-in:not([hidden])")
    assert claim_rows(page, "id-claims")["email"] == ALICE


def test_three_wrong_codes_then_too_many_requests(page, server):
    from playwright.sync_api import expect

    sign_up_on_the_page(page, server)
    page.click("#ask-code")
    page.wait_for_selector("#code:not([hidden])")
    code = newest_code(server)
    for left in ("2 attempts", "1 attempt"):
        page.fill("#code-input", wrong(code))
        page.click("#submit-code")
        expect(page.locator("#message")).to_have_text(f"That code is not right (or has expired). {left} left.")
    page.fill("#code-input", wrong(code))
    page.click("#submit-code")
    page.wait_for_selector("#start:not([hidden])")
    expect(page.locator("#message")).to_have_text("Too many wrong codes, or the code expired. Ask for a new one.")
    page.click("#ask-code")
    expect(page.locator("#message")).to_have_text(
        re.compile(r"^Too many requests: please wait \d+ seconds before asking for another email\.$")
    )
    assert page.locator("#start").is_visible()


def test_expired_link(page, server, served_clock):
    sign_up_on_the_page(page, server)
    page.click("#ask-link")
    page.wait_for_selector("#link-sent:not([hidden])")
    link = link_in(mailbox(server)[0])
    served_clock.advance(15 * 60 + 1)
    page.goto(link)
    page.wait_for_selector("#start:not([hidden])")
    # The server's clock says expired, the browser's does not (that case: test_scanner_safe_links):
    # the server refuses, and the page gives the same words whatever the reason.
    assert page.inner_text("#message").startswith("This link no longer works: it was used already")


def test_the_page_talks_to_cognito_at_its_aws_address(page, server):
    """With ?region=&clientId= the page calls https://cognito-idp.<region>.amazonaws.com/; here that
    address is routed to the local pool (no network), which answers as Cognito would."""
    seen: list[str] = []

    def to_local_pool(route):
        request = route.request
        if request.method == "OPTIONS":
            forwarded = urllib.request.Request(server.url + "/", method="OPTIONS", headers=dict(request.headers))
        else:
            seen.append(request.headers["x-amz-target"])
            forwarded = urllib.request.Request(
                server.url + "/", data=request.post_data_buffer, headers=dict(request.headers), method="POST"
            )
        try:
            with urllib.request.urlopen(forwarded) as response:
                route.fulfill(status=response.status, headers=dict(response.headers), body=response.read())
        except urllib.error.HTTPError as error:
            route.fulfill(status=error.code, headers=dict(error.headers), body=error.read())

    page.route("https://cognito-idp.us-east-1.amazonaws.com/**", to_local_pool)
    page.goto(f"{server.url}/?region=us-east-1&clientId={server.pool.client_id}")
    page.wait_for_selector("#start:not([hidden])")
    assert page.inner_text("#target") == f"Amazon Cognito, us-east-1, app client {server.pool.client_id}"
    page.fill("#email", ALICE)
    page.click("#sign-up")
    page.wait_for_selector("#message.ok")
    page.click("#ask-code")
    page.wait_for_selector("#code:not([hidden])")
    page.fill("#code-input", newest_code(server))
    page.click("#submit-code")
    page.wait_for_selector("#signed-in:not([hidden])")
    assert seen[:2] == ["AWSCognitoIdentityProviderService.SignUp", "AWSCognitoIdentityProviderService.InitiateAuth"]
    assert "AWSCognitoIdentityProviderService.RespondToAuthChallenge" in seen


def test_bad_configuration_is_explained(page, server):
    page.goto(f"{server.url}/?region=mars&clientId=x")
    page.wait_for_selector("#message.error")
    assert "Give both region" in page.inner_text("#message")
