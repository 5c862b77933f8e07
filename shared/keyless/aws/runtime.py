"""What the functions talk to, built on first use and kept for the container's life.

Each function touches only what it uses, so Verify never creates an SES client and Create never
creates a Cognito one. Tests build their own SignInRuntime (or call reset()) instead of patching.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

# Each part, and each function's settings, is imported where it is built: a function loads only the
# modules it uses (PreTokenGeneration never loads the mailer or the signing keys), which keeps cold starts short.
if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sesv2 import SESV2Client

    from keyless.aws.directory import UserDirectory
    from keyless.aws.email_events import EmailEvents
    from keyless.aws.key_rotation import KeyRotation
    from keyless.aws.mailer import Mailer
    from keyless.aws.signing_keys import PseudonymKey, SigningKeys
    from keyless.core.settings.passkeys import AccountSettings, PasskeySettings
    from keyless.core.settings.profiles import ClaimsSettings, ProfileSettings
    from keyless.core.settings.sign_in import SendSettings, SignInSettings
    from keyless.profiles.provisioning import Provisioner
    from keyless.store.passkeys import PasskeyStore
    from keyless.store.profiles import ProfileStore
    from keyless.store.sign_in import SignInStore
    from keyless.store.suppressions import SuppressionStore

# Cognito gives a trigger 5 s; a hung connection must fail fast enough to answer inside that.
# parameter_validation off: every request is built here from typed values, and AWS validates it
# again anyway; botocore's own check was a third of a warm CreateAuthChallenge (make bench).
AWS_CONFIG = Config(
    connect_timeout=1, read_timeout=1.5, retries={"mode": "standard", "total_max_attempts": 2}, parameter_validation=False
)
# An email is sent at most once: a retry after a lost answer would send it again (keyless.mailer.MaybeSent).
SES_CONFIG = AWS_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


class SignInRuntime:
    def __init__(
        self,
        settings: SignInSettings | None = None,
        session: boto3.session.Session | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._settings = settings
        self._session = session
        self._session_lock = threading.Lock()
        self.clock = clock

    @functools.cached_property
    def settings(self) -> SignInSettings:
        """What checking an answer needs (every sign-in function)."""
        from keyless.core.settings.sign_in import SignInSettings

        return self._settings or SignInSettings.from_env()

    @functools.cached_property
    def send_settings(self) -> SendSettings:
        """What sending a sign-in email needs (CreateAuthChallenge)."""
        from keyless.core.settings.sign_in import SendSettings

        return self._settings if isinstance(self._settings, SendSettings) else SendSettings.from_env()

    @property
    def session(self) -> boto3.session.Session:
        # One session for all clients: each new session reloads botocore's endpoint and service
        # catalogues (about 45 ms of a cold start).
        if self._session is None:
            self._session = boto3.session.Session()
        return self._session

    # Creating clients from one session is not thread-safe, and the local user pool calls handlers
    # from threads: each client is made under the lock, once.
    @functools.cached_property
    def dynamodb(self) -> DynamoDBClient:
        with self._session_lock:
            return self.session.client("dynamodb", config=AWS_CONFIG)

    @functools.cached_property
    def secretsmanager(self) -> SecretsManagerClient:
        with self._session_lock:
            return self.session.client("secretsmanager", config=AWS_CONFIG)

    @functools.cached_property
    def sesv2(self) -> SESV2Client:
        with self._session_lock:
            return self.session.client("sesv2", config=SES_CONFIG)

    @functools.cached_property
    def cognito(self) -> CognitoIdentityProviderClient:
        with self._session_lock:
            return self.session.client("cognito-idp", config=AWS_CONFIG)

    @functools.cached_property
    def store(self) -> SignInStore:
        from keyless.store.sign_in import SignInStore

        return SignInStore(self.dynamodb, self.settings.table_name)

    @functools.cached_property
    def suppressions(self) -> SuppressionStore:
        """Addresses that get no sign-in email for a while (CreateAuthChallenge reads them)."""
        from keyless.store.suppressions import SuppressionStore

        return SuppressionStore(self.dynamodb, self.settings.table_name)

    @functools.cached_property
    def keys(self) -> SigningKeys:
        return self._signing_keys(self.settings.signing_key_secret_id, self.settings.key_cache_seconds)

    def _signing_keys(self, secret_id: str, cache_seconds: int) -> SigningKeys:
        from keyless.aws.signing_keys import SigningKeys

        return SigningKeys(secret_id, self.secretsmanager, cache_seconds, self.clock)

    @functools.cached_property
    def passkey_settings(self) -> PasskeySettings:
        """Whether passkeys are offered, and how they are checked (CreateAuthChallenge, VerifyAuthChallengeResponse)."""
        from keyless.core.settings.passkeys import PasskeySettings

        return PasskeySettings.from_env()

    @functools.cached_property
    def passkeys(self) -> PasskeyStore:
        from keyless.store.passkeys import PasskeyStore

        return PasskeyStore(self.dynamodb, self.settings.table_name)

    # The management API (ManagementApiFunction): its own settings name the table and the signing key.
    @functools.cached_property
    def account_settings(self) -> AccountSettings:
        from keyless.core.settings.passkeys import AccountSettings

        return AccountSettings.from_env()

    @functools.cached_property
    def account_passkeys(self) -> PasskeyStore:
        from keyless.store.passkeys import PasskeyStore

        return PasskeyStore(self.dynamodb, self.account_settings.table_name)

    @functools.cached_property
    def account_sign_in_store(self) -> SignInStore:
        """The users' sign-in items, read for when an operator last signed a user out (revokedAt)."""
        from keyless.store.sign_in import SignInStore

        return SignInStore(self.dynamodb, self.account_settings.table_name)

    @functools.cached_property
    def account_keys(self) -> SigningKeys:
        """What usernameless sign-in challenges are MACed under (VerifyAuthChallengeResponse checks them with `keys`)."""
        return self._signing_keys(self.account_settings.signing_key_secret_id, self.account_settings.key_cache_seconds)

    @functools.cached_property
    def pseudonym_key(self) -> PseudonymKey:
        """What the table's pseudonyms of addresses and names are keyed under (never rotated)."""
        from keyless.aws.signing_keys import PseudonymKey

        return PseudonymKey(self.settings.pseudonym_key_secret_id, self.secretsmanager, self.settings.key_cache_seconds)

    @functools.cached_property
    def mailer(self) -> Mailer:
        from keyless.aws.mailer import Mailer, Templates

        s = self.send_settings
        templates = Templates(Path(s.email_templates_dir)) if s.email_templates_dir else Templates()
        return Mailer(self.sesv2, s.sender_email, s.app_name, s.ses_configuration_set, templates)

    @functools.cached_property
    def directory(self) -> UserDirectory:
        from keyless.aws.directory import UserDirectory

        return UserDirectory(self.cognito)

    @functools.cached_property
    def profile_settings(self) -> ProfileSettings:
        from keyless.core.settings.profiles import ProfileSettings

        return ProfileSettings.from_env()

    @functools.cached_property
    def profiles(self) -> ProfileStore:
        from keyless.store.profiles import ProfileStore

        return ProfileStore(self.dynamodb, self.profile_settings.table_name)

    @functools.cached_property
    def provisioner(self) -> Provisioner:
        from keyless.profiles.provisioning import Provisioner

        return Provisioner(self.profiles, self.profile_settings, lambda: self.directory, self.now)

    @functools.cached_property
    def claims_settings(self) -> ClaimsSettings:
        from keyless.core.settings.profiles import ClaimsSettings

        return ClaimsSettings.from_env()

    @functools.cached_property
    def email_events(self) -> EmailEvents:
        """EmailEvents: SES's bounce and complaint events, recorded as suppressions (its own settings,
        the same table and pseudonym key as the sign-in functions)."""
        from keyless.aws.email_events import EmailEvents
        from keyless.aws.signing_keys import PseudonymKey
        from keyless.core.settings.email_events import EmailEventsSettings
        from keyless.store.suppressions import SuppressionStore

        s = EmailEventsSettings.from_env()
        key = PseudonymKey(s.pseudonym_key_secret_id, self.secretsmanager, s.key_cache_seconds)
        return EmailEvents(SuppressionStore(self.dynamodb, s.table_name), key, s.suppression_seconds, self.now)

    @functools.cached_property
    def key_rotation(self) -> KeyRotation:
        """RotateSigningKey: Secrets Manager's rotation steps for the signing key (its own settings)."""
        from keyless.aws.key_rotation import KeyRotation
        from keyless.core.settings.rotation import RotationSettings

        return KeyRotation(self.secretsmanager, RotationSettings.from_env().signing_key_secret_id)

    def now(self) -> int:
        return int(self.clock())


_overrides: dict = {}


@functools.cache
def default_runtime() -> SignInRuntime:
    return SignInRuntime(**_overrides)


def reset(**overrides) -> None:
    """Forget the container's runtime (and the sign-up rules it read); the next one is built with
    these SignInRuntime arguments (the local user pool and the tests pass a clock)."""
    from keyless.signup import rules

    _overrides.clear()
    _overrides.update(overrides)
    default_runtime.cache_clear()
    rules.default_rules.cache_clear()
    rules.address_rules.cache_clear()
