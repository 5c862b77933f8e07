"""A passwordless sign-in client: the protocol from the README, as code.

It talks to anything shaped like boto3's cognito-idp client: boto3 itself (against Cognito or the
local pool's endpoint) or InProcessCognito below. The demo page does the same in JavaScript.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from localpool.errors import CognitoError
from localpool.orchestrator import AppClient, CustomAuth


def link_secret(link: str) -> str:
    """The secret a magic link carries in its fragment."""
    return urlsplit(link).fragment


def link_payload(secret: str) -> dict:
    """A link's (unencrypted, signed) payload: whom it signs in (u, s) and where (p, c)."""
    payload = secret.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def link_user(secret: str) -> str:
    """The user name in a link's payload: where a fresh sign-in starts."""
    return link_payload(secret)["userName"]


class PasswordlessClient:
    def __init__(self, cognito, client_id: str):
        self.cognito = cognito
        self.client_id = client_id

    def start(self, username: str) -> dict:
        return self.cognito.initiate_auth(ClientId=self.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": username})

    def respond(self, challenge: dict, answer: str, metadata: Mapping[str, str] | None = None) -> dict:
        return self.cognito.respond_to_auth_challenge(
            ClientId=self.client_id,
            ChallengeName="CUSTOM_CHALLENGE",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": challenge["ChallengeParameters"]["USERNAME"], "ANSWER": answer},
            ClientMetadata=dict(metadata or {}),
        )

    def request_link(self, challenge: dict, redirect_uri: str) -> dict:
        return self.respond(challenge, "-", {"signInMethod": "MAGIC_LINK", "redirectUri": redirect_uri})

    def request_code(self, challenge: dict) -> dict:
        return self.respond(challenge, "-", {"signInMethod": "EMAIL_OTP"})

    def answer_code(self, challenge: dict, code: str) -> dict:
        return self.respond(challenge, code, {"signInMethod": "EMAIL_OTP"})

    def answer_link(self, challenge: dict, link: str) -> dict:
        """Answer a live session's link round with the link (the same browser, within the session)."""
        return self.respond(challenge, link_secret(link), {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"})

    def sign_in_with_link(self, link: str) -> dict:
        """What the page a link opens does: a fresh sign-in, answered with the link straight away,
        only at the app client the link was issued for (a link's address is chosen by whoever asked
        for it; the client it names is signed)."""
        secret = link_secret(link)
        if link_payload(secret).get("c") != self.client_id:
            raise ValueError("this link was issued for another app client")
        first = self.start(link_user(secret))
        return self.respond(first, secret, {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"})


class InProcessCognito:
    """The local pool's CustomAuth behind boto3's method names and error type."""

    def __init__(self, auth: CustomAuth, client: AppClient):
        self._auth = auth
        self._client = client

    def initiate_auth(self, ClientId, AuthFlow, AuthParameters, ClientMetadata=None):
        self._check(ClientId, AuthFlow)
        return self._call("InitiateAuth", self._auth.initiate_auth, self._client, AuthParameters.get("USERNAME", ""))

    def respond_to_auth_challenge(self, ClientId, ChallengeName, Session, ChallengeResponses, ClientMetadata=None):
        self._check(ClientId, "CUSTOM_AUTH")
        return self._call(
            "RespondToAuthChallenge",
            self._auth.respond_to_auth_challenge,
            self._client,
            Session,
            ChallengeName,
            ChallengeResponses,
            ClientMetadata or {},
        )

    def _check(self, client_id: str, flow: str) -> None:
        if client_id != self._client.client_id or flow != "CUSTOM_AUTH":
            raise ClientError(
                {"Error": {"Code": "InvalidParameterException", "Message": "Unknown client or flow"}}, "InitiateAuth"
            )

    @staticmethod
    def _call(operation: str, fn, *args):
        try:
            return fn(*args)
        except CognitoError as exc:
            raise ClientError({"Error": {"Code": exc.error_type, "Message": exc.message}}, operation) from None
