"""A hostile review of scanner-safe links (b9378b2) and the code in a link's email (6f07ef5): attacks
driven from outside, as a client (or a browser on the demo page) would, through the local user pool.

Attacks that worked are marked xfail(strict=True): each asserts the secure behaviour, so it fails
until the flaw is fixed. The others are attacks the defences held against, kept where they cover
what the feature's own tests do not.
"""

from __future__ import annotations

import contextlib
import html
import re
import secrets

import boto3
import pytest
from botocore.exceptions import ClientError

from keyless.methods import magic_link
from keyless_client import link_secret, link_user
from localpool.deployment import REGION
from testkit.clients import passwordless, sign_up, verifications
from testkit.deployment import use_environment
from testkit.mail import emails_to, last_code, last_link, link_in, mailbox, wrong

ALICE = "alice@example.com"
BOB = "bob@example.com"
MALLORY = "mallory@example.com"
APP = "https://app.example.com/signin"
NOT_AUTHORIZED = "Incorrect username or password."


# --- the protocol, as the demo page speaks it ----------------------------------------------------------


def new_device() -> str:
    """A device secret as the demo page makes one: 32 random bytes, base64url without padding."""
    return secrets.token_urlsafe(32)


def ask_for_link(client, who: str, device: str | None = None) -> dict:
    """Round 2 of a sign-in for `who`: a link, from a browser keeping `device` (only its hash is sent)."""
    metadata = {"signInMethod": "MAGIC_LINK", "redirectUri": APP}
    if device is not None:
        metadata["deviceHash"] = magic_link.device_hash_of(device)
    return client.respond(client.start(who), "-", metadata)


def open_link(client, link: str, device: str | None = None) -> dict:
    """What the page a link opens does: a fresh sign-in answered with the link, with this browser's
    device secret if it holds one. Raises ClientError when refused."""
    secret = link_secret(link)
    metadata = {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"}
    if device is not None:
        metadata["deviceSecret"] = device
    return client.respond(client.start(link_user(secret)), secret, metadata)


def answer_in_round(client, challenge: dict, answer: str) -> dict:
    """Answer a live code round as the page's code box does (a link-shaped answer is routed to the link)."""
    return client.respond(challenge, answer, {"signInMethod": "EMAIL_OTP"})


def refusal(call) -> str:
    with pytest.raises(ClientError) as excinfo:
        call()
    return str(excinfo.value.response["Error"]["Message"])


def newest_link(address: str) -> str | None:
    """The link in the newest email to `address`, or None when it carries none."""
    found = re.search(r'href="([^"]+)"', str(emails_to(address)[-1].body))
    return html.unescape(found.group(1)) if found else None


def signed_in(answer: dict) -> bool:
    return "AuthenticationResult" in answer


# --- strict mode (SameDeviceLinksOnly) ---------------------------------------------------------------


def test_strict_mode_takes_no_stand_in_for_the_device_secret(client, make_user, clock, monkeypatch):
    """Attack: replay what went over the wire with the request (deviceHash) as deviceSecret, send
    none, send its hash once more, or a secret of the same browser's earlier, superseded request.
    Each is refused without spending the link; the right secret then signs in."""
    use_environment(monkeypatch, SAME_DEVICE_LINKS_ONLY="true")
    make_user(ALICE)
    stale = new_device()
    ask_for_link(client, ALICE, stale)
    clock.advance(61)
    device = new_device()
    ask_for_link(client, ALICE, device)
    link = last_link(ALICE)
    hashed = magic_link.device_hash_of(device)
    for stand_in in (hashed, None, magic_link.device_hash_of(hashed), stale, device + "=", device[:-1]):
        assert refusal(lambda stand_in=stand_in: open_link(client, link, stand_in)) == NOT_AUTHORIZED, stand_in
    assert signed_in(open_link(client, link, device))


def test_strict_mode_the_code_rounds_link_route_has_no_fallback(client, make_user, monkeypatch):
    """Attack: answer the link in the code round of the window that asked (the route any email's
    round takes for a link-shaped answer), without the device secret, hoping for the non-strict
    fallback write, or with another browser's secret. Each is refused (a wrong answer of the round)
    and spends nothing: the link then opens with the right secret, which spends the code too."""
    use_environment(monkeypatch, SAME_DEVICE_LINKS_ONLY="true")
    make_user(ALICE)
    device = new_device()
    sent = ask_for_link(client, ALICE, device)
    assert sent["ChallengeParameters"]["step"] == "EMAIL_OTP"
    again = answer_in_round(client, sent, link_secret(last_link(ALICE)))
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"
    again = client.respond(again, link_secret(last_link(ALICE)), {"signInMethod": "EMAIL_OTP", "deviceSecret": new_device()})
    assert again["ChallengeParameters"]["attemptsLeft"] == "1"
    assert signed_in(open_link(client, last_link(ALICE), device))  # not spent by the refused answers
    assert refusal(lambda: client.answer_code(again, last_code(ALICE))) == NOT_AUTHORIZED  # the link spent it


LOCKOUT = "review: someone asking for the owner once a minute keeps her out for good"


@pytest.mark.parametrize(
    "environment",
    [
        {},
        pytest.param(
            {"SAME_DEVICE_LINKS_ONLY": "true"}, marks=pytest.mark.xfail(strict=True, reason=LOCKOUT + " (SameDeviceLinksOnly)")
        ),
        pytest.param(
            {"SIGN_IN_METHODS": "EMAIL_OTP"},
            marks=pytest.mark.xfail(strict=True, reason=LOCKOUT + " (codes only: her own email of the window goes too)"),
        ),
    ],
    ids=["links-any-browser", "same-device-links-only", "codes-only"],
)
def test_someone_asking_for_the_owner_every_minute_cannot_keep_her_out(client, make_user, clock, monkeypatch, environment):
    """Attack: ask for a code for Alice (no device hash: allowed, and in strict mode the email then
    carries no link) as soon as each 60 s cooldown ends. Every such email replaces Alice's proofs;
    her own requests meet the cooldown; once the mailbox's 3 are spent, the attacker's next request
    takes the email her address keeps for itself (reservedAt is written only when links work in any
    browser), and from then on nobody gets one until the window moves, when a polling attacker is
    first again. Links for any browser: she signs in with the newest email's link (the README's
    promise, "A user whom someone else keeps asking emails for still signs in"). SameDeviceLinksOnly
    (new) and codes only (documented as carrying nothing for the owner, but "the mailbox's own
    address still gets its one email a window", which it does not): she never signs in."""
    use_environment(monkeypatch, **environment)
    links_offered = "SIGN_IN_METHODS" not in environment
    make_user(ALICE)
    attacker = client  # another session of the same public API: nothing of Alice's
    device = new_device()  # Alice's browser

    def alice_signs_in() -> bool:
        """Alice opens the newest email's link if it has one, else asks for an email of her own."""
        link = newest_link(ALICE)
        try:
            if link is not None and signed_in(open_link(client, link, device)):
                return True
        except ClientError:
            pass
        try:
            if links_offered:
                ask_for_link(client, ALICE, device)
                return signed_in(open_link(client, last_link(ALICE), device))
            sent = client.request_code(client.start(ALICE))
            return signed_in(client.answer_code(sent, last_code(ALICE)))
        except ClientError:
            return False

    in_at = None
    for minute in range(6):
        with contextlib.suppress(ClientError):  # refused once the mailbox's budget is spent: nobody gets one
            attacker.request_code(attacker.start(ALICE))
        if alice_signs_in():
            in_at = minute
            break
        clock.advance(30)
        if alice_signs_in():
            in_at = minute
            break
        clock.advance(31)
    assert in_at is not None, "Alice never signed in while someone kept asking for her"


# --- the code round takes any email's link ---------------------------------------------------------------


def test_link_shaped_answers_use_up_the_rounds_attempts_and_nothing_of_the_budget(client, make_user, clock, monkeypatch):
    """Attack: in a link request's code round, answer link-shaped things (forged, tampered, another
    user's genuine link) to get more rounds than MaxCodeAttempts, or to get rounds no wrong-code
    budget sees. Each is a wrong answer of the round (3 in all), none counts as a wrong code (the
    budget of 1 is intact after), and Bob's link answered in Alice's round is not spent."""
    use_environment(monkeypatch, MAX_WRONG_CODES="1")
    make_user(ALICE)
    make_user(BOB)
    ask_for_link(client, BOB)
    bobs = last_link(BOB)
    clock.advance(1)
    sent = ask_for_link(client, ALICE)
    alices = link_secret(last_link(ALICE))
    payload, signature = alices.split(".")
    again = answer_in_round(client, sent, "forged.link")
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"
    again = answer_in_round(client, again, f"{payload}.{signature[::-1]}")
    assert again["ChallengeParameters"]["attemptsLeft"] == "1"
    assert refusal(lambda: answer_in_round(client, again, link_secret(bobs))) == NOT_AUTHORIZED
    clock.advance(61)
    assert client.request_code(client.start(ALICE))["ChallengeParameters"]["step"] == "EMAIL_OTP"  # not locked
    assert signed_in(open_link(client, bobs))


def test_one_link_email_signs_in_at_most_twice_whatever_answers_it(client, make_user):
    """Attack: after a scanner (no device secret) used the link, try to get a third sign-in from the
    email: the link with the asking browser's device secret, the link answered in the asking window's
    code round (the retry rule lets a flow answer again what it spent), then the code in a new round.
    Only the code, in the window that asked, signs in."""
    make_user(ALICE)
    device = new_device()
    sent = ask_for_link(client, ALICE, device)
    link, code = last_link(ALICE), last_code(ALICE)
    assert signed_in(open_link(client, link))  # the scanner that clicked
    assert refusal(lambda: open_link(client, link, device)) == NOT_AUTHORIZED
    again = answer_in_round(client, sent, link_secret(link))
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"
    assert signed_in(client.answer_code(again, code))
    assert refusal(lambda: open_link(client, link, device)) == NOT_AUTHORIZED


def test_over_the_budget_known_and_unknown_addresses_get_the_same_link_alone_round(client, make_user, clock, monkeypatch):
    """Enumeration: over the wrong-code budget a link request's round is a link's alone; an unknown
    address over its budget gets the very same round (only USERNAME, expiresAt and sentTo differ)."""
    use_environment(monkeypatch, MAX_WRONG_CODES="1")
    make_user(ALICE)
    unknown = "alfred@example.com"
    for who in (ALICE, unknown):
        sent = client.request_code(client.start(who))
        client.answer_code(sent, wrong(last_code(ALICE)) if who == ALICE else "000000")
    clock.advance(61)
    known = ask_for_link(client, ALICE)["ChallengeParameters"]
    other = ask_for_link(client, unknown)["ChallengeParameters"]
    assert known["step"] == other["step"] == "MAGIC_LINK"
    ignored = ("USERNAME", "expiresAt", "sentTo")
    assert {k: v for k, v in known.items() if k not in ignored} == {k: v for k, v in other.items() if k not in ignored}
    assert known.keys() == other.keys()


# --- nothing secret leaves ----------------------------------------------------------------------------------


def test_no_device_secret_hash_or_binding_in_logs_or_challenge_parameters(
    client, make_user, clock, monkeypatch, capfd, log_lines, deployment
):
    """The device secret, its hash (sent with the request), the keyed binding the table keeps, and
    the link and code of every link-with-code email appear in no log line and no ChallengeParameters,
    on accepted and refused paths (the fallback write, strict refusals, a link answered in a code
    round), strict or not."""
    make_user(ALICE)
    devices = [new_device() for _ in range(3)]
    shown: list[dict] = []
    shown.append(ask_for_link(client, ALICE, devices[0])["ChallengeParameters"])
    assert signed_in(open_link(client, last_link(ALICE), devices[1]))  # a stale secret: the fallback write
    clock.advance(61)
    use_environment(monkeypatch, SAME_DEVICE_LINKS_ONLY="true")
    sent = ask_for_link(client, ALICE, devices[2])
    shown.append(sent["ChallengeParameters"])
    with pytest.raises(ClientError):
        open_link(client, last_link(ALICE), magic_link.device_hash_of(devices[2]))
    shown.append(answer_in_round(client, sent, link_secret(last_link(ALICE)))["ChallengeParameters"])
    assert signed_in(open_link(client, last_link(ALICE), devices[2]))

    table = boto3.client("dynamodb", region_name=REGION).scan(TableName=deployment.table_name)["Items"]
    bindings = [item["linkDevice"]["S"] for item in table if "linkDevice" in item]
    bodies = [str(email.body) for email in emails_to(ALICE)]
    proofs = [found for body in bodies for found in re.findall(r">(\d{6})<|#([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", body)]
    emailed = [value for pair in proofs for value in pair if value]
    assert len(emailed) >= 2 * len(bodies)  # each link request's email: its link and its code
    output = capfd.readouterr()
    logs = output.out + output.err + log_lines.getvalue()
    assert '"message":"answer rejected"' in logs  # the logs were captured at all
    for value in (*devices, *(magic_link.device_hash_of(d) for d in devices), *bindings, *emailed):
        assert value not in logs
        assert all(value not in str(parameters) for parameters in shown)


# --- the demo page ----------------------------------------------------------------------------------------------


def ask_on_the_page(context, server, email: str, button: str = "#ask-link"):
    page = context.new_page()
    page.goto(server.url + "/")
    page.fill("#email", email)
    page.click(button)
    page.wait_for_selector("#link-sent:not([hidden]), #code:not([hidden]), #message:not([hidden])")
    return page


def landed(page) -> str:
    """Where a page that opened a link settles: land (asks for a click), signed-in or start."""
    page.wait_for_selector("#land:not([hidden]), #signed-in:not([hidden]), #start:not([hidden])")
    return next(section for section in ("land", "signed-in", "start") if page.is_visible(f"#{section}"))


@pytest.mark.browser
def test_a_browser_that_once_asked_still_waits_for_a_click_on_someone_elses_link(contexts, server):
    """Attack (login CSRF, and the 'only on a click' promise): Alice once signed in on the page with a
    code, so her browser keeps a device secret (the page drops it only after a link sign-in).
    Mallory asks for a genuine link to her own account and gets Alice to open it (or a mail gateway
    running in a profile that once asked opens it). The page (app.js at 89f541c; since 3922d6a the
    web kit's openLink, fromThisBrowser = Boolean(any secret for the client)) redeems at once, and
    the server, off strict mode, falls back to spending the link alone: Alice's browser is signed
    in as Mallory with no click at all."""
    sign_up(server, ALICE)
    sign_up(server, MALLORY)
    alices = contexts()
    page = ask_on_the_page(alices, server, ALICE, "#ask-code")
    page.fill("#code-input", re.search(r"^\s*(\d{6})\s*$", mailbox(server)[0]["text"], re.M).group(1))
    page.click("#submit-code")
    page.wait_for_selector("#signed-in:not([hidden])")

    mallory = passwordless(server)
    mallory.request_link(mallory.start(MALLORY), server.url + "/")
    link = link_in(next(m for m in mailbox(server) if MALLORY in m["to"]))
    before = verifications(server)
    opened = alices.new_page()
    opened.goto(link)
    where = landed(opened)
    assert (where, verifications(server)) == ("land", before), opened.inner_text("#who") if where == "signed-in" else where


@pytest.fixture
def strict_server(serve_pool):
    return serve_pool(parameters={"SameDeviceLinksOnly": "true"})


@pytest.mark.browser
def test_strict_mode_a_refused_second_request_leaves_the_browser_its_link(contexts, strict_server):
    """Attack on availability (strict mode): the person asks for a link, then asks again in another
    tab (or clicks twice) and is told to wait. The page (app.js askFor; since 3922d6a the web kit's
    #request) had already replaced its device secret with a new one for the refused request, so the
    link that was sent no longer opens in the very browser that asked: 'This link no longer works'."""
    server = strict_server
    sign_up(server, ALICE)
    browser_that_asked = contexts()
    ask_on_the_page(browser_that_asked, server, ALICE)
    link = link_in(mailbox(server)[0])
    second = ask_on_the_page(browser_that_asked, server, ALICE)
    assert "wait" in second.inner_text("#message")  # refused: one email a minute
    assert len(mailbox(server)) == 1
    opened = browser_that_asked.new_page()
    opened.goto(link)
    assert landed(opened) == "signed-in", opened.inner_text("#message")
