"""Authenticator apps end to end (issue 16): set up through the management API's real handler (HTTP API
2.0 events carrying the claims of a real ID token of the served pool), used through the served pool's
Cognito API (boto3), with codes made by pyotp at times the test chooses (the pool's clock). Each
promise is tried from outside, as a client or an attacker would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import jwt
import pyotp
import pytest
from botocore.exceptions import ClientError

from keyless.aws import runtime
from keyless.aws.key_rotation import RotationRefused
from keyless.core import errors, triggers
from keyless.core.token_events import parse_token_generation
from keyless.profiles import claims as token_claims
from keyless_client import link_secret
from localpool import rotation
from localpool.deployment import REGION
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
from testkit.authenticator_apps import CONFIRM, REMOVE, START, STATUS, TOTP, App, AuthenticatorApps
from testkit.clients import refused
from testkit.concurrency import run_at_once
from testkit.mail import emails_to, last_code, last_link, wrong
from testkit.passkeys import claims_of, pool_without_verified_updates

APP_PAGE = "https://app.example.com/welcome"
ORIGINS = {"AllowedRedirectOrigins": "https://app.example.com,http://localhost:9229"}
SIGN_IN = {**ORIGINS, "AuthenticatorApps": "Enabled"}
SECOND_STEP = {**ORIGINS, "AuthenticatorAppSecondStep": "Required"}
ALICE, BOB, MALLORY, GHOST = "alice@example.com", "bob@example.com", "mallory@example.com", "ghost@example.com"
WRONG_ANSWER = ("NotAuthorizedException", "Incorrect username or password.")


@pytest.fixture
def apps(serve_pool, served_clock):
    return AuthenticatorApps(serve_pool(parameters=SIGN_IN), served_clock)


@pytest.fixture
def second_step(serve_pool, served_clock):
    return AuthenticatorApps(serve_pool(parameters=SECOND_STEP), served_clock)


def id_claims(result: dict) -> dict:
    return jwt.decode(result["AuthenticationResult"]["IdToken"], options={"verify_signature": False})


def table_items(server) -> list[dict]:
    client = boto3.client("dynamodb", region_name=REGION)
    return client.scan(TableName=server.pool.deployment.table_name, ConsistentRead=True)["Items"]


def app_item(server, sub: str) -> dict:
    client = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": f"USER#{sub}"}, "sk": {"S": "TOTP"}}
    return client.get_item(TableName=server.pool.deployment.table_name, Key=key, ConsistentRead=True).get("Item", {})


def answered(call) -> str:
    """What answering a round led to: "tokens", "again" (another round), or the refusal's message."""
    try:
        result = call()
    except ClientError as exc:
        return str(exc.response["Error"]["Message"])
    return "tokens" if "AuthenticationResult" in result else "again"


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


# --- setting an app up ---------------------------------------------------------------------------------


def test_setting_up_shows_the_secret_once_as_a_qr_code_and_the_first_right_code_activates_it(apps):
    alice = apps.user(ALICE)
    assert apps.api.call(STATUS, alice) == (200, {"status": "none"})
    started = apps.start(alice)
    totp = pyotp.parse_uri(started["otpauthUri"])
    assert totp.secret == started["secret"] and len(started["secret"]) == 32
    assert (totp.issuer, totp.name, totp.digits, totp.interval) == ("Keyless", ALICE, 6, 30)
    assert started["qrCodeSvg"].startswith("<svg") and "Authenticator app setup code" in started["qrCodeSvg"]
    assert apps.api.call(STATUS, alice) == (200, {"status": "pending"})
    app = App(started["secret"], apps.clock)
    # Pending, the app signs nobody in.
    assert answered(lambda: apps.answer(apps.ask_for_code(ALICE), app.code())) == "again"
    assert apps.api.call(CONFIRM, alice, {"code": other_code(app.code())}) == (400, {"message": "Wrong code"})
    for bad in ({"code": "12345"}, {"code": 123456}, {"code": "１２３４５６"}, {}):
        assert apps.api.call(CONFIRM, alice, bad) == (400, {"message": "code must be the 6 digits the app shows"})
    assert apps.api.call(CONFIRM, alice, "{not json") == (400, {"message": "Invalid body"})
    apps.clock.advance(30)
    assert apps.api.call(CONFIRM, alice, {"code": app.code()}) == (200, {"status": "active"})
    status, shown = apps.api.call(STATUS, alice)
    assert status == 200 and shown["status"] == "active" and "confirmedAt" in shown
    # The code that confirmed it is used: it signs nobody in.
    assert answered(lambda: apps.answer(apps.ask_for_code(ALICE), app.code())) == "again"


def test_a_new_setup_replaces_a_pending_one_and_is_refused_while_one_is_active(apps):
    alice = apps.user(ALICE)
    first = App(apps.start(alice)["secret"], apps.clock)
    second = App(apps.start(alice)["secret"], apps.clock)
    assert apps.api.call(CONFIRM, alice, {"code": first.code()}) == (400, {"message": "Wrong code"})
    assert apps.api.call(CONFIRM, alice, {"code": second.code()}) == (200, {"status": "active"})
    assert apps.api.call(START, alice) == (400, {"message": "An authenticator app is already set up: remove it first"})
    assert apps.api.call(CONFIRM, alice, {"code": second.code()}) == (
        400,
        {"message": "An authenticator app is already set up: remove it first"},
    )


def test_setting_up_and_removing_need_a_fresh_sign_in(apps):
    alice = apps.user(ALICE)
    app = apps.set_up(alice)
    apps.clock.advance(301)  # FreshSignInSeconds (300) after the sign-in
    assert apps.api.call(REMOVE, alice) == (403, {"message": "Sign in again to do this"})
    assert apps.api.call(START, alice) == (403, {"message": "Sign in again to do this"})
    assert apps.api.call(STATUS, alice)[1]["status"] == "active"
    fresh = apps.signed_in(ALICE)
    assert apps.api.call(REMOVE, fresh) == (200, {"removed": True})
    assert apps.api.call(REMOVE, fresh) == (200, {"removed": False})
    assert answered(lambda: apps.answer(apps.ask_for_code(ALICE), app.code())) == "again"


def test_nobody_touches_another_user_s_app(apps):
    alice, bob = apps.user(ALICE), apps.user(BOB)
    app = apps.set_up(alice)
    # Whatever Bob's requests say, they act on Bob's app (the token's sub), never Alice's.
    for route, body in ((REMOVE, {"sub": alice["sub"]}), (CONFIRM, {"code": app.code(), "sub": alice["sub"]})):
        status, answer = apps.api.call(route, bob, body)
        assert (status, answer) in ((200, {"removed": False}), (400, {"message": "No authenticator app is being set up"}))
    assert apps.api.call(STATUS, bob) == (200, {"status": "none"})
    assert apps.api.call(STATUS, alice)[1]["status"] == "active"
    # Bob sets up his own: Alice's code is not his.
    bobs = App(apps.start(bob)["secret"], apps.clock)
    assert apps.api.call(CONFIRM, bob, {"code": app.code()}) == (400, {"message": "Wrong code"})
    assert bobs.secret != app.secret
    assert "AuthenticationResult" in apps.answer(apps.ask_for_code(ALICE), app.code())


# --- the secret at rest -----------------------------------------------------------------------------


def test_the_table_never_holds_the_secret_and_a_sealed_secret_moved_to_another_user_does_not_open(apps, log_lines):
    alice, bob = apps.user(ALICE), apps.user(BOB)
    app = apps.set_up(alice)
    apps.set_up(bob)
    dumped = json.dumps(table_items(apps.server))
    assert app.secret not in dumped and app.secret.lower() not in dumped
    stored = app_item(apps.server, alice["sub"])
    assert set(stored) == {"pk", "sk", "status", "keyId", "nonce", "sealed", "createdAt", "confirmedAt", "lastUsedStep"}
    # Whoever can write the table copies Alice's sealed secret into Bob's item: Alice's codes still
    # open nothing of Bob's (the sealed secret names Alice's sub), and no code works for Bob.
    client = boto3.client("dynamodb", region_name=REGION)
    moved = {**stored, "pk": {"S": f"USER#{bob['sub']}"}}
    client.put_item(TableName=apps.server.pool.deployment.table_name, Item=moved)
    assert answered(lambda: apps.answer(apps.ask_for_code(BOB), app.code())) == "again"
    logs = log_lines.getvalue()
    assert '"message":"authenticator secret unavailable"' in logs and '"reason":"it does not open for this user"' in logs
    assert app.secret not in logs


# --- signing in with the app ---------------------------------------------------------------------------


def test_a_code_signs_in_with_no_email_and_the_tokens_say_totp(apps):
    alice = apps.user(ALICE)
    app = apps.set_up(alice)
    sent = len(emails_to(ALICE))
    challenge = apps.ask_for_code(ALICE)
    assert "TOTP" in apps.app.start(ALICE)["ChallengeParameters"]["methods"].split(",")
    assert {k: v for k, v in challenge["ChallengeParameters"].items() if k != "USERNAME"} == {
        "step": "TOTP",
        "codeLength": "6",
        "attemptsLeft": "3",
    }
    claims = id_claims(apps.answer(challenge, app.code()))
    assert (claims["sign_in_method"], json.loads(claims["sign_in_factors"])) == ("totp", ["totp"])
    assert claims["sub"] == alice["sub"] and len(emails_to(ALICE)) == sent


def test_a_code_is_accepted_once_and_of_two_answers_at_once_only_one_signs_in(apps):
    app = apps.set_up(apps.user(ALICE))
    code = app.code()
    assert "AuthenticationResult" in apps.answer(apps.ask_for_code(ALICE), code)
    assert answered(lambda: apps.answer(apps.ask_for_code(ALICE), code)) == "again"  # replayed in its window
    apps.clock.advance(30)
    code = app.code()
    challenges = [apps.ask_for_code(ALICE) for _ in range(2)]
    results = run_at_once(lambda challenge: answered(lambda: apps.answer(challenge, code)), challenges)
    assert sorted(results) == ["again", "tokens"]
    # An older code than one already accepted is refused too, even within the skew.
    apps.clock.advance(30)
    assert answered(lambda: apps.answer(apps.ask_for_code(ALICE), app.code(-1))) == "again"


@pytest.mark.parametrize("steps, accepted", [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_a_phone_clock_one_step_off_is_accepted_two_are_not(apps, steps, accepted):
    app = apps.set_up(apps.user(ALICE))
    apps.clock.advance(90)  # the code that confirmed it is three steps old
    assert answered(lambda: apps.answer(apps.ask_for_code(ALICE), app.code(steps))) == ("tokens" if accepted else "again")


def test_wrong_codes_get_another_round_and_count_against_the_budget_the_email_codes_share(serve_pool, served_clock):
    apps = AuthenticatorApps(serve_pool(parameters={**SIGN_IN, "MaxWrongCodes": "4"}), served_clock)
    app = apps.set_up(apps.user(ALICE))
    challenge = apps.answer(apps.ask_for_code(ALICE), other_code(app.code()))
    assert {k: v for k, v in challenge["ChallengeParameters"].items() if k != "USERNAME"} == {
        "step": "TOTP",
        "codeLength": "6",
        "attemptsLeft": "2",
    }
    challenge = apps.answer(challenge, other_code(app.code()))
    assert refused(lambda: apps.answer(challenge, "12 34")) == WRONG_ANSWER  # the third answer: malformed, not counted
    held = apps.ask_for_code(ALICE)  # asked for while the budget still had room
    # An email code's wrong answer counts in the same budget, and so does the app's: four in all.
    apps.clock.advance(61)
    apps.app.answer_code(apps.app.request_code(apps.app.start(ALICE)), wrong(last_code(ALICE)))
    apps.answer(apps.ask_for_code(ALICE), other_code(app.code()))
    locked = f"CreateAuthChallenge failed with error {errors.CODES_LOCKED}."
    assert refused(lambda: apps.ask_for_code(ALICE))[1] == locked
    apps.clock.advance(61)
    assert refused(lambda: apps.app.request_code(apps.app.start(ALICE)))[1] == locked
    assert answered(lambda: apps.answer(held, app.code())) == "again"  # over the budget, the right code too
    apps.clock.advance(86400)  # WrongCodeWindowSeconds later
    assert "AuthenticationResult" in apps.answer(apps.ask_for_code(ALICE), app.code())


def test_users_without_an_app_and_unknown_users_get_the_same_rounds_spend_the_same_budget_and_are_refused(apps):
    app = apps.set_up(apps.user(ALICE))
    apps.user(BOB)  # no app
    shapes = {}
    for name in (ALICE, BOB, GHOST):
        first = apps.app.start(name)
        challenge = apps.app.respond(first, "-", TOTP)
        shapes[name] = (
            {k for k in first["ChallengeParameters"] if k != "USERNAME"},
            {k: v for k, v in challenge["ChallengeParameters"].items() if k != "USERNAME"},
        )
        if name != ALICE:
            # Nobody has a code for them: any answer is wrong, and it counts (another round).
            assert apps.answer(challenge, app.code())["ChallengeParameters"]["attemptsLeft"] == "2"
    assert shapes[ALICE] == shapes[BOB] == shapes[GHOST]
    assert "AuthenticationResult" in apps.answer(apps.ask_for_code(ALICE), app.code())


# --- the second step --------------------------------------------------------------------------------


def public(challenge: dict) -> dict:
    return {k: v for k, v in challenge["ChallengeParameters"].items() if k != "USERNAME"}


def test_with_the_second_step_an_email_code_asks_for_the_app_s_code_and_tokens_come_only_after_it(second_step):
    steps = second_step
    app = steps.set_up(steps.user(ALICE))
    steps.clock.advance(61)
    first = steps.app.start(ALICE)
    assert "TOTP" not in first["ChallengeParameters"]["methods"].split(",")  # a second step, not a method
    after_code = steps.app.answer_code(steps.app.request_code(first), last_code(ALICE))
    assert "AuthenticationResult" not in after_code
    assert public(after_code) == {"step": "TOTP_STEP_UP", "codeLength": "6", "attemptsLeft": "3"}
    again = steps.app.respond(after_code, other_code(app.code()))
    assert public(again) == {"step": "TOTP_STEP_UP", "codeLength": "6", "attemptsLeft": "2"}
    # Neither the email code again nor a link answers it: only the app's code.
    again = steps.app.respond(again, last_code(ALICE), {"signInMethod": "EMAIL_OTP"})
    claims = id_claims(steps.app.respond(again, app.code()))
    assert (claims["sign_in_method"], json.loads(claims["sign_in_factors"])) == ("email_otp", ["email_otp", "totp"])


def test_a_magic_link_is_confirmed_by_the_app_too_and_a_link_never_answers_the_app_s_round(second_step):
    steps = second_step
    app = steps.set_up(steps.user(ALICE))
    steps.clock.advance(61)
    steps.app.request_link(steps.app.start(ALICE), APP_PAGE)
    link = last_link(ALICE)
    after_link = steps.app.sign_in_with_link(link)
    assert public(after_link) == {"step": "TOTP_STEP_UP", "codeLength": "6", "attemptsLeft": "3"}
    steps.clock.advance(61)
    steps.app.request_link(steps.app.start(ALICE), APP_PAGE)
    newer = last_link(ALICE)
    again = steps.app.respond(after_link, link_secret(newer), {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"})
    assert public(again)["attemptsLeft"] == "2"
    claims = id_claims(steps.app.respond(again, app.code()))
    assert json.loads(claims["sign_in_factors"]) == ["magic_link", "totp"] and claims["sign_in_method"] == "magic_link"


def test_users_without_an_app_see_the_same_rounds_before_the_proof_and_get_tokens_after_it(second_step):
    steps = second_step
    steps.set_up(steps.user(ALICE))
    steps.user(BOB)
    steps.clock.advance(61)
    rounds, sent = {}, {}
    for name in (ALICE, BOB, GHOST):
        first = steps.app.start(name)
        sent[name] = steps.app.request_code(first)
        rounds[name] = (public(first), {k: v for k, v in public(sent[name]).items() if k not in ("sentTo", "expiresAt")})
    assert rounds[ALICE] == rounds[BOB] == rounds[GHOST]
    assert public(steps.app.answer_code(sent[ALICE], last_code(ALICE)))["step"] == "TOTP_STEP_UP"
    claims = id_claims(steps.app.answer_code(sent[BOB], last_code(BOB)))
    assert json.loads(claims["sign_in_factors"]) == ["email_otp"]


def test_the_factors_come_from_what_was_accepted_never_from_client_metadata(second_step):
    steps = second_step
    steps.user(BOB)
    steps.clock.advance(61)
    code_round = steps.app.request_code(steps.app.start(BOB))
    lying = {"signInMethod": "TOTP", "sign_in_factors": '["email_otp","totp"]', "alreadyHaveMagicLink": "yes"}
    claims = id_claims(steps.app.respond(code_round, last_code(BOB), lying))
    assert (claims["sign_in_method"], json.loads(claims["sign_in_factors"])) == ("email_otp", ["email_otp"])


def test_the_second_step_fails_the_sign_in_after_the_wrong_answers_a_sign_in_allows(second_step):
    steps = second_step
    app = steps.set_up(steps.user(ALICE))
    steps.clock.advance(61)
    challenge = steps.app.answer_code(steps.app.request_code(steps.app.start(ALICE)), last_code(ALICE))
    for _ in range(2):
        challenge = steps.app.respond(challenge, other_code(app.code()))
    assert refused(lambda: steps.app.respond(challenge, other_code(app.code()))) == WRONG_ANSWER


def test_a_stranger_s_wrong_codes_do_not_stop_the_owner_s_link_and_app_code(serve_pool, served_clock):
    """Both on: anyone who knows Alice's address can spend the shared wrong-code budget with app
    codes (no email, no cooldown), which locks codes (issue 16), but not her: her link, then her
    app's right code, still sign her in. The second step counts on a budget only sessions that
    passed an email proof can reach."""
    both = AuthenticatorApps(serve_pool(parameters={**SIGN_IN, **SECOND_STEP}), served_clock)
    app = both.set_up(both.user(ALICE))
    sent = len(emails_to(ALICE))
    for _ in range(4):  # the stranger: four sessions of three wrong app codes, past MaxWrongCodes (10)
        challenge = both.ask_for_code(ALICE)
        for _ in range(3):
            try:
                challenge = both.answer(challenge, other_code(app.code()))
            except ClientError:
                break  # a session's last wrong answer fails it
    locked = f"CreateAuthChallenge failed with error {errors.CODES_LOCKED}."
    assert refused(lambda: both.ask_for_code(ALICE))[1] == locked  # the shared budget is spent
    assert len(emails_to(ALICE)) == sent  # and it cost the stranger no email to Alice
    both.clock.advance(61)
    both.app.request_link(both.app.start(ALICE), APP_PAGE)
    after_link = both.app.sign_in_with_link(last_link(ALICE))
    assert public(after_link)["step"] == "TOTP_STEP_UP"
    claims = id_claims(both.app.respond(after_link, app.code()))
    assert json.loads(claims["sign_in_factors"]) == ["magic_link", "totp"]


def test_the_second_step_s_wrong_codes_count_on_a_budget_of_their_own(serve_pool, served_clock, pool_state_dir):
    """Whoever holds the inbox may guess the app's code in the second step up to MaxWrongCodes in the
    window, across sessions; past it the right code is refused there too, until the window moves on
    or an operator's unlock clears it. Those answers spend nothing of the shared budget: the app's own
    sign-in still works."""
    from tests.test_admin import local

    steps = AuthenticatorApps(serve_pool(parameters={**SIGN_IN, **SECOND_STEP, "MaxWrongCodes": "3"}), served_clock)
    app = steps.set_up(steps.user(ALICE))

    def second_step() -> dict:
        steps.clock.advance(61)
        return steps.app.answer_code(steps.app.request_code(steps.app.start(ALICE)), last_code(ALICE))

    challenge = second_step()
    for _ in range(2):
        challenge = steps.app.respond(challenge, other_code(app.code()))
    challenge = steps.app.respond(second_step(), other_code(app.code()))  # the third, in another session
    assert answered(lambda: steps.app.respond(challenge, app.code())) == "again"  # over its budget, the right code too
    shown = local(steps.server, pool_state_dir, "status", ALICE).result["wrongCodes"]
    assert (shown["counted"], shown["secondStep"]["counted"]) == (0, 3) and shown["secondStep"]["lockedForSeconds"] > 0
    steps.clock.advance(30)  # the app's next code
    assert "AuthenticationResult" in steps.answer(steps.ask_for_code(ALICE), app.code())  # the shared budget is untouched
    unlocked = local(steps.server, pool_state_dir, "unlock", ALICE).result
    assert (unlocked["wrongCodesCleared"], unlocked["wasLocked"]) == (3, True)
    steps.clock.advance(3600)  # the mailbox's burst window (emails), well within WrongCodeWindowSeconds
    claims = id_claims(steps.app.respond(second_step(), app.code()))
    assert json.loads(claims["sign_in_factors"]) == ["email_otp", "totp"]


def test_with_both_on_a_round_of_the_app_takes_no_link(serve_pool, served_clock):
    both = AuthenticatorApps(serve_pool(parameters={**SIGN_IN, **SECOND_STEP}), served_clock)
    app = both.set_up(both.user(ALICE))
    both.clock.advance(61)
    both.app.request_link(both.app.start(ALICE), APP_PAGE)
    link = link_secret(last_link(ALICE))
    challenge = both.ask_for_code(ALICE)
    assert answered(lambda: both.app.respond(challenge, link, {"signInMethod": "MAGIC_LINK"})) == "again"
    assert json.loads(id_claims(both.answer(both.ask_for_code(ALICE), app.code()))["sign_in_factors"]) == ["totp"]


# --- the key ring's rotation ---------------------------------------------------------------------------


def ring_of(server) -> tuple[str, dict]:
    secret_id = server.pool.deployment.environment["AUTHENTICATOR_KEY_SECRET_ID"]
    value = boto3.client("secretsmanager", region_name=REGION).get_secret_value(SecretId=secret_id)["SecretString"]
    return secret_id, json.loads(value)


def test_a_key_rotation_keeps_every_app_working_and_seals_a_secret_again_at_its_next_sign_in(apps):
    alice, bob = apps.user(ALICE), apps.user(BOB)
    alices, bobs = apps.set_up(alice), apps.set_up(bob)
    secret_id, ring = ring_of(apps.server)
    assert set(ring) == {"current", "initial"} and ring["current"] == "initial"
    secrets_manager = boto3.client("secretsmanager", region_name=REGION)
    for _ in range(2):
        secrets_manager.rotate_secret(SecretId=secret_id)
        assert rotation.ROTATIONS[secret_id].failure is None
    _, rotated = ring_of(apps.server)
    assert len(rotated) == 4 and all(rotated[key] == ring[key] for key in ring if key != "current")
    runtime.reset(session=apps.server.pool.aws_session, clock=apps.clock)  # containers started after the rotations
    assert app_item(apps.server, alice["sub"])["keyId"] == {"S": "initial"}
    assert "AuthenticationResult" in apps.answer(apps.ask_for_code(ALICE), alices.code())
    assert app_item(apps.server, alice["sub"])["keyId"] == {"S": rotated["current"]}  # sealed again
    apps.clock.advance(30)
    assert "AuthenticationResult" in apps.answer(apps.ask_for_code(ALICE), alices.code())
    assert "AuthenticationResult" in apps.answer(apps.ask_for_code(BOB), bobs.code())
    carol = apps.set_up(apps.user("carol@example.com"))
    assert "AuthenticationResult" in apps.answer(apps.ask_for_code("carol@example.com"), carol.code())


def test_a_rotation_never_takes_a_key_out_of_the_ring(apps):
    apps.set_up(apps.user(ALICE))
    secret_id, ring = ring_of(apps.server)
    secrets_manager = boto3.client("secretsmanager", region_name=REGION)
    token = "a" * 36
    secrets_manager.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=json.dumps({"current": "new", "new": "n" * 64}),
        VersionStages=["AWSPENDING"],
    )
    handler = load_handler(Template().functions()["RotateSigningKeyFunction"])
    for step in ("testSecret", "finishSecret"):
        with pytest.raises(RotationRefused, match=r"^The pending key ring lacks a key of the current one$"):
            handler({"Step": step, "SecretId": secret_id, "ClientRequestToken": token}, LambdaContext("RotateSigningKey"))
    assert ring_of(apps.server)[1] == ring
    pseudonym_key = apps.server.pool.deployment.environment["PSEUDONYM_KEY_SECRET_ID"]
    with pytest.raises(RotationRefused, match=r"^This function rotates the signing key and the authenticator key ring only$"):
        handler(
            {"Step": "createSecret", "SecretId": pseudonym_key, "ClientRequestToken": token}, LambdaContext("RotateSigningKey")
        )


# --- whoever registered an address first keeps nothing -----------------------------------------------


def test_the_first_proof_of_an_address_removes_an_app_set_up_before_it(serve_pool, served_clock):
    """On a pool that lets users change email without verifying: Mallory sets up an app, then puts
    Alice's address on her account; Alice's first proof of it takes the account back, app included."""
    apps = swappable_pool(serve_pool, served_clock)
    mallory = apps.user(MALLORY)
    app = apps.set_up(mallory)
    apps.put_address(mallory, ALICE)
    # Her app's code proves her app, not the address: it verifies nothing.
    mallorys = id_claims(apps.answer(apps.ask_for_code(ALICE), app.code()))
    assert (mallorys["email"], mallorys["email_verified"]) == (ALICE, False)
    apps.clock.advance(61)
    # Alice's proof needs no second step: the app it would ask for is the registrant's, and goes now.
    claims = id_claims(apps.app.answer_code(apps.app.request_code(apps.app.start(ALICE)), last_code(ALICE)))
    assert claims["sub"] == mallory["sub"] and claims["email_verified"] is True
    assert app_item(apps.server, mallory["sub"]) == {}
    assert answered(lambda: apps.answer(apps.ask_for_code(ALICE), app.code())) == "again"


def swappable_pool(serve_pool, served_clock) -> AuthenticatorApps:
    both = {**SIGN_IN, **SECOND_STEP}
    return AuthenticatorApps(serve_pool(template=pool_without_verified_updates(both), parameters=both), served_clock)


def test_a_token_from_before_the_claim_of_an_address_sets_up_no_app_after_it(serve_pool, served_clock):
    """Mallory sets up an app, puts Alice's address on her account and signs in with the app (a fresh
    token, email_verified false). Alice's first proof takes the account back, app included, and
    records a revocation: none of Mallory's tokens sets up a new app (which would sign her in again
    and make Alice's sign-ins wait on it), while the token of Alice's sign-in, of the claim's own
    second, does."""
    apps = swappable_pool(serve_pool, served_clock)
    mallory = apps.user(MALLORY)  # her own address, verified
    app = apps.set_up(mallory)
    apps.put_address(mallory, ALICE)
    with_app = claims_of(apps.answer(apps.ask_for_code(ALICE), app.code())["AuthenticationResult"]["IdToken"])
    assert with_app["email_verified"] == "false"
    apps.clock.advance(61)
    result = apps.app.answer_code(apps.app.request_code(apps.app.start(ALICE)), last_code(ALICE))
    alice = claims_of(result["AuthenticationResult"]["IdToken"])
    assert alice["sub"] == mallory["sub"] and app_item(apps.server, alice["sub"]) == {}
    for stale in (mallory, with_app):
        assert apps.api.call(START, stale) == (403, {"message": "Sign in again to do this"})
        assert apps.api.call(CONFIRM, stale, {"code": app.code()}) == (403, {"message": "Sign in again to do this"})
    new_app = apps.set_up(alice)
    apps.clock.advance(61)
    again = apps.app.answer_code(apps.app.request_code(apps.app.start(ALICE)), last_code(ALICE))
    assert json.loads(id_claims(apps.app.respond(again, new_app.code()))["sign_in_factors"]) == ["email_otp", "totp"]


def test_only_a_token_of_a_proved_address_sets_up_or_confirms_an_app(serve_pool, served_clock):
    """An app is another way in: as for a passkey, only a token whose address was proved
    (email_verified "true") sets one up or confirms it; an app's own code proves no address."""
    apps = swappable_pool(serve_pool, served_clock)
    mallory = apps.user(MALLORY)
    app = apps.set_up(mallory)
    apps.put_address(mallory, ALICE)
    unproved = claims_of(apps.answer(apps.ask_for_code(ALICE), app.code())["AuthenticationResult"]["IdToken"])
    assert apps.api.call(REMOVE, unproved) == (200, {"removed": True})  # taking a way in away needs no proof
    assert apps.api.call(START, unproved) == (400, {"message": "Verify your email address first"})
    pending = App(apps.start(mallory)["secret"], apps.clock)
    refused_confirm = apps.api.call(CONFIRM, unproved, {"code": pending.code()})
    assert refused_confirm == (400, {"message": "Verify your email address first"})
    assert apps.api.call(STATUS, mallory) == (200, {"status": "pending"})


# --- the claim, unit by unit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sign_in, expected",
    [
        ({"provenMethod": "MAGIC_LINK", "provenFactors": ["MAGIC_LINK", "TOTP"]}, ("magic_link", "totp")),
        ({"provenMethod": "TOTP", "provenFactors": ["TOTP"]}, ("totp",)),
        # Factors recorded for an older proof than the last one are not this sign-in's.
        ({"provenMethod": "FIDO2", "provenFactors": ["MAGIC_LINK", "TOTP"]}, ("passkey",)),
        ({"provenMethod": "EMAIL_OTP"}, ("email_otp",)),
        ({"provenMethod": "EMAIL_OTP", "provenFactors": ["EMAIL_OTP", "SMS"]}, ("email_otp",)),
    ],
)
def test_the_factors_claim_is_read_from_the_recorded_proofs(sign_in, expected):
    now = int(time.time())
    event = {
        "version": "1",
        "triggerSource": "TokenGeneration_Authentication",
        "userPoolId": "us-east-1_Pool",
        "userName": "alice",
        "callerContext": {"clientId": "client"},
        "request": {"userAttributes": {"sub": "1234"}},
        "response": {},
    }
    parsed = parse_token_generation(event, triggers.PRE_TOKEN_GENERATION)
    assert token_claims.accepted_factors(parsed, {**sign_in, "provenAt": now}, now) == expected
    assert token_claims.accepted_factors(parsed, {**sign_in, "provenAt": now - 3600}, now) == ()
    refreshed = parse_token_generation({**event, "triggerSource": "TokenGeneration_RefreshTokens"}, triggers.PRE_TOKEN_GENERATION)
    assert token_claims.accepted_factors(refreshed, {**sign_in, "provenAt": now}, now) == ()


def test_with_only_passkeys_on_the_authenticator_app_routes_do_not_exist(serve_pool, served_clock):
    apps = AuthenticatorApps(serve_pool(parameters={**ORIGINS, "Passkeys": "Enabled"}), served_clock)
    alice = apps.user(ALICE)
    for route in (START, CONFIRM, REMOVE, STATUS):
        assert apps.api.call(route, alice, {}) == (404, {"message": "Not Found"})
    assert "TOTP" not in apps.app.start(ALICE)["ChallengeParameters"]["methods"].split(",")


# --- the operator's command ----------------------------------------------------------------------------


def test_an_operator_removes_a_lost_phone_s_app_and_status_shows_it_masked(apps, pool_state_dir):
    from tests.test_admin import local

    alice = apps.user(ALICE)
    app = apps.set_up(alice)
    shown = local(apps.server, pool_state_dir, "status", ALICE)
    assert shown.status == 0 and shown.result is not None
    assert set(shown.result["authenticatorApp"]) == {"status", "created", "confirmed", "lastCodeAccepted"}
    assert shown.result["authenticatorApp"]["status"] == "active" and app.secret not in json.dumps(shown.result)
    removed = local(apps.server, pool_state_dir, "remove-authenticator", ALICE)
    assert removed.status == 0 and removed.audit["result"] == "ok"
    assert removed.result == {
        "pool": apps.server.pool.pool_id,
        "email": "a***@e***.com",
        "sub": alice["sub"],
        "authenticatorAppRemoved": True,
        "wasActive": True,
    }
    assert local(apps.server, pool_state_dir, "status", ALICE).result["authenticatorApp"] is None
    assert answered(lambda: apps.answer(apps.ask_for_code(ALICE), app.code())) == "again"
    apps.clock.advance(61)  # the user signs in by email, and may set up another app
    assert apps.api.call(STATUS, apps.signed_in(ALICE)) == (200, {"status": "none"})


# --- what the authenticator app's path loads, and when ----------------------------------------------------

LOADS_PROBE = """
import copy, json, os, sys
sys.path[:0] = {paths!r}
from moto import mock_aws
from localpool import samples
from localpool.deployment import SAMPLE_SIGNING_KEY, deploy
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
OWN = ("pyotp", "segno", "cryptography.hazmat.primitives.ciphers.aead")
loaded = lambda: [name for name in OWN if name in sys.modules]
found = {{}}
with mock_aws():
    deployed = deploy(parameters={parameters!r}, signing_key=SAMPLE_SIGNING_KEY)
    os.environ.update(deployed.environment)
    samples.seed(deployed)
    functions = Template(parameters={parameters!r}).functions()
    for logical_id, sample in {samples!r}:
        event = json.load(open(sample))
        event["userPoolId"] = deployed.pool_id
        load_handler(functions[logical_id])(copy.deepcopy(event), LambdaContext(function_name=logical_id))
        found[sample.rsplit("/", 2)[-2] + "/" + sample.rsplit("/", 1)[-1]] = loaded()
    event = json.load(open({verify!r}))
    event["userPoolId"] = deployed.pool_id
    event["request"]["privateChallengeParameters"] = {{"step": "TOTP", "flow": samples.FLOW}}
    load_handler(functions["VerifyAuthChallengeFunction"])(event, LambdaContext(function_name="VerifyAuthChallengeFunction"))
    found["a TOTP answer"] = loaded()
print(json.dumps(found))
"""


def test_only_the_authenticator_app_s_own_paths_load_its_libraries():
    """With both parameters on, the sign-in functions' other paths (round 1 reading whether a second
    step follows, an email sent, a code checked, the claims) load neither pyotp, nor cryptography's
    AES-GCM, nor segno; a TOTP answer loads the first two, never segno (only the setup draws a QR code)."""
    root = Path(__file__).resolve().parent.parent
    events = root / "events"
    probe = LOADS_PROBE.format(
        paths=[str(root / "shared"), str(root)],
        parameters={**SIGN_IN, **SECOND_STEP},
        samples=[
            ("DefineAuthChallengeFunction", str(events / "define_auth_challenge/code_correct.json")),
            ("CreateAuthChallengeFunction", str(events / "create_auth_challenge/first_round.json")),
            ("CreateAuthChallengeFunction", str(events / "create_auth_challenge/send_code.json")),
            ("VerifyAuthChallengeFunction", str(events / "verify_auth_challenge/code_right.json")),
            ("PreTokenGenerationFunction", str(events / "pre_token_generation/v1_authentication_email_otp.json")),
        ],
        verify=str(events / "verify_auth_challenge/code_right.json"),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found.pop("a TOTP answer") == ["pyotp", "cryptography.hazmat.primitives.ciphers.aead"]
    assert found == {name: [] for name in found} and len(found) == 5


def test_make_dev_turns_authenticator_apps_on_and_says_so(tmp_path, serve_pool):
    from localpool import __main__ as localpool_main
    from testkit.deployment import dev_process

    with dev_process(tmp_path) as dev:
        assert "  Authenticator  apps on: a sign-in method (TOTP)   (set one up on the demo page once signed in)" in dev.banner
    both = serve_pool(parameters={**SIGN_IN, **SECOND_STEP})
    assert "apps on: a sign-in method (TOTP) and the second step after a link or code" in localpool_main.banner(both)
