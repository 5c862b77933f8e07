"""How a user appears in logs, in the table and in emails, without exposing the address."""

from __future__ import annotations

import hashlib
import re

_ADDRESS = re.compile(r"^[^\s@<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}$")


def normalized(user_name: str) -> str:
    """Cognito user names are case-insensitive by default; the same person must hit the same limit."""
    return user_name.strip().lower()


def user_ref(user_name: str) -> str:
    """A stable pseudonym for logs and table keys: never the raw user name or address."""
    return hashlib.sha256(b"keyless-user|" + normalized(user_name).encode()).hexdigest()[:32]


def is_deliverable(address: str) -> bool:
    """A plain single address: no display name, no header folding, no second recipient."""
    return bool(_ADDRESS.match(address)) and address.isascii()


def mask(address: str) -> str:
    """j***@e***.com: enough for the user to recognise the address, too little to harvest it."""
    local, at, domain = normalized(address).rpartition("@")
    if not at or not local or not domain:
        return "***"
    name, dot, tld = domain.rpartition(".")
    masked_domain = f"{name[:1]}***.{tld}" if dot and name else "***"
    return f"{local[:1]}***@{masked_domain}"
