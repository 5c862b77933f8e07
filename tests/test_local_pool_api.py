"""The local user pool over HTTP, driven by boto3 as an app would drive Cognito (endpoint_url only).

The server runs in a thread on a free port, on moto, with template.yaml's real handlers; a few tests
put small handlers of their own in a slot (a trigger that raises, a slow one, a malformed answer,
PreSignUp / PostConfirmation / PreTokenGeneration recorders). Tokens are verified against the
served JWKS with PyJWT.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import jwt
import pytest

from localpool.template import Template
from testkit.clients import passwordless, pool_cognito, refresh, refused, sign_up
from testkit.deployment import dev_process
from testkit.mail import code_in, link_in, mailbox, wrong

ROOT = Path(__file__).resolve().parent.parent
ALICE = "alice@example.com"
BOB = "bob@example.com"


# --- helpers ----------------------------------------------------------------------------------------


def request_sign_up(server, email: str = ALICE, **extra) -> dict:
    """Cognito's answer to a passwordless sign-up (a password nobody keeps)."""
    return pool_cognito(server).sign_up(
        ClientId=server.pool.client_id,
        Username=email,
        Password="Aa1-" + "x" * 24,
        UserAttributes=[{"Name": "email", "Value": email}],
        **extra,
    )


def last_mail(server, to: str = ALICE) -> dict:
    return next(m for m in mailbox(server) if to in m["to"])


def verified_claims(server, token: str, **options) -> dict:
    """The token's claims, checked as an API would check Cognito's: signature from the JWKS, issuer."""
    jwks = jwt.PyJWKClient(f"{server.pool.issuer}/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=server.pool.issuer, **options)


def template_with(*, pre_token_version: str | None = None, auto_verified: list[str] | None = None) -> Template:
    """template.yaml with one pool setting changed (the PreTokenGeneration slot pointed at an
    existing function whose handler the test then replaces)."""
    template = Template()
    props = template.resources["UserPool"]["Properties"]
    if pre_token_version is not None:
        config = props.setdefault("LambdaConfig", {})
        config.pop("PreTokenGeneration", None)
        config["PreTokenGenerationConfig"] = {
            "LambdaArn": {"Fn::GetAtt": ["DefineAuthChallengeFunction", "Arn"]},
            "LambdaVersion": pre_token_version,
        }
    if auto_verified is not None:
        props["AutoVerifiedAttributes"] = auto_verified
    return template


class Recorder:
    """A trigger that records its events and answers with `answer(event)` (default: unchanged)."""

    def __init__(self, answer=None):
        self.events: list[dict] = []
        self._answer = answer

    def __call__(self, event, context):
        self.events.append(copy.deepcopy(event))
        if self._answer is not None:
            event["response"] = self._answer(event)
        return event


# --- sign-up and sign-in, end to end ------------------------------------------------------------------


def test_link_sign_in_end_to_end(server):
    sub = sign_up(server, ALICE)
    client = passwordless(server)
    first = client.start(ALICE)
    assert first["ChallengeParameters"]["step"] == "CHOOSE_METHOD"
    sent = client.request_link(first, f"{server.url}/")
    assert sent["ChallengeParameters"]["sentTo"] == "a***@e***.com"

    mail = last_mail(server)
    link = link_in(mail)
    assert link.startswith(f"{server.url}/#")
    assert link in mail["text"] and link.split("#")[1] in mail["html"]  # both parts kept, not only moto's one
    assert mail["subject"] and mail["from"] == "no-reply@keyless.local" and mail["sentAt"].endswith("Z")

    result = passwordless(server).sign_in_with_link(link)["AuthenticationResult"]  # a new session, as the page does
    id_claims = verified_claims(server, result["IdToken"], audience=server.pool.client_id)
    access = verified_claims(server, result["AccessToken"])
    assert id_claims["sub"] == sub == access["sub"] == id_claims["cognito:username"] == access["username"]
    assert id_claims["email"] == ALICE and id_claims["email_verified"] is True
    assert id_claims["token_use"] == "id" and access["token_use"] == "access"
    assert access["client_id"] == server.pool.client_id and access["scope"] == "aws.cognito.signin.user.admin"
    assert id_claims["origin_jti"] == access["origin_jti"] and id_claims["jti"] != access["jti"]
    assert {"auth_time", "iat", "exp", "event_id"} <= set(id_claims)


def test_code_sign_in_end_to_end(server):
    sign_up(server, ALICE)
    client = passwordless(server)
    sent = client.request_code(client.start(ALICE))
    assert sent["ChallengeParameters"]["step"] == "EMAIL_OTP"
    result = client.answer_code(sent, code_in(last_mail(server)))["AuthenticationResult"]
    user = pool_cognito(server).get_user(AccessToken=result["AccessToken"])
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["email_verified"] == "true"
    assert verified_claims(server, result["IdToken"], audience=server.pool.client_id)["email"] == ALICE


def test_wrong_code_three_times(server):
    sign_up(server, ALICE)
    client = passwordless(server)
    challenge = client.request_code(client.start(ALICE))
    code = code_in(last_mail(server))
    for left in ("2", "1"):
        challenge = client.answer_code(challenge, wrong(code))
        assert challenge["ChallengeParameters"]["attemptsLeft"] == left
    assert refused(lambda: client.answer_code(challenge, wrong(code))) == (
        "NotAuthorizedException",
        "Incorrect username or password.",
    )


def test_expired_link(server, served_clock):
    sign_up(server, ALICE)
    client = passwordless(server)
    client.request_link(client.start(ALICE), f"{server.url}/")
    served_clock.advance(15 * 60 + 1)
    assert refused(lambda: client.sign_in_with_link(link_in(last_mail(server))))[0] == "NotAuthorizedException"


def test_replayed_session_string(server):
    sign_up(server, ALICE)
    client = passwordless(server)
    first = client.start(ALICE)
    client.request_code(first)
    assert refused(lambda: client.request_code(first)) == ("NotAuthorizedException", "Invalid session for the user.")


def test_expired_session(server, served_clock):
    sign_up(server, ALICE)
    client = passwordless(server)
    sent = client.request_code(client.start(ALICE))
    served_clock.advance(15 * 60 + 1)  # the template's AuthSessionValidity: 15 minutes
    code, message = refused(lambda: client.answer_code(sent, code_in(last_mail(server))))
    assert code == "NotAuthorizedException" and message.startswith("Invalid session for the user")


def test_expired_session_is_told_as_expired_after_other_sign_ins_purge_it(server, served_clock):
    sign_up(server, ALICE)
    client = passwordless(server)
    sent = client.request_code(client.start(ALICE))
    served_clock.advance(15 * 60 + 1)
    client.start(ALICE)  # a new sign-in purges the expired session
    expired = refused(lambda: client.answer_code(sent, code_in(last_mail(server))))
    assert expired == ("NotAuthorizedException", "Invalid session for the user, session is expired.")
    forged = {**sent, "Session": sent["Session"].rsplit(".", 1)[0] + "." + "0" * 64}
    assert refused(lambda: client.answer_code(forged, "123456")) == ("NotAuthorizedException", "Invalid session for the user.")


def test_unknown_user_with_prevent_user_existence_errors(server):
    sign_up(server, ALICE)
    client = passwordless(server)
    known, ghost = client.start(ALICE), client.start("nobody@example.com")
    assert set(known["ChallengeParameters"]) == set(ghost["ChallengeParameters"])
    sent = client.request_code(ghost)
    assert sent["ChallengeParameters"]["sentTo"] == "n***@e***.com"
    again = client.answer_code(sent, "123456")
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"
    assert [m for m in mailbox(server) if "nobody@example.com" in m["to"]] == []


# --- tokens: refresh, claims, revocation -----------------------------------------------------------------


def enriching(counter: list):
    """PreTokenGeneration answering in whichever shape its event has (V1, or V2/V3)."""

    def answer(event):
        counter.append(event["triggerSource"])
        claims = {"plan": f"pro-{len(counter)}", "sub": "forged", "cognito:username": "forged"}
        if event["version"] == "1":
            return {"claimsOverrideDetails": {"claimsToAddOrOverride": claims, "claimsToSuppress": ["email_verified"]}}
        return {
            "claimsAndScopeOverrideDetails": {
                "idTokenGeneration": {"claimsToAddOrOverride": claims, "claimsToSuppress": ["email_verified"]},
                "accessTokenGeneration": {
                    "claimsToAddOrOverride": {"roles": ["reader", "writer"]},
                    "scopesToAdd": ["notes/read"],
                },
            }
        }

    return Recorder(answer)


def signed_in(server, client=None) -> dict:
    client = client or passwordless(server)
    sent = client.request_code(client.start(ALICE))
    return client.answer_code(sent, code_in(last_mail(server)))["AuthenticationResult"]


def test_an_access_token_without_the_admin_scope_manages_nothing(serve_pool):
    """As Cognito: GetUser, UpdateUserAttributes, GlobalSignOut and the like need aws.cognito.signin.user.admin."""
    suppress = {"accessTokenGeneration": {"scopesToSuppress": ["aws.cognito.signin.user.admin"]}}
    trigger = Recorder(lambda event: {"claimsAndScopeOverrideDetails": suppress})
    server = serve_pool(template=template_with(pre_token_version="V2_0"), handlers={"PreTokenGeneration": trigger})
    sign_up(server, ALICE)
    access_token = signed_in(server)["AccessToken"]
    assert verified_claims(server, access_token)["scope"] == ""
    cognito, without_scope = pool_cognito(server), ("NotAuthorizedException", "Access Token does not have required scopes")
    assert refused(lambda: cognito.get_user(AccessToken=access_token)) == without_scope
    name = [{"Name": "name", "Value": "Mallory"}]
    assert refused(lambda: cognito.update_user_attributes(AccessToken=access_token, UserAttributes=name)) == without_scope
    assert refused(lambda: cognito.global_sign_out(AccessToken=access_token)) == without_scope
    assert refused(lambda: cognito.delete_user(AccessToken=access_token)) == without_scope


@pytest.mark.parametrize("version", ["V1_0", "V2_0"])
def test_refresh_runs_pre_token_generation_again(serve_pool, version):
    sources: list[str] = []
    trigger = enriching(sources)
    server = serve_pool(template=template_with(pre_token_version=version), handlers={"PreTokenGeneration": trigger})
    sub = sign_up(server, ALICE)
    tokens = signed_in(server)
    id_claims = verified_claims(server, tokens["IdToken"], audience=server.pool.client_id)
    assert id_claims["plan"] == "pro-1"
    assert id_claims["sub"] == sub and id_claims["cognito:username"] == sub  # reserved: not overridden
    assert "email_verified" not in id_claims  # suppressed

    refreshed = refresh(server, tokens["RefreshToken"])["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    again = verified_claims(server, refreshed["IdToken"], audience=server.pool.client_id)
    assert again["plan"] == "pro-2" and again["origin_jti"] == id_claims["origin_jti"]
    assert sources == ["TokenGeneration_Authentication", "TokenGeneration_RefreshTokens"]
    event = trigger.events[0]
    assert event["version"] == ("1" if version == "V1_0" else "2")
    assert event["request"]["userAttributes"]["sub"] == sub and event["request"]["clientMetadata"] == {
        "signInMethod": "EMAIL_OTP"
    }
    access = verified_claims(server, refreshed["AccessToken"])
    if version == "V2_0":
        assert event["request"]["scopes"] == ["aws.cognito.signin.user.admin"]
        assert access["roles"] == ["reader", "writer"] and access["scope"] == "aws.cognito.signin.user.admin notes/read"
    else:
        assert "roles" not in access and "plan" not in access  # V1 changes the ID token only


def test_malformed_pre_token_generation_answer(serve_pool):
    bad = Recorder(lambda event: {"claimsOverrideDetails": {"claimsToAddOrOverride": {"plan": {"not": "a string"}}}})
    server = serve_pool(template=template_with(pre_token_version="V1_0"), handlers={"PreTokenGeneration": bad})
    sign_up(server, ALICE)
    assert refused(lambda: signed_in(server))[0] == "InvalidLambdaResponseException"


def test_revoked_refresh_token(server):
    sign_up(server, ALICE)
    tokens = signed_in(server)
    cognito = pool_cognito(server)
    cognito.revoke_token(Token=tokens["RefreshToken"], ClientId=server.pool.client_id)
    code, message = refused(lambda: refresh(server, tokens["RefreshToken"]))
    assert (code, message) == ("NotAuthorizedException", "Invalid Refresh Token")
    assert refused(lambda: cognito.get_user(AccessToken=tokens["AccessToken"]))[0] == "NotAuthorizedException"


def test_global_sign_out_ends_every_session(server, served_clock):
    sign_up(server, ALICE)
    first = signed_in(server)
    served_clock.advance(61)  # the next sign-in email is allowed a minute later
    second = signed_in(server)
    cognito = pool_cognito(server)
    for tokens in (first, second):
        assert cognito.get_user(AccessToken=tokens["AccessToken"])["Username"]
    cognito.global_sign_out(AccessToken=first["AccessToken"])
    for tokens in (first, second):
        assert refused(lambda t=tokens: cognito.get_user(AccessToken=t["AccessToken"]))[0] == "NotAuthorizedException"
        assert refused(lambda t=tokens: refresh(server, t["RefreshToken"]))[0] == "NotAuthorizedException"


def test_access_token_expires_after_an_hour(server, served_clock):
    sign_up(server, ALICE)
    tokens = signed_in(server)
    cognito = pool_cognito(server)
    assert cognito.get_user(AccessToken=tokens["AccessToken"])["Username"]
    served_clock.advance(3600)
    assert refused(lambda: cognito.get_user(AccessToken=tokens["AccessToken"])) == (
        "NotAuthorizedException",
        "Access Token has expired",
    )


def test_groups_reach_both_tokens(server):
    sub = sign_up(server, ALICE)
    boto3.client("cognito-idp", region_name="us-east-1").create_group(GroupName="editors", UserPoolId=server.pool.pool_id)
    pool_cognito(server).admin_add_user_to_group(UserPoolId=server.pool.pool_id, Username=sub, GroupName="editors")
    tokens = signed_in(server)
    assert verified_claims(server, tokens["IdToken"], audience=server.pool.client_id)["cognito:groups"] == ["editors"]
    assert verified_claims(server, tokens["AccessToken"])["cognito:groups"] == ["editors"]


# --- triggers: what the template wires, and Cognito's error shapes ---------------------------------------


def test_every_slot_of_the_template_is_wired(server):
    slots = Template().trigger_slots()
    assert all(server.pool.runner.has(slot) for slot in slots)
    sign_up(server, ALICE)
    signed_in(server)
    called = set(server.pool.runner.calls)
    assert {"DefineAuthChallenge", "CreateAuthChallenge", "VerifyAuthChallengeResponse"} <= called
    for slot in ("PreSignUp", "PostConfirmation", "PreTokenGeneration"):
        assert (slot in called) == (slot in slots), slot


def test_a_trigger_is_called_with_its_functions_lambda_context(serve_pool):
    """As Lambda: the context names the function the template puts in the slot, with its MemorySize."""
    contexts: list = []

    def define(event, context):
        contexts.append(context)
        event["response"] = {"challengeName": "CUSTOM_CHALLENGE", "issueTokens": False, "failAuthentication": False}
        return event

    server = serve_pool(handlers={"DefineAuthChallenge": define})
    passwordless(server).start(ALICE)
    spec = Template().functions()["DefineAuthChallengeFunction"]
    assert contexts[0].function_name == "DefineAuthChallengeFunction"
    assert contexts[0].memory_limit_in_mb == spec.memory_size
    assert contexts[0].invoked_function_arn.endswith(":function:DefineAuthChallengeFunction")


@pytest.mark.parametrize("version", ["V1_0", "V2_0"])
def test_the_templates_pre_token_generation_in_each_version(serve_pool, version):
    server = serve_pool(template=Template(parameters={"PreTokenGenerationVersion": version}))
    assert server.pool.api.pre_token_version() == version
    sign_up(server, ALICE)
    tokens = signed_in(server)
    refreshed = refresh(server, tokens["RefreshToken"])["AuthenticationResult"]
    assert server.pool.runner.calls.count("PreTokenGeneration") == 2
    for result in (tokens, refreshed):
        claims = verified_claims(server, result["IdToken"], audience=server.pool.client_id)
        assert claims["email"] == ALICE and claims["token_use"] == "id"
        assert verified_claims(server, result["AccessToken"])["token_use"] == "access"


def test_trigger_error_reaches_the_client_and_changes_nothing(serve_pool):
    def refuse(event, context):
        raise ValueError("Registration from this domain is not allowed.")

    server = serve_pool(handlers={"PreSignUp": refuse})
    code, message = refused(lambda: sign_up(server, ALICE))
    assert code == "UserLambdaValidationException"
    assert message == "PreSignUp failed with error Registration from this domain is not allowed.."
    assert pool_cognito(server).list_users(UserPoolId=server.pool.pool_id)["Users"] == []


def test_slow_trigger_is_retried_then_fails(serve_pool):
    released = threading.Event()

    def slow(event, context):
        released.wait(60)  # answers only after the pool has given up on every call
        return event

    server = serve_pool(handlers={"DefineAuthChallenge": slow}, timeout_seconds=0.25)
    try:
        code, message = refused(lambda: passwordless(server).start(ALICE))
    finally:
        released.set()
    assert code == "UnexpectedLambdaException" and "Socket timeout" in message
    assert server.pool.runner.calls.count("DefineAuthChallenge") == 3


def test_malformed_trigger_answer(serve_pool):
    server = serve_pool(handlers={"DefineAuthChallenge": lambda event, context: {"response": "yes"}})
    assert refused(lambda: passwordless(server).start(ALICE))[0] == "InvalidLambdaResponseException"


def serve_with_auto_confirm_recorded(serve_pool) -> tuple[object, Recorder, Recorder]:
    """A pool whose PreSignUp confirms and verifies every sign-up; PreSignUp and PostConfirmation record their events."""
    pre = Recorder(lambda event: {"autoConfirmUser": True, "autoVerifyEmail": True, "autoVerifyPhone": False})
    post = Recorder()
    return serve_pool(handlers={"PreSignUp": pre, "PostConfirmation": post}), pre, post


def test_pre_sign_up_auto_confirm_then_post_confirmation(serve_pool):
    server, pre, post = serve_with_auto_confirm_recorded(serve_pool)
    created = request_sign_up(server, ValidationData=[{"Name": "origin", "Value": "demo"}], ClientMetadata={"plan": "free"})
    assert created["UserConfirmed"] is True
    event = pre.events[0]
    assert event["triggerSource"] == "PreSignUp_SignUp" and event["userName"] == created["UserSub"]
    assert event["request"]["userAttributes"] == {"email": ALICE}
    assert event["request"]["validationData"] == {"origin": "demo"} and event["request"]["clientMetadata"] == {"plan": "free"}
    assert event["callerContext"]["clientId"] == server.pool.client_id
    assert [e["triggerSource"] for e in post.events] == ["PostConfirmation_ConfirmSignUp"]
    attributes = post.events[0]["request"]["userAttributes"]
    assert attributes["sub"] == created["UserSub"] and attributes["email_verified"] == "true"
    assert attributes["cognito:user_status"] == "CONFIRMED"
    user = pool_cognito(server).admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE)
    assert user["UserStatus"] == "CONFIRMED"


def test_pre_sign_up_answer_must_be_booleans(serve_pool):
    server = serve_pool(handlers={"PreSignUp": Recorder(lambda event: {"autoConfirmUser": "true"})})
    assert refused(lambda: sign_up(server, ALICE))[0] == "InvalidLambdaResponseException"


def test_admin_create_user_ignores_the_auto_flags(serve_pool):
    server, pre, post = serve_with_auto_confirm_recorded(serve_pool)
    created = pool_cognito(server).admin_create_user(
        UserPoolId=server.pool.pool_id,
        Username=ALICE,
        UserAttributes=[{"Name": "email", "Value": ALICE}],
        MessageAction="SUPPRESS",
    )["User"]
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert pre.events[0]["triggerSource"] == "PreSignUp_AdminCreateUser"
    assert pre.events[0]["callerContext"]["clientId"] == "CLIENT_ID_NOT_APPLICABLE"
    assert post.events == []
    attributes = {a["Name"]: a["Value"] for a in created["Attributes"]}
    assert attributes.get("email_verified", "false") == "false"


def test_admin_confirm_sign_up_runs_post_confirmation_once(serve_pool):
    post = Recorder()
    server = serve_pool(handlers={"PreSignUp": Recorder(), "PostConfirmation": post})  # PreSignUp confirms nobody
    assert request_sign_up(server)["UserConfirmed"] is False
    cognito = pool_cognito(server, retry=False)
    cognito.admin_confirm_sign_up(UserPoolId=server.pool.pool_id, Username=ALICE, ClientMetadata={"by": "support"})
    assert [(e["triggerSource"], e["callerContext"]["clientId"]) for e in post.events] == [
        ("PostConfirmation_ConfirmSignUp", "CLIENT_ID_NOT_APPLICABLE")
    ]
    assert post.events[0]["request"]["clientMetadata"] == {"by": "support"}
    again = refused(lambda: cognito.admin_confirm_sign_up(UserPoolId=server.pool.pool_id, Username=ALICE))
    assert again == ("NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED")
    assert len(post.events) == 1


def test_admin_create_user_emails_cognitos_invitation_unless_suppressed(server):
    from localpool.passwords import check_password

    cognito, pool_id = pool_cognito(server), server.pool.pool_id
    email = [{"Name": "email", "Value": ALICE}]
    cognito.admin_create_user(UserPoolId=pool_id, Username=ALICE, UserAttributes=email, DesiredDeliveryMediums=["EMAIL"])
    invitation = last_mail(server)
    assert invitation["source"] == "cognito" and invitation["subject"] == "Your temporary password"
    password = re.fullmatch(rf"Your username is {re.escape(ALICE)} and temporary password is (\S+)\.", invitation["text"].strip())
    check_password(password.group(1), cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Policies"]["PasswordPolicy"])
    cognito.admin_create_user(
        UserPoolId=pool_id, Username=BOB, UserAttributes=[{"Name": "email", "Value": BOB}]
    )  # SMS by default
    cognito.admin_create_user(
        UserPoolId=pool_id, Username="carol@example.com", UserAttributes=[{"Name": "email", "Value": "carol@example.com"}],
        DesiredDeliveryMediums=["EMAIL"], MessageAction="SUPPRESS",
    )  # fmt: skip
    assert [m["to"] for m in mailbox(server)] == [[ALICE]]


def test_resending_an_invitation_replaces_the_temporary_password_and_creates_nobody(serve_pool):
    pre = Recorder()
    server = serve_pool(handlers={"PreSignUp": pre})
    cognito, pool_id = pool_cognito(server, retry=False), server.pool.pool_id
    email = [{"Name": "email", "Value": ALICE}]
    created = cognito.admin_create_user(
        UserPoolId=pool_id, Username=ALICE, UserAttributes=email, DesiredDeliveryMediums=["EMAIL"]
    )
    first = last_mail(server)["text"]
    resent = cognito.admin_create_user(
        UserPoolId=pool_id, Username=ALICE, MessageAction="RESEND", DesiredDeliveryMediums=["EMAIL"]
    )
    second = last_mail(server)["text"]
    assert second != first and second.startswith(f"Your username is {ALICE} and temporary password is ")
    assert resent["User"]["Username"] == created["User"]["Username"] and resent["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert len(cognito.list_users(UserPoolId=pool_id)["Users"]) == 1 and len(pre.events) == 1
    nobody = refused(lambda: cognito.admin_create_user(UserPoolId=pool_id, Username="nobody@example.com", MessageAction="RESEND"))
    assert nobody == ("UserNotFoundException", "User does not exist.")
    sign_up(server, BOB)  # confirmed: nothing to resend
    confirmed = refused(lambda: cognito.admin_create_user(UserPoolId=pool_id, Username=BOB, MessageAction="RESEND"))
    assert confirmed == ("UnsupportedUserStateException", f"Resend not possible. {BOB} status is not FORCE_CHANGE_PASSWORD.")
    assert len(cognito.list_users(UserPoolId=pool_id)["Users"]) == 2


def test_confirm_sign_up_with_the_emailed_code(serve_pool):
    post = Recorder()
    server = serve_pool(template=template_with(auto_verified=["email"]), handlers={"PreSignUp": None, "PostConfirmation": post})
    cognito = pool_cognito(server)
    created = request_sign_up(server)
    assert created["UserConfirmed"] is False
    assert created["CodeDeliveryDetails"] == {"Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    mail = last_mail(server)
    assert mail["source"] == "cognito" and mail["subject"] == "Your verification code"
    code = re.search(r"(\d{6})", mail["text"]).group(1)
    assert refused(lambda: passwordless(server).start(ALICE))[0] == "UserNotConfirmedException"
    assert refused(lambda: cognito.confirm_sign_up(ClientId=server.pool.client_id, Username=ALICE, ConfirmationCode=wrong(code)))[
        0
    ] == ("CodeMismatchException")
    assert post.events == []
    cognito.confirm_sign_up(ClientId=server.pool.client_id, Username=ALICE, ConfirmationCode=code)
    assert [e["triggerSource"] for e in post.events] == ["PostConfirmation_ConfirmSignUp"]
    assert post.events[0]["request"]["userAttributes"]["email_verified"] == "true"
    code_again = refused(lambda: cognito.confirm_sign_up(ClientId=server.pool.client_id, Username=ALICE, ConfirmationCode=code))
    assert code_again[0] == "NotAuthorizedException"


# --- the rest of the API ---------------------------------------------------------------------------------


def test_admin_and_listing_operations(server):
    sub = sign_up(server, ALICE)
    cognito, pool_id = pool_cognito(server), server.pool.pool_id
    cognito.admin_update_user_attributes(UserPoolId=pool_id, Username=ALICE, UserAttributes=[{"Name": "name", "Value": "Alice"}])
    user = cognito.admin_get_user(UserPoolId=pool_id, Username=ALICE)
    assert user["Username"] == sub and {"Name": "name", "Value": "Alice"} in user["UserAttributes"]
    assert [u["Username"] for u in cognito.list_users(UserPoolId=pool_id)["Users"]] == [sub]
    listed = cognito.list_user_pools(MaxResults=10)["UserPools"]
    described = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert [p["Id"] for p in listed] == [pool_id]
    assert set(described["LambdaConfig"]) >= set(Template().trigger_slots())
    assert listed[0]["LambdaConfig"] == described["LambdaConfig"]  # as Cognito lists them (issue 13, point 10)
    assert described["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]}
    assert described["UserPoolTier"] == "LITE"  # Keyless needs no Essentials feature (V1_0 tokens)
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=10)["UserPoolClients"]
    assert [c["ClientId"] for c in clients] == [server.pool.client_id]
    app = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=server.pool.client_id)["UserPoolClient"]
    assert app["AuthSessionValidity"] == 15 and "ALLOW_CUSTOM_AUTH" in app["ExplicitAuthFlows"]

    tokens = signed_in(server)
    cognito.admin_delete_user(UserPoolId=pool_id, Username=ALICE)
    assert refused(lambda: cognito.admin_get_user(UserPoolId=pool_id, Username=ALICE))[0] == "UserNotFoundException"
    assert refused(lambda: refresh(server, tokens["RefreshToken"]))[0] == "NotAuthorizedException"
    assert refused(lambda: cognito.list_users(UserPoolId="us-east-1_other"))[0] == "ResourceNotFoundException"


def test_unsupported_operation_and_flows(server):
    cognito = pool_cognito(server)
    code, message = refused(lambda: cognito.delete_user_pool(UserPoolId=server.pool.pool_id))
    assert code == "UnknownOperationException" and "DeleteUserPool" in message
    code, message = refused(
        lambda: cognito.initiate_auth(
            ClientId=server.pool.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": ALICE}
        )
    )
    assert (code, message) == ("InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client")
    assert refused(lambda: cognito.initiate_auth(ClientId="nope", AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": ALICE}))[
        0
    ] == ("ResourceNotFoundException")


def raw(server, body: bytes, target: str | None, headers: dict | None = None, method: str = "POST"):
    request = urllib.request.Request(server.url + "/", data=body if method == "POST" else None, method=method)
    if target is not None:
        request.add_header("X-Amz-Target", target)
    request.add_header("Content-Type", "application/x-amz-json-1.1")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.parametrize(
    "body, target, expected",
    [
        (b"{not json", "AWSCognitoIdentityProviderService.InitiateAuth", "SerializationException"),
        (b"[1, 2]", "AWSCognitoIdentityProviderService.InitiateAuth", "SerializationException"),
        (b"{}", None, "UnknownOperationException"),
        (b"{}", "AWSCognitoIdentityProviderService.__init__", "UnknownOperationException"),
        (b'{"ClientId": 5}', "AWSCognitoIdentityProviderService.InitiateAuth", "SerializationException"),
        (b'{"UserPoolId": "x"}', "AWSCognitoIdentityProviderService.ListUsers", "MissingAuthenticationTokenException"),
        (b"[" * 200_000, "AWSCognitoIdentityProviderService.InitiateAuth", "SerializationException"),
        (b'{"ClientId": 9' + b"9" * 5000 + b"}", "AWSCognitoIdentityProviderService.InitiateAuth", "SerializationException"),
        (b'{"ClientId": "\\ud800"}', "AWSCognitoIdentityProviderService.InitiateAuth", "SerializationException"),
        (b'{"ClientId": NaN}', "AWSCognitoIdentityProviderService.InitiateAuth", "SerializationException"),
        ('{"ClientId": "x"}'.encode("utf-16"), "AWSCognitoIdentityProviderService.InitiateAuth", "SerializationException"),
    ],
    ids=[
        "bad-json",
        "not-an-object",
        "no-target",
        "private-name",
        "wrong-type",
        "admin-call-unsigned",
        "nested-deeper-than-python",
        "number-longer-than-python-reads",
        "lone-surrogate",
        "nan",
        "utf-16",
    ],
)
def test_bad_requests_get_cognito_errors(server, body, target, expected):
    status, headers, payload = raw(server, body, target, {"Origin": server.url})
    assert 400 <= status < 500
    answer = json.loads(payload)
    assert answer["__type"] == expected and isinstance(answer["message"], str)
    assert headers["Access-Control-Allow-Origin"] == server.url  # the demo page reads its errors


def test_cors_preflight_from_the_pools_own_origin(server):
    status, headers, _ = raw(
        server,
        b"",
        None,
        {
            "Origin": server.url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-user-agent",
        },
        method="OPTIONS",
    )
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == server.url
    assert "POST" in headers["Access-Control-Allow-Methods"] and "x-amz-target" in headers["Access-Control-Allow-Headers"]


def test_other_host_names_and_origins_cannot_read_the_mailbox(server):
    request = urllib.request.Request(f"{server.url}/mailbox", headers={"Accept": "application/json", "Host": "evil.example:80"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request)
    assert excinfo.value.code == 421
    request = urllib.request.Request(
        f"{server.url}/mailbox", headers={"Accept": "application/json", "Origin": "https://evil.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request)
    assert excinfo.value.code == 403  # other origins are refused (tests/test_local_pool_security.py)
    request = urllib.request.Request(f"{server.url}/mailbox", headers={"Accept": "application/json", "Origin": server.url})
    with urllib.request.urlopen(request) as response:
        assert "Access-Control-Allow-Origin" not in response.headers  # the mailbox is never shared, not even with --cors-origin


def test_openid_configuration_and_jwks(server):
    with urllib.request.urlopen(f"{server.pool.issuer}/.well-known/openid-configuration") as response:
        config = json.load(response)
    assert config["issuer"] == f"{server.url}/{server.pool.pool_id}"
    with urllib.request.urlopen(config["jwks_uri"]) as response:
        keys = json.load(response)["keys"]
    assert [k["alg"] for k in keys] == ["RS256", "RS256"] and all("d" not in k for k in keys)  # public halves only
    # Issue 13, point 3: as Cognito, one key for ID tokens and another for access tokens.
    sign_up(server, ALICE)
    tokens = signed_in(server)
    kids = {jwt.get_unverified_header(tokens[name])["kid"] for name in ("IdToken", "AccessToken")}
    assert kids == {k["kid"] for k in keys} and len(kids) == 2
    assert verified_claims(server, tokens["IdToken"], audience=server.pool.client_id)["token_use"] == "id"
    assert verified_claims(server, tokens["AccessToken"])["token_use"] == "access"


def test_mailbox_newest_first_as_json_and_html(server):
    sign_up(server, ALICE)
    sign_up(server, "bob@example.com")
    client = passwordless(server)
    client.request_code(client.start(ALICE))
    client.request_link(client.start("bob@example.com"), f"{server.url}/welcome")
    mails = mailbox(server)
    assert [m["to"] for m in mails] == [["bob@example.com"], [ALICE]]
    assert all(m["text"] and m["html"] for m in mails)
    with urllib.request.urlopen(f"{server.url}/mailbox") as response:
        page = response.read().decode()
        assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none': no script
    link = link_in(mails[0])
    assert f'<a href="{link}">' in page and page.index("bob@example.com") < page.index(ALICE)


def test_demo_page_and_config_are_served(server):
    with urllib.request.urlopen(server.url + "/") as response:
        assert b"Email me a link" in response.read()
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    with urllib.request.urlopen(server.url + "/local-pool.json") as response:
        assert json.load(response) == {
            "endpoint": server.url,
            "region": "us-east-1",
            "userPoolId": server.pool.pool_id,
            "clientId": server.pool.client_id,
        }
    for path in ("/static/../server.py", "/static/nothing.js", "/nowhere"):
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(server.url + path)
        assert excinfo.value.code == 404


# --- the commands ------------------------------------------------------------------------------------------


def make_invoke(function: str, event: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localpool.invoke", function, event, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_make_invoke_runs_a_function_on_a_sample_event():
    done = make_invoke("define_auth_challenge", "events/define_auth_challenge/first_round.json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["response"] == {"challengeName": "CUSTOM_CHALLENGE", "issueTokens": False, "failAuthentication": False}


def test_make_invoke_sends_email_through_moto_and_names_unknown_functions():
    done = make_invoke("CreateAuthChallengeFunction", "events/create_auth_challenge/send_code.json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["response"]["publicChallengeParameters"]["step"] == "EMAIL_OTP"
    assert "EMAIL to jane.doe@example.com" in done.stderr
    unknown = make_invoke("NoSuchFunction", "events/define_auth_challenge/first_round.json")
    assert unknown.returncode == 2 and "DefineAuthChallengeFunction" in unknown.stderr


def test_make_invoke_takes_template_parameters_and_names_the_condition_a_function_needs():
    event = "events/management_api/sign_in_challenge.json"
    absent = make_invoke("ManagementApiFunction", event)
    assert absent.returncode == 2 and "ManagementApiEnabled" in absent.stderr and "Passkeys=Enabled" in absent.stderr
    done = make_invoke("ManagementApiFunction", event, "--parameter", "Passkeys=Enabled")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["statusCode"] == 200


def test_dev_command_prints_where_everything_is(tmp_path):
    with dev_process(tmp_path) as dev:
        text, url = dev.banner, dev.url
        assert f"{url}/mailbox" in text and "App client id" in text and "User pool id" in text
        with urllib.request.urlopen(url + "/local-pool.json") as response:
            config = json.load(response)
        assert config["clientId"] in text and config["userPoolId"] in text
        # The demo shows passkeys: make dev turns them on (a deployment's default is Disabled).
        assert config["managementApiUrl"] == f"{url}/api" and f"Management API {url}/api" in text
        assert f"Passkeys       on {url.replace('127.0.0.1', 'localhost')}/" in text
        assert (tmp_path / "signing-key.pem").exists() and (tmp_path / "credentials.json").exists()
        assert re.search(r"AWS_ACCESS_KEY_ID=LOCAL\w+ AWS_SECRET_ACCESS_KEY=\S+", text)


@pytest.mark.parametrize("first", [ALICE, "Alice@Example.com"])
def test_the_same_address_in_another_case_cannot_sign_up_again(server, first):
    """Issue 13, point 1: Cognito refuses the sign-up (user names are case-insensitive on this pool);
    moto alone created a second confirmed user, in which later sign-ins in the other case landed,
    whichever spelling came first."""
    sub = sign_up(server, first)
    taken = ("UsernameExistsException", "An account with the given email already exists.")
    for again in (ALICE, ALICE.upper(), "Alice@Example.com"):
        assert refused(lambda again=again: sign_up(server, again)) == taken
    cognito = pool_cognito(server, retry=False)
    create = lambda: cognito.admin_create_user(UserPoolId=server.pool.pool_id, Username=ALICE.upper())  # noqa: E731
    assert refused(create) == taken
    assert [u["Username"] for u in cognito.list_users(UserPoolId=server.pool.pool_id)["Users"]] == [sub]
    client = passwordless(server)
    for spelling in (ALICE, ALICE.upper(), "Alice@Example.com"):  # and sign-ins land in her account
        assert client.start(spelling)["ChallengeParameters"]["USERNAME"] == sub
    assert cognito.admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE.upper())["Username"] == sub


def test_pool_ids_have_cognitos_shape(server):
    """Issue 13, point 4: the region, "_" and 9 letters or digits (moto alone: 32 hex digits)."""
    pool_id = server.pool.pool_id
    assert re.fullmatch(r"us-east-1_[A-Za-z0-9]{9}", pool_id)
    described = pool_cognito(server).describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert described["Id"] == pool_id and described["Arn"].endswith(f":userpool/{pool_id}")
    assert passwordless(server).start(ALICE)["ChallengeParameters"]["step"] == "CHOOSE_METHOD"


def test_the_ids_are_the_same_on_every_start(monkeypatch):
    """As make dev sets moto up (its HASH ids): the same template gives the same pool and client ids,
    shaped as Cognito's, so an app configured once keeps working after a restart."""
    from moto import mock_aws

    from localpool.deployment import deploy

    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY", "HASH")
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY", "HASH")
    ids = []
    for _ in range(2):
        with mock_aws():
            deployed = deploy()
            ids.append((deployed.pool_id, deployed.client.client_id))
    assert ids[0] == ids[1] and re.fullmatch(r"us-east-1_[A-Za-z0-9]{9}", ids[0][0])


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AuthSessionValidity", "1", "Parameter 'AuthSessionValidity' must be a number not less than 3"),
        ("AuthSessionValidity", "16", "Parameter 'AuthSessionValidity' must be a number not greater than 15"),
        ("SameDeviceLinksOnly", "yes", "Parameter 'SameDeviceLinksOnly' must be one of AllowedValues"),
        ("SenderEmail", "not an address", "Parameter 'SenderEmail' must match pattern"),
    ],
)
def test_parameters_cloudformation_would_refuse_are_refused(name, value, message):
    """Issue 13, point 5 (in part): the local pool took AuthSessionValidity below Cognito's 3 minutes;
    now every parameter is checked against its declaration, as CloudFormation checks it."""
    from localpool.template import ParameterError

    with pytest.raises(ParameterError) as refused_parameter:
        Template(parameters={name: value})
    assert str(refused_parameter.value).startswith(message)


def test_make_dev_refuses_such_a_parameter_in_one_line(tmp_path, capsys, monkeypatch):
    from localpool.__main__ import main

    # main() sets these for its own process; here they must not outlive the test (moto's HASH ids would
    # give two pools of another test the same id).
    for name in (
        "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY",
        "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY",
        "POWERTOOLS_TRACE_DISABLED",
    ):
        monkeypatch.setenv(name, os.environ.get(name, "HASH" if name.startswith("MOTO") else "true"))

    assert main(["--port", "0", "--state-dir", str(tmp_path), "--parameter", "AuthSessionValidity=1"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("Cannot deploy template.yaml: Parameter 'AuthSessionValidity' must be a number not less than 3")
    assert "Traceback" not in error
