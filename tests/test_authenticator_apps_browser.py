"""Authenticator apps on the demo page, in headless Chromium against the served local pool (as `make dev`
runs it: AuthenticatorApps=Enabled). The test is the person with the phone: it reads the secret from
the page's own setup response (it scans nothing), makes codes with pyotp, and types them."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from moto import mock_aws
from playwright.sync_api import expect

from testkit.browser import claim_rows
from testkit.clock import Clock
from testkit.deployment import served_pool
from testkit.mail import code_in, last_link, newest_local_mail
from tests.test_passkeys_browser import sign_out, signed_up_and_in

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def clock():
    return Clock(start=time.time())


@pytest.fixture(scope="module")
def server(pool_state_dir, clock):
    parameters = {"AuthenticatorApps": "Enabled", "AuthenticatorAppSecondStep": "Required"}
    with mock_aws(), served_pool(pool_state_dir, parameters=parameters, clock=clock) as served:
        yield served


@pytest.fixture
def page(server, contexts):
    opened = contexts().new_page()
    opened.goto(server.url + "/")
    opened.wait_for_selector("#start:not([hidden])")
    return opened


def set_up_app(page, clock) -> pyotp.TOTP:
    """Set an app up on the page: the secret read from the setup response, its first code typed."""
    page.wait_for_selector("#authenticator:not([hidden])")
    expect(page.locator("#authenticator-status")).to_have_text("None yet: set one up to sign in with its codes.")
    with page.expect_response("**/authenticator-app/start") as setup:
        page.click("#authenticator-setup")
    secret = setup.value.json()["secret"]
    page.wait_for_selector("#authenticator-new:not([hidden])")
    assert page.inner_text("#authenticator-secret").replace(" ", "") == secret
    page.wait_for_function("() => document.getElementById('authenticator-qr').naturalWidth > 0")  # the QR code is drawn
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#authenticator").screenshot(path=str(ARTIFACTS / "demo-authenticator-app-setup.png"))
    phone = pyotp.TOTP(secret)
    page.fill("#authenticator-code", phone.at(clock()))
    page.click("#authenticator-confirm")
    page.wait_for_selector("#message.ok")
    expect(page.locator("#message")).to_have_text("Authenticator app set up: next time, sign in with one of its codes.")
    clock.advance(30)  # the code that confirmed it is used
    return phone


def test_an_app_set_up_on_the_page_signs_in_alone_and_confirms_an_email_code(page, server, clock):
    email = "totp-page@example.com"
    signed_up_and_in(page, server, email)
    phone = set_up_app(page, clock)
    expect(page.locator("#authenticator-status")).to_have_text(re.compile("^Set up on "))
    assert page.locator("#authenticator-remove").is_visible() and not page.locator("#authenticator-setup").is_visible()

    # The app alone: no email.
    sign_out(page)
    mails = len(server.pool.mailbox.messages())
    page.fill("#email", email)
    page.fill("#totp-code", f"{(int(phone.at(clock())) + 1) % 10**6:06d}")
    page.click("#totp-sign-in")
    page.wait_for_selector("#message.error")
    expect(page.locator("#message")).to_have_text("That code is not right. 2 attempts left.")
    page.fill("#totp-code", phone.at(clock()))
    page.click("#totp-sign-in")
    page.wait_for_selector("#signed-in:not([hidden])")
    claims = claim_rows(page, "id-claims")
    assert (claims["sign_in_method"], claims["sign_in_factors"]) == ("totp", '["totp"]')
    assert len(server.pool.mailbox.messages()) == mails

    # An email code, then the second step (AuthenticatorAppSecondStep=Required): tokens after both.
    sign_out(page)
    clock.advance(61)
    page.fill("#email", email)
    page.click("#ask-code")
    page.wait_for_selector("#code:not([hidden])")
    page.fill("#code-input", code_in(newest_local_mail(server.pool, email)))
    page.click("#submit-code")
    page.wait_for_selector("#second-step:not([hidden])")
    clock.advance(30)
    page.fill("#second-step-code", phone.at(clock()))
    page.click("#submit-second-step")
    page.wait_for_selector("#signed-in:not([hidden])")
    claims = claim_rows(page, "id-claims")
    assert (claims["sign_in_method"], claims["sign_in_factors"]) == ("email_otp", '["email_otp","totp"]')

    # Removed, the app signs nobody in, and an email link is enough again.
    page.click("#authenticator-remove")
    page.wait_for_selector("#authenticator-setup:not([hidden])")
    expect(page.locator("#message")).to_have_text("Authenticator app removed: its codes no longer sign in.")
    sign_out(page)
    clock.advance(61)
    page.fill("#email", email)
    page.click("#ask-link")
    page.wait_for_selector("#link-sent:not([hidden])")
    page.goto(last_link(email))
    page.wait_for_selector("#signed-in:not([hidden])")
    assert claim_rows(page, "id-claims")["sign_in_factors"] == '["magic_link"]'


def test_a_link_opened_on_the_page_asks_for_the_app_s_code(page, server, clock):
    email = "totp-link@example.com"
    signed_up_and_in(page, server, email)
    phone = set_up_app(page, clock)
    sign_out(page)
    clock.advance(61)
    page.fill("#email", email)
    page.click("#ask-link")
    page.wait_for_selector("#link-sent:not([hidden])")
    page.goto(last_link(email))  # this browser asked for it: no click needed
    page.wait_for_selector("#second-step:not([hidden])")
    page.fill("#second-step-code", phone.at(clock()))
    page.click("#submit-second-step")
    page.wait_for_selector("#signed-in:not([hidden])")
    assert claim_rows(page, "id-claims")["sign_in_factors"] == '["magic_link","totp"]'
