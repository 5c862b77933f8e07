"""PostConfirmation's (ProfileSettings) and PreTokenGeneration's (ProfileSettings, ClaimsSettings) settings."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from keyless.core.settings import ConfigurationError, Env, flag, json_setting, required

# A profile's own fields, set from Cognito and never from the operator's defaults.
PROFILE_OWN_FIELDS = ("sub", "email", "createdAt", "emailProvedAt")
TOKEN_VERSIONS = ("V1_0", "V2_0")
_GROUP = re.compile(r"^\S{1,128}$")  # Cognito: letters, marks, symbols, numbers, punctuation
_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,256}$")  # RFC 6749 scope-token characters


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
