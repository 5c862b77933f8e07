"""PreSignUp's settings (SignUpSettings), and the address rules CreateAuthChallenge also applies at
sign-in (AddressRuleSettings)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from keyless.core.settings import Env, flag, listed


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
