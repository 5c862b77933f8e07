"""The passkey settings: what CreateAuthChallenge and VerifyAuthChallengeResponse read to offer and
check a passkey (PasskeySettings), and what the management API adds (AccountSettings).

Every function that reads them gets the variables whether passkeys are on or not (PASSKEYS), so the
template gives each function one fixed set; with PASSKEYS=Disabled nothing else is parsed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from keyless.core.settings import ConfigurationError, Env, key_cache_seconds, listed, required, whole_number

USER_VERIFICATION = ("required", "preferred", "discouraged")
ENABLED, DISABLED = "Enabled", "Disabled"
DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class PasskeySettings:
    VARIABLES: ClassVar[tuple[str, ...]] = (
        "PASSKEYS", "PASSKEY_RP_ID", "PASSKEY_ALLOWED_ORIGINS", "PASSKEY_USER_VERIFICATION",
        "PASSKEY_SIGN_IN_TIMEOUT_SECONDS", "ALLOWED_REDIRECT_ORIGINS",
    )  # fmt: skip
    enabled: bool
    rp_id: str  # the relying party id: a passkey works only on this host and its subdomains
    origins: tuple[str, ...]  # the pages (scheme://host[:port]) whose assertions count
    user_verification: str  # required, preferred or discouraged
    sign_in_timeout_seconds: int

    @property
    def user_verification_required(self) -> bool:
        return self.user_verification == "required"

    @classmethod
    def from_env(cls, env: Env = os.environ) -> PasskeySettings:
        return cls(**_passkey_fields(env))


def _passkey_fields(env: Env) -> dict:
    switch = env.get("PASSKEYS", "").strip() or DISABLED
    if switch not in (ENABLED, DISABLED):
        raise ConfigurationError("PASSKEYS must be Enabled or Disabled")
    timeout = whole_number(env, "PASSKEY_SIGN_IN_TIMEOUT_SECONDS", 120, 30, 600)
    verification = env.get("PASSKEY_USER_VERIFICATION", "").strip() or "required"
    if verification not in USER_VERIFICATION:
        raise ConfigurationError(f"PASSKEY_USER_VERIFICATION must be one of {', '.join(USER_VERIFICATION)}")
    if switch == DISABLED:
        return {
            "enabled": False,
            "rp_id": "",
            "origins": (),
            "user_verification": verification,
            "sign_in_timeout_seconds": timeout,
        }
    explicit, origins = _origins(env)
    rp_id = env.get("PASSKEY_RP_ID", "").strip().lower() or _host(origins[0])
    # WebAuthn: a browser refuses a relying party id that is not the page's host or a suffix of it.
    fitting = tuple(origin for origin in origins if _host(origin) == rp_id or _host(origin).endswith("." + rp_id))
    if explicit and fitting != origins:
        raise ConfigurationError("PASSKEY_RP_ID must be the host of every PASSKEY_ALLOWED_ORIGINS entry, or a suffix of it")
    if not fitting:
        raise ConfigurationError("no allowed origin is on PASSKEY_RP_ID or below it")
    origins = fitting
    return {
        "enabled": True,
        "rp_id": rp_id,
        "origins": origins,
        "user_verification": verification,
        "sign_in_timeout_seconds": timeout,
    }


def _origins(env: Env) -> tuple[bool, tuple[str, ...]]:
    """(whether PASSKEY_ALLOWED_ORIGINS named them, the origins): PASSKEY_ALLOWED_ORIGINS, or else
    the origins of ALLOWED_REDIRECT_ORIGINS (those on the relying party id are kept), as browsers
    write them in clientDataJSON (scheme://host, the port only when it is not the scheme's default)."""
    from keyless.signin.redirects import parse_allowlist

    name = "PASSKEY_ALLOWED_ORIGINS" if listed(env, "PASSKEY_ALLOWED_ORIGINS") else "ALLOWED_REDIRECT_ORIGINS"
    try:
        entries = parse_allowlist(env.get(name, ""))
    except ValueError as exc:
        raise ConfigurationError(f"{name}: {exc}") from exc
    if name == "PASSKEY_ALLOWED_ORIGINS" and any(entry.path for entry in entries):
        raise ConfigurationError("PASSKEY_ALLOWED_ORIGINS must list origins (scheme://host[:port]), without a path")
    origins = tuple(
        dict.fromkeys(f"{e.scheme}://{e.host}" + ("" if e.port == DEFAULT_PORTS[e.scheme] else f":{e.port}") for e in entries)
    )
    if not origins:
        raise ConfigurationError("passkeys need an origin: set PASSKEY_ALLOWED_ORIGINS or ALLOWED_REDIRECT_ORIGINS")
    return name == "PASSKEY_ALLOWED_ORIGINS", origins


def _host(origin: str) -> str:
    host = origin.split("://", 1)[1]
    return host.rsplit(":", 1)[0] if not host.endswith("]") else host


@dataclass(frozen=True)
class AccountSettings(PasskeySettings):
    """The management API (ManagementApiFunction): the passkey settings, and what registering and
    managing passkeys adds."""

    VARIABLES: ClassVar[tuple[str, ...]] = (
        *PasskeySettings.VARIABLES, "TABLE_NAME", "SIGNING_KEY_SECRET_ID", "SIGNING_KEY_CACHE_SECONDS",
        "PASSKEY_RP_NAME", "FRESH_SIGN_IN_SECONDS",
    )  # fmt: skip
    table_name: str
    signing_key_secret_id: str  # the usernameless sign-in challenges are MACed under it
    key_cache_seconds: int
    rp_name: str  # shown by the browser when a passkey is made
    fresh_sign_in_seconds: int  # registering a passkey needs a sign-in this recent

    @classmethod
    def from_env(cls, env: Env = os.environ) -> AccountSettings:
        return cls(
            **_passkey_fields(env),
            table_name=required(env, "TABLE_NAME"),
            signing_key_secret_id=required(env, "SIGNING_KEY_SECRET_ID"),
            key_cache_seconds=key_cache_seconds(env),
            rp_name=env.get("PASSKEY_RP_NAME", "").strip()[:64] or "Keyless",
            fresh_sign_in_seconds=whole_number(env, "FRESH_SIGN_IN_SECONDS", 300, 60, 3600),
        )
