"""The local pool's custom auth behind boto3's cognito-idp method names and error type, in process:
what keyless_client.PasswordlessClient (clients/python) talks to in tests that need no HTTP server."""

from __future__ import annotations

from botocore.exceptions import ClientError

from localpool.errors import CognitoError
from localpool.orchestrator import AppClient, CustomAuth


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
