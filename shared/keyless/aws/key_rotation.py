"""The keys' rotation: the four steps Secrets Manager calls RotateSigningKey for, for the signing key
and (when authenticator apps are on) the authenticator key ring.

Secrets Manager rotates a secret by invoking its rotation function once per step, each time with the
same ClientRequestToken: the id of the new version, which it has already labelled AWSPENDING
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html).
  createSecret   store a new key in that version
  setSecret      make the service use it: nothing to do, the functions read the key from the secret
  testSecret     check the pending key: readable by its label, and long enough to be a key
  finishSecret   check it again, move AWSCURRENT to it (Secrets Manager moves AWSPREVIOUS to the old
                 current key), take AWSPENDING off it
Secrets Manager stops at the first step that fails, so AWSCURRENT moves only to a tested key, and
links and codes signed with the old key keep working: it becomes AWSPREVIOUS, which every check
still accepts (keyless.aws.signing_keys). The authenticator key ring's new version is the current
ring with one more key, which is its current one: no key ever leaves the ring (an enrolled secret
lives as long as its user keeps it), and testSecret and finishSecret refuse a pending ring that lacks
one of the current ring's keys (keyless.aws.authenticator_keys).

Each step may run again (Lambda and Secrets Manager retry) and then changes nothing: createSecret
keeps a key already stored under the token, and every step is done at once for a version that is
already AWSCURRENT (finishSecret still takes off an AWSPENDING its first run left there). Only these
two are rotated: an event naming any other secret is refused, the pseudonym key's above all
(rotating it would start every budget afresh). A new key comes from `secrets`; no key is ever
logged or put in an error message.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from keyless.aws.authenticator_keys import KeyRingError, parse_ring
from keyless.aws.signing_keys import CURRENT, MIN_KEY_BYTES, SigningKeyError, usable_key
from keyless.core.aws_errors import error_code
from keyless.core.errors import UserFacingError
from keyless.core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

PENDING = "AWSPENDING"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
NEW_KEY_BYTES = 48  # 64 URL-safe characters, as the template's generated first key
MAX_SECRET_ID = 2048  # Secrets Manager's SecretId
VERSION_ID_LENGTH = (32, 64)  # Secrets Manager's ClientRequestToken (a version id)


class RotationRefused(UserFacingError):
    """A step this function will not take. The message says why and never quotes a key."""


@dataclass(frozen=True)
class Request:
    step: str
    secret_id: str
    token: str  # the new version's id


def read_request(event: Any) -> Request:
    """The step Secrets Manager asks for; RotationRefused for anything else."""
    if not isinstance(event, Mapping):
        raise RotationRefused("Not a rotation event: expected an object")
    step, secret_id, token = (event.get(name) for name in ("Step", "SecretId", "ClientRequestToken"))
    if step not in STEPS:
        raise RotationRefused(f"Not a rotation event: Step must be one of {', '.join(STEPS)}")
    if not isinstance(secret_id, str) or not 0 < len(secret_id) <= MAX_SECRET_ID:
        raise RotationRefused("Not a rotation event: SecretId must name a secret")
    low, high = VERSION_ID_LENGTH
    if not isinstance(token, str) or not low <= len(token) <= high:
        raise RotationRefused(f"Not a rotation event: ClientRequestToken must be {low} to {high} characters")
    return Request(step, secret_id, token)


def new_key() -> str:
    return secrets.token_urlsafe(NEW_KEY_BYTES)


Current = Callable[[], "str | bytes"]  # the current version's value, read when asked for


class SigningKeySecret:
    """A new random key replaces the current one (which becomes AWSPREVIOUS)."""

    name = "the signing key"

    def new_value(self, current: Current) -> str:
        return new_key()

    def check(self, pending: str | bytes, current: Current) -> None:
        try:
            usable_key(pending)
        except SigningKeyError:
            raise RotationRefused(f"The pending key is shorter than {MIN_KEY_BYTES} bytes") from None


class KeyRingSecret:
    """The current ring and one more key, which is current; every key of the current ring kept."""

    name = "the authenticator key ring"

    def new_value(self, current: Current) -> str:
        return self._ring(current(), "current").with_new_key().as_json()

    def check(self, pending: str | bytes, current: Current) -> None:
        kept, now = self._ring(pending, "pending"), self._ring(current(), "current")
        if any(kept.keys.get(key_id) != key for key_id, key in now.keys.items()):
            raise RotationRefused("The pending key ring lacks a key of the current one")

    @staticmethod
    def _ring(value: str | bytes, which: str):
        try:
            return parse_ring(value)
        except KeyRingError:
            raise RotationRefused(f"The {which} key ring is not a key ring") from None


RotatedSecret = SigningKeySecret | KeyRingSecret


class KeyRotation:
    def __init__(self, client: SecretsManagerClient, signing_key_secret_id: str, key_ring_secret_id: str = ""):
        self._client = client
        # The secrets, as the template names them (their ARNs); the ring only when authenticator apps are on.
        self._secrets: dict[str, RotatedSecret] = {signing_key_secret_id: SigningKeySecret()}
        if key_ring_secret_id:
            self._secrets[key_ring_secret_id] = KeyRingSecret()

    def step(self, event: Any) -> dict[str, str]:
        """Take the step the event asks for; answers what was done (Secrets Manager ignores it)."""
        request = read_request(event)
        try:
            outcome = self._take(request)
        except RotationRefused as refused:
            logger.error("key rotation refused", extra={"step": request.step, "reason": str(refused)})
            raise
        logger.info("key rotation step", extra={"step": request.step, "version": request.token, "outcome": outcome})
        return {"step": request.step, "outcome": outcome}

    def _take(self, request: Request) -> str:
        # The secret the event names, as Secrets Manager resolves it (an ARN, a name): it must be one
        # of ours. (The role may read no other, so another fails here on AWS anyway.)
        metadata = self._client.describe_secret(SecretId=request.secret_id)
        found = [secret_id for secret_id in self._secrets if secret_id in (metadata.get("ARN"), metadata.get("Name"))]
        if not found:
            raise RotationRefused(f"This function rotates {' and '.join(kind.name for kind in self._secrets.values())} only")
        secret_id, kind = found[0], self._secrets[found[0]]
        if not metadata.get("RotationEnabled"):
            raise RotationRefused(f"Rotation is not enabled for {kind.name}")
        versions = metadata.get("VersionIdsToStages", {})
        stages = versions.get(request.token)
        if stages is None:
            raise RotationRefused("The version to rotate to does not exist")
        if CURRENT in stages:
            # A retry after finishSecret, which may have stopped before taking AWSPENDING off.
            if request.step == "finishSecret" and PENDING in stages:
                self._unlabel_pending(secret_id, request.token)
            return "already current"
        if PENDING not in stages:
            raise RotationRefused("The version to rotate to is not AWSPENDING")
        if request.step == "createSecret":
            return self._create(secret_id, kind, request.token)
        if request.step == "setSecret":
            return "nothing to set: the functions read the key from the secret"
        if request.step == "testSecret":
            self._check_pending(secret_id, kind, request.token)
            return "pending key is usable"
        current = next((version for version, labels in versions.items() if CURRENT in labels), None)
        return self._finish(secret_id, kind, request.token, current)

    def _create(self, secret_id: str, kind: RotatedSecret, token: str) -> str:
        if self._value(secret_id, token) is not None:
            return "kept the pending key already stored"
        try:
            value = kind.new_value(lambda: self._current_value(secret_id))
            self._client.put_secret_value(
                SecretId=secret_id, ClientRequestToken=token, SecretString=value, VersionStages=[PENDING]
            )
        except ClientError as exc:
            # Another attempt at this step stored its key under the token first: that one stays.
            if error_code(exc) != "ResourceExistsException" or self._value(secret_id, token) is None:
                raise
            return "kept the pending key already stored"
        return "stored a new key"

    def _check_pending(self, secret_id: str, kind: RotatedSecret, token: str) -> None:
        value = self._value(secret_id, token)
        if value is None:
            raise RotationRefused("The pending version holds no key")
        kind.check(value, lambda: self._current_value(secret_id))

    def _finish(self, secret_id: str, kind: RotatedSecret, token: str, current: str | None) -> str:
        # Secrets Manager calls this only after testSecret passed; checked again all the same, since
        # AWSCURRENT on a version without a usable key would stop every sign-in at once (and a ring
        # without an older key, every sign-in of the users whose secrets it sealed).
        self._check_pending(secret_id, kind, token)
        moved = {"RemoveFromVersionId": current} if current else {}
        self._client.update_secret_version_stage(SecretId=secret_id, VersionStage=CURRENT, MoveToVersionId=token, **moved)
        self._unlabel_pending(secret_id, token)
        return "new key is current"

    def _unlabel_pending(self, secret_id: str, token: str) -> None:
        self._client.update_secret_version_stage(SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=token)

    def _current_value(self, secret_id: str) -> str | bytes:
        found = self._client.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)
        return found.get("SecretString") or found.get("SecretBinary") or ""

    def _value(self, secret_id: str, token: str) -> str | bytes | None:
        """The value stored under the token as AWSPENDING; None while it holds none."""
        try:
            found = self._client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        return found.get("SecretString") or found.get("SecretBinary")
