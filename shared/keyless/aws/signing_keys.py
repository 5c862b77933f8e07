"""The keys, from Secrets Manager, cached per container by Powertools parameters.

The signing key: rotation (the rotation function on its schedule, keyless.aws.key_rotation, or
`put-secret-value`) makes the new value AWSCURRENT and the old one AWSPREVIOUS. Links and codes are
signed with the current key and checked against both, so rotating does not break what was already
sent. The previous key is fetched only when the current one fails.

The pseudonym key (PseudonymKey): what addresses and names are keyed under in the table
(keyless.signin.pseudonyms). It is never rotated, so a signing key rotation leaves every budget,
count and suppression as it was.

A warm container may still hold the old key as current after a rotation, and then meets links and
codes another container signed with the new one. refresh() reads the keys again at once (at most
once a minute, so garbage answers cannot turn into a stream of Secrets Manager calls).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from keyless.core.aws_errors import error_code

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
MIN_KEY_BYTES = 32
REFRESH_INTERVAL_SECONDS = 60
TRUSTED_REFRESH_INTERVAL_SECONDS = 10


class SigningKeyError(RuntimeError):
    pass


class SigningKeyMissing(SigningKeyError):
    pass


class SigningKeys:
    def __init__(self, secret_id: str, client: SecretsManagerClient, cache_seconds: int, clock: Callable[[], float] = time.time):
        # Powertools caches by secret name only, ignoring VersionStage, so each stage gets a provider.
        self._current = SecretsProvider(boto3_client=client)
        self._previous = SecretsProvider(boto3_client=client)
        self._secret_id = secret_id
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._no_previous_until = 0.0
        self._refreshed_at = {False: float("-inf"), True: float("-inf")}

    def current(self) -> bytes:
        return self._fetch(self._current, CURRENT)

    def refresh(self, trusted: bool = False) -> bool:
        """Read the keys again, past the cache; False when that was done less than a minute ago (ten
        seconds when `trusted`: asked for by a key id from the table, which no answer can forge, so
        a flood of forged links cannot use up the reading a real rotation needs)."""
        now = self._clock()
        if now - self._refreshed_at[trusted] < (TRUSTED_REFRESH_INTERVAL_SECONDS if trusted else REFRESH_INTERVAL_SECONDS):
            return False
        self._refreshed_at[trusted] = now
        self._no_previous_until = 0.0
        self._fetch(self._current, CURRENT, force=True)
        with contextlib.suppress(SigningKeyMissing):
            self._fetch(self._previous, PREVIOUS, force=True)
        return True

    def previous(self) -> bytes | None:
        if self._clock() < self._no_previous_until:
            return None
        try:
            return self._fetch(self._previous, PREVIOUS)
        except SigningKeyMissing:
            # A secret that was never rotated has no AWSPREVIOUS; remember that as long as a key.
            self._no_previous_until = self._clock() + self._cache_seconds
            return None

    def candidates(self):
        """The keys a signature may have been made with, newest first, fetched lazily."""
        yield self.current()
        previous = self.previous()
        if previous is not None:
            yield previous

    def _fetch(self, provider: SecretsProvider, stage: str, force: bool = False) -> bytes:
        return _read_key(provider, self._secret_id, stage, self._cache_seconds, force, "signing key")


class PseudonymKey:
    """The key the table's pseudonyms are made with: read like the signing key, never rotated."""

    def __init__(self, secret_id: str, client: SecretsManagerClient, cache_seconds: int):
        self._provider = SecretsProvider(boto3_client=client)
        self._secret_id = secret_id
        self._cache_seconds = cache_seconds

    def current(self) -> bytes:
        return _read_key(self._provider, self._secret_id, CURRENT, self._cache_seconds, False, "pseudonym key")


def usable_key(value: object) -> bytes:
    """The key a secret's value holds; SigningKeyError when it is too short to be one (never quoting it)."""
    key = value.encode() if isinstance(value, str) else bytes(value) if isinstance(value, bytes) else b""
    if len(key) < MIN_KEY_BYTES:
        raise SigningKeyError(f"a key is at least {MIN_KEY_BYTES} bytes")
    return key


def _read_key(provider: SecretsProvider, secret_id: str, stage: str, max_age: int, force: bool, what: str) -> bytes:
    try:
        value = provider.get(secret_id, max_age=max_age, force_fetch=force, VersionStage=stage)
    except GetParameterError as exc:
        original = exc.__cause__ or exc.__context__  # Powertools re-raises inside its except block
        kind = SigningKeyMissing if error_code(original) == "ResourceNotFoundException" else SigningKeyError
        raise kind(f"{what} {stage} could not be read") from exc
    try:
        return usable_key(value)
    except SigningKeyError:
        raise SigningKeyError(f"{what} {stage} is shorter than {MIN_KEY_BYTES} bytes") from None
