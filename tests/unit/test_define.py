"""DefineAuthChallenge's state machine, without AWS."""

import pytest

from keyless.core.events import SessionEntry
from keyless.signin.define import decide

ASK_CODE = {"signInMethod": "EMAIL_OTP"}
ASK_LINK = {"signInMethod": "MAGIC_LINK", "redirectUri": "https://app.example.com/"}
HAVE_LINK = {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"}


def entry(step, result, name="CUSTOM_CHALLENGE"):
    return SessionEntry(challenge_name=name, challenge_result=result, step=step, flow="f" if step else None)


def outcome(session, metadata=None, attempts=3):
    d = decide(tuple(session), metadata or {}, attempts)
    return "tokens" if d.issue_tokens else "fail" if d.fail_authentication else d.challenge_name


@pytest.mark.parametrize(
    "session, metadata, expected",
    [
        ([], {}, "CUSTOM_CHALLENGE"),
        ([], HAVE_LINK, "CUSTOM_CHALLENGE"),
        ([entry("CHOOSE_METHOD", False)], ASK_CODE, "CUSTOM_CHALLENGE"),
        ([entry("CHOOSE_METHOD", False)], ASK_LINK, "CUSTOM_CHALLENGE"),
        # no method named: CreateAuthChallenge answers with the methods there are ("Choose a sign-in method")
        ([entry("CHOOSE_METHOD", False)], {}, "CUSTOM_CHALLENGE"),
        ([entry("CHOOSE_METHOD", False)], HAVE_LINK, "fail"),
        ([entry("CHOOSE_METHOD", True)], HAVE_LINK, "tokens"),
        ([entry("CHOOSE_METHOD", False), entry("MAGIC_LINK", True)], ASK_LINK, "tokens"),
        ([entry("CHOOSE_METHOD", False), entry("MAGIC_LINK", False)], HAVE_LINK, "fail"),
        ([entry("CHOOSE_METHOD", False), entry("EMAIL_OTP", True)], ASK_CODE, "tokens"),
        ([entry("CHOOSE_METHOD", False), entry("EMAIL_OTP", False)], ASK_CODE, "CUSTOM_CHALLENGE"),
        ([entry("CHOOSE_METHOD", False)] + [entry("EMAIL_OTP", False)] * 2, ASK_CODE, "CUSTOM_CHALLENGE"),
        ([entry("CHOOSE_METHOD", False)] + [entry("EMAIL_OTP", False)] * 3, ASK_CODE, "fail"),
        ([entry("CHOOSE_METHOD", False)] + [entry("EMAIL_OTP", False)] * 2 + [entry("EMAIL_OTP", True)], ASK_CODE, "tokens"),
        # metadata asking for another email after round 1 does not restart the flow
        ([entry("CHOOSE_METHOD", False), entry("MAGIC_LINK", False)], ASK_LINK, "fail"),
        # foreign or tampered sessions
        ([entry(None, True)], {}, "fail"),
        ([entry("CHOOSE_METHOD", True, name="SRP_A")], {}, "fail"),
        ([entry("CHOOSE_METHOD", False), entry("CHOOSE_METHOD", False)], ASK_CODE, "fail"),
        ([entry("CHOOSE_METHOD", False)] + [entry("EMAIL_OTP", False)] * 11, ASK_CODE, "fail"),
    ],
)
def test_decisions(session, metadata, expected):
    assert outcome(session, metadata) == expected


def test_client_metadata_alone_never_issues_tokens():
    for metadata in (ASK_CODE, ASK_LINK, HAVE_LINK, {"issueTokens": "true"}):
        for session in ([], [entry("CHOOSE_METHOD", False)], [entry("CHOOSE_METHOD", False), entry("EMAIL_OTP", False)]):
            assert outcome(session, metadata) != "tokens"


def test_attempts_are_configurable():
    session = [entry("CHOOSE_METHOD", False), entry("EMAIL_OTP", False)]
    assert outcome(session, ASK_CODE, attempts=1) == "fail"
    assert outcome(session, ASK_CODE, attempts=2) == "CUSTOM_CHALLENGE"


def test_response_shape():
    assert decide((), {}, 3).as_response() == {
        "challengeName": "CUSTOM_CHALLENGE",
        "issueTokens": False,
        "failAuthentication": False,
    }
    tokens = decide((entry("CHOOSE_METHOD", True),), HAVE_LINK, 3)
    assert tokens.as_response() == {"issueTokens": True, "failAuthentication": False}
    assert tokens.method == "MAGIC_LINK"


# --- the second step (an authenticator app after an email proof) ------------------------------------------


def marked(step, result, then="TOTP"):
    return SessionEntry(challenge_name="CUSTOM_CHALLENGE", challenge_result=result, step=step, flow="f", then=then)


@pytest.mark.parametrize(
    "session, metadata, expected",
    [
        # An accepted email proof of a round CreateAuthChallenge marked: the second step's round, not tokens.
        ([marked("CHOOSE_METHOD", False), marked("EMAIL_OTP", True)], ASK_CODE, "CUSTOM_CHALLENGE"),
        ([marked("CHOOSE_METHOD", True)], HAVE_LINK, "CUSTOM_CHALLENGE"),
        ([marked("CHOOSE_METHOD", False), marked("MAGIC_LINK", True)], ASK_LINK, "CUSTOM_CHALLENGE"),
        # A passkey answering round 1 is no email proof: tokens.
        ([marked("CHOOSE_METHOD", True)], {"signInMethod": "FIDO2"}, "tokens"),
        # The second step's answer: tokens after both, another round after a wrong one, up to the attempts.
        ([marked("CHOOSE_METHOD", False), marked("EMAIL_OTP", True), entry("TOTP_STEP_UP", True)], {}, "tokens"),
        ([marked("CHOOSE_METHOD", False), marked("EMAIL_OTP", True), entry("TOTP_STEP_UP", False)], {}, "CUSTOM_CHALLENGE"),
        ([marked("CHOOSE_METHOD", False), marked("EMAIL_OTP", True)] + [entry("TOTP_STEP_UP", False)] * 3, {}, "fail"),
        # A second step's round that no accepted marked round asked for gives nothing.
        ([entry("CHOOSE_METHOD", False), entry("EMAIL_OTP", True), entry("TOTP_STEP_UP", True)], {}, "fail"),
        ([entry("CHOOSE_METHOD", False), entry("TOTP_STEP_UP", True)], {}, "fail"),
        # The authenticator app as the method: its round is never marked, and asks again after a wrong code.
        ([entry("CHOOSE_METHOD", False), entry("TOTP", True)], {"signInMethod": "TOTP"}, "tokens"),
        ([entry("CHOOSE_METHOD", False), entry("TOTP", False)], {"signInMethod": "TOTP"}, "CUSTOM_CHALLENGE"),
    ],
)
def test_second_step_decisions(session, metadata, expected):
    assert outcome(session, metadata) == expected


def test_client_metadata_never_skips_the_second_step():
    session = [marked("CHOOSE_METHOD", False), marked("EMAIL_OTP", True)]
    for metadata in (ASK_CODE, HAVE_LINK, {"signInMethod": "TOTP"}, {"signInMethod": "FIDO2"}, {"issueTokens": "true"}):
        assert outcome(session, metadata) == "CUSTOM_CHALLENGE"
