"""Every environment variable of every function, read once and checked, so a misconfigured deployment
fails on its first call with a log line naming the variable (keyless.core.triggers) instead of
half-working.

Each function reads the settings classes FUNCTIONS gives it, and template.yaml gives each function
exactly their VARIABLES (tests/test_template.py checks both ways), so a function is handed only what it
uses. OPERATOR_VARIABLES are optional ones an operator may add by hand.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from keyless.core.budget import Budget
from keyless.methods import MAGIC_LINK, NAMES

if TYPE_CHECKING:  # read where it is used: DefineAuthChallenge and PreSignUp need no URL parsing
    from keyless.signin.redirects import AllowedRedirect

Env = Mapping[str, str]

# A profile's own fields, set from Cognito and never from the operator's defaults.
PROFILE_OWN_FIELDS = ("sub", "email", "createdAt", "emailProvedAt")
TOKEN_VERSIONS = ("V1_0", "V2_0")
_GROUP = re.compile(r"^\S{1,128}$")  # Cognito: letters, marks, symbols, numbers, punctuation
_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,256}$")  # RFC 6749 scope-token characters


class ConfigurationError(RuntimeError):
    """A setting is missing or wrong. Its message names the variable and never quotes a secret."""


# --- reading one variable -------------------------------------------------------------------------


def required(env: Env, name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def whole_number(env: Env, name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number") from exc
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}")
    return value


def flag(env: Env, name: str, default: bool) -> bool:
    """A boolean written "true" or "false" (CloudFormation passes template booleans as these strings)."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigurationError(f"{name} must be true or false")
    return raw == "true"


def json_setting(env: Env, name: str, default: Any, expected: type, **loads: Any) -> Any:
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


def listed(env: Env, name: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(entry for entry in (part.strip() for part in env.get(name, "").split(",")) if entry)


# --- the settings of each function ----------------------------------------------------------------


@dataclass(frozen=True)
class DefineSettings:
    VARIABLES: ClassVar = ("MAX_CODE_ATTEMPTS",)
    max_code_attempts: int

    @classmethod
    def from_env(cls, env: Env = os.environ) -> DefineSettings:
        return cls(max_code_attempts=_max_code_attempts(env))


def _max_code_attempts(env: Env) -> int:
    return whole_number(env, "MAX_CODE_ATTEMPTS", 3, 1, 5)


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
        "key_cache_seconds": _key_cache_seconds(env),
        "code_length": whole_number(env, "CODE_LENGTH", 6, 6, 8),
        "max_wrong_codes": whole_number(env, "MAX_WRONG_CODES", 10, 1, 1000),
        "wrong_code_window_seconds": whole_number(env, "WRONG_CODE_WINDOW_SECONDS", 86400, 60, 30 * 86400),
        "same_device_links_only": flag(env, "SAME_DEVICE_LINKS_ONLY", False),
    }


def _key_cache_seconds(env: Env) -> int:
    return whole_number(env, "SIGNING_KEY_CACHE_SECONDS", 3600, 0, 86400)


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
    methods: tuple[str, ...]
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
        methods = NAMES if "SIGN_IN_METHODS" not in env else listed(env, "SIGN_IN_METHODS")  # set and blank: none
        if not methods or any(m not in NAMES for m in methods):
            raise ConfigurationError(f"SIGN_IN_METHODS must list some of {', '.join(NAMES)}")
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
            max_code_attempts=_max_code_attempts(env),
            email_cooldown_seconds=whole_number(env, "EMAIL_COOLDOWN_SECONDS", 60, 0, 3600),
            email_burst=whole_number(env, "EMAIL_BURST", 3, 1, 20),
            email_burst_window_seconds=whole_number(env, "EMAIL_BURST_WINDOW_SECONDS", 900, 60, 86400),
            link_email_code=flag(env, "LINK_EMAIL_CODE", True),
        )


@dataclass(frozen=True)
class AddressRuleSettings:
    """Which addresses may sign up, and sign in (an address changed since, a domain blocked since)."""

    VARIABLES: ClassVar[tuple[str, ...]] = (
        "SIGN_UP_ALLOWED_DOMAINS", "SIGN_UP_BLOCKED_DOMAINS", "SIGN_UP_BLOCK_DISPOSABLE", "DISPOSABLE_DOMAINS_FILE",
        "SIGN_UP_ALLOW_PLUS_ALIASES",
    )  # fmt: skip
    allowed_domains: tuple[str, ...]  # as written: "example.com", "*.example.com"
    blocked_domains: tuple[str, ...]
    block_disposable: bool
    disposable_domains_file: str  # "" = the bundled list
    allow_plus_aliases: bool

    @classmethod
    def from_env(cls, env: Env = os.environ) -> AddressRuleSettings:
        return cls(**_address_rule_fields(env))


def _address_rule_fields(env: Env) -> dict[str, Any]:
    return {
        "allowed_domains": listed(env, "SIGN_UP_ALLOWED_DOMAINS"),
        "blocked_domains": listed(env, "SIGN_UP_BLOCKED_DOMAINS"),
        "block_disposable": flag(env, "SIGN_UP_BLOCK_DISPOSABLE", True),
        "disposable_domains_file": env.get("DISPOSABLE_DOMAINS_FILE", "").strip(),
        "allow_plus_aliases": flag(env, "SIGN_UP_ALLOW_PLUS_ALIASES", True),
    }


@dataclass(frozen=True)
class SignUpSettings(AddressRuleSettings):
    """PreSignUp: the address rules, and whether sign-ups are confirmed at once."""

    VARIABLES: ClassVar[tuple[str, ...]] = (*AddressRuleSettings.VARIABLES, "AUTO_CONFIRM_SIGN_UP")
    auto_confirm: bool = True

    @classmethod
    def from_env(cls, env: Env = os.environ) -> SignUpSettings:
        return cls(**_address_rule_fields(env), auto_confirm=flag(env, "AUTO_CONFIRM_SIGN_UP", True))


@dataclass(frozen=True)
class ProfileSettings:
    """PostConfirmation and PreTokenGeneration: where profiles live, what a new one holds."""

    VARIABLES: ClassVar = ("TABLE_NAME", "PROFILE_DEFAULTS", "DEFAULT_GROUP")
    table_name: str
    defaults: Mapping[str, Any]
    default_group: str  # "" = none

    @classmethod
    def from_env(cls, env: Env = os.environ) -> ProfileSettings:
        from keyless.store.codec import KEY_FIELDS, to_item

        # Decimal, because DynamoDB refuses floats; 0.5 stays exactly 0.5.
        defaults = json_setting(env, "PROFILE_DEFAULTS", {}, dict, parse_float=Decimal)
        clash = sorted(set(defaults) & {*PROFILE_OWN_FIELDS, *KEY_FIELDS})
        if clash:
            raise ConfigurationError(f"PROFILE_DEFAULTS may not set {', '.join(clash)}")
        try:
            to_item(defaults)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError("PROFILE_DEFAULTS has a value DynamoDB cannot store") from exc
        group = env.get("DEFAULT_GROUP", "").strip()
        if group and not _GROUP.match(group):
            raise ConfigurationError("DEFAULT_GROUP is not a valid group name")
        return cls(table_name=required(env, "TABLE_NAME"), defaults=defaults, default_group=group)


@dataclass(frozen=True)
class ClaimsSettings:
    """PreTokenGeneration: which profile fields become which claims, and what roles grant."""

    VARIABLES: ClassVar = ("CLAIM_MAPPING", "ROLE_SCOPES", "GROUPS_FROM_ROLES", "PRE_TOKEN_GENERATION_VERSION")
    mapping: Mapping[str, str] = field(default_factory=dict)  # profile field -> claim name
    role_scopes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups_from_roles: bool = False
    lambda_version: str = TOKEN_VERSIONS[0]  # what the pool is configured with; the event's own version wins

    @classmethod
    def from_env(cls, env: Env = os.environ) -> ClaimsSettings:
        mapping = json_setting(env, "CLAIM_MAPPING", {}, dict)
        if not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in mapping.items()):
            raise ConfigurationError('CLAIM_MAPPING must map profile fields to claim names: {"field": "claim"}')
        role_scopes = {}
        for role, scopes in json_setting(env, "ROLE_SCOPES", {}, dict).items():
            if not isinstance(scopes, list) or not all(isinstance(s, str) and _SCOPE.match(s) for s in scopes):
                raise ConfigurationError('ROLE_SCOPES must map roles to lists of scopes: {"role": ["scope"]}')
            role_scopes[role] = tuple(scopes)
        version = env.get("PRE_TOKEN_GENERATION_VERSION", "").strip() or TOKEN_VERSIONS[0]
        if version not in TOKEN_VERSIONS:
            raise ConfigurationError(f"PRE_TOKEN_GENERATION_VERSION must be one of {', '.join(TOKEN_VERSIONS)}")
        return cls(
            mapping=mapping,
            role_scopes=role_scopes,
            groups_from_roles=flag(env, "GROUPS_FROM_ROLES", False),
            lambda_version=version,
        )


@dataclass(frozen=True)
class AttachSettings:
    """AttachTriggers: the table where a pool's previous triggers are kept."""

    VARIABLES: ClassVar = ("TABLE_NAME",)
    table_name: str

    @classmethod
    def from_env(cls, env: Env = os.environ) -> AttachSettings:
        return cls(table_name=required(env, "TABLE_NAME"))


@dataclass(frozen=True)
class EmailEventsSettings:
    """EmailEvents: where an address's suppression is kept (hashed under the pseudonym key, as every
    address in the table), and how long a hard bounce or a complaint stops sign-in emails to it."""

    VARIABLES: ClassVar = ("TABLE_NAME", "PSEUDONYM_KEY_SECRET_ID", "SIGNING_KEY_CACHE_SECONDS", "EMAIL_SUPPRESSION_DAYS")
    table_name: str
    pseudonym_key_secret_id: str
    key_cache_seconds: int
    suppression_seconds: int

    @classmethod
    def from_env(cls, env: Env = os.environ) -> EmailEventsSettings:
        return cls(
            table_name=required(env, "TABLE_NAME"),
            pseudonym_key_secret_id=required(env, "PSEUDONYM_KEY_SECRET_ID"),
            key_cache_seconds=_key_cache_seconds(env),
            suppression_seconds=whole_number(env, "EMAIL_SUPPRESSION_DAYS", 14, 1, 365) * 86400,
        )


@dataclass(frozen=True)
class RotationSettings:
    """RotateSigningKey: the one secret it rotates (Secrets Manager names it in each event too)."""

    VARIABLES: ClassVar = ("SIGNING_KEY_SECRET_ID",)
    signing_key_secret_id: str

    @classmethod
    def from_env(cls, env: Env = os.environ) -> RotationSettings:
        return cls(signing_key_secret_id=required(env, "SIGNING_KEY_SECRET_ID"))


# What each function of template.yaml reads.
FUNCTIONS: dict[str, tuple[type, ...]] = {
    "DefineAuthChallengeFunction": (DefineSettings,),
    "CreateAuthChallengeFunction": (SendSettings, AddressRuleSettings),
    "VerifyAuthChallengeFunction": (SignInSettings,),
    "PreSignUpFunction": (SignUpSettings,),
    "PostConfirmationFunction": (ProfileSettings,),
    "PreTokenGenerationFunction": (ProfileSettings, ClaimsSettings),
    "AttachTriggersFunction": (AttachSettings,),
    "EmailEventsFunction": (EmailEventsSettings,),
    "RotateSigningKeyFunction": (RotationSettings,),
}
OPERATOR_VARIABLES = ("EMAIL_TEMPLATES_DIR",)  # CreateAuthChallenge: a folder of the operator's own templates
