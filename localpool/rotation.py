"""Secrets Manager's side of the signing key's rotation, for the local deployment.

The template's AWS::SecretsManager::RotationSchedule names a secret and its rotation function. Here,
RotateSecret on that secret (boto3's rotate_secret, inside moto) runs the function's real handler in
this process, one step after the other, as Secrets Manager invokes a rotation function. moto keeps
the versions and their labels, but cannot run a Python function without Docker, and would move
AWSCURRENT by itself after the steps, whatever they did.

What Secrets Manager documents, done here
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html):
- a rotation starts only while AWSPENDING is on no version or on the AWSCURRENT one; otherwise
  RotateSecret refuses (InvalidRequestException): a previous rotation is unfinished;
- the new version (the ClientRequestToken, or a new UUID) carries AWSPENDING before createSecret;
- createSecret, setSecret, testSecret, finishSecret are invoked in that order with that token, and
  the first one that fails ends the rotation: the labels stay as the steps left them;
- DescribeSecret shows RotationEnabled, the function, the interval and the last rotation's date.
Not done: rotating by date (nothing schedules a rotation locally), and RotateImmediately=false's
test run of testSecret (the rules are recorded, nothing is invoked). RotateSecret answers once the
steps have run, whatever they did, as the asynchronous call returns on AWS.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from moto.secretsmanager.exceptions import InvalidParameterException, InvalidRequestException
from moto.secretsmanager.models import FakeSecret, SecretsManagerBackend

from localpool.triggers import Handler, LambdaContext

CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
UNFINISHED = "A previous rotation of this secret is not finished: AWSPENDING is still on a version that is not AWSCURRENT"


@dataclass
class Rotation:
    """A secret's rotation function: `handler` is invoked for each step (the template's, loaded on
    first use; a test may wrap it). `failure` is what ended the last rotation early, if anything did."""

    function_arn: str
    function_name: str
    handler: Handler
    timeout_seconds: float
    failure: BaseException | None = None


ROTATIONS: dict[str, Rotation] = {}  # secret ARN -> its rotation


def schedule(backend: SecretsManagerBackend, secret_arn: str, rotation: Rotation, days: int) -> None:
    """What creating the template's RotationSchedule leaves (without its first, immediate rotation:
    the local key stays the one the deployment chose, which the sample events are signed with)."""
    _patch_rotate_secret()
    ROTATIONS[secret_arn] = rotation
    secret = backend.secrets[secret_arn]
    assert isinstance(secret, FakeSecret), "a replica is not rotated"
    secret.rotation_requested = secret.rotation_enabled = True
    secret.rotation_lambda_arn = rotation.function_arn
    secret.auto_rotate_after_days = days


def lazy(load: Callable[[], Handler]) -> Handler:
    """A handler loaded at its first call: once the functions' environment is set, as in Lambda."""

    @functools.cache
    def loaded() -> Handler:
        return load()

    def handler(event: dict, context: object) -> object:
        return loaded()(event, context)

    return handler


def _patch_rotate_secret() -> None:
    original = SecretsManagerBackend.rotate_secret
    if getattr(original, "_keyless_rotation", False):
        return

    @functools.wraps(original)
    def rotate_secret(
        self: SecretsManagerBackend,
        secret_id: str,
        client_request_token: str | None = None,
        rotation_lambda_arn: str | None = None,
        rotation_rules: dict | None = None,
        rotate_immediately: bool = True,
    ) -> str:
        secret = self.secrets.get(secret_id) if self._is_valid_identifier(secret_id) else None
        rotation = ROTATIONS.get(secret.arn) if secret is not None else None
        if not isinstance(secret, FakeSecret) or rotation is None or rotation_lambda_arn not in (None, "", rotation.function_arn):
            return original(self, secret_id, client_request_token, rotation_lambda_arn, rotation_rules, rotate_immediately)
        versions = secret.versions
        if any(CURRENT not in v["version_stages"] for v in versions.values() if PENDING in v["version_stages"]):
            raise InvalidRequestException(UNFINISHED)
        days = (rotation_rules or {}).get("AutomaticallyAfterDays")
        if days is not None:
            if not 1 <= int(days) <= 1000:
                raise InvalidParameterException("RotationRules.AutomaticallyAfterDays must be within 1-1000.")
            secret.auto_rotate_after_days = int(days)
        secret.rotation_requested = secret.rotation_enabled = True
        if not rotate_immediately:
            return secret.to_short_dict()
        token = client_request_token or str(uuid.uuid4())
        secret.remove_version_stages_from_old_versions([PENDING])
        versions[token] = {"createdate": int(time.time()), "version_id": token, "version_stages": [PENDING]}
        rotation.failure = None
        for step in STEPS:
            event = {"Step": step, "SecretId": secret.arn, "ClientRequestToken": token}
            try:
                rotation.handler(event, LambdaContext(rotation.function_name, deadline_seconds=rotation.timeout_seconds))
            except Exception as exc:  # Secrets Manager ends the rotation at the step that failed
                rotation.failure = exc
                break
        else:
            secret.last_rotation_date = int(time.time())
        return secret.to_short_dict(version_id=token)

    rotate_secret._keyless_rotation = True  # type: ignore[attr-defined]
    SecretsManagerBackend.rotate_secret = rotate_secret  # type: ignore[method-assign]  # Secrets Manager's side
