"""Attacks on account integrity, tried from outside through the local user pool as a client would:
a proof worth more than the address it was sent to, one user's proof signing in another, keeping an
account registered with someone else's address, guessing codes across sessions, flooding a mailbox,
and claims taken from what the client said."""

from __future__ import annotations

import itertools

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError

from keyless.aws import runtime
from keyless_client import PasswordlessClient, link_secret, link_user
from localpool.deployment import REGION
from localpool.template import Template
from testkit.clients import error_code, passwordless, pool_cognito, refused, sign_up
from testkit.concurrency import run_at_once
from testkit.deployment import plain_name_pool
from testkit.mail import code_in, emails_to, last_code, last_link, link_in, mailbox, sent_emails, wrong

APP = "https://app.example.com/welcome"
ALICE = "alice@example.com"
MALLORY = "mallory@example.com"
LINK = {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"}


def attributes(cognito, deployment, username: str) -> dict:
    user = cognito.admin_get_user(UserPoolId=deployment.pool_id, Username=username)
    return {"email_verified": "false", **{a["Name"]: a["Value"] for a in user["UserAttributes"]}}


def change_email(cognito, deployment, username: str, email: str) -> None:
    """What UpdateUserAttributes does on a pool that lets users change email without verification:
    the new address at once, unverified."""
    cognito.admin_update_user_attributes(
        UserPoolId=deployment.pool_id,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "false"}],
    )


def served_app(server, email: str) -> tuple[PasswordlessClient, str]:
    """A client of the served pool, and a user who signed up through it (PreSignUp and PostConfirmation ran)."""
    return passwordless(server), sign_up(server, email)


def newest_mail(server, to: str) -> dict:
    return next(m for m in mailbox(server) if to in m["to"])


def id_claims(result: dict) -> dict:
    return jwt.decode(result["AuthenticationResult"]["IdToken"], options={"verify_signature": False})


def answer_until_refused(client, challenge: dict, answer: str, bound: int = 10) -> int:
    """Answers `answer` until the sign-in fails; returns how many answers were given (a sign-in
    allows 3: `bound` answers without a refusal fail the test)."""
    for given in range(1, bound + 1):
        try:
            challenge = client.answer_code(challenge, answer)
        except ClientError:
            return given
        assert "AuthenticationResult" not in challenge
    raise AssertionError(f"{bound} answers and the sign-in still goes on")


# --- 1. a proof is worth exactly the address it was sent to --------------------------------------


def test_a_link_does_not_verify_an_address_it_was_not_sent_to(client, make_user, cognito, deployment):
    mallory = make_user(MALLORY)
    client.request_link(client.start(MALLORY), APP)
    link = last_link(MALLORY)
    change_email(cognito, deployment, mallory, ALICE)  # the victim's address, which Mallory does not own
    assert refused(lambda: client.sign_in_with_link(link)) == ("NotAuthorizedException", "Incorrect username or password.")
    assert attributes(cognito, deployment, mallory)["email_verified"] == "false"


def test_a_code_does_not_verify_an_address_it_was_not_sent_to(client, make_user, cognito, deployment):
    mallory = make_user(MALLORY)
    sent = client.request_code(client.start(MALLORY))
    code = last_code(MALLORY)
    change_email(cognito, deployment, mallory, ALICE)
    assert answer_until_refused(client, sent, code) == 3  # refused each time, like a wrong code
    assert attributes(cognito, deployment, mallory)["email_verified"] == "false"


def test_a_proof_still_works_when_the_address_only_changes_case(client, make_user, cognito, deployment):
    alice = make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    change_email(cognito, deployment, alice, ALICE.upper())
    assert "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))


def test_a_refused_link_verifies_nothing(client, make_user, cognito, deployment, clock):
    alice = make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    older = last_link(ALICE)
    clock.advance(61)
    client.request_link(client.start(ALICE), APP)  # supersedes the first
    refused(lambda: client.sign_in_with_link(older))
    assert attributes(cognito, deployment, alice)["email_verified"] == "false"


def test_the_address_is_verified_by_the_proof_that_reached_it(client, make_user, cognito, deployment):
    alice = make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    result = client.sign_in_with_link(last_link(ALICE))
    assert attributes(cognito, deployment, alice)["email_verified"] == "true"
    assert id_claims(result)["email"] == ALICE and id_claims(result)["email_verified"] is True


# --- 2. exact identity, on every kind of pool ----------------------------------------------------


@pytest.fixture
def case_sensitive(aws, monkeypatch):
    """Plain user names, case-sensitive (Cognito's API default): "alice" and "Alice" are two people."""
    users = {"alice": "alice@example.com", "Alice": "other.alice@example.com"}
    with plain_name_pool(monkeypatch, True, users) as (client, clock, _deployed):
        yield client, clock


def test_on_a_case_sensitive_pool_one_users_link_does_not_sign_in_the_other(case_sensitive):
    client, _clock = case_sensitive
    client.request_link(client.start("alice"), APP)
    link = last_link("alice@example.com")
    assert link_user(link_secret(link)) == "alice"
    other = client.start("Alice")
    assert other["ChallengeParameters"]["USERNAME"] == "Alice"
    assert refused(lambda: client.respond(other, link_secret(link), LINK))[0] == "NotAuthorizedException"
    assert id_claims(client.sign_in_with_link(link))["cognito:username"] == "alice"


def test_on_a_case_sensitive_pool_each_user_has_their_own_send_limit(case_sensitive):
    client, _clock = case_sensitive
    client.request_code(client.start("alice"))
    client.request_code(client.start("Alice"))  # not "Please wait": another person
    assert len(emails_to("alice@example.com")) == 1 and len(emails_to("other.alice@example.com")) == 1


def test_a_link_works_in_a_sign_in_started_with_the_address_in_another_case(client, make_user):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    started = client.start(ALICE.upper())  # Cognito resolves it to the same user (same sub)
    assert "AuthenticationResult" in client.respond(started, link_secret(last_link(ALICE)), LINK)


def test_the_link_names_the_user_by_sub(client, make_user):
    sub = make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    payload = link_secret(last_link(ALICE)).split(".")[0]
    import base64
    import json

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["s"] == sub and ALICE not in json.dumps(claims)


def test_the_table_is_keyed_by_sub_with_no_address_in_it(client, make_user, deployment):
    sub = make_user(ALICE)
    client.request_code(client.start(ALICE))
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=deployment.table_name)["Items"]
    keys = {item["pk"]["S"] for item in items}
    assert f"USER#{sub}" in keys
    text = str(items).lower()
    assert ALICE not in text and "alice" not in text.replace("a***", "")


# --- 3. whoever registered an address first keeps nothing -----------------------------------------

PASSWORD = "Registrant-Chosen-Passw0rd"


@pytest.fixture
def password_client(deployment, cognito):
    """An app client that signs in with passwords, as an attached pool often has beside Keyless's."""
    made = cognito.create_user_pool_client(
        UserPoolId=deployment.pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    return made["UserPoolClient"]["ClientId"]


def password_sign_in(cognito, deployment, client_id: str, username: str) -> dict:
    return cognito.admin_initiate_auth(
        UserPoolId=deployment.pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]


def test_a_pre_registered_account_is_taken_back_on_the_owners_first_proof(
    client, cognito, deployment, password_client, log_lines
):
    # Mallory registers Alice's address with a password of her choosing and a name of her choosing.
    cognito.sign_up(
        ClientId=deployment.client.client_id,
        Username=ALICE,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": ALICE}, {"Name": "name", "Value": "Mallory's plant"}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=deployment.pool_id, Username=ALICE)
    mallory_session = password_sign_in(cognito, deployment, password_client, ALICE)
    # Alice signs in by link: the account is now hers alone.
    client.request_link(client.start(ALICE), APP)
    assert "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))
    assert refused(lambda: password_sign_in(cognito, deployment, password_client, ALICE))[0] == "NotAuthorizedException"
    refresh = {"REFRESH_TOKEN": mallory_session["RefreshToken"]}
    assert (
        refused(
            lambda: cognito.admin_initiate_auth(
                UserPoolId=deployment.pool_id, ClientId=password_client, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=refresh
            )
        )[0]
        == "NotAuthorizedException"
    )
    assert '"message":"account claimed by the first proof of its address"' in log_lines.getvalue()


def test_a_second_sign_in_does_not_reset_again(client, make_user, cognito, deployment, monkeypatch, clock):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    client.sign_in_with_link(last_link(ALICE))
    directory = runtime.default_runtime().directory
    called = []
    monkeypatch.setattr(directory, "claim_account", lambda *a, **k: called.append(a))
    clock.advance(301)
    client.request_link(client.start(ALICE), APP)
    client.sign_in_with_link(last_link(ALICE))
    assert called == []


def test_the_profile_says_when_the_address_was_first_proved(server, served_clock):
    app, sub = served_app(server, ALICE)
    app.request_link(app.start(ALICE), f"{server.url}/")
    served_clock.advance(7)
    app.sign_in_with_link(link_in(newest_mail(server, ALICE)))
    profile = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=server.pool.deployment.table_name, Key={"pk": {"S": f"PROFILE#{sub}"}, "sk": {"S": "PROFILE"}}
    )["Item"]
    assert int(profile["emailProvedAt"]["N"]) == int(served_clock()) > int(profile["createdAt"]["N"])


def test_auto_confirmation_is_a_setting(monkeypatch):
    from keyless.core import events
    from keyless.core.settings.sign_up import SignUpSettings
    from keyless.signup import rules

    event = {
        "triggerSource": "PreSignUp_SignUp",
        "userPoolId": "us-east-1_x",
        "userName": "u",
        "request": {"userAttributes": {"email": ALICE}},
        "response": {},
    }
    parsed = events.parse(event, ("PreSignUp_SignUp",))
    assert rules.decide(parsed, rules.SignUpRules.from_settings(SignUpSettings.from_env({})))["autoConfirmUser"] is True
    confirming_nothing = rules.SignUpRules.from_settings(SignUpSettings.from_env({"AUTO_CONFIRM_SIGN_UP": "false"}))
    assert rules.decide(parsed, confirming_nothing)["autoConfirmUser"] is False


# --- 4. guessing codes has a per-user budget ------------------------------------------------------


def next_session(client, clock, address: str = ALICE) -> dict:
    clock.advance(301)  # past the send limit and the mailbox's burst
    return client.request_code(client.start(address))


def test_wrong_codes_are_counted_per_user_across_sessions(client, make_user, clock):
    make_user(ALICE)
    wrong_answers = 0
    for _ in range(3):  # three sessions, three wrong codes each
        challenge = next_session(client, clock)
        wrong_answers += answer_until_refused(client, challenge, wrong(last_code(ALICE)))
    assert wrong_answers == 9
    challenge = next_session(client, clock)
    challenge = client.answer_code(challenge, wrong(last_code(ALICE)))  # the tenth in 24 h
    # Now even the right code is refused, in this session and in a new one.
    assert "AuthenticationResult" not in client.answer_code(challenge, last_code(ALICE))
    clock.advance(301)
    _code, message = refused(lambda: client.request_code(client.start(ALICE)))
    assert (
        message
        == "CreateAuthChallenge failed with error Too many wrong codes. Ask for a sign-in link instead, or try again later."
    )
    # A link still works, so whoever guesses cannot lock the owner out.
    client.request_link(client.start(ALICE), APP)
    assert "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))


def test_the_budget_ends_when_the_window_passes(client, make_user, clock):
    make_user(ALICE)
    for _ in range(4):
        challenge = next_session(client, clock)
        answer_until_refused(client, challenge, "000000" if last_code(ALICE) != "000000" else "111111")
    clock.advance(24 * 3600)
    challenge = client.request_code(client.start(ALICE))
    assert "AuthenticationResult" in client.answer_code(challenge, last_code(ALICE))


def test_a_right_code_clears_the_count(client, make_user, clock):
    make_user(ALICE)
    for _ in range(3):
        challenge = next_session(client, clock)
        for _ in range(2):
            challenge = client.answer_code(challenge, wrong(last_code(ALICE)))
        assert "AuthenticationResult" in client.answer_code(challenge, last_code(ALICE))
    # 6 wrong in all, but never more than 2 since the last right one: nothing is locked.
    challenge = next_session(client, clock)
    assert answer_until_refused(client, challenge, wrong(last_code(ALICE))) == 3


def test_unknown_users_get_the_same_budget(client, clock):
    ghost = "ghost@example.com"
    answers = 0
    for _ in range(4):
        challenge = next_session(client, clock, ghost)
        answers += answer_until_refused(client, challenge, "123456")
    assert answers == 12  # three a session, as for a known user
    clock.advance(301)
    _code, message = refused(lambda: client.request_code(client.start(ghost)))
    assert "Too many wrong codes" in message


def test_only_the_newest_code_works_even_on_its_first_answer(client, make_user, clock):
    make_user(ALICE)
    old_session = client.request_code(client.start(ALICE))
    old_code = last_code(ALICE)
    clock.advance(301)
    new_session = client.request_code(client.start(ALICE))
    assert "AuthenticationResult" not in client.answer_code(old_session, old_code)
    assert "AuthenticationResult" in client.answer_code(new_session, last_code(ALICE))


def test_a_code_works_once(client, make_user):
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    code = last_code(ALICE)
    assert "AuthenticationResult" in client.answer_code(sent, code)
    # The same session string cannot be replayed (Cognito), and no other session holds this code.
    assert refused(lambda: client.answer_code(sent, code))[1] == "Invalid session for the user."


# --- 5. one mailbox, one stream of emails -----------------------------------------------------------


def test_plus_aliases_of_one_mailbox_share_its_email_budget(client, make_user, clock):
    aliases = [f"victim+{i}@example.com" for i in range(6)]
    for alias in aliases:
        make_user(alias)
    outcomes = []
    for alias in aliases:
        try:
            client.request_code(client.start(alias))
            outcomes.append("sent")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Message"])
        clock.advance(61)  # each alias is past the per-user limit and the mailbox's spacing
    assert outcomes.count("sent") == 3
    assert all("Please wait" in o for o in outcomes[3:])
    assert len(sent_emails()) == 3


def test_concurrent_requests_for_many_aliases_send_one_email(client, make_user):
    aliases = [f"victim+{i}@example.com" for i in range(12)]
    for alias in aliases:
        make_user(alias)
    outcomes = run_at_once(lambda alias: client.request_code(client.start(alias)), aliases)
    assert len(sent_emails()) == 1
    assert sum(1 for o in outcomes if isinstance(o, ClientError) and "Please wait" in o.response["Error"]["Message"]) == 11


def test_unknown_aliases_count_against_the_mailbox_too(client, make_user, clock):
    """Whether name+1@ has an account or not, asking for it spends the mailbox's budget: the limit
    tells nothing about which addresses exist. The mailbox's own address keeps one email a window,
    so nobody can spend the budget to keep its owner out."""
    make_user("victim@example.com")
    make_user("victim+shop@example.com")
    for i in range(3):
        client.request_code(client.start(f"victim+ghost{i}@example.com"))  # no such users: no email
        clock.advance(61)
    assert sent_emails() == []
    assert "Please wait" in refused(lambda: client.request_code(client.start("victim+shop@example.com")))[1]
    client.request_code(client.start("victim@example.com"))  # its reserved email
    clock.advance(61)
    assert "Please wait" in refused(lambda: client.request_code(client.start("victim@example.com")))[1]
    assert len(emails_to("victim@example.com")) == 1


def test_a_failed_send_gives_the_mailbox_its_slot_back(client, make_user, clock, faults):
    make_user(ALICE)
    throttled = faults.fail("sesv2", "SendEmail", "Throttling", "slow down", times=None)
    for _ in range(3):
        refused(lambda: client.request_code(client.start(ALICE)))
    faults.remove(throttled)
    assert throttled.picked == 3
    for _ in range(3):
        client.request_code(client.start(ALICE))  # at once: neither the user's nor the mailbox's limit was spent
        clock.advance(61)
    assert len(emails_to(ALICE)) == 3


def test_one_mailbox_gets_at_most_three_emails_in_fifteen_minutes(client, make_user, clock):
    make_user(ALICE)
    times = []
    for _ in range(60):
        try:
            client.request_code(client.start(ALICE))
            times.append(clock())
        except ClientError as exc:
            assert "Please wait" in exc.response["Error"]["Message"]
        clock.advance(31)
    assert len(times) >= 4
    for i in range(len(times) - 3):
        assert times[i + 3] - times[i] >= 15 * 60  # any four sends span more than 15 minutes
    assert all(b - a >= 60 for a, b in itertools.pairwise(times))


def test_the_owner_signs_in_while_someone_keeps_asking_for_emails(client, make_user, clock):
    """Mallory asks for codes to Alice's address as fast as the limits allow; Alice's own requests
    are refused, but every email Mallory triggers carries a link, and the newest one signs her in."""
    make_user(ALICE)
    for _ in range(3):
        client.request_code(client.start(ALICE))  # Mallory's session, Mallory's code: useless to her
        clock.advance(61)
    assert "Please wait" in refused(lambda: client.request_link(client.start(ALICE), APP))[1]
    newest = emails_to(ALICE)[-1]
    link = last_link(ALICE)
    assert link.startswith("https://app.example.com/")
    assert "AuthenticationResult" in client.sign_in_with_link(link), newest


# --- 6. nothing secret leaves; claims from what was accepted ---------------------------------------


def test_sign_in_method_claim_is_what_was_accepted_not_what_the_client_said(server):
    app, _sub = served_app(server, ALICE)
    sent = app.request_code(app.start(ALICE))
    result = app.respond(sent, code_in(newest_mail(server, ALICE)), {"signInMethod": "MAGIC_LINK"})  # the client lies
    assert id_claims(result)["sign_in_method"] == "email_otp"
    refreshed = pool_cognito(server).initiate_auth(
        ClientId=server.pool.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["AuthenticationResult"]["RefreshToken"]},
    )
    assert "sign_in_method" not in id_claims(refreshed)  # which proof began that session is not known


def test_an_answer_over_the_length_limit_is_a_wrong_answer(client, make_user):
    make_user(ALICE)
    first = client.start(ALICE)
    assert refused(lambda: client.respond(first, "A" * 5000, LINK)) == (
        "NotAuthorizedException",
        "Incorrect username or password.",
    )
    sent = client.request_code(client.start(ALICE))
    again = client.answer_code(sent, "1" * 5000)
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"


# --- 1, end to end: a user changes their email with Cognito's own API ------------------------------


def signed_in_app(server, served_clock, email: str) -> tuple[PasswordlessClient, dict]:
    """A user who signed up through the served pool and signed in with a code: tokens in hand."""
    app, _sub = served_app(server, email)
    sent = app.request_code(app.start(email))
    tokens = app.answer_code(sent, code_in(newest_mail(server, email)))["AuthenticationResult"]
    served_clock.advance(301)
    return app, tokens


def current_attributes(server, tokens: dict) -> dict:
    user = pool_cognito(server).get_user(AccessToken=tokens["AccessToken"])
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


def test_end_to_end_a_link_is_refused_after_the_email_changed_to_someone_elses(serve_pool, served_clock):
    """On a pool that lets users change email without verifying (many attached pools do)."""
    template = Template()
    template.resources["UserPool"]["Properties"].pop("UserAttributeUpdateSettings")
    server = serve_pool(template=template)
    app, tokens = signed_in_app(server, served_clock, MALLORY)
    app.request_link(app.start(MALLORY), f"{server.url}/")
    link = link_in(newest_mail(server, MALLORY))
    pool_cognito(server).update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": ALICE}]
    )
    assert current_attributes(server, tokens)["email_verified"] == "false"
    assert refused(lambda: app.sign_in_with_link(link)) == ("NotAuthorizedException", "Incorrect username or password.")
    assert current_attributes(server, tokens) | {"email": ALICE, "email_verified": "false"} == current_attributes(server, tokens)


def test_end_to_end_a_changed_email_waits_for_its_own_proof_on_a_pool_keyless_creates(serve_pool, served_clock):
    server = serve_pool()
    app, tokens = signed_in_app(server, served_clock, MALLORY)
    app.request_link(app.start(MALLORY), f"{server.url}/")
    link = link_in(newest_mail(server, MALLORY))
    answer = pool_cognito(server).update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": ALICE}]
    )
    assert answer["CodeDeliveryDetailsList"][0]["AttributeName"] == "email"  # the proof goes to the new address
    assert current_attributes(server, tokens)["email"] == MALLORY  # unchanged until proved
    claims = id_claims(app.sign_in_with_link(link))
    assert (claims["email"], claims["email_verified"]) == (MALLORY, True)  # the address the link reached
    with pytest.raises(ClientError) as excinfo:  # and nobody marks an address verified by writing it
        pool_cognito(server).update_user_attributes(
            AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email_verified", "Value": "true"}]
        )
    assert error_code(excinfo) == "NotAuthorizedException"
