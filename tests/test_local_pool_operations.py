"""The local user pool's sign-in triggers around the rounds and the operations an app or an operator
calls beside sign-in (issue 13, points 8 and 9), over HTTP with boto3 as against Cognito.

PreAuthentication and PostAuthentication are slots template.yaml leaves empty: the tests fill them
with small handlers of their own (recorders, refusals). The rest runs the template's own functions.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3
import jwt
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from keyless_client import PasswordlessClient
from localpool.deployment import REGION
from localpool.template import Template, load_handler
from testkit.clients import passwordless, pool_cognito, refresh, refused, sign_up
from testkit.mail import code_in, mailbox

ALICE = "alice@example.com"
BOB = "bob@example.com"
DISABLED = ("NotAuthorizedException", "User is disabled.")
REVOKED = ("NotAuthorizedException", "Access Token has been revoked")
EMAIL_INTERVAL = 61  # seconds: Keyless sends a user one sign-in email a minute


# --- helpers ----------------------------------------------------------------------------------------


class Recorder:
    """A trigger that records its events and returns them unchanged, or raises `refusal`."""

    def __init__(self, refusal: str | None = None):
        self.events: list[dict] = []
        self._refusal = refusal

    def __call__(self, event, context):
        self.events.append(copy.deepcopy(event))
        if self._refusal is not None:
            raise Exception(self._refusal)
        return event


class Spy:
    """Records a slot's events, then answers with the template's own function for that slot."""

    def __init__(self, slot: str):
        self.events: list[dict] = []
        self._slot = slot
        self._handler: Any = None

    def __call__(self, event, context):
        self.events.append(copy.deepcopy(event))
        if self._handler is None:  # loaded at the first call, once the pool has set the functions' environment
            template = Template()
            self._handler = load_handler(template.functions()[template.trigger_slots()[self._slot]])
        return self._handler(event, context)


class AdminSignIn:
    """AdminInitiateAuth and AdminRespondToAuthChallenge behind the method names the sign-in kit calls,
    as an app's back end signs a user in (signed calls, the pool named, ClientMetadata its own)."""

    def __init__(self, server, client_metadata: dict[str, str]):
        self._cognito = pool_cognito(server)
        self._pool_id = server.pool.pool_id
        self._metadata = client_metadata

    def initiate_auth(self, **request: Any) -> dict:
        return self._cognito.admin_initiate_auth(UserPoolId=self._pool_id, ClientMetadata=self._metadata, **request)

    def respond_to_auth_challenge(self, **request: Any) -> dict:
        return self._cognito.admin_respond_to_auth_challenge(UserPoolId=self._pool_id, **request)


def unsigned(server) -> Any:
    """boto3 without credentials, as a browser calls the pool."""
    return boto3.client("cognito-idp", endpoint_url=server.url, region_name=REGION, config=Config(signature_version=UNSIGNED))


def code_sign_in(server, client: PasswordlessClient | None = None, email: str = ALICE) -> dict:
    """A sign-in with an emailed code: the AuthenticationResult."""
    client = client or passwordless(server)
    sent = client.request_code(client.start(email))
    code = code_in(next(m for m in mailbox(server) if email in m["to"]))
    return client.answer_code(sent, code)["AuthenticationResult"]


def start(server, email: str = ALICE, **request: Any) -> dict:
    return pool_cognito(server).initiate_auth(
        ClientId=server.pool.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": email}, **request
    )


def calls_during(server, action) -> tuple[Any, list[str]]:
    """What `action` returned, and the trigger slots the pool ran meanwhile, in order."""
    before = len(server.pool.runner.calls)
    result = action()
    return result, server.pool.runner.calls[before:]


def verified_claims(server, token: str, **options: Any) -> dict:
    key = jwt.PyJWKClient(f"{server.pool.issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=server.pool.issuer, **options)


def template_with_client(**client_properties: Any) -> Template:
    template = Template()
    template.resources["UserPoolClient"]["Properties"].update(client_properties)
    return template


# --- point 8: PreAuthentication and PostAuthentication ----------------------------------------------------


def test_pre_and_post_authentication_run_around_the_rounds(serve_pool):
    pre, post = Recorder(), Recorder()
    server = serve_pool(handlers={"PreAuthentication": pre, "PostAuthentication": post})
    sub = sign_up(server, ALICE)
    first, started = calls_during(server, lambda: start(server, ClientMetadata={"device": "laptop"}))
    assert started == ["PreAuthentication", "DefineAuthChallenge", "CreateAuthChallenge"]
    (event,) = pre.events
    assert event["triggerSource"] == "PreAuthentication_Authentication"
    assert event["userName"] == sub and event["callerContext"]["clientId"] == server.pool.client_id
    assert event["request"] == {
        "userAttributes": {"sub": sub, "email": ALICE, "cognito:user_status": "CONFIRMED"},
        "validationData": {"device": "laptop"},  # InitiateAuth's ClientMetadata, as Cognito passes it
        "userNotFound": False,
    }
    assert event["response"] == {}

    client = passwordless(server)
    sent = client.request_code(first)
    assert post.events == [] and pre.events == [event]  # not again for a later round
    code = code_in(next(m for m in mailbox(server) if ALICE in m["to"]))
    answered, finished = calls_during(server, lambda: client.answer_code(sent, code))
    assert finished[-3:] == ["DefineAuthChallenge", "PostAuthentication", "PreTokenGeneration"]
    (after,) = post.events
    assert after["triggerSource"] == "PostAuthentication_Authentication" and after["userName"] == sub
    assert after["request"] == {
        "userAttributes": {"sub": sub, "email": ALICE, "email_verified": "true", "cognito:user_status": "CONFIRMED"},
        "clientMetadata": {"signInMethod": "EMAIL_OTP"},  # RespondToAuthChallenge's, as Cognito passes it
    }
    tokens = answered["AuthenticationResult"]
    assert verified_claims(server, tokens["IdToken"], audience=server.pool.client_id)["sub"] == sub

    _, refreshed = calls_during(server, lambda: refresh(server, tokens["RefreshToken"]))
    assert refreshed == ["PreTokenGeneration"]  # renewing a session is no sign-in


def test_the_function_a_template_puts_in_the_slot_is_the_one_called(serve_pool):
    """An operator's pool names its own function in LambdaConfig; here one of Keyless's, which refuses
    a trigger source it does not answer, so its refusal shows it was called."""
    template = Template()
    template.resources["UserPool"]["Properties"]["LambdaConfig"]["PreAuthentication"] = {
        "Fn::GetAtt": ["PostConfirmationFunction", "Arn"]
    }
    server = serve_pool(template=template)
    sign_up(server, ALICE)
    code, message = refused(lambda: start(server))
    assert code == "UserLambdaValidationException" and message.startswith("PreAuthentication failed with error ")
    described = pool_cognito(server).describe_user_pool(UserPoolId=server.pool.pool_id)["UserPool"]
    assert described["LambdaConfig"]["PreAuthentication"].endswith(":function:PostConfirmationFunction")


def test_a_pre_authentication_refusal_stops_the_sign_in_before_any_challenge(serve_pool):
    pre = Recorder(refusal="Sign-in is paused for this account")
    server = serve_pool(handlers={"PreAuthentication": pre})
    sign_up(server, ALICE)
    refusal, called = calls_during(server, lambda: refused(lambda: start(server)))
    assert refusal == ("UserLambdaValidationException", "PreAuthentication failed with error Sign-in is paused for this account.")
    assert called == ["PreAuthentication"]  # no DefineAuthChallenge, no CreateAuthChallenge: nothing is sent
    assert [m for m in mailbox(server) if ALICE in m["to"]] == []


def test_pre_authentication_is_told_of_an_unknown_user(serve_pool):
    pre = Recorder()
    server = serve_pool(handlers={"PreAuthentication": pre})
    challenge = start(server, "nobody@example.com")
    assert challenge["ChallengeName"] == "CUSTOM_CHALLENGE"  # PreventUserExistenceErrors: the rounds act it out
    (event,) = pre.events
    assert event["userName"] == "nobody@example.com"
    assert event["request"] == {"userAttributes": {}, "validationData": None, "userNotFound": True}


def test_without_prevent_user_existence_errors_an_unknown_user_never_reaches_pre_authentication(serve_pool):
    pre = Recorder()
    server = serve_pool(template=template_with_client(PreventUserExistenceErrors="LEGACY"), handlers={"PreAuthentication": pre})
    assert refused(lambda: start(server, "nobody@example.com")) == ("UserNotFoundException", "User does not exist.")
    assert pre.events == []


def test_disabled_and_unconfirmed_users_are_refused_before_pre_authentication(serve_pool):
    pre = Recorder()
    server = serve_pool(handlers={"PreAuthentication": pre, "PreSignUp": None})  # no PreSignUp: sign-ups stay unconfirmed
    cognito = pool_cognito(server)
    unconfirmed = cognito.sign_up(
        ClientId=server.pool.client_id, Username=BOB, Password="Aa1-" + "x" * 24, UserAttributes=[{"Name": "email", "Value": BOB}]
    )
    assert unconfirmed["UserConfirmed"] is False
    assert refused(lambda: start(server, BOB)) == ("UserNotConfirmedException", "User is not confirmed.")
    sign_up(server, ALICE)
    moto = server.pool.aws_session.client("cognito-idp")  # as a trigger or a script on moto would
    moto.admin_disable_user(UserPoolId=server.pool.pool_id, Username=ALICE)
    assert refused(lambda: start(server, ALICE)) == DISABLED
    assert pre.events == []


def test_a_post_authentication_failure_fails_the_sign_in(serve_pool):
    post = Recorder(refusal="Profile store is down")
    server = serve_pool(handlers={"PostAuthentication": post})
    sign_up(server, ALICE)
    client = passwordless(server)
    sent = client.request_code(client.start(ALICE))
    code = code_in(next(m for m in mailbox(server) if ALICE in m["to"]))
    refusal, answered = calls_during(server, lambda: refused(lambda: client.answer_code(sent, code)))
    assert refusal == ("UserLambdaValidationException", "PostAuthentication failed with error Profile store is down.")
    assert answered[-2:] == ["DefineAuthChallenge", "PostAuthentication"]  # no PreTokenGeneration: no tokens
    assert len(post.events) == 1
    assert refused(lambda: client.answer_code(sent, code)) == ("NotAuthorizedException", "Invalid session for the user.")


# --- point 9: DeleteUser --------------------------------------------------------------------------------


def test_delete_user_deletes_the_caller_and_ends_their_tokens(server):
    sub = sign_up(server, ALICE)
    sign_up(server, BOB)
    tokens = code_sign_in(server)
    app = unsigned(server)  # a public operation: the access token is the authorization
    invalid = ("NotAuthorizedException", "Invalid Access Token")
    assert refused(lambda: app.delete_user(AccessToken="not-a-token")) == invalid
    assert refused(lambda: app.delete_user(AccessToken=tokens["IdToken"])) == invalid  # an ID token is no access token
    assert pool_cognito(server).admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE)["Username"] == sub

    answer = app.delete_user(AccessToken=tokens["AccessToken"])
    assert set(answer) == {"ResponseMetadata"}
    admin = pool_cognito(server)
    assert refused(lambda: admin.admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE)) == (
        "UserNotFoundException",
        "User does not exist.",
    )
    assert refused(lambda: app.get_user(AccessToken=tokens["AccessToken"])) == REVOKED
    assert refused(lambda: app.delete_user(AccessToken=tokens["AccessToken"])) == REVOKED
    assert refused(lambda: refresh(server, tokens["RefreshToken"])) == ("NotAuthorizedException", "Invalid Refresh Token")
    (left,) = admin.list_users(UserPoolId=server.pool.pool_id)["Users"]
    assert {"Name": "email", "Value": BOB} in left["Attributes"]  # only the caller was deleted


# --- point 9: AdminDisableUser / AdminEnableUser ----------------------------------------------------------


def test_a_disabled_user_cannot_sign_in_or_refresh_until_enabled(server, served_clock):
    sub = sign_up(server, ALICE)
    tokens = code_sign_in(server)
    client = passwordless(server)
    in_progress = client.start(ALICE)  # a sign-in begun before the admin acts
    admin = pool_cognito(server)
    assert set(admin.admin_disable_user(UserPoolId=server.pool.pool_id, Username="Alice@Example.com")) == {"ResponseMetadata"}

    user = admin.admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE)
    assert user["Enabled"] is False
    assert [u["Username"] for u in admin.list_users(UserPoolId=server.pool.pool_id)["Users"]] == [sub]  # still listed
    assert refused(lambda: client.start(ALICE)) == DISABLED
    assert refused(lambda: client.request_code(in_progress)) == DISABLED
    assert refused(lambda: refresh(server, tokens["RefreshToken"])) == DISABLED
    assert refused(lambda: admin.get_user(AccessToken=tokens["AccessToken"])) == REVOKED

    admin.admin_enable_user(UserPoolId=server.pool.pool_id, Username=ALICE)
    assert admin.admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE)["Enabled"] is True
    served_clock.advance(EMAIL_INTERVAL)
    again = code_sign_in(server)
    assert admin.get_user(AccessToken=again["AccessToken"])["Username"] == sub
    # The tokens from before stay ended (AdminDisableUser signed the user out).
    assert refused(lambda: refresh(server, tokens["RefreshToken"])) == ("NotAuthorizedException", "Invalid Refresh Token")


@pytest.mark.parametrize("operation", ["admin_disable_user", "admin_enable_user"])
def test_disable_and_enable_refuse_what_cognito_refuses(server, operation):
    sign_up(server, ALICE)
    pool_id = server.pool.pool_id
    assert refused(lambda: getattr(pool_cognito(server), operation)(UserPoolId=pool_id, Username="nobody@example.com")) == (
        "UserNotFoundException",
        "User does not exist.",
    )
    assert refused(lambda: getattr(pool_cognito(server), operation)(UserPoolId="us-east-1_other", Username=ALICE)) == (
        "ResourceNotFoundException",
        "User pool us-east-1_other does not exist.",
    )
    assert refused(lambda: getattr(unsigned(server), operation)(UserPoolId=pool_id, Username=ALICE))[0] == (
        "MissingAuthenticationTokenException"
    )
    assert pool_cognito(server).admin_get_user(UserPoolId=pool_id, Username=ALICE)["Enabled"] is True  # nothing changed


# --- point 9: ListGroups / AdminListGroupsForUser -----------------------------------------------------------


def test_groups_of_the_pool_and_of_a_user(serve_pool):
    server = serve_pool(parameters={"DefaultGroup": "members"})  # the template's group, which PostConfirmation joins
    sign_up(server, ALICE)
    pool_id, admin = server.pool.pool_id, pool_cognito(server)
    server.pool.aws_session.client("cognito-idp").create_group(UserPoolId=pool_id, GroupName="editors", Description="Edit")

    groups = admin.list_groups(UserPoolId=pool_id)["Groups"]
    assert sorted(g["GroupName"] for g in groups) == ["editors", "members"]
    assert all(g["UserPoolId"] == pool_id and "CreationDate" in g for g in groups)
    first = admin.list_groups(UserPoolId=pool_id, Limit=1)
    second = admin.list_groups(UserPoolId=pool_id, Limit=1, NextToken=first["NextToken"])
    assert len(first["Groups"]) == len(second["Groups"]) == 1 and "NextToken" not in second
    assert {first["Groups"][0]["GroupName"], second["Groups"][0]["GroupName"]} == {"editors", "members"}

    mine = admin.admin_list_groups_for_user(UserPoolId=pool_id, Username="ALICE@example.com")["Groups"]
    assert [g["GroupName"] for g in mine] == ["members"]
    admin.admin_add_user_to_group(UserPoolId=pool_id, Username=ALICE, GroupName="editors")
    mine = admin.admin_list_groups_for_user(UserPoolId=pool_id, Username=ALICE)["Groups"]
    assert sorted(g["GroupName"] for g in mine) == ["editors", "members"]


def test_group_listings_refuse_what_cognito_refuses(server):
    sign_up(server, ALICE)
    pool_id, admin = server.pool.pool_id, pool_cognito(server)
    assert refused(lambda: admin.list_groups(UserPoolId=pool_id, Limit=61)) == (
        "InvalidParameterException",
        "1 validation error detected: Value '61' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 60",
    )
    assert refused(lambda: admin.list_groups(UserPoolId=pool_id, NextToken="made-up")) == (
        "InvalidParameterException",
        "Invalid NextToken.",
    )
    assert refused(lambda: admin.list_users(UserPoolId=pool_id, PaginationToken="made-up")) == (
        "InvalidParameterException",
        "Invalid NextToken.",
    )
    assert refused(lambda: admin.list_groups(UserPoolId="us-east-1_other"))[0] == "ResourceNotFoundException"
    assert refused(lambda: unsigned(server).list_groups(UserPoolId=pool_id))[0] == "MissingAuthenticationTokenException"
    assert refused(lambda: admin.admin_list_groups_for_user(UserPoolId=pool_id, Username="nobody@example.com")) == (
        "UserNotFoundException",
        "User does not exist.",
    )
    assert refused(lambda: unsigned(server).admin_list_groups_for_user(UserPoolId=pool_id, Username=ALICE))[0] == (
        "MissingAuthenticationTokenException"
    )


# --- point 9: AdminInitiateAuth / AdminRespondToAuthChallenge -----------------------------------------------


def test_admin_initiate_auth_runs_the_same_rounds_server_side(serve_pool):
    pre, define, post = Recorder(), Spy("DefineAuthChallenge"), Recorder()
    server = serve_pool(handlers={"PreAuthentication": pre, "DefineAuthChallenge": define, "PostAuthentication": post})
    sub = sign_up(server, ALICE)
    back_end = PasswordlessClient(AdminSignIn(server, {"origin": "back-end"}), server.pool.client_id)
    tokens = code_sign_in(server, back_end)

    assert verified_claims(server, tokens["IdToken"], audience=server.pool.client_id)["sub"] == sub
    assert verified_claims(server, tokens["AccessToken"])["client_id"] == server.pool.client_id
    # ClientMetadata as Cognito routes it: AdminInitiateAuth's to PreAuthentication only,
    # AdminRespondToAuthChallenge's to the challenge triggers and PostAuthentication.
    assert [e["request"]["validationData"] for e in pre.events] == [{"origin": "back-end"}]
    code_method = {"signInMethod": "EMAIL_OTP"}
    assert [e["request"]["clientMetadata"] for e in define.events] == [{}, code_method, code_method]
    assert [e["request"]["clientMetadata"] for e in post.events] == [code_method]
    assert all(e["callerContext"]["clientId"] == server.pool.client_id for e in pre.events + define.events + post.events)

    own = {"UserPoolId": server.pool.pool_id, "ClientId": server.pool.client_id}
    admin = pool_cognito(server)
    refresh_flow = {"AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": tokens["RefreshToken"]}}
    refreshed, called = calls_during(server, lambda: admin.admin_initiate_auth(**own, **refresh_flow))
    assert verified_claims(server, refreshed["AuthenticationResult"]["AccessToken"])["sub"] == sub
    assert called == ["PreTokenGeneration"]


def test_a_session_from_either_side_is_answered_on_the_other(server, served_clock):
    """Cognito does not say whether InitiateAuth's session may be answered with AdminRespondToAuthChallenge
    (or the other way round); the local pool's sessions belong to the app client, whichever call made them."""
    sign_up(server, ALICE)
    public, back_end = passwordless(server), PasswordlessClient(AdminSignIn(server, {}), server.pool.client_id)
    assert back_end.request_code(public.start(ALICE))["ChallengeParameters"]["step"] == "EMAIL_OTP"
    served_clock.advance(EMAIL_INTERVAL)
    assert public.request_code(back_end.start(ALICE))["ChallengeParameters"]["step"] == "EMAIL_OTP"


def test_admin_sign_in_refuses_what_cognito_refuses(server):
    sign_up(server, ALICE)
    admin, anonymous = pool_cognito(server), unsigned(server)
    own = {"UserPoolId": server.pool.pool_id, "ClientId": server.pool.client_id}

    def admin_start(cognito=admin, **request: Any) -> dict:
        return cognito.admin_initiate_auth(**{**own, "AuthFlow": "CUSTOM_AUTH", "AuthParameters": {"USERNAME": ALICE}, **request})

    assert refused(lambda: admin_start(anonymous))[0] == "MissingAuthenticationTokenException"
    other_pool = ("ResourceNotFoundException", "User pool us-east-1_other does not exist.")
    assert refused(lambda: admin_start(UserPoolId="us-east-1_other")) == other_pool
    assert refused(lambda: admin_start(ClientId="nope")) == ("ResourceNotFoundException", "User pool client nope does not exist.")
    assert refused(lambda: admin_start(AuthParameters={})) == ("InvalidParameterException", "Missing required parameter USERNAME")
    password_flow = {"AuthFlow": "ADMIN_USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": ALICE, "PASSWORD": "x"}}
    assert refused(lambda: admin_start(**password_flow)) == (
        "InvalidParameterException",
        "ADMIN_USER_PASSWORD_AUTH flow not enabled for this client",
    )

    challenge = admin_start()

    answer = {
        **own,
        "ChallengeName": "CUSTOM_CHALLENGE",
        "ChallengeResponses": {"USERNAME": challenge["ChallengeParameters"]["USERNAME"], "ANSWER": "-"},
        "ClientMetadata": {"signInMethod": "EMAIL_OTP"},
        "Session": challenge["Session"],
    }

    def admin_respond(cognito=admin, **request: Any) -> dict:
        return cognito.admin_respond_to_auth_challenge(**{**answer, **request})

    assert refused(lambda: admin_respond(anonymous))[0] == "MissingAuthenticationTokenException"
    assert refused(lambda: admin_respond(UserPoolId="us-east-1_other")) == other_pool
    assert refused(lambda: admin_respond(Session="made-up-" * 4)) == ("NotAuthorizedException", "Invalid session for the user.")
    assert admin_respond()["ChallengeName"] == "CUSTOM_CHALLENGE"  # none of the refusals spent the session


def test_a_client_without_custom_auth_refuses_it_signed_or_not(serve_pool):
    server = serve_pool(template=template_with_client(ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"]))
    sign_up(server, ALICE)
    refusal = ("InvalidParameterException", "CUSTOM_AUTH flow not enabled for this client")
    assert refused(lambda: start(server)) == refusal
    admin_sign_in = PasswordlessClient(AdminSignIn(server, {}), server.pool.client_id)
    assert refused(lambda: admin_sign_in.start(ALICE)) == refusal


# --- point 9: the admin operations that were there: any case of the address, tokens ended ----------------


def test_admin_operations_find_the_user_by_the_address_in_any_case(server, served_clock):
    sub = sign_up(server, ALICE)
    pool_id, admin = server.pool.pool_id, pool_cognito(server)
    shouted = "ALICE@EXAMPLE.COM"
    assert admin.admin_get_user(UserPoolId=pool_id, Username=shouted)["Username"] == sub

    def set_password(username: str, permanent: bool) -> None:
        admin.admin_set_user_password(UserPoolId=pool_id, Username=username, Password="Aa1-" + "y" * 24, Permanent=permanent)

    set_password(shouted, permanent=False)
    assert admin.admin_get_user(UserPoolId=pool_id, Username=ALICE)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    set_password(shouted, permanent=True)
    assert admin.admin_get_user(UserPoolId=pool_id, Username=ALICE)["UserStatus"] == "CONFIRMED"
    assert refused(lambda: set_password("nobody@example.com", permanent=True)) == (
        "UserNotFoundException",
        "User does not exist.",
    )

    tokens = code_sign_in(server)
    admin.admin_user_global_sign_out(UserPoolId=pool_id, Username=shouted)
    assert refused(lambda: admin.get_user(AccessToken=tokens["AccessToken"]))[0] == "NotAuthorizedException"
    assert refused(lambda: refresh(server, tokens["RefreshToken"])) == ("NotAuthorizedException", "Invalid Refresh Token")

    served_clock.advance(EMAIL_INTERVAL)
    tokens = code_sign_in(server)
    admin.admin_delete_user(UserPoolId=pool_id, Username=shouted)
    assert refused(lambda: admin.get_user(AccessToken=tokens["AccessToken"]))[0] == "NotAuthorizedException"
    assert refused(lambda: refresh(server, tokens["RefreshToken"])) == ("NotAuthorizedException", "Invalid Refresh Token")
    assert refused(lambda: admin.admin_get_user(UserPoolId=pool_id, Username=ALICE))[0] == "UserNotFoundException"
