"""The local user pool's tokens as an app sees them (issue 13, points 2 and 7, and refresh token
rotation): lifetimes from the template's app client, RevokeToken's refusals, GetTokensFromRefreshToken.

Each test serves the pool over HTTP (template.yaml, or a copy whose app client says otherwise) and
drives it with boto3; time moves only on the injected clock.
"""

from __future__ import annotations

import jwt
import pytest

from localpool.orchestrator import PoolUser
from localpool.template import Template
from localpool.tokens import ClientSettingsError, ClientTokenSettings
from testkit.clients import passwordless, pool_cognito, refresh, refused, sign_up
from testkit.concurrency import run_at_once
from testkit.mail import code_in, mailbox

ALICE = "alice@example.com"
MINUTE, HOUR, DAY = 60, 3600, 86400
PATTERN_REFUSAL = (
    "InvalidParameterException",
    "1 validation error detected: Value at 'token' failed to satisfy constraint: "
    "Member must satisfy regular expression pattern: [A-Za-z0-9-_=.]+",
)


# --- helpers ----------------------------------------------------------------------------------------


def client_template(**properties) -> Template:
    """template.yaml with its app client's properties changed (None removes one)."""
    template = Template()
    client = template.resources["UserPoolClient"]["Properties"]
    for name, value in properties.items():
        if value is None:
            client.pop(name, None)
        else:
            client[name] = value
    return template


def rotating(grace: int | None, **properties) -> Template:
    """A client that rotates refresh tokens (without REFRESH_TOKEN_AUTH, as Cognito has it configured);
    grace None leaves RetryGracePeriodSeconds unset."""
    rotation = {"Feature": "ENABLED"} | ({} if grace is None else {"RetryGracePeriodSeconds": grace})
    return client_template(RefreshTokenRotation=rotation, ExplicitAuthFlows=["ALLOW_CUSTOM_AUTH"], **properties)


def signed_in(server) -> dict:
    """Alice signs up and in with an emailed code; her AuthenticationResult."""
    sign_up(server, ALICE)
    client = passwordless(server)
    sent = client.request_code(client.start(ALICE))
    mail = next(m for m in mailbox(server) if ALICE in m["to"])
    return client.answer_code(sent, code_in(mail))["AuthenticationResult"]


def claims_of(server, token: str) -> dict:
    """A token's claims, its signature checked against the served JWKS (its times are the test's to judge)."""
    key = jwt.PyJWKClient(f"{server.pool.issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    options = {"verify_exp": False, "verify_iat": False, "verify_aud": False}
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=server.pool.issuer, options=options)


def lifetime(server, token: str) -> int:
    claims = claims_of(server, token)
    return claims["exp"] - claims["iat"]


def described(server) -> dict:
    cognito = pool_cognito(server)
    return cognito.describe_user_pool_client(UserPoolId=server.pool.pool_id, ClientId=server.pool.client_id)["UserPoolClient"]


def new_tokens(server, refresh_token: str, **extra) -> dict:
    """GetTokensFromRefreshToken's AuthenticationResult."""
    cognito = pool_cognito(server)
    return cognito.get_tokens_from_refresh_token(RefreshToken=refresh_token, ClientId=server.pool.client_id, **extra)[
        "AuthenticationResult"
    ]


def revoke(server, token: str) -> dict:
    return pool_cognito(server).revoke_token(Token=token, ClientId=server.pool.client_id)


class PreTokenGeneration:
    """A PreTokenGeneration trigger that records its events and can be told to fail."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.failing = False

    def __call__(self, event, context):
        self.events.append(event)
        if self.failing:
            raise RuntimeError("not now")
        return event


# --- point 2: lifetimes -------------------------------------------------------------------------------


def test_a_client_that_sets_no_lifetimes_gets_cognitos_defaults(server, served_clock):
    """Was: every token lasted an hour whatever the client said, refresh tokens forever, and
    DescribeUserPoolClient showed none of it. template.yaml's client sets nothing: Cognito's defaults."""
    tokens = signed_in(server)
    assert lifetime(server, tokens["IdToken"]) == lifetime(server, tokens["AccessToken"]) == tokens["ExpiresIn"] == HOUR
    app = described(server)
    assert (app["AccessTokenValidity"], app["IdTokenValidity"], app["RefreshTokenValidity"]) == (1, 1, 30)
    assert app["TokenValidityUnits"] == {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}
    assert app["EnableTokenRevocation"] is True and "RefreshTokenRotation" not in app

    served_clock.advance(30 * DAY - 1)
    assert refresh(server, tokens["RefreshToken"])["AuthenticationResult"]["ExpiresIn"] == HOUR
    served_clock.advance(1)
    expired = ("NotAuthorizedException", "Refresh Token has expired")
    assert refused(lambda: refresh(server, tokens["RefreshToken"])) == expired
    assert refused(lambda: new_tokens(server, tokens["RefreshToken"])) == expired


def test_tokens_last_as_long_as_the_client_says(serve_pool, served_clock):
    units = {"AccessToken": "minutes", "RefreshToken": "minutes"}  # IdToken's unit unset: hours
    template = client_template(AccessTokenValidity=5, IdTokenValidity=2, RefreshTokenValidity=90, TokenValidityUnits=units)
    server = serve_pool(template=template)
    tokens = signed_in(server)
    assert lifetime(server, tokens["AccessToken"]) == tokens["ExpiresIn"] == 5 * MINUTE
    assert lifetime(server, tokens["IdToken"]) == 2 * HOUR
    app = described(server)
    assert (app["AccessTokenValidity"], app["IdTokenValidity"], app["RefreshTokenValidity"]) == (5, 2, 90)
    assert app["TokenValidityUnits"] == {"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "minutes"}

    cognito = pool_cognito(server)
    served_clock.advance(5 * MINUTE - 1)
    assert cognito.get_user(AccessToken=tokens["AccessToken"])["Username"]
    served_clock.advance(1)
    assert refused(lambda: cognito.get_user(AccessToken=tokens["AccessToken"])) == (
        "NotAuthorizedException",
        "Access Token has expired",
    )
    again = refresh(server, tokens["RefreshToken"])["AuthenticationResult"]
    assert lifetime(server, again["AccessToken"]) == again["ExpiresIn"] == 5 * MINUTE
    assert lifetime(server, again["IdToken"]) == 2 * HOUR

    served_clock.advance(85 * MINUTE - 1)  # 90 minutes after the sign-in, less a second
    assert refresh(server, tokens["RefreshToken"])
    served_clock.advance(1)
    assert refused(lambda: refresh(server, tokens["RefreshToken"])) == ("NotAuthorizedException", "Refresh Token has expired")


def test_numbers_without_units_are_hours_and_days_and_a_refresh_validity_of_0_is_30_days(serve_pool):
    server = serve_pool(template=client_template(AccessTokenValidity=2, IdTokenValidity="3", RefreshTokenValidity=0))
    tokens = signed_in(server)
    assert lifetime(server, tokens["AccessToken"]) == 2 * HOUR and lifetime(server, tokens["IdToken"]) == 3 * HOUR
    app = described(server)
    assert (app["AccessTokenValidity"], app["IdTokenValidity"], app["RefreshTokenValidity"]) == (2, 3, 30)
    assert app["TokenValidityUnits"] == {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"AccessTokenValidity": 4, "TokenValidityUnits": {"AccessToken": "minutes"}}, "Invalid range for token validity"),
        ({"AccessTokenValidity": 2, "TokenValidityUnits": {"AccessToken": "days"}}, "Invalid range for token validity"),
        ({"IdTokenValidity": 86401, "TokenValidityUnits": {"IdToken": "seconds"}}, "Invalid range for token validity"),
        ({"RefreshTokenValidity": 59, "TokenValidityUnits": {"RefreshToken": "minutes"}}, "Invalid range for token validity"),
        ({"RefreshTokenValidity": 3651}, "Invalid range for token validity"),
        ({"AccessTokenValidity": 1, "TokenValidityUnits": {"AccessToken": "weeks"}}, "is not one of seconds, minutes"),
        ({"AccessTokenValidity": "soon"}, "AccessTokenValidity must be a whole number"),
        ({"EnableTokenRevocation": "maybe"}, "EnableTokenRevocation must be true or false"),
        ({"RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 61}}, "is outside 0 to 60"),
        ({"RefreshTokenRotation": {"Feature": "ON"}}, "is not ENABLED or DISABLED"),
    ],
)
def test_client_settings_cognito_refuses_keep_the_pool_from_starting(serve_pool, properties, message):
    """As a deployment of such a template would fail, the local pool does not start with it."""
    with pytest.raises(ClientSettingsError, match=message):
        serve_pool(template=client_template(**properties))


@pytest.mark.parametrize(
    ("properties", "shown"),
    [
        (
            {"AccessTokenValidity": 300, "TokenValidityUnits": {"AccessToken": "seconds"}},
            {
                "AccessTokenValidity": 300,
                "TokenValidityUnits": {"AccessToken": "seconds", "IdToken": "hours", "RefreshToken": "days"},
            },
        ),
        ({"IdTokenValidity": 24}, {"IdTokenValidity": 24}),
        (
            {"RefreshTokenValidity": 60, "TokenValidityUnits": {"RefreshToken": "minutes"}},
            {
                "RefreshTokenValidity": 60,
                "TokenValidityUnits": {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "minutes"},
            },
        ),
        ({"RefreshTokenValidity": 3650}, {"RefreshTokenValidity": 3650}),
        (
            {"EnableTokenRevocation": "false", "RefreshTokenRotation": {"Feature": "DISABLED"}},
            {"EnableTokenRevocation": False, "RefreshTokenRotation": {"Feature": "DISABLED", "RetryGracePeriodSeconds": 0}},
        ),
    ],
)
def test_the_ends_of_cognitos_ranges_are_allowed(properties, shown):
    """5 minutes and 1 day for access and ID tokens, 60 minutes and 10 years for refresh tokens."""
    settings = ClientTokenSettings.from_client(properties).describe()
    assert {name: settings[name] for name in shown} == shown


# --- point 7: RevokeToken --------------------------------------------------------------------------------


def test_revoke_token_ends_the_sign_in_and_answers_200_again(server):
    tokens = signed_in(server)
    revoke(server, tokens["RefreshToken"])
    assert refused(lambda: new_tokens(server, tokens["RefreshToken"])) == ("NotAuthorizedException", "Invalid Refresh Token")
    assert refused(lambda: pool_cognito(server).get_user(AccessToken=tokens["AccessToken"])) == (
        "NotAuthorizedException",
        "Access Token has been revoked",
    )
    revoke(server, tokens["RefreshToken"])  # "HTTP 200 if the token has been revoked" (the revocation endpoint)


def test_revoke_token_refuses_id_and_access_tokens_and_revokes_nothing(server):
    """Was: 200 for an access token, as if it had been revoked."""
    tokens = signed_in(server)
    for kind in ("IdToken", "AccessToken"):
        assert refused(lambda kind=kind: revoke(server, tokens[kind])) == (
            "UnsupportedTokenTypeException",
            "Only refresh tokens can be revoked.",
        )
    assert pool_cognito(server).get_user(AccessToken=tokens["AccessToken"])["Username"]
    assert refresh(server, tokens["RefreshToken"])


def test_revoke_token_with_garbage(server):
    """A token of the API's shape that is no refresh token of the pool: 200 and nothing changes (AWS
    documents that answer for its revocation endpoint, not for RevokeToken); one of another shape:
    the API's pattern refusal."""
    tokens = signed_in(server)
    revoke(server, "not-a-refresh-token-of-this-pool")
    revoke(server, tokens["RefreshToken"][:-1])
    assert refused(lambda: revoke(server, "not a token!")) == PATTERN_REFUSAL
    assert refresh(server, tokens["RefreshToken"])


def test_revoke_token_with_another_clients_refresh_token_changes_nothing(server):
    """AWS: "Refresh tokens must be revoked using the same client ID that was used to obtain the
    token"; what RevokeToken answers otherwise it does not say, so the local pool answers 200 and
    revokes nothing. (The served pool has one client: the other one's tokens are issued in process.)"""
    sub = sign_up(server, ALICE)
    alice = PoolUser(sub, {"sub": sub, "email": ALICE})
    other = server.pool.tokens.issue(alice, "anotherappclient", "TokenGeneration_Authentication", {})
    revoke(server, other["RefreshToken"])
    assert server.pool.tokens.refresh(other["RefreshToken"], "anotherappclient", lambda name: alice)["AccessToken"]
    assert pool_cognito(server).get_user(AccessToken=other["AccessToken"])["Username"] == sub


def test_revoke_token_on_a_client_without_token_revocation(serve_pool):
    server = serve_pool(template=client_template(EnableTokenRevocation=False))
    tokens = signed_in(server)
    assert refused(lambda: revoke(server, tokens["RefreshToken"])) == (
        "UnsupportedOperationException",
        "Token revocation isn't enabled for this app client.",
    )
    assert refresh(server, tokens["RefreshToken"])
    assert described(server)["EnableTokenRevocation"] is False
    assert {"origin_jti", "jti"} <= set(claims_of(server, tokens["AccessToken"]))  # unlike Cognito's (docs: differences)


# --- GetTokensFromRefreshToken ------------------------------------------------------------------------


def test_get_tokens_from_refresh_token_without_rotation(serve_pool):
    trigger = PreTokenGeneration()
    server = serve_pool(handlers={"PreTokenGeneration": trigger})
    tokens = signed_in(server)
    first = claims_of(server, tokens["IdToken"])
    for _ in range(2):  # the refresh token stays valid
        got = new_tokens(server, tokens["RefreshToken"], ClientMetadata={"screen": "settings"})
        assert "RefreshToken" not in got and got["ExpiresIn"] == HOUR and got["TokenType"] == "Bearer"
        again = claims_of(server, got["IdToken"])
        assert (again["sub"], again["origin_jti"], again["auth_time"]) == (first["sub"], first["origin_jti"], first["auth_time"])
        assert claims_of(server, got["AccessToken"])["token_use"] == "access"
    sources = [event["triggerSource"] for event in trigger.events]
    assert sources == ["TokenGeneration_Authentication", "TokenGeneration_RefreshTokens", "TokenGeneration_RefreshTokens"]
    assert trigger.events[-1]["request"]["clientMetadata"] == {"screen": "settings"}


def test_get_tokens_from_refresh_token_refusals(server):
    tokens = signed_in(server)
    cognito = pool_cognito(server)
    unknown_client = refused(
        lambda: cognito.get_tokens_from_refresh_token(RefreshToken=tokens["RefreshToken"], ClientId="unknownclient")
    )
    assert unknown_client == ("ResourceNotFoundException", "User pool client unknownclient does not exist.")
    invalid = ("NotAuthorizedException", "Invalid Refresh Token")
    assert refused(lambda: new_tokens(server, "not-a-refresh-token")) == invalid
    assert refused(lambda: new_tokens(server, tokens["AccessToken"])) == invalid
    assert refused(lambda: new_tokens(server, "not a token!"))[0] == "InvalidParameterException"
    assert new_tokens(server, tokens["RefreshToken"])  # none of that changed anything


def test_rotation_returns_a_new_refresh_token_and_the_old_one_lasts_the_grace_period(serve_pool, served_clock):
    server = serve_pool(template=rotating(grace=10))
    assert described(server)["RefreshTokenRotation"] == {"Feature": "ENABLED", "RetryGracePeriodSeconds": 10}
    first = signed_in(server)["RefreshToken"]
    second = new_tokens(server, first)["RefreshToken"]
    assert second != first
    served_clock.advance(9)
    retried = new_tokens(server, first)["RefreshToken"]  # a client's retry, within the grace period
    assert retried not in (first, second)
    served_clock.advance(1)
    assert refused(lambda: new_tokens(server, first)) == ("RefreshTokenReuseException", "Refresh Token has been rotated")
    third = new_tokens(server, second)["RefreshToken"]
    assert new_tokens(server, third)["RefreshToken"]


def test_without_a_grace_period_a_rotated_token_is_refused_at_once_even_to_requests_at_the_same_moment(serve_pool):
    server = serve_pool(template=rotating(grace=None))
    assert described(server)["RefreshTokenRotation"] == {"Feature": "ENABLED", "RetryGracePeriodSeconds": 0}
    first = signed_in(server)["RefreshToken"]
    outcomes = run_at_once(lambda _: new_tokens(server, first), range(4))
    winners = [o for o in outcomes if isinstance(o, dict)]
    assert len(winners) == 1 and "RefreshToken" in winners[0]
    assert {o.response["Error"]["Code"] for o in outcomes if not isinstance(o, dict)} == {"RefreshTokenReuseException"}


def test_refresh_token_auth_is_refused_on_a_client_that_rotates(serve_pool):
    server = serve_pool(template=rotating(grace=0))
    tokens = signed_in(server)
    assert refused(lambda: refresh(server, tokens["RefreshToken"])) == (
        "InvalidParameterException",
        "REFRESH_TOKEN_AUTH flow not enabled for this client",
    )
    assert new_tokens(server, tokens["RefreshToken"])["RefreshToken"]  # the refused call used nothing up


def test_refresh_token_auth_needs_the_client_to_allow_it(serve_pool):
    server = serve_pool(template=client_template(ExplicitAuthFlows=["ALLOW_CUSTOM_AUTH"]))
    tokens = signed_in(server)
    assert refused(lambda: refresh(server, tokens["RefreshToken"])) == (
        "InvalidParameterException",
        "REFRESH_TOKEN_AUTH flow not enabled for this client",
    )


def test_a_failed_refresh_does_not_use_up_the_refresh_token(serve_pool):
    trigger = PreTokenGeneration()
    server = serve_pool(template=rotating(grace=0), handlers={"PreTokenGeneration": trigger})
    first = signed_in(server)["RefreshToken"]
    trigger.failing = True
    assert refused(lambda: new_tokens(server, first))[0] == "UserLambdaValidationException"
    trigger.failing = False
    assert new_tokens(server, first)["RefreshToken"]


def test_a_rotated_refresh_token_lasts_the_clients_validity_from_its_rotation(serve_pool, served_clock):
    server = serve_pool(template=rotating(grace=0, RefreshTokenValidity=60, TokenValidityUnits={"RefreshToken": "minutes"}))
    first = signed_in(server)["RefreshToken"]
    served_clock.advance(50 * MINUTE)
    second = new_tokens(server, first)["RefreshToken"]
    served_clock.advance(60 * MINUTE - 1)  # 110 minutes after the sign-in
    third = new_tokens(server, second)["RefreshToken"]
    served_clock.advance(60 * MINUTE)
    assert refused(lambda: new_tokens(server, third)) == ("NotAuthorizedException", "Refresh Token has expired")


@pytest.mark.parametrize("revoked", ["first", "second"])
def test_revoking_any_refresh_token_of_a_rotation_ends_the_whole_sign_in(serve_pool, revoked):
    server = serve_pool(template=rotating(grace=10))
    tokens = signed_in(server)
    second = new_tokens(server, tokens["RefreshToken"])
    revoke(server, {"first": tokens, "second": second}[revoked]["RefreshToken"])  # the first: within its grace period
    invalid = ("NotAuthorizedException", "Invalid Refresh Token")
    assert refused(lambda: new_tokens(server, tokens["RefreshToken"])) == invalid
    assert refused(lambda: new_tokens(server, second["RefreshToken"])) == invalid
    cognito = pool_cognito(server)
    for access_token in (tokens["AccessToken"], second["AccessToken"]):
        assert refused(lambda t=access_token: cognito.get_user(AccessToken=t))[1] == "Access Token has been revoked"
