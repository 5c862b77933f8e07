"""The settings of the sign-in rounds that call AWS: VerifyAuthChallengeResponse (SignInSettings) and
CreateAuthChallenge (SendSettings)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from keyless.core.budget import Budget
from keyless.core.settings import (
    ConfigurationError,
    Env,
    flag,
    key_cache_seconds,
    listed,
    max_code_attempts,
    required,
    whole_number,
)
from keyless.methods import EMAIL_NAMES, MAGIC_LINK

if TYPE_CHECKING:  # read where it is used: VerifyAuthChallengeResponse needs no URL parsing
    from keyless.signin.redirects import AllowedRedirect


@dataclass(frozen=True)
class SignInSettings:
    """What checking an answer needs (VerifyAuthChallengeResponse); sending one adds SendSettings'."""

    VARIABLES: ClassVar[tuple[str, ...]] = (
        "TABLE_NAME", "SIGNING_KEY_SECRET_ID", "PSEUDONYM_KEY_SECRET_ID", "SIGNING_KEY_CACHE_SECONDS", "CODE_LENGTH",
        "MAX_WRONG_CODES", "WRONG_CODE_WINDOW_SECONDS", "SAME_DEVICE_LINKS_ONLY",
    )  # fmt: skip
    table_name: str
    signing_key_secret_id: str
    pseudonym_key_secret_id: str  # what the table's pseudonyms are keyed under: never rotated
    key_cache_seconds: int
    code_length: int
    max_wrong_codes: int
    wrong_code_window_seconds: int
    same_device_links_only: bool  # a link works only in the browser that asked for it (its device secret)

    @property
    def wrong_codes_budget(self) -> Budget:
        return Budget(self.max_wrong_codes, self.wrong_code_window_seconds)

    @classmethod
    def from_env(cls, env: Env = os.environ) -> SignInSettings:
        return cls(**_sign_in_fields(env))


def _sign_in_fields(env: Env) -> dict[str, Any]:
    return {
        "table_name": required(env, "TABLE_NAME"),
        "signing_key_secret_id": required(env, "SIGNING_KEY_SECRET_ID"),
        "pseudonym_key_secret_id": required(env, "PSEUDONYM_KEY_SECRET_ID"),
        "key_cache_seconds": key_cache_seconds(env),
        "code_length": whole_number(env, "CODE_LENGTH", 6, 6, 8),
        "max_wrong_codes": whole_number(env, "MAX_WRONG_CODES", 10, 1, 1000),
        "wrong_code_window_seconds": whole_number(env, "WRONG_CODE_WINDOW_SECONDS", 86400, 60, 30 * 86400),
        "same_device_links_only": flag(env, "SAME_DEVICE_LINKS_ONLY", False),
    }


@dataclass(frozen=True)
class SendSettings(SignInSettings):
    """CreateAuthChallenge: the methods offered, and the sign-in emails and their limits."""

    VARIABLES: ClassVar[tuple[str, ...]] = (
        *SignInSettings.VARIABLES, "SENDER_EMAIL", "APP_NAME", "SES_CONFIGURATION_SET", "ALLOWED_REDIRECT_ORIGINS",
        "SIGN_IN_METHODS", "MAGIC_LINK_LIFETIME_SECONDS", "CODE_LIFETIME_SECONDS", "MAX_CODE_ATTEMPTS",
        "EMAIL_COOLDOWN_SECONDS", "EMAIL_BURST", "EMAIL_BURST_WINDOW_SECONDS", "LINK_EMAIL_CODE",
    )  # fmt: skip
    sender_email: str
    app_name: str
    ses_configuration_set: str
    email_templates_dir: str  # "" = the bundled templates
    allowed_origins: tuple[AllowedRedirect, ...]
    methods: tuple[str, ...]  # the email methods offered (PASSKEYS adds the passkey: PasskeySettings)
    link_lifetime_seconds: int
    code_lifetime_seconds: int
    max_code_attempts: int
    email_cooldown_seconds: int
    email_burst: int
    email_burst_window_seconds: int
    link_email_code: bool  # a link's email also carries a code, for the window that asked (when codes are offered)

    @property
    def links_offered(self) -> bool:
        """Every sign-in email carries a link while the magic link is one of the methods."""
        return MAGIC_LINK.name in self.methods

    @property
    def any_browser_links(self) -> bool:
        """Links are offered and work in any browser (not only the one that asked for them)."""
        return self.links_offered and not self.same_device_links_only

    @property
    def mailbox_budget(self) -> Budget:
        return Budget(self.email_burst, self.email_burst_window_seconds)

    @classmethod
    def from_env(cls, env: Env = os.environ) -> SendSettings:
        methods = EMAIL_NAMES if "SIGN_IN_METHODS" not in env else listed(env, "SIGN_IN_METHODS")  # set and blank: none
        if not methods or any(m not in EMAIL_NAMES for m in methods):
            raise ConfigurationError(f"SIGN_IN_METHODS must list some of {', '.join(EMAIL_NAMES)}")
        try:
            from keyless.signin.redirects import parse_allowlist

            allowed_origins = parse_allowlist(env.get("ALLOWED_REDIRECT_ORIGINS", ""))
        except ValueError as exc:
            raise ConfigurationError(f"ALLOWED_REDIRECT_ORIGINS: {exc}") from exc
        if MAGIC_LINK.name in methods and not allowed_origins:
            raise ConfigurationError("ALLOWED_REDIRECT_ORIGINS must name at least one origin for magic links")
        return cls(
            **_sign_in_fields(env),
            sender_email=required(env, "SENDER_EMAIL"),
            app_name=env.get("APP_NAME", "").strip() or "Keyless",
            ses_configuration_set=env.get("SES_CONFIGURATION_SET", "").strip(),
            email_templates_dir=env.get("EMAIL_TEMPLATES_DIR", "").strip(),
            allowed_origins=allowed_origins,
            methods=methods,
            link_lifetime_seconds=whole_number(env, "MAGIC_LINK_LIFETIME_SECONDS", 900, 60, 86400),
            code_lifetime_seconds=whole_number(env, "CODE_LIFETIME_SECONDS", 600, 60, 3600),
            max_code_attempts=max_code_attempts(env),
            email_cooldown_seconds=whole_number(env, "EMAIL_COOLDOWN_SECONDS", 60, 0, 3600),
            email_burst=whole_number(env, "EMAIL_BURST", 3, 1, 20),
            email_burst_window_seconds=whole_number(env, "EMAIL_BURST_WINDOW_SECONDS", 900, 60, 86400),
            link_email_code=flag(env, "LINK_EMAIL_CODE", True),
        )
