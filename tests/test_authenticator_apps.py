"""Authenticator apps end to end (issue 16): set up through the management API's real handler (HTTP API
2.0 events carrying the claims of a real ID token of the served pool), used through the served pool's
Cognito API (boto3), with codes made by pyotp at times the test chooses (the pool's clock). Each
promise is tried from outside, as a client or an attacker would."""

from __future__ import annotations

import json

import boto3
import jwt
import pyotp
import pytest
from botocore.exceptions import ClientError

from keyless.core import errors
from localpool.deployment import REGION
from testkit.authenticator_apps import CONFIRM, REMOVE, START, STATUS, TOTP, App, AuthenticatorApps
from testkit.clients import refused
from testkit.concurrency import run_at_once
from testkit.mail import emails_to, last_code, wrong

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
    assert app.secret not in log_lines.getvalue()


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
