"""Talking to a served local pool as an app talks to Cognito (boto3 with endpoint_url only), and
reading what it refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from keyless_client import PasswordlessClient
from localpool.deployment import REGION

if TYPE_CHECKING:
    import pytest

    from localpool.server import LocalPoolServer


def pool_cognito(
    server: LocalPoolServer,
    retry: bool = True,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    parameter_validation: bool = True,
) -> Any:
    """boto3's cognito-idp client for a served pool, signing with the pool's own credentials unless
    others are given. retry=False: every error is seen at once (boto3 retries LimitExceededException,
    with back-off). parameter_validation=False: requests boto3 would refuse are sent, for the pool to refuse."""
    own = server.pool.credentials
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.url,
        region_name=REGION,
        config=Config(
            retries={"total_max_attempts": 1 if not retry else 3, "mode": "standard"}, parameter_validation=parameter_validation
        ),
        aws_access_key_id=own.access_key_id if aws_access_key_id is None else aws_access_key_id,
        aws_secret_access_key=own.secret_access_key if aws_secret_access_key is None else aws_secret_access_key,
    )


def passwordless(server: LocalPoolServer) -> PasswordlessClient:
    """The passwordless sign-in client of the served pool's app client."""
    return PasswordlessClient(pool_cognito(server), server.pool.client_id)


def sign_up(server: LocalPoolServer, email: str, **extra: Any) -> str:
    """A passwordless sign-up (a password nobody keeps), confirmed by an admin if the pool's PreSignUp
    did not confirm it. Returns the user's name (the sub)."""
    cognito = pool_cognito(server)
    created = cognito.sign_up(
        ClientId=server.pool.client_id,
        Username=email,
        Password="Aa1-" + "x" * 24,
        UserAttributes=[{"Name": "email", "Value": email}],
        **extra,
    )
    if not created["UserConfirmed"]:
        cognito.admin_confirm_sign_up(UserPoolId=server.pool.pool_id, Username=email)
    return str(created["UserSub"])


def signed_in_with_code(server: LocalPoolServer, email: str) -> dict[str, Any]:
    """A new user, signed up and then in with the code emailed to them: their AuthenticationResult."""
    from testkit.mail import code_in, newest_local_mail

    sign_up(server, email)
    client = passwordless(server)
    sent = client.request_code(client.start(email))
    return dict(client.answer_code(sent, code_in(newest_local_mail(server.pool, email)))["AuthenticationResult"])


def refresh(server: LocalPoolServer, refresh_token: str) -> dict[str, Any]:
    """New tokens for a refresh token (REFRESH_TOKEN_AUTH)."""
    return dict(
        pool_cognito(server).initiate_auth(
            ClientId=server.pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh_token}
        )
    )


# --- refusals ----------------------------------------------------------------------------------------


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def error_message(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Message"])


def refused(call: Callable[[], Any]) -> tuple[str, str]:
    """The error code and message of the ClientError the call must raise."""
    import pytest  # here: the benchmarks use this module without pytest

    with pytest.raises(ClientError) as excinfo:
        call()
    return error_code(excinfo), error_message(excinfo)


def outcome(call: Callable[[], Any]) -> str:
    """ "sent" when the call (an email request) was answered, else the message of the error it raised."""
    try:
        call()
        return "sent"
    except ClientError as exc:
        return str(exc.response["Error"]["Message"])


def verifications(server: LocalPoolServer) -> int:
    """How many times the pool has run VerifyAuthChallengeResponse: a link is redeemed only there."""
    return server.pool.runner.calls.count("VerifyAuthChallengeResponse")


def post(
    url: str, operation: str, body: dict | bytes, headers: dict | None = None, method: str = "POST"
) -> tuple[int, dict, dict]:
    """One raw request to the endpoint: (status, headers, JSON answer or {})."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + "/", data=data if method == "POST" else None, method=method)
    request.add_header("Content-Type", "application/x-amz-json-1.1")
    request.add_header("X-Amz-Target", "AWSCognitoIdentityProviderService." + operation)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request) as response:
            status, answer_headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, answer_headers, raw = exc.code, dict(exc.headers), exc.read()
    return status, answer_headers, json.loads(raw) if raw.strip() else {}
