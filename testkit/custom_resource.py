"""The attach function's world: CloudFormation's custom resource events for it, a user pool an
operator has lived with to attach to, and CloudFormation's side of the ResponseURL, caught in this
process so the answer the function PUTs there can be read back and nothing leaves the machine."""

from __future__ import annotations

import email.message
import io
import json
import threading
import urllib.error
import urllib.request
import urllib.response
from types import TracebackType
from typing import Any

from keyless.attach import pool
from localpool.deployment import REGION

ACCOUNT = "123456789012"
# Another team's function, in the slots Keyless does not use.
OTHER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:customer-custom-message"
# Keyless's functions as the stack names them, one per slot it takes.
OURS = {slot: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:keyless-{slot}Function-AbC123" for slot in pool.SLOTS}
RESPONSE_URL = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=abc"
PROPERTIES = ("UserPoolId", "PreTokenGenerationVersion", "AllowReplaceTriggers", "Triggers")


def resource_event(request_type: str, pool_id: str, **changes: Any) -> dict[str, Any]:
    """CloudFormation's request to the attach function for the TriggerAttachment resource. changes:
    a resource property (UserPoolId, PreTokenGenerationVersion, AllowReplaceTriggers, Triggers) or a
    field of the request (PhysicalResourceId, OldResourceProperties, RequestType, ...)."""
    body: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:keyless-AttachTriggersFunction",
        "ResponseURL": RESPONSE_URL,
        "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/keyless/1",
        "RequestId": f"request-{request_type}",
        "LogicalResourceId": "TriggerAttachment",
        "ResourceType": "Custom::KeylessTriggers",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:keyless-AttachTriggersFunction",
            "UserPoolId": pool_id,
            "PreTokenGenerationVersion": "V1_0",
            "AllowReplaceTriggers": "false",
            "Triggers": dict(OURS),
        },
    }
    if request_type != "Create":
        body["PhysicalResourceId"] = pool.physical_id(pool_id)
    for key, value in changes.items():
        if key in PROPERTIES:
            body["ResourceProperties"][key] = value
        else:
            body[key] = value
    return body


def busy_pool(cognito: Any, lambda_config: dict[str, Any] | None = None) -> str:
    """A pool an operator has lived with: many settings away from their defaults, an unrelated
    trigger (OTHER) in two slots, plus `lambda_config`. Returns its id."""
    return str(
        cognito.create_user_pool(
            PoolName="customer-pool",
            Policies={
                "PasswordPolicy": {
                    "MinimumLength": 14,
                    "RequireUppercase": True,
                    "RequireLowercase": False,
                    "RequireNumbers": True,
                    "RequireSymbols": True,
                    "TemporaryPasswordValidityDays": 3,
                }
            },
            DeletionProtection="ACTIVE",
            LambdaConfig={"CustomMessage": OTHER, "PostAuthentication": OTHER, **(lambda_config or {})},
            AutoVerifiedAttributes=["email"],
            UsernameAttributes=["email"],
            UsernameConfiguration={"CaseSensitive": False},
            SmsVerificationMessage="Your code {####}",
            EmailVerificationMessage="Verify with {####}",
            EmailVerificationSubject="Verify now",
            VerificationMessageTemplate={
                "SmsMessage": "Your code {####}",
                "EmailMessage": "Verify with {####}",
                "EmailSubject": "Verify now",
                "EmailMessageByLink": "Click {##here##}",
                "EmailSubjectByLink": "Verify by link",
                "DefaultEmailOption": "CONFIRM_WITH_LINK",
            },
            SmsAuthenticationMessage="Sign-in code {####}",
            MfaConfiguration="OPTIONAL",
            UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
            DeviceConfiguration={"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": True},
            EmailConfiguration={
                "SourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com",
                "ReplyToEmailAddress": "help@example.com",
                "EmailSendingAccount": "DEVELOPER",
                "From": "Example <no-reply@example.com>",
            },
            SmsConfiguration={
                "SnsCallerArn": f"arn:aws:iam::{ACCOUNT}:role/cognito-sms",
                "ExternalId": "ext-123",
                "SnsRegion": REGION,
            },
            UserPoolTags={"team": "identity", "env": "prod"},
            AdminCreateUserConfig={
                "AllowAdminCreateUserOnly": True,
                "InviteMessageTemplate": {
                    "SMSMessage": "Hi {username} {####}",
                    "EmailMessage": "Welcome {username}, {####}",
                    "EmailSubject": "Welcome",
                },
            },
            UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"},
            AccountRecoverySetting={
                "RecoveryMechanisms": [
                    {"Name": "verified_email", "Priority": 1},
                    {"Name": "verified_phone_number", "Priority": 2},
                ]
            },
            Schema=[
                {
                    "Name": "tenant",
                    "AttributeDataType": "String",
                    "Mutable": True,
                    "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
                },
                {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
            ],
            UserPoolTier="PLUS",
        )["UserPool"]["Id"]
    )


class S3Answer(urllib.response.addinfourl):
    """What S3 answers a presigned PUT with: 200 OK and an empty body."""

    msg = "OK"  # read by urllib's HTTPErrorProcessor

    def __init__(self, url: str) -> None:
        super().__init__(io.BytesIO(b""), email.message.Message(), url, 200)


class CloudFormationResponses(urllib.request.BaseHandler):
    """CloudFormation's side of the ResponseURL, in this process. While the context is open, every
    https request made through urllib.request.urlopen (keyless.attach.pool.http_put, with which the
    attach function answers) reaches this handler instead of the network: an opener of its own is
    installed with urllib.request.install_opener (urlopen's documented hook), and taken away after.

    `requests` holds each request caught (urllib's Request: get_method(), full_url, data, headers,
    and `timeout` as urlopen was given it); `answers` their JSON bodies. failures: that many
    requests fail first, with a connection reset, as a flaky network would."""

    handler_order = 100  # before urllib's own HTTPSHandler (500), which would open a connection

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.requests: list[urllib.request.Request] = []
        self._failures = failures
        self._lock = threading.Lock()

    @property
    def answers(self) -> list[dict[str, Any]]:
        return [json.loads(r.data) for r in self.requests if isinstance(r.data, bytes)]

    def https_open(self, req: urllib.request.Request) -> S3Answer:
        with self._lock:
            if self._failures:
                self._failures -= 1
                raise urllib.error.URLError(ConnectionResetError("connection reset by peer"))
            self.requests.append(req)
        return S3Answer(req.full_url)

    def __enter__(self) -> CloudFormationResponses:
        # No proxies: a proxy setting in the environment would turn the request into a plain http one.
        urllib.request.install_opener(urllib.request.build_opener(urllib.request.ProxyHandler({}), self))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None) -> None:
        urllib.request.install_opener(None)  # type: ignore[arg-type]  # None: urlopen builds its default again
