"""The pool's password policy, checked as Cognito checks it, with Cognito's messages (apps show them)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Any

from localpool.errors import CognitoError

# The special characters Cognito's password policy counts (its developer guide's list, and the space).
SYMBOLS = frozenset("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")
DEFAULT_MINIMUM_LENGTH = 8


def check_password(password: str, policy: Mapping[str, Any]) -> None:
    """InvalidPasswordException "Password did not conform with policy: ..." for the first rule broken
    (letters and digits are Basic Latin ones, as Cognito's policy counts them)."""
    rules = (
        (len(password) >= int(policy.get("MinimumLength", DEFAULT_MINIMUM_LENGTH)), "Password not long enough"),
        (not policy.get("RequireNumbers") or any(c in string.digits for c in password), "Password must have numeric characters"),
        (
            not policy.get("RequireLowercase") or any(c in string.ascii_lowercase for c in password),
            "Password must have lowercase characters",
        ),
        (
            not policy.get("RequireUppercase") or any(c in string.ascii_uppercase for c in password),
            "Password must have uppercase characters",
        ),
        (not policy.get("RequireSymbols") or any(c in SYMBOLS for c in password), "Password must have symbol characters"),
    )
    for kept, broken in rules:
        if not kept:
            raise CognitoError("InvalidPasswordException", f"Password did not conform with policy: {broken}")


def temporary_password(policy: Mapping[str, Any]) -> str:
    """What Cognito makes when AdminCreateUser names no TemporaryPassword: random, and within the policy."""
    length = max(int(policy.get("MinimumLength", DEFAULT_MINIMUM_LENGTH)), 16)
    kinds = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "^$*.!@#%&")
    chosen = [secrets.choice(kind) for kind in kinds]  # one of each, whatever the policy requires
    chosen += [secrets.choice("".join(kinds)) for _ in range(length - len(chosen))]
    secrets.SystemRandom().shuffle(chosen)
    return "".join(chosen)
