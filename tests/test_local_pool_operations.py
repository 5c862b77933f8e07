"""The local user pool's sign-in triggers around the rounds and the operations an app or an operator
calls beside sign-in (issue 13, points 8 and 9), over HTTP with boto3 as against Cognito.

PreAuthentication and PostAuthentication are slots template.yaml leaves empty: the tests fill them
with small handlers of their own (recorders, refusals). The rest runs the template's own functions.
"""

from __future__ import annotations

import copy
from typing import Any

import jwt

from localpool.template import Template
from testkit.clients import passwordless, pool_cognito, refresh, refused, sign_up
from testkit.mail import code_in, mailbox

ALICE = "alice@example.com"
BOB = "bob@example.com"
DISABLED = ("NotAuthorizedException", "User is disabled.")


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
