"""Function settings, read from the environment once and checked, so a misconfigured deployment fails
on its first call with a clear log line instead of half-working. template.yaml sets every variable."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keyless.methods import MAGIC_LINK, NAMES
from keyless.signin.redirects import AllowedRedirect, parse_allowlist
from keyless.core.budget import Budget


class ConfigurationError(RuntimeError):
    pass


def required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number") from exc
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}")
    return value


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean written "true" or "false" (CloudFormation passes template booleans as these strings)."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigurationError(f"{name} must be true or false")
    return raw == "true"


def json_setting(env: Mapping[str, str], name: str, default: Any, expected: type, **loads: Any) -> Any:
    """A JSON value of the expected type (dict, list); the default when the variable is unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = json.loads(raw, **loads)
    except ValueError as exc:
        raise ConfigurationError(f"{name} is not valid JSON") from exc
    if not isinstance(value, expected):
        raise ConfigurationError(f"{name} must be a JSON {'object' if expected is dict else expected.__name__}")
    return value


def max_code_attempts(env: Mapping[str, str] = os.environ) -> int:
    return _int(env, "MAX_CODE_ATTEMPTS", 3, 1, 5)


@dataclass(frozen=True)
class SignInSettings:
    table_name: str
    signing_key_secret_id: str
    sender_email: str
    app_name: str
    allowed_origins: tuple[AllowedRedirect, ...]
    methods: tuple[str, ...]
    link_lifetime_seconds: int
    code_lifetime_seconds: int
    code_length: int
    max_code_attempts: int
    email_cooldown_seconds: int
    email_burst: int
    email_burst_window_seconds: int
    max_wrong_codes: int
    wrong_code_window_seconds: int
    key_cache_seconds: int
    ses_configuration_set: str

    @property
    def links_offered(self) -> bool:
        """Every sign-in email carries a link while the magic link is one of the methods."""
        return MAGIC_LINK.name in self.methods

    @property
    def mailbox_budget(self) -> Budget:
        return Budget(self.email_burst, self.email_burst_window_seconds)

    @property
    def wrong_codes_budget(self) -> Budget:
        return Budget(self.max_wrong_codes, self.wrong_code_window_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SignInSettings:
        methods = tuple(m.strip() for m in env.get("SIGN_IN_METHODS", ",".join(NAMES)).split(",") if m.strip())
        if not methods or any(m not in NAMES for m in methods):
            raise ConfigurationError(f"SIGN_IN_METHODS must list some of {', '.join(NAMES)}")
        try:
            allowed_origins = parse_allowlist(env.get("ALLOWED_REDIRECT_ORIGINS", ""))
        except ValueError as exc:
            raise ConfigurationError(f"ALLOWED_REDIRECT_ORIGINS: {exc}") from exc
        if MAGIC_LINK.name in methods and not allowed_origins:
            raise ConfigurationError("ALLOWED_REDIRECT_ORIGINS must name at least one origin for magic links")
        return cls(
            table_name=required(env, "TABLE_NAME"),
            signing_key_secret_id=required(env, "SIGNING_KEY_SECRET_ID"),
            sender_email=required(env, "SENDER_EMAIL"),
            app_name=env.get("APP_NAME", "").strip() or "Keyless",
            allowed_origins=allowed_origins,
            methods=methods,
            link_lifetime_seconds=_int(env, "MAGIC_LINK_LIFETIME_SECONDS", 900, 60, 86400),
            code_lifetime_seconds=_int(env, "CODE_LIFETIME_SECONDS", 600, 60, 3600),
            code_length=_int(env, "CODE_LENGTH", 6, 6, 8),
            max_code_attempts=max_code_attempts(env),
            email_cooldown_seconds=_int(env, "EMAIL_COOLDOWN_SECONDS", 60, 0, 3600),
            email_burst=_int(env, "EMAIL_BURST", 3, 1, 20),
            email_burst_window_seconds=_int(env, "EMAIL_BURST_WINDOW_SECONDS", 900, 60, 86400),
            max_wrong_codes=_int(env, "MAX_WRONG_CODES", 10, 1, 1000),
            wrong_code_window_seconds=_int(env, "WRONG_CODE_WINDOW_SECONDS", 86400, 60, 30 * 86400),
            key_cache_seconds=_int(env, "SIGNING_KEY_CACHE_SECONDS", 3600, 0, 86400),
            ses_configuration_set=env.get("SES_CONFIGURATION_SET", "").strip(),
        )
