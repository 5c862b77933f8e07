"""Keyed pseudonyms of addresses and names, for the table and the logs.

A bare hash of an address is no pseudonym: whoever reads the table or the logs can hash a guessed
address and compare. These are HMACs under the signing key, so only the functions can compute them.
They change when the key rotates, which only resets what they key (a send budget, say).

Comparison rules, one place for all of them:
- the same address: trimmed and lower-cased (`address_form`);
- the same mailbox: also without a `+tag` in the local part, and for Gmail without dots
  (`mailbox_form`), so name+1@, name+2@, n.a.m.e@gmail.com share one email budget.
"""

from __future__ import annotations

import hashlib
import hmac

from keyless.events import TriggerEvent

GMAIL_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def keyed(key: bytes, purpose: str, value: str) -> str:
    """128 bits of HMAC-SHA256 over the value, separated by purpose so no two uses can be confused."""
    return hmac.new(key, f"keyless.{purpose}|{value}".encode(), hashlib.sha256).hexdigest()[:32]


def address_form(address: str) -> str:
    return address.strip().lower()


def mailbox_form(address: str) -> str:
    local, at, domain = address_form(address).rpartition("@")
    if not at:
        return address_form(address)
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), GMAIL_DOMAINS[domain]
    return f"{local}@{domain}"


def is_primary(address: str) -> bool:
    """The address is its mailbox's own form (no +tag, no Gmail dots): it keeps an email of its own
    in every budget window, so nobody can spend a mailbox's budget to keep its owner out."""
    return address_form(address) == mailbox_form(address)


def key_id(key: bytes) -> str:
    """Names a signing key (which one made a stored hash) without telling anything about it."""
    return keyed(key, "key-id", "")[:12]


def recipient(key: bytes, address: str) -> str:
    """Who an email went to, as stored with the link or code it carried."""
    return keyed(key, "recipient", address_form(address))


def mailbox(key: bytes, address: str) -> str:
    return keyed(key, "mailbox", mailbox_form(address))


def unknown_user(key: bytes, user_name: str) -> str:
    """An unknown user (no sub) as the table and logs know them: the name as typed, keyed."""
    return keyed(key, "unknown-user", address_form(user_name))


def sign_in_user(event: TriggerEvent, key: bytes) -> str:
    """The table's name for the user signing in: the immutable sub, or a keyed pseudonym of the name
    an unknown user typed (logs use the same)."""
    if event.user_not_found:
        return "unknown-" + unknown_user(key, event.user_name)
    return event.sub


_TLDS = ("com", "com", "com", "org", "net", "de")


def stand_in_mask(key: bytes, name: str) -> str:
    """What an unknown user name (not an address) is shown as `sentTo`: a masked address like a known
    user's, the same for the same name (mask() of "bob" would be "***": a tell)."""
    digest = keyed(key, "stand-in-mask", address_form(name))
    letters = "abcdefghijklmnopqrstuvwxyz"
    return f"{letters[int(digest[:2], 16) % 26]}***@{letters[int(digest[2:4], 16) % 26]}***.{_TLDS[int(digest[4], 16) % len(_TLDS)]}"
