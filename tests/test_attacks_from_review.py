"""Attacks two hostile reviews found against the account-integrity work (the first against commit
30f5712, the second against 4ede954), each driven from outside through the local user pool (in
process, or over HTTP with the `server` / `serve_pool` fixtures) and each failing then (the attack
worked); now they are refused. Docstrings say what the attack was ("Was: ...") where the test name
alone does not.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import threading

import boto3
import pytest
from botocore.exceptions import ClientError

from keyless.aws import runtime
from keyless_client import PasswordlessClient
from localpool.client import InProcessCognito
from localpool.deployment import REGION, local_pool
from localpool.orchestrator import AppClient
from localpool.template import Template
from testkit.clients import outcome, passwordless, pool_cognito, refused, sign_up
from testkit.deployment import plain_name_pool
from testkit.mail import code_in, emails_to, last_code, last_link, link_in, mailbox, sent_emails, wrong

APP = "https://app.example.com/welcome"
ALICE = "alice@example.com"
PASSWORD = "Registrant-Chosen-Passw0rd"


def code_outcome(client, address: str) -> str:
    """A new sign-in for `address` asks for a code: "sent", or the message it was refused with."""
    return outcome(lambda: client.request_code(client.start(address)))


def mails_to(server, to: str) -> list[dict]:
    return [m for m in mailbox(server) if to in m["to"]]


# --- promise 6: enumeration ------------------------------------------------------------------------


def test_sent_to_looks_alike_for_known_and_unknown_user_names_on_a_pool_with_plain_user_names(serve_pool):
    """On a pool whose users sign in with a user name (many attached pools; the template minus
    UsernameAttributes), an unknown name's imitation answers sentTo="***" (mask() of a name with no
    "@"), a known one's the masked address: one request tells who exists."""
    template = Template()
    template.resources["UserPool"]["Properties"].pop("UsernameAttributes")
    server = serve_pool(template=template)
    moto = boto3.client("cognito-idp", region_name=REGION)  # the pool's store (its SignUp assumes UUID names)
    moto.sign_up(
        ClientId=server.pool.client_id, Username="alice", Password="Aa1-" + "x" * 24,
        UserAttributes=[{"Name": "email", "Value": ALICE}],
    )  # fmt: skip
    moto.admin_confirm_sign_up(UserPoolId=server.pool.pool_id, Username="alice")
    client = passwordless(server)
    known = client.request_code(client.start("alice"))["ChallengeParameters"]
    unknown = client.request_code(client.start("nobody"))["ChallengeParameters"]
    assert set(known) == set(unknown)
    shape = re.compile(r"^.\*\*\*@.\*\*\*\.[a-z]+$")
    # Was: known sentTo is "a***@e***.com", unknown sentTo is "***".
    assert bool(shape.match(known["sentTo"])) == bool(shape.match(unknown["sentTo"])), (known["sentTo"], unknown["sentTo"])


def test_starting_again_with_the_returned_username_looks_alike_for_known_and_unknown_addresses(server):
    """On the default pool (email user names) an unknown address gets a UUID USERNAME shaped like a
    known user's. But a known user's USERNAME is a real user name: starting a sign-in with it finds
    the user (same USERNAME back, sentTo the masked address); an unknown address's stand-in finds
    nobody (a new stand-in back, and sentTo "***" from mask() of a name with no "@")."""
    sign_up(server, ALICE)
    client = passwordless(server)
    seen = {}
    for address in (ALICE, "nobody@example.com"):
        username = client.start(address)["ChallengeParameters"]["USERNAME"]
        again = client.start(username)
        sent_to = client.request_code(again)["ChallengeParameters"]["sentTo"]
        seen[address] = (again["ChallengeParameters"]["USERNAME"] == username, sent_to == f"{address[0]}***@e***.com")
    # Was: {ALICE: (True, True), "nobody@example.com": (False, False)}.
    assert seen[ALICE] == seen["nobody@example.com"] == (True, True), seen


# --- promise 5: the owner can still sign in while someone else keeps requesting emails ---------------


def test_unknown_aliases_cannot_keep_the_owner_from_getting_emails(client, make_user, clock):
    """Mallory asks, whenever the mailbox has room, for a code for an address that does not exist but
    lands in Alice's mailbox (alice+N@). Each request spends the mailbox's budget and sends nothing.
    Alice asks for a link every minute for an hour. Was: every request refused, not one email (so not
    one working link) ever reached her mailbox."""
    make_user(ALICE)
    alice_outcomes, signed_in = [], 0
    for minute in range(60):
        code_outcome(client, f"alice+{minute}@example.com")  # Mallory, first
        alice_outcomes.append(outcome(lambda: client.request_link(client.start(ALICE), APP)))
        if alice_outcomes[-1] == "sent":
            signed_in += "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))
        clock.advance(60)
    # Mallory's requests never made an email; Alice gets the one email a window kept for her own
    # address (an hour: 4 windows of 15 minutes), and each one's link signs her in.
    assert len(sent_emails()) == len(emails_to(ALICE)) == alice_outcomes.count("sent") == signed_in == 4


# --- promise 4: at most 10 wrong codes per user per 24 h ------------------------------------------


def wrong_codes_in_new_sessions(client, clock, sessions: int) -> int:
    """The guesser's work: new sign-ins (each sends Alice a new code), three wrong codes each."""
    given = 0
    for _ in range(sessions):
        clock.advance(301)
        challenge = client.request_code(client.start(ALICE))
        for _ in range(3):
            given += 1
            try:
                challenge = client.answer_code(challenge, wrong(last_code(ALICE)))
            except ClientError:
                break
    return given


def test_the_owners_own_sign_ins_do_not_refill_the_guessers_budget(client, make_user, clock):
    """Was: a right answer cleared the wrong-code count, so every ordinary sign-in by the owner gave
    the guesser 9 more guesses. Now a proof forgives only the typos made on its own code: the
    guesser's 9, then Alice's sign-in by link, then the guesser's 10th locks codes for 24 h."""
    make_user(ALICE)
    assert wrong_codes_in_new_sessions(client, clock, 3) == 9
    clock.advance(301)
    client.request_link(client.start(ALICE), APP)  # Alice signs in as usual
    assert "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))
    clock.advance(301)
    challenge = client.request_code(client.start(ALICE))
    challenge = client.answer_code(challenge, wrong(last_code(ALICE)))  # the 10th in 24 h
    assert "AuthenticationResult" not in client.answer_code(challenge, last_code(ALICE))  # a lucky 11th: refused
    clock.advance(301)
    assert "Too many wrong codes" in refused(lambda: client.request_code(client.start(ALICE)))[1]


def test_a_right_code_forgives_only_its_own_typos(client, make_user, clock):
    make_user(ALICE)
    assert wrong_codes_in_new_sessions(client, clock, 2) == 6  # the guesser's
    clock.advance(301)
    challenge = client.request_code(client.start(ALICE))  # Alice's own sign-in: two typos, then right
    for _ in range(2):
        challenge = client.answer_code(challenge, wrong(last_code(ALICE)))
    assert "AuthenticationResult" in client.answer_code(challenge, last_code(ALICE))
    # The guesser's 6 still count, Alice's 2 typos do not: 3 more make 9, and codes still come...
    assert wrong_codes_in_new_sessions(client, clock, 1) == 3
    clock.advance(301)
    challenge = client.request_code(client.start(ALICE))
    # ... and the 10th locks them.
    client.answer_code(challenge, wrong(last_code(ALICE)))
    clock.advance(301)
    assert "Too many wrong codes" in refused(lambda: client.request_code(client.start(ALICE)))[1]


def test_a_refused_send_does_not_erase_a_wrong_code_counted_meanwhile(client, make_user, clock, deployment):
    """Was: release_send() put the whole item back as it was before the reservation, so a wrong code
    counted between the reservation and the release was erased (an attacker could race every guess
    against a send the mailbox refuses). Now only the fields the reservation wrote go back."""
    from keyless.signin import pseudonyms

    user = _sub_of_user(make_user(ALICE), deployment)
    store, settings = runtime.default_runtime().store, runtime.default_runtime().settings
    key_id = pseudonyms.key_id(runtime.default_runtime().keys.current())
    count_key = pseudonyms.key_id(runtime.default_runtime().pseudonym_key.current())
    budget, now = settings.wrong_codes_budget, int(clock())
    fields = {
        "method": "EMAIL_OTP",
        "sentTo": "a***@e***.com",
        "keyId": key_id,
        "codeHash": "h",
        "codeFlow": "f2",
        "expiresAt": now + 90000,
    }
    reserved = store.reserve_send(user, "f2", now, 60, fields, (), budget, count_key)
    store.record_wrong_code(user, store.read(user), now, budget, count_key, now + 86400, "another-flow")  # counted meanwhile
    store.release_send(user, "f2", reserved.previous, (*fields, "sentAt", "sendId"))
    assert store.read(user)["wrongCodes"] == [now]


def _sub_of_user(user_name: str, deployment) -> str:
    return _sub_of(deployment, user_name)


# --- promise 3: whoever registered first keeps nothing ----------------------------------------------


def password_client(server) -> str:
    """An app client with a password flow, as an attached pool often has beside Keyless's (moto's
    pool is the local pool's store)."""
    moto = boto3.client("cognito-idp", region_name=REGION)
    made = moto.create_user_pool_client(
        UserPoolId=server.pool.pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    return made["UserPoolClient"]["ClientId"]


def password_sign_in(server, client_id: str, username: str) -> dict:
    moto = boto3.client("cognito-idp", region_name=REGION)
    return moto.admin_initiate_auth(
        UserPoolId=server.pool.pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]  # fmt: skip


def test_a_registrants_verified_phone_stops_recovering_the_account_at_the_owners_first_proof(server):
    """Mallory registers Alice's address with her own phone number, verified (on an attached pool that
    verifies phones by SMS; here set by an admin call), a recovery and MFA channel in Cognito. Alice's
    first proof un-verifies it, so it can no longer recover the account; the other attributes she
    planted stay, and the profile's emailProvedAt says they came before the first proof."""
    cognito = pool_cognito(server)
    planted = {"phone_number": "+15555550100", "name": "Mallory", "preferred_username": "mallory"}
    cognito.sign_up(
        ClientId=server.pool.client_id, Username=ALICE, Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": ALICE}, *({"Name": k, "Value": v} for k, v in planted.items())],
    )  # fmt: skip
    cognito.admin_update_user_attributes(
        UserPoolId=server.pool.pool_id, Username=ALICE, UserAttributes=[{"Name": "phone_number_verified", "Value": "true"}]
    )
    app = PasswordlessClient(cognito, server.pool.client_id)
    app.request_link(app.start(ALICE), f"{server.url}/")
    tokens = app.sign_in_with_link(link_in(mails_to(server, ALICE)[0]))["AuthenticationResult"]
    attributes = {a["Name"]: a["Value"] for a in cognito.get_user(AccessToken=tokens["AccessToken"])["UserAttributes"]}
    assert attributes["email_verified"] == "true"  # the claim ran
    assert attributes["phone_number_verified"] == "false"
    assert attributes["name"] == "Mallory"  # documented: not trusted until the owner confirms it


# --- promise 6 again: a new key resets unknown users' limits, not known users' ---------------------------


def lock_out_with_wrong_codes(client, clock, address: str) -> None:
    for _ in range(4):  # 12 wrong answers: over the budget of 10
        clock.advance(301)
        challenge = client.request_code(client.start(address))
        for _ in range(3):
            guess = "000000" if address != ALICE or last_code(ALICE) != "000000" else "111111"
            try:
                challenge = client.answer_code(challenge, guess)
            except ClientError:
                break


@pytest.mark.parametrize("key", ["SIGNING_KEY_SECRET_ID", "PSEUDONYM_KEY_SECRET_ID"])
def test_a_new_key_treats_locked_known_and_unknown_addresses_alike(client, make_user, clock, deployment, key):
    """Unknown users are keyed by an HMAC (under the signing key then, the pseudonym key now), known
    ones by sub. Lock a known and an unknown address with wrong codes (both answer "Too many wrong
    codes"); after the key changed the unknown one was fresh again and the known one still locked:
    whoever probed after a rotation learnt which addresses have accounts. Now a signing key rotation
    leaves both locked, and a new pseudonym key (replaced by hand) frees both."""
    ghost = "ghost@example.com"
    make_user(ALICE)
    for address in (ALICE, ghost):
        lock_out_with_wrong_codes(client, clock, address)
    clock.advance(301)
    before = {a: code_outcome(client, a) for a in (ALICE, ghost)}
    assert all("Too many wrong codes" in o for o in before.values())
    secrets_manager = boto3.client("secretsmanager", region_name=REGION)
    secrets_manager.put_secret_value(SecretId=deployment.environment[key], SecretString="r" * 64)
    runtime.reset(clock=clock)  # a container that reads the new key
    clock.advance(301)
    after = {a: code_outcome(client, a) for a in (ALICE, ghost)}
    # Was: ALICE -> "Too many wrong codes", ghost -> "sent".
    assert after[ALICE] == after[ghost] == (before[ALICE] if key == "SIGNING_KEY_SECRET_ID" else "sent"), after


# --- the local pool's Cognito semantics: codes that prove an address, guessed without limit -----------


def test_local_pool_confirm_sign_up_codes_have_an_attempt_limit(serve_pool):
    """With AutoConfirmSignUp=false, Mallory registers Alice's address and guesses the 6-digit
    confirmation code: Cognito stops a guesser after a few wrong codes (LimitExceededException), the
    local pool never does. The brute force ends with email_verified=true on Mallory's account for an
    address she does not control, which Keyless then never takes back (see the test above)."""
    server = serve_pool(parameters={"AutoConfirmSignUp": "false"})
    cognito = pool_cognito(server, retry=False)
    cognito.sign_up(
        ClientId=server.pool.client_id, Username=ALICE, Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": ALICE}],
    )  # fmt: skip
    code = re.search(r"\b(\d{6})\b", mails_to(server, ALICE)[0]["text"]).group(1)
    errors = set()
    for guess in range(40):
        attempt = f"{(int(code) + 1 + guess) % 10**6:06d}"
        confirm = functools.partial(
            cognito.confirm_sign_up, ClientId=server.pool.client_id, Username=ALICE, ConfirmationCode=attempt
        )
        errors.add(refused(confirm)[0])
    # Was: 40 wrong codes, every one answered CodeMismatchException, no limit.
    assert "LimitExceededException" in errors, errors


def test_local_pool_attribute_codes_have_request_and_attempt_limits(server):
    """Mallory, signed in to her own account, changes her email to Alice's (it waits for its code),
    then asks for a new code again and again: each new code gets 5 more guesses, and each request
    mails Alice. 8 rounds: 40 guesses and 9 emails to Alice in an instant, never refused."""
    mallory = "mallory@example.com"
    cognito = pool_cognito(server, retry=False)
    cognito.sign_up(
        ClientId=server.pool.client_id, Username=mallory, Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": mallory}],
    )  # fmt: skip
    app = PasswordlessClient(cognito, server.pool.client_id)
    sent = app.request_code(app.start(mallory))
    access = app.answer_code(sent, code_in(mails_to(server, mallory)[0]))["AuthenticationResult"]["AccessToken"]
    cognito.update_user_attributes(AccessToken=access, UserAttributes=[{"Name": "email", "Value": ALICE}])
    refused_requests, guesses = [], 0
    for _ in range(8):
        try:
            cognito.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")  # mails Alice
        except ClientError as exc:
            refused_requests.append(exc.response["Error"]["Code"])
            continue
        for guess in range(5):  # the 5th wrong code drops this code; a new one gets 5 more
            guesses += 1
            with pytest.raises(ClientError):
                cognito.verify_user_attribute(AccessToken=access, AttributeName="email", Code=f"{guess:06d}")
    # Was: 40 guesses, 9 emails to Alice, and no request for a new code was ever refused.
    assert refused_requests, (guesses, len(mails_to(server, ALICE)))


# --- sign-up rules: an address change is never checked ----------------------------------------------


def test_sign_up_domain_rules_hold_after_the_email_changes(serve_pool, served_clock):
    """SignUpAllowedDomains=example.com: only example.com addresses may have accounts. Mallory signs
    up with her example.com address, then moves the account to an address PreSignUp would refuse
    (UpdateUserAttributes + the Cognito code she receives there) and keeps signing in with it, e.g.
    after leaving the company that owns example.com."""
    server = serve_pool(parameters={"SignUpAllowedDomains": "example.com"})
    cognito = pool_cognito(server)
    outside = "mallory@elsewhere.org"
    assert refused(lambda: cognito.sign_up(
        ClientId=server.pool.client_id, Username=outside, Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": outside}]
    ))[0] == "UserLambdaValidationException"  # fmt: skip
    inside = "mallory@example.com"
    cognito.sign_up(
        ClientId=server.pool.client_id, Username=inside, Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": inside}]
    )
    app = PasswordlessClient(cognito, server.pool.client_id)
    sent = app.request_code(app.start(inside))
    access = app.answer_code(sent, code_in(mails_to(server, inside)[0]))["AuthenticationResult"]["AccessToken"]
    cognito.update_user_attributes(AccessToken=access, UserAttributes=[{"Name": "email", "Value": outside}])
    code = re.search(r"\b(\d{6})\b", mails_to(server, outside)[0]["text"]).group(1)
    cognito.verify_user_attribute(AccessToken=access, AttributeName="email", Code=code)
    served_clock.advance(61)
    # Was: the outside address kept signing in. Now it gets no email.
    assert refused(lambda: app.request_link(app.start(outside), f"{server.url}/")) == (
        "UserLambdaValidationException",
        "CreateAuthChallenge failed with error Sign-in with this email address is not allowed.",
    )


# --- one email, one sign-in ---------------------------------------------------------------------------


def test_one_code_email_signs_in_once(client, make_user):
    """Every code email also carries a link. Alice signs in with the code; the link beside it in the
    same email stays valid for 15 minutes and signs in a second time (whoever sees the email later:
    a shared or forwarded mailbox, a synced device)."""
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    assert "AuthenticationResult" in client.answer_code(sent, last_code(ALICE))
    link = last_link(ALICE)
    # Was: the already-used email signs in again.
    assert refused(lambda: client.sign_in_with_link(link))[0] == "NotAuthorizedException"


# --- design: key rotation with warm containers -------------------------------------------------------


def test_after_a_rotation_a_warm_container_accepts_new_links_and_codes(client, make_user, clock, deployment, monkeypatch):
    """Containers cache the signing key for SIGNING_KEY_CACHE_SECONDS (1 h). After a rotation a new
    container signs with the new key while a warm one still checks only the old one (its
    AWSPREVIOUS is the old key too): Alice's fresh link is refused, and her right codes are
    recorded as wrong guesses until she is locked out of codes for 24 h."""
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    client.sign_in_with_link(last_link(ALICE))  # the warm container has read the key
    warm = runtime.default_runtime()
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(SecretId=deployment.secret_id, SecretString="q" * 64)

    def on(container):
        """Route the next trigger calls to `container` (Lambda picks any container)."""
        monkeypatch.setattr(runtime, "SignInRuntime", lambda **_: container)
        runtime.default_runtime.cache_clear()

    fresh = runtime.SignInRuntime(clock=clock)
    clock.advance(301)
    on(fresh)
    client.request_link(client.start(ALICE), APP)  # sent by a new container, new key
    link = last_link(ALICE)
    on(warm)
    results = {"link": outcome(lambda: client.sign_in_with_link(link))}
    clock.advance(301)
    on(fresh)
    challenge = client.request_code(client.start(ALICE))
    on(warm)
    answered = client.answer_code(challenge, last_code(ALICE))  # the right code
    results["code"] = (
        "sent"
        if "AuthenticationResult" in answered
        else f"refused, attemptsLeft={answered['ChallengeParameters']['attemptsLeft']}"
    )
    wrong_codes = warm.store.read(_sub_of(deployment, ALICE)).get("wrongCodes", [])
    # Was: the link gets "Incorrect username or password.", the right code is refused and counted
    # as a wrong one ({"link": ..., "code": "refused, attemptsLeft=2"}, wrongCodes has one entry).
    assert results == {"link": "sent", "code": "sent"} and not wrong_codes, (results, wrong_codes)


def _sub_of(deployment, username: str) -> str:
    user = boto3.client("cognito-idp", region_name=REGION).admin_get_user(UserPoolId=deployment.pool_id, Username=username)
    return next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")


# --- redirects: the query is free, and the landing page obeys it ---------------------------------------


def test_a_link_is_redeemed_only_at_the_pool_and_client_it_was_issued_for(server, browser):
    """The allowlist leaves the query free, and the demo page (the README's reference client, whose
    origin the template allows by default and the README tells you to allow for a deployed pool)
    takes its Cognito endpoint from ?region=&clientId=. Mallory asks for a link for Alice with
    redirectUri <page>?region=us-east-1&clientId=<her own app client>: Keyless emails Alice a
    genuine link whose page sends the secret to Mallory's pool (her VerifyAuthChallengeResponse
    sees every ANSWER, for unknown users too). Mallory then signs in as Alice with it."""
    cognito = pool_cognito(server)
    sign_up(server, ALICE)
    mallory = PasswordlessClient(cognito, server.pool.client_id)
    evil = f"{server.url}/?region=us-east-1&clientId=MallorysOwnAppClient1"
    mallory.request_link(mallory.start(ALICE), evil)  # accepted: the query is free
    stolen: list[str] = []

    def mallorys_pool(route):
        import json

        cors = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*", "Access-Control-Allow-Methods": "POST"}
        if route.request.method == "OPTIONS":
            return route.fulfill(status=200, headers=cors, body="")
        body = json.loads(route.request.post_data or "{}")
        if body.get("ClientId") != "MallorysOwnAppClient1":  # the real pool, at Amazon: not Mallory's to read
            return route.abort()
        if route.request.headers.get("x-amz-target", "").endswith("InitiateAuth"):
            answer = {"ChallengeName": "CUSTOM_CHALLENGE", "Session": "s", "ChallengeParameters": {"USERNAME": "x"}}
            return route.fulfill(status=200, headers=cors, body=json.dumps(answer))
        stolen.append(body["ChallengeResponses"]["ANSWER"])  # what Mallory's Verify trigger logs
        error = {"__type": "NotAuthorizedException", "message": "Incorrect username or password."}
        return route.fulfill(status=400, headers=cors, body=json.dumps(error))

    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("https://cognito-idp.us-east-1.amazonaws.com/**", mallorys_pool)
        page.goto(link_in(mails_to(server, ALICE)[0]))  # Alice clicks the link in the genuine email
        page.click("#land-confirm")  # not the browser that asked: the person confirms
        page.wait_for_selector("#signed-in:not([hidden])", timeout=15000)
    finally:
        context.close()
    # Was: the page sent the secret to Mallory's client; now it redeems a link only where it was
    # issued (and signs Alice in there), whatever the page's query says.
    assert stolen == []


# === the second review (against 4ede954) ===============================================================


@pytest.fixture
def case_sensitive_pool(aws, monkeypatch):
    with plain_name_pool(monkeypatch, True, {"alice": ALICE}) as pool:
        yield pool


@pytest.fixture
def plain_pool(aws, monkeypatch):
    users = {"alice": ALICE, **{f"user{i}": f"user{i}@example.com" for i in range(5)}}
    with plain_name_pool(monkeypatch, False, users) as pool:
        yield pool


def _sub_of(deployment, username: str) -> str:
    user = boto3.client("cognito-idp", region_name=REGION).admin_get_user(UserPoolId=deployment.pool_id, Username=username)
    return next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")


# --- promise 6: who exists, asked of pools with plain user names -----------------------------------------


def test_on_a_case_sensitive_pool_unknown_names_keep_limits_per_exact_name(case_sensitive_pool):
    """Was: known users were keyed by sub ("alice" and "ALICE" are two people), unknown names by the
    name lower-cased ("bob" and "BOB" one), so asking for "x" then at once for "X" was refused
    ("Please wait") exactly when "x" did not exist."""
    client, _clock, _ = case_sensitive_pool
    seen = {}
    for name in ("alice", "bob"):  # "alice" exists, "bob" does not
        client.request_code(client.start(name))
        seen[name] = code_outcome(client, name.upper())
    assert seen["alice"] == seen["bob"], seen


def test_where_users_type_a_user_name_nobodys_address_is_shown(plain_pool):
    """Was: an unknown plain name got a stand-in masked address drawn uniformly, while a pool's real
    users share a few domains: "@e***.com" told who existed. Now sentTo is "***" for everyone on
    pools whose user names are not addresses."""
    client, clock, _ = plain_pool
    seen = set()
    for name in [f"user{i}" for i in range(5)] + [f"ghost{i}" for i in range(5)]:
        seen.add(client.request_code(client.start(name))["ChallengeParameters"]["sentTo"])
        clock.advance(61)
    assert seen == {"***"}


def test_a_key_rotation_changes_no_ones_sent_to(plain_pool):
    """Was: the stand-in masked address was keyed by the signing key, a real one was not: probing
    before and after a rotation told who existed."""
    client, clock, deployed = plain_pool
    before = {n: client.request_code(client.start(n))["ChallengeParameters"]["sentTo"] for n in ("user0", "ghost")}
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(SecretId=deployed.secret_id, SecretString="r" * 64)
    runtime.reset(clock=clock)
    clock.advance(301)
    after = {n: client.request_code(client.start(n))["ChallengeParameters"]["sentTo"] for n in ("user0", "ghost")}
    assert before == after


# --- promise 5: nobody keeps the owner of an address from getting emails ----------------------------------


def test_an_address_typed_as_a_user_name_cannot_spend_the_owners_own_email(plain_pool):
    """Was: on a pool of plain user names, "alice@example.com" typed as an (unknown) user name counted
    as Alice's mailbox's own address: Mallory's requests, which email nobody, spent the burst and
    the email kept for Alice's own address, and Alice got nothing for the whole window."""
    client, clock, _ = plain_pool
    alice = []
    for _minute in range(15):
        outcome(lambda: client.request_code(client.start("alice@example.com")))  # Mallory: unknown name, no email
        alice.append(outcome(lambda: client.request_link(client.start("alice"), APP)))
        clock.advance(60)
    assert emails_to(ALICE), alice


def test_the_owner_signs_in_from_the_emails_someone_else_asks_for_whatever_page_they_chose(server, served_clock, browser):
    """Was: Mallory asked for Alice's links with redirectUri <sign-in page>?region=x (the query is
    free); the demo page refused that address and never redeemed the link, and three such requests
    also spent the email kept for Alice's own address: every email she had was a dead end. Now the
    page redeems a link wherever it lands (the link names its pool and client), and the email kept
    for her own address opens the first allowed page."""
    sign_up(server, ALICE)
    app = passwordless(server)
    for _ in range(3):
        app.request_link(app.start(ALICE), f"{server.url}/?region=x")  # allowed: the query is free
        served_clock.advance(61)
    outcome(lambda: app.request_link(app.start(ALICE), f"{server.url}/"))
    newest = link_in(mails_to(server, ALICE)[0])  # newest first
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(newest)
        page.click("#land-confirm")  # not the browser that asked: the person confirms
        page.wait_for_selector("#signed-in:not([hidden])", timeout=15000)
    finally:
        context.close()


def test_a_stand_in_handed_out_before_sign_up_cannot_spend_the_owners_mailbox(server, served_clock):
    """Was: the local pool mapped a stand-in USERNAME back to the name it stood for, forever. Mallory
    probed alice@example.com before Alice signed up and kept its stand-in; afterwards sign-ins with
    it ran as an unknown user named alice@example.com, spending Alice's burst and own email. (Cognito
    treats a typed UUID as a user name of its own, with no address; the local pool now does too once
    the name it stood for exists.)"""
    app = passwordless(server)
    stand_in = app.start(ALICE)["ChallengeParameters"]["USERNAME"]  # before Alice exists
    sign_up(server, ALICE)
    alice = []
    for _ in range(10):
        outcome(lambda: app.request_code(app.start(stand_in)))  # Mallory
        alice.append(outcome(lambda: app.request_link(app.start(ALICE), f"{server.url}/")))
        served_clock.advance(60)
    assert mails_to(server, ALICE), alice


def test_a_googlemail_owner_keeps_an_email_of_her_own(client, make_user, clock):
    """Was: alice@googlemail.com (no +tag, no dots) was not its mailbox's own address to is_primary()
    (the mailbox form is alice@gmail.com), so unknown aliases alice+N@gmail.com spent the whole
    mailbox and its owner got nothing."""
    owner = "alice@googlemail.com"
    make_user(owner)
    alice = []
    for minute in range(15):
        code_outcome(client, f"alice+{minute}@gmail.com")  # Mallory: no email
        alice.append(outcome(lambda: client.request_link(client.start(owner), APP)))
        clock.advance(60)
    assert emails_to(owner), alice


def test_a_mailbox_gets_at_most_one_email_beyond_its_budget_per_window(client, make_user, clock):
    """Was (found while checking the own email): it was taken whenever the mailbox said wait,
    including inside the 60 s spacing, and the README promised "at least 60 s apart" for every
    email. The documented rule now: a mailbox gets at most EmailBurst (3) emails per 15 minutes at
    least 60 s apart, plus one a window for each account whose address is the mailbox's own, which
    may come sooner. Everyone asks every 20 s for 20 minutes; the rule is checked on what was sent."""
    owners = [ALICE, "alice+shop@example.com"]  # one own address, one alias, in one mailbox
    for address in owners:
        make_user(address)
    sent_at = []
    for tick in range(60):
        askers = [*owners, f"alice+{tick}@example.com"]  # an unknown alias too: it spends, nothing is sent
        turn = (tick // 3) % 3  # each goes first for a minute in turn
        for address in askers[turn:] + askers[:turn]:
            before = len(sent_emails())
            code_outcome(client, address)
            if len(sent_emails()) > before:
                sent_at.append((clock(), address))
        clock.advance(20)
    for start, _ in sent_at:
        window = [who for at, who in sent_at if start <= at < start + 900]
        others = [who for who in window if who != ALICE]
        assert len(window) <= 4 and len(others) <= 3, window
        close = [who for at, who in sent_at if start <= at < start + 60]
        assert len(close) <= 2 and len([who for who in close if who != ALICE]) <= 1, close
    assert any(who == ALICE for _, who in sent_at) and any(who != ALICE for _, who in sent_at)


# --- promise 4: a guesser cannot make the owner's right code count as wrong --------------------------------


def _forged_link(key_id: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"k": key_id}).encode()).rstrip(b"=").decode()
    return f"{payload}.AAAA"


def test_a_forged_link_cannot_make_a_right_code_count_as_wrong_after_a_rotation(
    client, make_user, clock, deployment, monkeypatch
):
    """Was: a warm container read the keys again when a link or code named a key it lacked, at most
    once a minute, and the key id of a forged link is unverified: Mallory spent that refresh just
    before a rotation, and Alice's right code (sent by a new container under the new key) was
    counted against her wrong-code budget at the warm one. Now an item's own key id (trusted, from
    the table) refreshes on its own budget, and a code under a key still not held counts nothing."""
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    client.sign_in_with_link(last_link(ALICE))  # the warm container holds the key
    warm = runtime.default_runtime()
    new_container = runtime.SignInRuntime

    def on(container):
        monkeypatch.setattr(runtime, "SignInRuntime", lambda **_: container)
        runtime.default_runtime.cache_clear()

    on(warm)
    clock.advance(61)
    outcome(
        lambda: client.respond(
            client.start(ALICE), _forged_link("nosuchkey"), {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"}
        )
    )
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(SecretId=deployment.secret_id, SecretString="q" * 64)
    on(new_container(clock=clock))  # a container started after the rotation
    clock.advance(1)
    challenge = client.request_code(client.start(ALICE))  # sent with the new key
    on(warm)
    clock.advance(10)
    answered = client.answer_code(challenge, last_code(ALICE))  # the right code
    assert "AuthenticationResult" in answered
    assert not warm.store.read(_sub_of(deployment, ALICE)).get("wrongCodes")


# --- nothing a user did is lost to a fault or a retry -------------------------------------------------------


def forgiving(params: dict) -> bool:
    """The write that forgives the owner's typos, once the right code is accepted."""
    return "REMOVE #codeWrongs" in params.get("UpdateExpression", "")


def counting_a_wrong_code(params: dict) -> bool:
    """The write that counts a refused code."""
    return "#codeWrongs = if_not_exists" in params.get("UpdateExpression", "")


def test_a_fault_in_forgiving_typos_does_not_fail_the_sign_in(client, make_user, faults, deployment):
    """Was: a right code after a typo was accepted (the email's code and link marked used), then the
    typo forgiven in a second write; when DynamoDB throttled that write the sign-in failed and both
    proofs of the email were spent. Now forgiving is best effort: the owner is signed in, the typo
    stays counted."""
    make_user(ALICE)
    challenge = client.request_code(client.start(ALICE))
    code = last_code(ALICE)
    challenge = client.answer_code(challenge, wrong(code))  # a typo
    throttled = faults.fail(
        "dynamodb", "UpdateItem", "ProvisionedThroughputExceededException", "slow", when=forgiving, times=None
    )
    assert "AuthenticationResult" in client.answer_code(challenge, code)
    assert throttled.picked >= 1, "the forgiving write was throttled"
    assert len(runtime.default_runtime().store.read(_sub_of(deployment, ALICE))["wrongCodes"]) == 1


def test_a_retried_verify_forgives_the_owners_typos_once(deployment, clock, make_user, faults):
    """Promise: the owner's sign-ins never give a guesser new guesses. Was: a right code after 2 typos
    forgave the newest 2 wrong codes, fixing the number from the item it was given; Cognito retried
    a Verify that took over its timeout (a slow forgiving write) while the first call ran on: both
    accepted (same sign-in), both forgave, and 2 of the guesser's wrong codes went with the typos."""
    handlers = deployment.handlers()
    auth, _runner, _ = local_pool(deployment, clock=clock, timeout_seconds=2, handlers=handlers)  # only the held call runs out
    client = PasswordlessClient(InProcessCognito(auth, deployment.client), deployment.client.client_id)
    make_user(ALICE)
    for _ in range(2):  # the guesser: 6 wrong codes
        clock.advance(301)
        challenge = client.request_code(client.start(ALICE))
        for _ in range(3):
            try:
                challenge = client.answer_code(challenge, wrong(last_code(ALICE)))
            except ClientError:
                break
    clock.advance(301)
    challenge = client.request_code(client.start(ALICE))  # Alice: 2 typos, then the right code
    code = last_code(ALICE)
    for _ in range(2):
        challenge = client.answer_code(challenge, wrong(code))
    sub = _sub_of(deployment, ALICE)
    store = runtime.default_runtime().store
    assert len(store.read(sub)["wrongCodes"]) == 8
    # The first call's forgiving write waits until Cognito's retry of the whole Verify has returned.
    held = faults.hold("dynamodb", "UpdateItem", hold="before", when=forgiving)
    assert "AuthenticationResult" in client.answer_code(challenge, code)
    held.wait_for_the_first()
    assert held.second_returned.is_set()  # both calls reached the forgiving write
    assert len(store.read(sub).get("wrongCodes", [])) == 6


# === the third review (against 6f221ff) ================================================================


def default_page_link_in(mail: dict) -> str:
    """The email's second link: the same sign-in on the first allowed page (the demo page here)."""
    found = re.findall(r"(http://\S+#\S+)", mail["text"])
    assert len(found) == 2, found
    return found[-1]


def signs_in_on_the_page(browser, link: str) -> bool:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(link)
        page.click("#land-confirm")  # not the browser that asked: the person confirms
        page.wait_for_selector("#signed-in:not([hidden])", timeout=15000)
        return True
    finally:
        context.close()


def test_the_newest_email_signs_in_whatever_page_someone_else_chose_for_it(server, served_clock, browser):
    """Was: Mallory asked for Alice's own account's emails, whenever the mailbox had room, with an
    allowed redirectUri that is no sign-in page (an origin entry allows any path). Each spent the
    mailbox's 3 and the email kept for Alice's address; for 45 minutes Alice's requests got nothing
    and every email she had opened the dead page. Now every email also opens the first allowed page."""
    sign_up(server, ALICE)
    app = passwordless(server)
    for _minute in range(20):
        outcome(lambda: app.request_link(app.start(ALICE), f"{server.url}/no-such-page"))  # Mallory, whenever there is room
        outcome(lambda: app.request_link(app.start(ALICE), f"{server.url}/"))  # Alice
        served_clock.advance(60)
    newest = mails_to(server, ALICE)[0]
    assert link_in(newest).startswith(f"{server.url}/no-such-page#")
    assert signs_in_on_the_page(browser, default_page_link_in(newest))


def test_an_email_asked_for_through_another_app_client_opens_the_first_allowed_page(deployment, clock, make_user):
    """Was: on a pool with another app client that allows CUSTOM_AUTH (an empty ExplicitAuthFlows
    does), Mallory asked for Alice's emails through it: every link was for that client, which Alice's
    app refuses, and her own requests were refused. Now each such email also opens the first allowed
    page, where a page that redeems links through the client named in them (as the demo page does
    against Cognito) signs her in; and attaching to a pool warns about such clients
    (tests/test_attach.py)."""
    auth, _runner, _tokens = local_pool(deployment, clock=clock)
    made = boto3.client("cognito-idp", region_name=REGION).create_user_pool_client(
        UserPoolId=deployment.pool_id, ClientName="mobile"
    )
    other = AppClient(client_id=made["UserPoolClient"]["ClientId"])
    mallory = PasswordlessClient(InProcessCognito(auth, other), other.client_id)
    alices_app = PasswordlessClient(InProcessCognito(auth, deployment.client), deployment.client.client_id)
    make_user(ALICE)
    mallory.request_link(mallory.start(ALICE), APP + "/elsewhere")
    text = emails_to(ALICE)[-1].body
    default_link = re.findall(r'href="([^"]+)"', text)[-1].replace("&amp;", "&")
    assert default_link.startswith(("https://app.example.com#", "https://app.example.com/#"))
    with pytest.raises(ValueError, match="another app client"):
        alices_app.sign_in_with_link(default_link)  # an app redeems only its own client's links
    assert "AuthenticationResult" in PasswordlessClient(InProcessCognito(auth, other), other.client_id).sign_in_with_link(
        default_link
    )


def test_on_a_pool_of_plain_user_names_an_address_typed_as_a_name_does_not_tell_who_exists(aws, monkeypatch):
    """Was: a known name's request spent its address's mailbox, an unknown name's the mailbox of what
    was typed; so asking for "alice" and then for the unknown name "alice+probe@example.com" said
    "Please wait" exactly when "alice" existed with that address. Unknown plain names spend no mailbox."""
    with plain_name_pool(monkeypatch, False, {"alice": ALICE}) as (client, clock, _deployed):
        seen = {}
        for name in ("alice", "ghost"):  # "alice" exists, "ghost" does not
            clock.advance(901)
            client.request_code(client.start(name))
            seen[name] = code_outcome(client, f"{name}+probe@example.com")
        assert seen == {"alice": "sent", "ghost": "sent"}


def test_a_guessers_wrong_code_is_never_forgiven_as_the_owners_typo(client, make_user, clock, deployment, faults):
    """Was: a wrong code is counted after the refused answer, by a write conditional only on the
    wrong-code list's version, adding one to the typo count of whatever code is current by then. If
    Alice's send landed in between, Mallory's guess counted as a typo of Alice's new code, and Alice's
    right answer forgave it. Now a typo counts only while its code is still the current one."""
    make_user(ALICE)
    store = runtime.default_runtime().store
    sub = _sub_of(deployment, ALICE)
    mallory = client.request_code(client.start(ALICE))  # Mallory's session: the code goes to Alice
    guess = wrong(last_code(ALICE))
    clock.advance(61)
    counting = faults.pause("dynamodb", "UpdateItem", when=counting_a_wrong_code)
    guesser = threading.Thread(target=lambda: outcome(lambda: client.answer_code(mallory, guess)))
    guesser.start()
    counting.wait_until_reached()  # Mallory's guess was refused; its count waits there ...
    alices = client.request_code(client.start(ALICE))  # ... while Alice's send lands
    counting.release()
    guesser.join(timeout=60)
    assert not guesser.is_alive()
    assert len(store.read(sub).get("wrongCodes", [])) == 1  # Mallory's guess counted ...
    assert "AuthenticationResult" in client.answer_code(alices, last_code(ALICE))
    assert len(store.read(sub).get("wrongCodes", [])) == 1  # ... and never forgiven


def test_an_email_ses_may_have_sent_counts_as_sent(client, make_user, faults):
    """Was: any exception from SendEmail, a read timeout after SES took the email included, meant "not
    sent": the previous link was put back (the one just delivered was refused) and the limits were
    refunded, so while SES was slow every request delivered an email nothing counted."""
    from botocore.exceptions import ReadTimeoutError

    make_user(ALICE)
    timed_out = faults.lose_answer(
        "sesv2", "SendEmail", ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com"), times=None
    )
    outcomes = [outcome(lambda: client.request_link(client.start(ALICE), APP)) for _ in range(5)]
    faults.remove(timed_out)
    assert outcomes[0] == "sent" and all("Please wait" in o for o in outcomes[1:]) and len(emails_to(ALICE)) == 1
    assert timed_out.picked == 1
    assert "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))
