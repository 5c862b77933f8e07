"""A deployed Keyless, found from a CloudFormation stack or a user pool id, with the operator's AWS
credentials.

The pool's CreateAuthChallenge trigger is what Keyless is for that pool: its environment names the
table, the signing key's secret, the sender, the SES configuration set, the pages links open and every
limit, exactly as the function uses them, so the commands read the settings from there
(lambda:GetFunctionConfiguration) rather than from a copy. A stack gives the pool id and its app
client (the template's outputs UserPoolId and UserPoolClientId); a pool id alone gives its one app
client, or the one named with --client-id.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError, NoCredentialsError

from keyless.aws.runtime import SignInRuntime
from keyless.core.aws_errors import error_code
from keyless.core.settings import ConfigurationError
from keyless.core.settings.sign_in import SendSettings
from keyless_admin.commands import AdminError, KeylessPool

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient


def caller(session: boto3.session.Session) -> str:
    """Who runs the commands, for the log line: the ARN of the credentials' identity."""
    try:
        return str(session.client("sts").get_caller_identity()["Arn"])
    except (NoCredentialsError, ClientError) as exc:
        raise AdminError("NoCredentials", f"no usable AWS credentials: {exc}") from None


def stack_outputs(session: boto3.session.Session, stack_name: str) -> tuple[str, str]:
    """The pool id and app client id a Keyless stack's outputs name."""
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":  # CloudFormation's answer for a stack that does not exist
            raise AdminError("StackNotFound", f"no stack {stack_name} in {session.region_name}") from None
        raise
    outputs = {o.get("OutputKey"): o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
    if not outputs.get("UserPoolId"):
        raise AdminError("NotKeyless", f"stack {stack_name} has no UserPoolId output: not a Keyless stack, or not deployed yet")
    return outputs["UserPoolId"], outputs.get("UserPoolClientId", "")


def keyless_pool(session: boto3.session.Session, pool_id: str, client_id: str = "", templates: str = "") -> KeylessPool:
    """The pool, its app client, and Keyless's runtime built from its CreateAuthChallenge's environment.
    templates: a folder of email templates to use instead of the function's EMAIL_TEMPLATES_DIR (a
    path inside the function, which this machine may not have)."""
    cognito: CognitoIdentityProviderClient = session.client("cognito-idp")
    try:
        pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise AdminError("PoolNotFound", f"no user pool {pool_id} in {session.region_name}") from None
        raise
    create = (pool.get("LambdaConfig") or {}).get("CreateAuthChallenge", "")
    if not create:
        raise AdminError("NotKeyless", f"user pool {pool_id} has no CreateAuthChallenge trigger: Keyless is not attached to it")
    environment = session.client("lambda").get_function_configuration(FunctionName=create).get("Environment", {})
    try:
        settings = SendSettings.from_env(environment.get("Variables", {}))
    except ConfigurationError as exc:
        raise AdminError("NotKeyless", f"{pool_id}'s CreateAuthChallenge is not Keyless's, or is misconfigured: {exc}") from None
    if templates:
        settings = dataclasses.replace(settings, email_templates_dir=templates)
    runtime = SignInRuntime(settings=settings, session=session)
    return KeylessPool(pool_id, _app_client(cognito, pool_id, client_id), cognito, runtime)


def _app_client(cognito: Any, pool_id: str, client_id: str) -> str:
    """The client named (it must be the pool's), or the pool's only one."""
    pages = cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id)
    ids = [c["ClientId"] for page in pages for c in page.get("UserPoolClients", [])]
    if client_id:
        if client_id not in ids:
            raise AdminError("ClientNotFound", f"user pool {pool_id} has no app client {client_id}")
        return client_id
    if len(ids) != 1:
        raise AdminError(
            "ClientNotChosen", f"user pool {pool_id} has {len(ids)} app clients: name the one links open with --client-id"
        )
    return ids[0]
