"""Every environment variable of every function, read once and checked, so a misconfigured deployment
fails on its first call with a log line naming the variable (keyless.core.triggers) instead of
half-working.

This module holds what reading any variable needs; each function's settings classes are in a module
of their own beside it, so a function loads only its own (a frozen dataclass costs cold-start time to
define). Each function reads the settings classes functions.FUNCTIONS gives it, and template.yaml gives
each function exactly their VARIABLES (tests/test_template.py checks both ways), so a function is
handed only what it uses. functions.OPERATOR_VARIABLES are optional ones an operator may add by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Env = Mapping[str, str]


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


# --- variables more than one function reads -------------------------------------------------------


def max_code_attempts(env: Env) -> int:
    return whole_number(env, "MAX_CODE_ATTEMPTS", 3, 1, 5)


def key_cache_seconds(env: Env) -> int:
    return whole_number(env, "SIGNING_KEY_CACHE_SECONDS", 3600, 0, 86400)


__all__ = ["attach", "define", "email_events", "functions", "passkeys", "profiles", "rotation", "sign_in", "sign_up"]
