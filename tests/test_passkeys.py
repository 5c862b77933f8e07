"""Passkeys end to end (issue 15): registered through the management API's real handler (HTTP API
2.0 events carrying the claims of a real ID token of the served pool), used through the served
pool's Cognito API (boto3), with a software authenticator (testkit.passkeys). Each attack is tried
from outside and must fail."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from botocore.exceptions import ClientError

from testkit.clients import passwordless, pool_cognito, sign_up
from testkit.mail import last_code
from testkit.passkeys import ManagementApi, SoftwareAuthenticator, b64url, claims_of

PARAMETERS = {"Passkeys": "Enabled", "AllowedRedirectOrigins": "https://app.example.com,http://localhost:9229"}
RP_ID = "app.example.com"
ORIGIN = "https://app.example.com"
ALICE, BOB = "alice@example.com", "bob@example.com"
START, COMPLETE = "POST /register-authenticator/start", "POST /register-authenticator/complete"
LIST, UPDATE, DELETE = "POST /authenticators/list", "POST /authenticators/update", "POST /authenticators/delete"
CHALLENGE = "POST /sign-in-challenge"
FIDO2 = {"signInMethod": "FIDO2"}


@pytest.fixture
def pk(serve_pool, served_clock):
    return Passkeys(serve_pool(parameters=PARAMETERS), served_clock)


class Passkeys:
    """A served pool with Passkeys=Enabled, its management API, and what a test does with both."""

    def __init__(self, server, clock):
        self.server = server
        self.clock = clock
        self.api = ManagementApi()
        self.app = passwordless(server)
        self.cognito = pool_cognito(server)

    def user(self, email: str) -> dict[str, str]:
        """A signed-up user, signed in by an email code just now: the claims of their ID token."""
        sign_up(self.server, email)
        return self.signed_in(email)

    def signed_in(self, email: str) -> dict[str, str]:
        tokens = self.app.answer_code(self.app.request_code(self.app.start(email)), last_code(email))
        return claims_of(tokens["AuthenticationResult"]["IdToken"])

    def register(self, claims: dict[str, str], name: str = "My key", authenticator: SoftwareAuthenticator | None = None):
        authenticator = authenticator or SoftwareAuthenticator()
        status, options = self.api.call(START, claims, query={"rpId": RP_ID})
        assert status == 200, options
        status, body = self.api.call(COMPLETE, claims, {**authenticator.create(options, ORIGIN), "friendlyName": name})
        assert status == 200, body
        return authenticator, body

    def listed(self, claims: dict[str, str]) -> list[dict[str, Any]]:
        status, body = self.api.call(LIST, claims, query={"rpId": RP_ID})
        assert status == 200, body
        return body["authenticators"]

    def options(self, username: str) -> tuple[dict, dict]:
        first = self.app.start(username)
        return first, json.loads(first["ChallengeParameters"]["fido2options"])

    def sign_in(self, username: str, authenticator: SoftwareAuthenticator, **assertion: Any) -> dict:
        first, options = self.options(username)
        answer = authenticator.assert_(options["challenge"], ORIGIN, RP_ID, **assertion)
        return self.app.respond(first, json.dumps(answer), FIDO2)


def id_token_claims(result: dict) -> dict:
    return jwt.decode(result["AuthenticationResult"]["IdToken"], options={"verify_signature": False})


def refused(call) -> str:
    with pytest.raises(ClientError) as excinfo:
        call()
    return str(excinfo.value.response["Error"]["Code"])


# --- registering and signing in ---------------------------------------------------------------------


def test_a_registered_passkey_signs_in_with_no_email_and_the_token_says_passkey(pk):
    alice = pk.user(ALICE)
    authenticator, registered = pk.register(alice, "  Laptop  ")
    assert registered["credentialId"] == authenticator.id and registered["friendlyName"] == "Laptop"
    first, options = pk.options(ALICE)
    assert "FIDO2" in first["ChallengeParameters"]["methods"].split(",")
    assert options["relyingPartyId"] == RP_ID and options["userVerification"] == "required"
    assert options["credentials"] == [{"id": authenticator.id, "transports": ["internal"]}]
    result = pk.app.respond(first, json.dumps(authenticator.assert_(options["challenge"], ORIGIN, RP_ID)), FIDO2)
    claims = id_token_claims(result)
    assert claims["sign_in_method"] == "passkey" and claims["sub"] == alice["sub"]
    (listed,) = pk.listed(alice)
    assert listed["signCount"] == 1 and "lastSignIn" in listed


def test_routes_answer_json_never_cached_and_refuse_what_they_do_not_know(pk):
    alice = pk.user(ALICE)
    assert pk.api.call("POST /nothing-here", alice) == (404, {"message": "Not Found"})
    access_like = {**alice, "token_use": "access"}
    assert pk.api.call(LIST, access_like, query={"rpId": RP_ID}) == (401, {"message": "Use your ID token to access this API"})
    assert pk.api.call(LIST, None, query={"rpId": RP_ID}) == (401, {"message": "Use your ID token to access this API"})
    assert pk.api.call(LIST, alice) == (400, {"message": "Missing RP ID"})
    assert pk.api.call(LIST, alice, query={"rpId": "evil.example"}) == (400, {"message": "Unrecognized RP ID"})
    assert pk.api.call(UPDATE, alice, "{not json") == (400, {"message": "Invalid body"})
    assert pk.api.call(UPDATE, alice, "[1, 2]") == (400, {"message": "Invalid body"})
