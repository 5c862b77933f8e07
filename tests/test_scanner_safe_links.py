"""Magic links against mail scanners (Defender Safe Links, Proofpoint, Mimecast...), which open every
link in an email before the person does, some in a headless browser that runs the page's JavaScript.

Headless Chromium plays the scanner, through the served local pool, as a client would: opening the
link changes nothing; only the person's click redeems it; the browser that asked is signed in at once
(its device secret); with SameDeviceLinksOnly, only that browser."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from keyless_client import link_payload, link_secret
from testkit.clients import passwordless, sign_up, verifications
from testkit.mail import code_in, link_in, mailbox

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
ALICE = "alice@example.com"
NO_LONGER_WORKS = "This link no longer works"


def ask_for_a_link_on_the_page(context, server) -> str:
    """The person asks for a link on the demo page in this context; returns the link from the email."""
    page = context.new_page()
    page.goto(server.url + "/")
    page.fill("#email", ALICE)
    page.click("#ask-link")
    page.wait_for_selector("#link-sent:not([hidden])")
    return link_in(mailbox(server)[0])


def scan(context, link: str) -> None:
    """What a scanner that runs JavaScript does: load the page, let it settle, move focus and
    visibility, run every timer for ten minutes; never click."""
    page = context.new_page()
    page.clock.install()
    page.goto(link)
    page.wait_for_load_state("networkidle")
    page.evaluate("window.dispatchEvent(new Event('focus')); document.dispatchEvent(new Event('visibilitychange'))")
    page.clock.run_for(10 * 60 * 1000)
    page.wait_for_load_state("networkidle")


def test_a_scanner_that_runs_the_page_spends_nothing_and_the_persons_click_signs_in(contexts, server):
    sign_up(server, ALICE)
    link = ask_for_a_link_on_the_page(contexts(), server)
    before = verifications(server)

    scan(contexts(), link)
    assert verifications(server) == before  # nothing was redeemed

    person = contexts().new_page()  # another browser: the person's phone, say
    person.goto(link)
    person.wait_for_selector("#land:not([hidden])")
    assert person.inner_text("#land-who") == "a***@e***.com"
    assert "#" not in person.url  # the secret left the address bar at once
    ARTIFACTS.mkdir(exist_ok=True)
    person.screenshot(path=str(ARTIFACTS / "link-landing-confirmation.png"))
    person.click("#land-confirm")
    person.wait_for_selector("#signed-in:not([hidden])")
    assert verifications(server) == before + 1


def test_a_get_and_a_head_without_javascript_change_nothing(contexts, server):
    sign_up(server, ALICE)
    link = ask_for_a_link_on_the_page(contexts(), server)
    before = verifications(server)
    for method in ("GET", "HEAD"):
        with urllib.request.urlopen(urllib.request.Request(link, method=method)) as response:
            assert response.status == 200
    assert verifications(server) == before

    person = contexts().new_page()
    person.goto(link)
    person.click("#land-confirm")
    person.wait_for_selector("#signed-in:not([hidden])")


def test_a_scanner_that_clicks_spends_the_link_and_the_page_says_what_happened(contexts, server):
    sign_up(server, ALICE)
    link = ask_for_a_link_on_the_page(contexts(), server)
    scanner = contexts().new_page()
    scanner.goto(link)
    scanner.click("#land-confirm")
    scanner.wait_for_selector("#signed-in:not([hidden])")  # the link was worth one sign-in, and it had it

    person = contexts().new_page()
    person.goto(link)
    person.click("#land-confirm")
    person.wait_for_selector("#start:not([hidden])")
    message = person.inner_text("#message")
    assert message.startswith(NO_LONGER_WORKS) and "mail scanner" in message and "ask for a new link" in message
    ARTIFACTS.mkdir(exist_ok=True)
    person.screenshot(path=str(ARTIFACTS / "link-already-used.png"))


def test_after_a_scanner_clicked_the_code_from_the_same_email_signs_in_the_tab_that_asked(contexts, server):
    sign_up(server, ALICE)
    asking = contexts().new_page()
    asking.goto(server.url + "/")
    asking.fill("#email", ALICE)
    asking.click("#ask-link")
    asking.wait_for_selector("#link-code-form:not([hidden])")
    mail = mailbox(server)[0]

    scanner = contexts().new_page()
    scanner.goto(link_in(mail))
    scanner.click("#land-confirm")
    scanner.wait_for_selector("#signed-in:not([hidden])")

    asking.fill("#link-code-input", code_in(mail))
    asking.click("#submit-link-code")
    asking.wait_for_selector("#signed-in:not([hidden])")


def test_the_browser_that_asked_is_signed_in_without_a_click_and_any_other_is_asked(contexts, server):
    sign_up(server, ALICE)
    asking = contexts()
    link = ask_for_a_link_on_the_page(asking, server)

    other = contexts().new_page()
    other.goto(link)
    other.wait_for_selector("#land:not([hidden])")  # asked to click, and nothing spent meanwhile

    same = asking.new_page()  # the email opened in the browser that asked: a new tab of it
    same.goto(link)
    same.wait_for_selector("#signed-in:not([hidden])")
    assert same.locator("#land").is_hidden()


def test_a_link_that_has_expired_by_the_browsers_clock_is_not_sent_anywhere(contexts, server):
    sign_up(server, ALICE)
    link = ask_for_a_link_on_the_page(contexts(), server)
    before = verifications(server)
    page = contexts().new_page()
    page.clock.install()
    page.clock.fast_forward(16 * 60 * 1000)  # MagicLinkLifetimeSeconds is 900
    page.goto(link)
    page.wait_for_selector("#start:not([hidden])")
    assert page.inner_text("#message").startswith("This link has expired")
    assert verifications(server) == before


# --- SameDeviceLinksOnly --------------------------------------------------------------------------


@pytest.fixture
def strict_server(serve_pool):
    return serve_pool(parameters={"SameDeviceLinksOnly": "true"})


def test_strict_mode_signs_in_only_the_browser_that_asked(contexts, strict_server):
    server = strict_server
    sign_up(server, ALICE)
    asking = contexts()
    link = ask_for_a_link_on_the_page(asking, server)

    other = contexts().new_page()
    other.goto(link)
    other.click("#land-confirm")
    other.wait_for_selector("#start:not([hidden])")
    assert other.inner_text("#message").startswith(NO_LONGER_WORKS)

    same = asking.new_page()  # refused elsewhere, the link still works where it was asked for
    same.goto(link)
    same.wait_for_selector("#signed-in:not([hidden])")


def test_strict_mode_refuses_the_right_link_with_another_browsers_device_secret(contexts, strict_server):
    server = strict_server
    sign_up(server, ALICE)
    link = ask_for_a_link_on_the_page(contexts(), server)
    impostor = contexts().new_page()
    impostor.goto(server.url + "/")  # same origin, so it can hold a device secret of its own
    # The link's tag is readable: the impostor keeps a secret of its own under it, so the page tries
    # the link at once with that secret.
    tag = link_payload(link_secret(link))["d"]
    impostor.evaluate(
        "([client, tag]) => localStorage.setItem(`keyless.devices:${client}`, JSON.stringify([{ tag, secret: 'A'.repeat(43) }]))",
        [server.pool.client_id, tag],
    )
    impostor.goto(link)
    impostor.wait_for_selector("#start:not([hidden])")
    assert impostor.inner_text("#message").startswith(NO_LONGER_WORKS)


def test_strict_mode_tells_a_client_without_a_device_secret_and_its_code_emails_carry_no_link(strict_server):
    server = strict_server
    sign_up(server, ALICE)
    client = passwordless(server)  # the Python client keeps no device secret
    with pytest.raises(ClientError) as refused:
        client.request_link(client.start(ALICE), server.url + "/")
    assert "open only in the browser that asks for them" in refused.value.response["Error"]["Message"]

    sent = client.request_code(client.start(ALICE))
    mail = mailbox(server)[0]
    assert "#" not in mail["text"]  # no link nobody could open
    assert "AuthenticationResult" in client.answer_code(sent, code_in(mail))
