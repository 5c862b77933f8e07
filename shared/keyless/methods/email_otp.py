"""Email one-time codes: drawn uniformly with `secrets`, stored and compared only as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable


def new_code(length: int) -> str:
    return f"{secrets.randbelow(10**length):0{length}d}"


def code_hash(key: bytes, flow: str, code: str) -> str:
    """Bound to the sign-in flow, so a code is worth nothing in another Cognito session."""
    return hmac.new(key, f"keyless.email-otp|{flow}|{code}".encode(), hashlib.sha256).hexdigest()


def normalize_answer(answer: str, length: int) -> str | None:
    """The code as typed, minus surrounding spaces; only ASCII digits of the right length count."""
    code = answer.strip()
    if len(code) != length or not code.isascii() or not code.isdigit():
        return None
    return code


def matches(keys: Iterable[bytes], flow: str, code: str, expected_hash: str) -> bool:
    if not expected_hash:
        return False
    return any(hmac.compare_digest(code_hash(key, flow, code), expected_hash) for key in keys)
