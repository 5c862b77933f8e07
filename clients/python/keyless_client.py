"""Keyless for server-side apps and scripts: passwordless sign-in against an Amazon Cognito user pool
that runs Keyless, in one module. It talks to anything shaped like boto3's cognito-idp client: boto3
itself (against Cognito, or the local user pool's endpoint) or the local pool's in-process stand-in.

    import boto3
    from keyless_client import PasswordlessClient

    client = PasswordlessClient(boto3.client("cognito-idp", region_name="eu-west-1"), "<app client id>")
    sent = client.request_code(client.start("jane@example.com"))
    tokens = client.answer_code(sent, input("code: "))["AuthenticationResult"]

The protocol (README, "How a sign-in works"): round 1 offers the methods; the answer to it names one
in ClientMetadata (Cognito passes InitiateAuth's to no challenge trigger); the email's link or code
answers the next round. A link's page signs in from scratch with the link (sign_in_with_link). Every
call returns Cognito's answer as boto3 does, and raises what boto3 raises.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

Answer = dict[str, Any]  # Cognito's answer: ChallengeParameters and Session, or AuthenticationResult


class CognitoIdentityProvider(Protocol):
    """The part of boto3's cognito-idp client this module uses."""

    def initiate_auth(self, **kwargs: Any) -> Answer: ...

    def respond_to_auth_challenge(self, **kwargs: Any) -> Answer: ...


def link_secret(link: str) -> str:
    """The secret a magic link carries in its fragment."""
    return urlsplit(link).fragment


def link_payload(secret: str) -> dict[str, Any]:
    """A link's readable (signed, not encrypted) payload: whom it signs in (userName, s), where (p, c), until when (exp)."""
    payload = secret.split(".", 1)[0]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def link_user(secret: str) -> str:
    """The user name in a link's payload: where a fresh sign-in starts."""
    return str(link_payload(secret)["userName"])


class PasswordlessClient:
    def __init__(self, cognito: CognitoIdentityProvider, client_id: str):
        self.cognito = cognito
        self.client_id = client_id

    def start(self, username: str) -> Answer:
        """Round 1: a sign-in for this user; nothing is sent yet."""
        return self.cognito.initiate_auth(ClientId=self.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": username})

    def respond(self, challenge: Answer, answer: str, metadata: Mapping[str, str] | None = None) -> Answer:
        return self.cognito.respond_to_auth_challenge(
            ClientId=self.client_id,
            ChallengeName="CUSTOM_CHALLENGE",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": challenge["ChallengeParameters"]["USERNAME"], "ANSWER": answer},
            ClientMetadata=dict(metadata or {}),
        )

    def request_link(self, challenge: Answer, redirect_uri: str) -> Answer:
        """Email a link to redirect_uri (which Keyless must allow). Its email carries a code too when
        the answer's step is EMAIL_OTP: answer_code takes it in this sign-in."""
        return self.respond(challenge, "-", {"signInMethod": "MAGIC_LINK", "redirectUri": redirect_uri})

    def request_code(self, challenge: Answer) -> Answer:
        return self.respond(challenge, "-", {"signInMethod": "EMAIL_OTP"})

    def answer_code(self, challenge: Answer, code: str) -> Answer:
        """Tokens, or (a wrong code) the next round with attemptsLeft."""
        return self.respond(challenge, code, {"signInMethod": "EMAIL_OTP"})

    def answer_link(self, challenge: Answer, link: str) -> Answer:
        """Answer a live sign-in with the link its email carried (the same program, within the session)."""
        return self.respond(challenge, link_secret(link), {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"})

    def sign_in_with_link(self, link: str) -> Answer:
        """What the page a link opens does: a fresh sign-in, answered with the link straight away,
        only at the app client the link was issued for (a link's address is chosen by whoever asked
        for it; the client it names is signed)."""
        secret = link_secret(link)
        if link_payload(secret).get("c") != self.client_id:
            raise ValueError("this link was issued for another app client")
        first = self.start(link_user(secret))
        return self.respond(first, secret, {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"})

    def refresh(self, refresh_token: str) -> Answer:
        """New ID and access tokens (AuthenticationResult) for a refresh token."""
        return self.cognito.initiate_auth(
            ClientId=self.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh_token}
        )
