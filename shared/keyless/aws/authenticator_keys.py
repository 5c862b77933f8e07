"""The authenticator-app key ring, from Secrets Manager: the keys the users' authenticator secrets are
encrypted under (keyless.methods.authenticator_app seals them).

The secret holds one JSON object: "current" names the key new secrets are sealed under, and every
other member is a key, by its id:

    {"current": "<id>", "<id>": "<at least 32 characters>", "<older id>": "...", ...}

(flat rather than nested, so that CloudFormation's GenerateSecretString makes the first ring:
SecretStringTemplate {"current": "initial"}, GenerateStringKey "initial"). Unlike a link, an enrolled
secret lives as long as the user keeps it, so a rotation never takes a key out: it adds a new one
and makes it current (keyless.aws.key_rotation), and every sealed secret stays readable under the
key id stored beside it. A sign-in under an older key seals the secret again under the current one.

A warm container may meet a key id it does not hold yet (another container's, after a rotation):
key() then reads the ring again at once, at most every ten seconds (the id comes from the table,
which no answer can choose).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from keyless.aws.signing_keys import CURRENT, MIN_KEY_BYTES, SigningKeyError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CURRENT_MEMBER = "current"
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
REFRESH_INTERVAL_SECONDS = 10
NEW_KEY_BYTES = 48  # 64 URL-safe characters, as long as the template's generated first key


class KeyRingError(SigningKeyError):
    """The ring cannot be read or is not one. The message never quotes a key."""


@dataclass(frozen=True)
class KeyRing:
    current: str  # the id of the key new secrets are sealed under
    keys: Mapping[str, bytes]  # id -> key material (at least MIN_KEY_BYTES)

    def as_json(self) -> str:
        return json.dumps({CURRENT_MEMBER: self.current, **{kid: key.decode() for kid, key in self.keys.items()}})

    def with_new_key(self) -> KeyRing:
        """This ring and one more key, which is current: what a rotation stores."""
        while (kid := secrets.token_hex(4)) in self.keys:
            pass
        return KeyRing(kid, {**self.keys, kid: secrets.token_urlsafe(NEW_KEY_BYTES).encode()})


def parse_ring(value: object) -> KeyRing:
    """The ring a secret's value holds; KeyRingError for anything else."""
    try:
        members = json.loads(value) if isinstance(value, (str, bytes)) else None
    except ValueError:
        members = None
    if not isinstance(members, dict):
        raise KeyRingError("the authenticator key ring is not a JSON object")
    current = members.get(CURRENT_MEMBER)
    keys = {kid: key for kid, key in members.items() if kid != CURRENT_MEMBER}
    if not all(isinstance(key, str) and KEY_ID.match(kid) for kid, key in keys.items()):
        raise KeyRingError("the authenticator key ring's keys must be strings named by short ids")
    if any(len(key.encode()) < MIN_KEY_BYTES for key in keys.values()):
        raise KeyRingError(f"an authenticator key is at least {MIN_KEY_BYTES} bytes")
    if not isinstance(current, str) or current not in keys:
        raise KeyRingError("the authenticator key ring's current key is not one of its keys")
    return KeyRing(current, {kid: key.encode() for kid, key in keys.items()})


class AuthenticatorKeys:
    def __init__(self, secret_id: str, client: SecretsManagerClient, cache_seconds: int, clock: Callable[[], float] = time.time):
        self._provider = SecretsProvider(boto3_client=client)
        self._secret_id = secret_id
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._refreshed_at = float("-inf")

    def ring(self, force: bool = False) -> KeyRing:
        if not self._secret_id:
            raise KeyRingError("AUTHENTICATOR_KEY_SECRET_ID is not set: authenticator apps are off")
        try:
            value = self._provider.get(self._secret_id, max_age=self._cache_seconds, force_fetch=force, VersionStage=CURRENT)
        except GetParameterError as exc:
            raise KeyRingError("the authenticator key ring could not be read") from exc
        return parse_ring(value)

    def current(self) -> tuple[str, bytes]:
        ring = self.ring()
        return ring.current, ring.keys[ring.current]

    def key(self, key_id: str) -> bytes | None:
        """The key of this id; the ring is read again at once when it lacks it (a newer ring), at most
        every REFRESH_INTERVAL_SECONDS. None when it has no such key even then."""
        ring = self.ring()
        if key_id not in ring.keys and self._clock() - self._refreshed_at >= REFRESH_INTERVAL_SECONDS:
            self._refreshed_at = self._clock()
            ring = self.ring(force=True)
        return ring.keys.get(key_id)
