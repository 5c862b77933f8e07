"""Passkeys for the tests: a software authenticator (an ES256 key from `cryptography`, its
attestation object and authenticator data CBOR-encoded by `cbor2`) that answers as a browser's
navigator.credentials would, in the shapes the `amazon-cognito-passwordless-auth` client sends; and
the management API called as API Gateway calls it (HTTP API payload 2.0, the JWT authorizer's claims
as strings, taken from a real ID token of the pool)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cbor2
import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
from testkit.clients import passwordless, pool_cognito, sign_up
from testkit.mail import last_code

if TYPE_CHECKING:
    from localpool.server import LocalPoolServer

# A served pool with passkeys on, as the tests deploy it: the relying party is app.example.com.
PARAMETERS = {"Passkeys": "Enabled", "AllowedRedirectOrigins": "https://app.example.com,http://localhost:9229"}
RP_ID = "app.example.com"
ORIGIN = "https://app.example.com"
START, COMPLETE = "POST /register-authenticator/start", "POST /register-authenticator/complete"
LIST, UPDATE, DELETE = "POST /authenticators/list", "POST /authenticators/update", "POST /authenticators/delete"
CHALLENGE = "POST /sign-in-challenge"
FIDO2 = {"signInMethod": "FIDO2"}
FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID = bytes(16)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftwareAuthenticator:
    """One credential on one authenticator. Its counter goes up by one per assertion (`counter`
    may be set, a clone's goes its own way: copy.deepcopy)."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    counter: int = 0
    backup_eligible: bool = False
    user_handle: bytes = b""  # what registration gave it as user.id (a discoverable credential keeps it)

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _flags(self, verified: bool, extra: int = 0) -> int:
        return FLAG_UP | (FLAG_UV if verified else 0) | (FLAG_BE if self.backup_eligible else 0) | extra

    def create(
        self,
        options: Mapping[str, Any],
        origin: str,
        *,
        verified: bool = True,
        rp_id: str | None = None,
        challenge: str | None = None,
        kind: str = "webauthn.create",
    ) -> dict[str, Any]:
        """navigator.credentials.create() on register-authenticator/start's options, as the client
        posts it to register-authenticator/complete (without friendlyName)."""
        rp = rp_id or options["rp"]["id"]
        self.user_handle = bytes(ord(c) for c in options["user"]["id"])  # the client's char-by-char bytes
        client_data = json.dumps(
            {"type": kind, "challenge": challenge or options["challenge"], "origin": origin, "crossOrigin": False}
        ).encode()
        attested = AAGUID + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(verified, FLAG_AT)])
            + struct.pack(">I", self.counter)
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "attestationObjectB64": b64url(attestation),
            "clientDataJSON_B64": b64url(client_data),
            "transports": ["internal"],
        }

    def assert_(
        self,
        challenge: str,
        origin: str,
        rp_id: str,
        *,
        verified: bool = True,
        present: bool = True,
        with_user_handle: bool = True,
        kind: str = "webauthn.get",
        step: int = 1,
    ) -> dict[str, Any]:
        """navigator.credentials.get(), as the client sends the assertion (ANSWER, JSON)."""
        self.counter += step
        client_data = json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()
        flags = self._flags(verified) & ~(0 if present else FLAG_UP)
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.counter)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "credentialIdB64": self.id,
            "authenticatorDataB64": b64url(auth_data),
            "clientDataJSON_B64": b64url(client_data),
            "signatureB64": b64url(signature),
            "userHandleB64": b64url(self.user_handle) if with_user_handle and self.user_handle else None,
        }

    def clone(self) -> SoftwareAuthenticator:
        return copy.deepcopy(self)


# --- the management API, called as API Gateway calls it ------------------------------------------------


def claims_of(id_token: str) -> dict[str, str]:
    """The JWT authorizer's claims of a token (API Gateway has checked it): every value a string."""
    payload = jwt.decode(id_token, options={"verify_signature": False})
    return {name: value if isinstance(value, str) else json.dumps(value) for name, value in payload.items()}


def api_event(
    route: str,
    claims: Mapping[str, str] | None = None,
    body: Any = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload version 2.0 event for `route` ("POST /authenticators/list"); claims None:
    a route without the authorizer. A body that is not a string is sent as its JSON."""
    method, path = route.split(" ", 1)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
            "requestId": secrets.token_hex(8),
            "routeKey": route,
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
    return event


@dataclass
class ManagementApi:
    """The management API's real handler (template.yaml's ManagementApiFunction), called with 2.0 events."""

    handler: Any = field(default_factory=lambda: load_handler(Template().functions()["ManagementApiFunction"]))

    def call(
        self, route: str, claims: Mapping[str, str] | None = None, body: Any = None, query: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        result = self.handler(api_event(route, claims, body, query), LambdaContext(function_name="ManagementApiFunction"))
        assert result["headers"]["Content-Type"] == "application/json"
        assert result["headers"]["Cache-Control"] == "no-store"
        return result["statusCode"], json.loads(result["body"]) if result["body"] else None


def address_changes_unverified(parameters: Mapping[str, str]) -> Template:
    """template.yaml's pool, but letting users change their address without verifying it first (an
    attached pool may): how a registrant puts someone else's address on their account."""
    template = Template(parameters=dict(parameters))
    template.resources["UserPool"]["Properties"].pop("UserAttributeUpdateSettings")
    return template


class Passkeys:
    """A served pool with Passkeys=Enabled, its management API, and what a test does with both."""

    def __init__(self, server: LocalPoolServer, clock: Any):
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
        """A new sign-in by email code, a minute after the last one (one email a minute): the claims
        of its ID token."""
        self.clock.advance(61)
        tokens = self.app.answer_code(self.app.request_code(self.app.start(email)), last_code(email))
        return claims_of(tokens["AuthenticationResult"]["IdToken"])

    def put_address_on(self, claims: Mapping[str, str], address: str) -> None:
        """An admin puts `address`, unverified, on the user of these claims (a pool made with
        address_changes_unverified lets the user do it too)."""
        self.cognito.admin_update_user_attributes(
            UserPoolId=self.server.pool.pool_id,
            Username=claims["cognito:username"],
            UserAttributes=[{"Name": "email", "Value": address}, {"Name": "email_verified", "Value": "false"}],
        )

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
