"""Whole sign-ins through the local user pool (Cognito's rounds, the template's real handlers, moto)."""

from __future__ import annotations

import time

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError

from keyless.aws import runtime
from keyless_client import link_secret, link_user
from localpool.deployment import REGION
from testkit.clients import error_code, error_message, passwordless, refused, sign_up
from testkit.concurrency import HeldFirstCall, run_at_once
from testkit.mail import emails_to, last_code, last_link, sent_emails, wrong

APP = "https://app.example.com/welcome"
ALICE = "alice@example.com"
BOB = "bob@example.com"


def email_verified(cognito, deployment, email: str) -> str:
    user = cognito.admin_get_user(UserPoolId=deployment.pool_id, Username=email)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}.get("email_verified", "false")


def id_claims(result: dict) -> dict:
    return jwt.decode(result["AuthenticationResult"]["IdToken"], options={"verify_signature": False})


# --- happy paths -------------------------------------------------------------------------------


def test_round_one_offers_both_methods_and_sends_nothing(client, make_user):
    make_user(ALICE)
    first = client.start(ALICE)
    assert first["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert first["ChallengeParameters"]["methods"] == "MAGIC_LINK,EMAIL_OTP"
    assert first["ChallengeParameters"]["step"] == "CHOOSE_METHOD"
    assert sent_emails() == []


def test_magic_link_sign_in_in_the_same_session(client, make_user, cognito, deployment):
    sub = make_user(ALICE)
    sent = client.request_link(client.start(ALICE), APP)
    params = sent["ChallengeParameters"]
    # The link's email carries a code too (LinkEmailsCarryCode), so the round takes a code, or the link.
    assert params["step"] == "EMAIL_OTP" and params["sentTo"] == "a***@e***.com" and params["expiresAt"].endswith("Z")
    link = last_link(ALICE)
    assert link.startswith(APP + "#") and "?" not in link_secret(link)
    result = client.answer_link(sent, link)
    assert id_claims(result)["sub"] == sub
    assert email_verified(cognito, deployment, ALICE) == "true"


def test_magic_link_opened_later_in_a_new_session(client, make_user, clock):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    clock.advance(14 * 60)  # the requesting Cognito session (15 min) may be gone; the link is not
    result = client.sign_in_with_link(last_link(ALICE))
    assert "AuthenticationResult" in result


def test_link_payload_names_the_user_not_the_address(client, make_user):
    sub = make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    assert link_user(link_secret(last_link(ALICE))) == sub
    assert ALICE not in last_link(ALICE)


def test_email_code_sign_in(client, make_user, cognito, deployment):
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    assert sent["ChallengeParameters"]["step"] == "EMAIL_OTP"
    assert sent["ChallengeParameters"]["codeLength"] == "6"
    code = last_code(ALICE)
    assert len(code) == 6 and code not in str(sent)
    result = client.answer_code(sent, code)
    assert result["AuthenticationResult"]["TokenType"] == "Bearer"
    assert email_verified(cognito, deployment, ALICE) == "true"


def test_code_accepts_surrounding_spaces(client, make_user):
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    assert "AuthenticationResult" in client.answer_code(sent, f"  {last_code(ALICE)} ")


# --- magic link failures -----------------------------------------------------------------------


def assert_refused(call):
    with pytest.raises(ClientError) as excinfo:
        call()
    assert error_code(excinfo) == "NotAuthorizedException"
    assert error_message(excinfo) == "Incorrect username or password."


def test_expired_link(client, make_user, clock):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    clock.advance(15 * 60 + 1)
    assert_refused(lambda: client.sign_in_with_link(last_link(ALICE)))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s[:-1],  # truncated
        lambda s: s + "A",  # padded
        lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),  # signature changed
        lambda s: s.replace(".", "%2E"),  # re-encoded
        lambda s: s.split(".")[0],  # signature dropped
        lambda s: "",  # empty
    ],
    ids=["truncated", "padded", "signature-changed", "re-encoded", "no-signature", "empty"],
)
def test_tampered_link(client, make_user, tamper):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    secret = link_secret(last_link(ALICE))
    first = client.start(ALICE)
    assert_refused(lambda: client.respond(first, tamper(secret), {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"}))
    assert "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))  # the real one still works


def test_link_resigned_with_another_key(client, make_user, deployment):
    from keyless.methods import magic_link

    sub = make_user(ALICE)
    forged = magic_link.issue_token(
        b"x" * 64, magic_link.Subject(sub, sub, deployment.pool_id, deployment.client.client_id), int(time.time()) + 10**9
    )
    assert_refused(lambda: client.sign_in_with_link(f"{APP}#{forged}"))


def test_another_users_link(client, make_user):
    make_user(ALICE)
    make_user(BOB)
    client.request_link(client.start(BOB), APP)
    bob_secret = link_secret(last_link(BOB))
    alice_round = client.start(ALICE)
    assert_refused(lambda: client.respond(alice_round, bob_secret, {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"}))


def test_superseded_link(client, make_user, clock):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    older = last_link(ALICE)
    clock.advance(61)
    client.request_link(client.start(ALICE), APP)
    newer = last_link(ALICE)
    assert older != newer
    assert_refused(lambda: client.sign_in_with_link(older))
    assert "AuthenticationResult" in client.sign_in_with_link(newer)


def test_link_of_a_deleted_user_is_refused(client, make_user, cognito, deployment):
    user = make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    cognito.admin_delete_user(UserPoolId=deployment.pool_id, Username=user)
    assert_refused(lambda: client.sign_in_with_link(link))


def test_link_of_a_disabled_user_is_refused_and_not_used_up(client, make_user, cognito, deployment):
    user = make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    cognito.admin_disable_user(UserPoolId=deployment.pool_id, Username=user)
    with pytest.raises(ClientError) as excinfo:
        client.sign_in_with_link(link)
    assert error_code(excinfo) == "NotAuthorizedException"
    cognito.admin_enable_user(UserPoolId=deployment.pool_id, Username=user)
    assert "AuthenticationResult" in client.sign_in_with_link(link)


def test_code_with_leading_zeros(client, make_user, monkeypatch):
    monkeypatch.setattr("keyless.methods.email_otp.secrets.randbelow", lambda n: 42)
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    assert last_code(ALICE) == "000042"
    assert "AuthenticationResult" in client.answer_code(sent, "000042")


def test_link_works_once(client, make_user):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    assert "AuthenticationResult" in client.sign_in_with_link(link)
    assert_refused(lambda: client.sign_in_with_link(link))


def test_two_concurrent_uses_of_one_link_exactly_one_wins(client, make_user):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    firsts = [client.start(link_user(link_secret(link))) for _ in range(2)]
    outcomes = run_at_once(
        lambda first: client.answer_link(first, link),
        firsts,
    )
    results = sorted(o.response["Error"]["Code"] if isinstance(o, ClientError) else "tokens" for o in outcomes)
    assert results == ["NotAuthorizedException", "tokens"]


def test_link_request_for_a_method_not_chosen_fails(client, make_user):
    make_user(ALICE)
    with pytest.raises(ClientError) as excinfo:
        client.respond(client.start(ALICE), "-", {"signInMethod": "SMS"})
    assert error_code(excinfo) == "UserLambdaValidationException"
    assert error_message(excinfo) == "CreateAuthChallenge failed with error Choose a sign-in method: MAGIC_LINK or EMAIL_OTP."


def test_answer_without_choosing_names_the_methods(client, make_user):
    """README, "Messages a user can see": a round-2 answer without signInMethod is told the methods."""
    make_user(ALICE)
    with pytest.raises(ClientError) as excinfo:
        client.respond(client.start(ALICE), "-", {})
    assert error_code(excinfo) == "UserLambdaValidationException"
    assert error_message(excinfo) == "CreateAuthChallenge failed with error Choose a sign-in method: MAGIC_LINK or EMAIL_OTP."
    assert emails_to(ALICE) == []


@pytest.mark.parametrize(
    "parameters, offered, off",
    [
        ({"SignInMethods": "EMAIL_OTP"}, ["EMAIL_OTP"], "MAGIC_LINK"),
        ({"SignInMethods": "MAGIC_LINK"}, ["MAGIC_LINK"], "EMAIL_OTP"),
        ({"AuthenticatorApps": "Enabled"}, ["MAGIC_LINK", "EMAIL_OTP", "TOTP"], "SMS"),
        ({"Passkeys": "Enabled"}, ["MAGIC_LINK", "EMAIL_OTP", "FIDO2"], "TOTP"),
        ({"Passkeys": "Enabled", "AuthenticatorApps": "Enabled"}, ["MAGIC_LINK", "EMAIL_OTP", "TOTP", "FIDO2"], "SMS"),
        (
            {"Passkeys": "Enabled", "AuthenticatorApps": "Enabled", "SignInMethods": "EMAIL_OTP"},
            ["EMAIL_OTP", "TOTP", "FIDO2"],
            "MAGIC_LINK",
        ),
    ],
    ids=["codes_only", "links_only", "authenticator_apps", "passkeys", "everything", "all_but_links"],
)
def test_the_choose_a_method_message_names_what_this_deployment_offers(serve_pool, parameters, offered, off):
    """README, "Messages a user can see": the methods round 1 offers, in its order; one that is off is
    not named, and asking for it is refused as asking for none."""
    server = serve_pool(parameters={**parameters, "AllowedRedirectOrigins": "https://app.example.com"})
    sign_up(server, ALICE)
    app = passwordless(server)
    assert app.start(ALICE)["ChallengeParameters"]["methods"] == ",".join(offered)
    named = offered[0] if len(offered) == 1 else f"{', '.join(offered[:-1])} or {offered[-1]}"
    for metadata in ({}, {"signInMethod": off}):
        assert refused(lambda m=metadata: app.respond(app.start(ALICE), "-", m)) == (
            "UserLambdaValidationException",
            f"CreateAuthChallenge failed with error Choose a sign-in method: {named}.",
        )
    assert emails_to(ALICE) == []


# --- redirect allowlist --------------------------------------------------------------------------

LOOK_ALIKES = [
    "https://app.example.com.evil.com/welcome",
    "https://evil.com@app.example.com/welcome",
    "https://app.example.com@evil.com/",
    "javascript:alert(1)//app.example.com",
    "https://app.example.com:8443/welcome",
    "http://app.example.com/welcome",
    "ftp://app.example.com/",
    "https:\\\\app.example.com\\welcome",
    "https://app.example.com\\@evil.com/",
    "https:///welcome",
    "//app.example.com/welcome",
    "/welcome",
    "",
    "https://APP.example.com.evil.com/",
    "https://app.exаmple.com/",  # Cyrillic а
    "https://app.example.com./welcome",
    "https://app.example.com/welcome#other",
    "https://app.example.com/wel come",
    "https://evil.com/https://app.example.com",
    "data:text/html,https://app.example.com",
]


@pytest.mark.parametrize("redirect", LOOK_ALIKES)
def test_redirect_look_alikes_are_refused(client, make_user, redirect):
    make_user(ALICE)
    with pytest.raises(ClientError) as excinfo:
        client.request_link(client.start(ALICE), redirect)
    assert error_message(excinfo) == "CreateAuthChallenge failed with error This redirect address is not allowed."
    assert sent_emails() == []


def test_redirect_path_and_query_are_free(client, make_user):
    make_user(ALICE)
    client.request_link(client.start(ALICE), "https://APP.example.com:443/deep/path?next=%2Fhome")
    assert last_link(ALICE).startswith("https://APP.example.com:443/deep/path?next=%2Fhome#")


# --- codes ----------------------------------------------------------------------------------------


def test_wrong_code_then_right_code(client, make_user):
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    code = last_code(ALICE)
    again = client.answer_code(sent, wrong(code))
    assert again["ChallengeParameters"]["step"] == "EMAIL_OTP"
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"
    again = client.answer_code(again, wrong(wrong(code)))
    assert again["ChallengeParameters"]["attemptsLeft"] == "1"
    assert "AuthenticationResult" in client.answer_code(again, code)
    assert len(emails_to(ALICE)) == 1  # asking again does not send again


def test_three_wrong_codes_fail_the_sign_in(client, make_user):
    make_user(ALICE)
    challenge = client.request_code(client.start(ALICE))
    code = last_code(ALICE)
    for _ in range(2):
        challenge = client.answer_code(challenge, wrong(code))
    assert_refused(lambda: client.answer_code(challenge, wrong(code)))


@pytest.mark.parametrize("answer", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "１２３４５６", "123 456"])
def test_malformed_codes_count_as_wrong(client, make_user, answer):
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    again = client.answer_code(sent, answer)
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"


def test_code_from_an_earlier_session_does_not_work(client, make_user, clock):
    make_user(ALICE)
    client.request_code(client.start(ALICE))
    old_code = last_code(ALICE)
    clock.advance(61)
    sent = client.request_code(client.start(ALICE))
    new_code = last_code(ALICE)
    if old_code == new_code:  # one chance in a million
        pytest.skip("the two codes happen to be equal")
    again = client.answer_code(sent, old_code)
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"
    assert "AuthenticationResult" in client.answer_code(again, new_code)


def test_code_expires(client, make_user, clock, deployment):
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    clock.advance(600)
    again = client.answer_code(sent, last_code(ALICE))
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"


def test_session_string_works_once(client, make_user):
    make_user(ALICE)
    first = client.start(ALICE)
    client.request_code(first)
    with pytest.raises(ClientError) as excinfo:
        client.request_code(first)
    assert error_message(excinfo) == "Invalid session for the user."


# --- the send limit and Cognito's retries ---------------------------------------------------------


def test_second_email_within_a_minute_is_refused_with_when_to_retry(client, make_user, clock):
    make_user(ALICE)
    first_round = client.request_code(client.start(ALICE))
    code = last_code(ALICE)
    clock.advance(20)
    with pytest.raises(ClientError) as excinfo:
        client.request_link(client.start(ALICE), APP)
    assert error_code(excinfo) == "UserLambdaValidationException"
    assert (
        error_message(excinfo) == "CreateAuthChallenge failed with error Please wait 40 seconds before requesting another email."
    )
    assert len(emails_to(ALICE)) == 1
    assert "AuthenticationResult" in client.answer_code(first_round, code)  # the earlier code still works
    clock.advance(40)
    client.request_link(client.start(ALICE), APP)
    assert len(emails_to(ALICE)) == 2


def test_earlier_link_still_works_when_rate_limited(client, make_user, clock):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    with pytest.raises(ClientError):
        client.request_link(client.start(ALICE), APP)
    assert "AuthenticationResult" in client.sign_in_with_link(link)


def test_limit_is_per_user(client, make_user):
    make_user(ALICE)
    make_user(BOB)
    client.request_code(client.start(ALICE))
    client.request_code(client.start(BOB))
    assert len(sent_emails()) == 2


def test_limit_ignores_address_case(client, make_user):
    make_user(ALICE)
    client.request_code(client.start(ALICE))
    with pytest.raises(ClientError) as excinfo:
        client.request_code(client.start(ALICE.upper()))
    assert "Please wait" in error_message(excinfo)


def test_retried_create_sends_one_email_and_no_rate_limit_error(deployment, clock, make_user):
    from keyless_client import PasswordlessClient
    from localpool.client import InProcessCognito
    from localpool.deployment import local_pool

    handlers = deployment.handlers()
    handlers["CreateAuthChallenge"] = HeldFirstCall(handlers["CreateAuthChallenge"])
    auth, runner, _ = local_pool(deployment, clock=clock, timeout_seconds=2, handlers=handlers)  # only the held call runs out
    client = PasswordlessClient(InProcessCognito(auth, deployment.client), deployment.client.client_id)
    make_user(ALICE)
    first = client.start(ALICE)  # round 1's Create answers too late: retried, no email anyway
    sent = client.request_code(first)
    assert runner.calls.count("CreateAuthChallenge") == 3, runner.calls
    assert len(emails_to(ALICE)) == 1
    assert "AuthenticationResult" in client.answer_code(sent, last_code(ALICE))


def test_retried_send_round_sends_one_email(deployment, clock, make_user):
    from keyless_client import PasswordlessClient
    from localpool.client import InProcessCognito
    from localpool.deployment import local_pool

    handlers = deployment.handlers()
    # The send round (one round in the session) does its work, sends, then answers too late.
    create = handlers["CreateAuthChallenge"] = HeldFirstCall(
        handlers["CreateAuthChallenge"], when=lambda event, context: len(event["request"]["session"]) == 1
    )
    auth, _runner, _ = local_pool(deployment, clock=clock, timeout_seconds=2, handlers=handlers)  # only the held call runs out
    client = PasswordlessClient(InProcessCognito(auth, deployment.client), deployment.client.client_id)
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    create.wait_for_the_first()
    assert create.second_returned.is_set()  # the send round ran twice
    assert len(emails_to(ALICE)) == 1
    assert "AuthenticationResult" in client.answer_code(sent, last_code(ALICE))


def test_failed_send_does_not_count_against_the_limit(client, make_user, faults):
    make_user(ALICE)
    faults.fail("sesv2", "SendEmail", "MessageRejected", "Email address is not verified: alice@example.com")
    with pytest.raises(ClientError) as excinfo:
        client.request_code(client.start(ALICE))
    assert error_message(excinfo) == "CreateAuthChallenge failed with error Sign-in is temporarily unavailable, please try again."
    assert ALICE not in error_message(excinfo)
    sent = client.request_code(client.start(ALICE))  # at once: not rate-limited
    assert "AuthenticationResult" in client.answer_code(sent, last_code(ALICE))


# --- unknown users (PreventUserExistenceErrors ENABLED) ---------------------------------------------


def shape(response: dict) -> dict:
    params = dict(response["ChallengeParameters"])
    params.pop("USERNAME")
    return {"keys": sorted(response), "params": {k: len(v) if k != "step" else v for k, v in params.items()}}


@pytest.mark.parametrize("method", ["MAGIC_LINK", "EMAIL_OTP"])
def test_unknown_user_gets_the_same_rounds_and_no_email(client, make_user, method):
    make_user(ALICE)
    ghost = "alfred@example.com"
    request = (lambda c: client.request_link(c, APP)) if method == "MAGIC_LINK" else client.request_code
    known_first, unknown_first = client.start(ALICE), client.start(ghost)
    assert shape(known_first) == shape(unknown_first)
    known_sent, unknown_sent = request(known_first), request(unknown_first)
    assert shape(known_sent) == shape(unknown_sent)
    assert unknown_sent["ChallengeParameters"]["sentTo"] == "a***@e***.com"
    assert emails_to(ghost) == []
    if method == "EMAIL_OTP":
        again = client.answer_code(unknown_sent, "123456")
        assert shape(again) == shape(client.answer_code(known_sent, wrong(last_code(ALICE))))
    else:  # a link request's round takes the email's code or its link: a link that is not theirs gets another round
        link = last_link(ALICE)
        again = client.answer_link(unknown_sent, link)
        assert shape(again) == shape(client.answer_link(known_sent, link[:-1] + ("A" if link[-1] != "A" else "B")))


def test_unknown_user_is_rate_limited_like_a_known_one(client):
    ghost = "nobody@example.com"
    client.request_code(client.start(ghost))
    with pytest.raises(ClientError) as excinfo:
        client.request_code(client.start(ghost))
    assert (
        error_message(excinfo) == "CreateAuthChallenge failed with error Please wait 60 seconds before requesting another email."
    )


# --- keys -------------------------------------------------------------------------------------------


def test_key_rotation_keeps_links_and_codes_already_sent(client, make_user, deployment):
    make_user(ALICE)
    make_user(BOB)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    code_round = client.request_code(client.start(BOB))
    code = last_code(BOB)
    secrets_manager = boto3.client("secretsmanager", region_name=REGION)
    secrets_manager.put_secret_value(SecretId=deployment.secret_id, SecretString="n" * 64)
    runtime.reset(clock=runtime.default_runtime().clock)  # a new container sees the new key
    assert "AuthenticationResult" in client.sign_in_with_link(link)
    assert "AuthenticationResult" in client.answer_code(code_round, code)


def test_key_rotated_twice_retires_old_links(client, make_user, deployment):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    secrets_manager = boto3.client("secretsmanager", region_name=REGION)
    secrets_manager.put_secret_value(SecretId=deployment.secret_id, SecretString="n" * 64)
    secrets_manager.put_secret_value(SecretId=deployment.secret_id, SecretString="m" * 64)
    runtime.reset(clock=runtime.default_runtime().clock)
    assert_refused(lambda: client.sign_in_with_link(link))


def test_signing_and_pseudonym_keys_are_read_once_per_container(client, make_user, faults, deployment):
    make_user(ALICE)
    for email in ("a1@example.com", "a2@example.com", "a3@example.com"):
        make_user(email)
        client.request_code(client.start(email))
    reads = {
        secret: faults.count("secretsmanager", "GetSecretValue", when=lambda params, s=secret: params["SecretId"] == s)
        for secret in (deployment.secret_id, deployment.environment["PSEUDONYM_KEY_SECRET_ID"])
    }
    assert list(reads.values()) == [1, 1]
