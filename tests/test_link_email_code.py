"""A magic link's email also carries a code (LinkEmailsCarryCode, on by default, with EMAIL_OTP
offered): the window that asked can type it, which is the way in when a mail scanner has used the
link up. Through the local pool, as a client would."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from keyless.methods import magic_link
from keyless_client import link_secret
from testkit.deployment import use_environment
from testkit.mail import emails_to, last_code, last_link, wrong

ALICE = "alice@example.com"
APP = "https://app.example.com/signin"


def refused(call) -> str:
    with pytest.raises(ClientError) as excinfo:
        call()
    return excinfo.value.response["Error"]["Message"]


def test_a_link_request_is_answered_by_a_code_round_and_the_email_carries_both(client, make_user):
    make_user(ALICE)
    sent = client.request_link(client.start(ALICE), APP)
    params = sent["ChallengeParameters"]
    assert params["step"] == "EMAIL_OTP" and params["codeLength"] == "6" and params["attemptsLeft"] == "3"
    email = emails_to(ALICE)[-1]
    assert email.subject == "Your sign-in link for Keyless"
    assert last_link(ALICE).startswith(APP + "#") and re.fullmatch(r"\d{6}", last_code(ALICE))
    assert "AuthenticationResult" in client.answer_code(sent, last_code(ALICE))


def test_the_code_spends_the_link(client, make_user):
    make_user(ALICE)
    sent = client.request_link(client.start(ALICE), APP)
    client.answer_code(sent, last_code(ALICE))
    assert refused(lambda: client.sign_in_with_link(last_link(ALICE))) == "Incorrect username or password."


def test_the_link_opened_elsewhere_leaves_the_code_to_the_window_that_asked(client, make_user):
    """A mail scanner that clicks (or the person on another device) spends the link; the code still
    signs in the window that asked, once."""
    make_user(ALICE)
    sent = client.request_link(client.start(ALICE), APP)
    assert "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))  # no device secret: elsewhere
    assert "AuthenticationResult" in client.answer_code(sent, last_code(ALICE))
    assert refused(lambda: client.sign_in_with_link(last_link(ALICE))) == "Incorrect username or password."


def test_the_link_opened_by_the_browser_that_asked_spends_the_code(client, make_user):
    """The asking browser (its device secret) opens the link in a new tab: the window that asked
    cannot then sign in a second time with the code."""
    make_user(ALICE)
    device_secret = "D" * 43
    sent = client.respond(
        client.start(ALICE),
        "-",
        {"signInMethod": "MAGIC_LINK", "redirectUri": APP, "deviceHash": magic_link.device_hash_of(device_secret)},
    )
    fresh = client.start(ALICE)
    opened = client.respond(
        fresh,
        link_secret(last_link(ALICE)),
        {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes", "deviceSecret": device_secret},
    )
    assert "AuthenticationResult" in opened
    assert "AuthenticationResult" not in client.answer_code(sent, last_code(ALICE))


def test_wrong_codes_count_against_the_users_budget_and_get_more_tries(client, make_user):
    make_user(ALICE)
    sent = client.request_link(client.start(ALICE), APP)
    again = client.answer_code(sent, wrong(last_code(ALICE)))
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"
    assert "AuthenticationResult" in client.answer_code(again, last_code(ALICE))


def test_over_the_wrong_code_budget_the_link_goes_alone(client, make_user, clock, monkeypatch):
    use_environment(monkeypatch, MAX_WRONG_CODES="1")
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    client.answer_code(sent, wrong(last_code(ALICE)))  # the budget is spent
    clock.advance(61)
    linked = client.request_link(client.start(ALICE), APP)
    assert linked["ChallengeParameters"]["step"] == "MAGIC_LINK"
    assert not re.search(r">(\d{6,8})<", emails_to(ALICE)[-1].body)
    assert "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))


def test_off_the_link_email_carries_no_code(client, make_user, monkeypatch):
    use_environment(monkeypatch, LINK_EMAIL_CODE="false")
    make_user(ALICE)
    sent = client.request_link(client.start(ALICE), APP)
    assert sent["ChallengeParameters"]["step"] == "MAGIC_LINK" and "codeLength" not in sent["ChallengeParameters"]
    assert not re.search(r">(\d{6,8})<", emails_to(ALICE)[-1].body)


def test_without_codes_offered_the_link_email_carries_no_code(client, make_user, monkeypatch):
    use_environment(monkeypatch, SIGN_IN_METHODS="MAGIC_LINK")
    make_user(ALICE)
    assert client.request_link(client.start(ALICE), APP)["ChallengeParameters"]["step"] == "MAGIC_LINK"


def test_an_unknown_user_gets_the_same_rounds(client, make_user):
    make_user(ALICE)
    known = client.request_link(client.start(ALICE), APP)
    unknown = client.request_link(client.start("alfred@example.com"), APP)
    assert known["ChallengeParameters"].keys() == unknown["ChallengeParameters"].keys()
    assert {k: v for k, v in unknown["ChallengeParameters"].items() if k not in ("USERNAME", "expiresAt")} == {
        k: v for k, v in known["ChallengeParameters"].items() if k not in ("USERNAME", "expiresAt")
    } | {"sentTo": "a***@e***.com"}
    assert emails_to("alfred@example.com") == []


def test_a_replaced_template_folder_without_the_new_kind_uses_its_code_emails(tmp_path):
    from keyless.aws.mailer import Templates

    for kind in ("magic_link", "email_otp", "email_otp_only"):
        for part in ("subject.txt", "txt", "html"):
            (tmp_path / f"{kind}.{part}").write_text(f"{kind} $code $link$fallback")
    email = Templates(tmp_path).render(magic_link.EMAIL_KIND_WITH_CODE, code="123456", link="https://x/#t")
    assert email.text == "email_otp 123456 https://x/#t" and email.subject.startswith("email_otp")


def test_the_email_says_how_long_each_works(client, make_user):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    body = emails_to(ALICE)[-1].body
    assert "The link works once, for 15 minutes; the code works once, in that window, for 10 minutes." in body


def test_a_replaced_folder_with_part_of_the_new_kind_uses_its_code_emails(tmp_path):
    from keyless.aws.mailer import Templates

    for kind in ("magic_link", "email_otp", "email_otp_only"):
        for part in ("subject.txt", "txt", "html"):
            (tmp_path / f"{kind}.{part}").write_text(f"{kind} $code $link$fallback")
    (tmp_path / "magic_link_code.txt").write_text("half a template")
    email = Templates(tmp_path).render(magic_link.EMAIL_KIND_WITH_CODE, code="123456", link="https://x/#t")
    assert email.text.startswith("email_otp")
