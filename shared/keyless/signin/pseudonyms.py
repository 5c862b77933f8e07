"""Keyed pseudonyms of addresses and names, for the table and the logs.

A bare hash of an address is no pseudonym: whoever reads the table or the logs can hash a guessed
address and compare. These are HMACs under a key only the functions hold, so only they can compute
them. Which key:
- what must outlive a signing key rotation (an unknown user's item and its wrong-code budget, a
  mailbox's budget, a suppression, the id of the key wrong codes are counted under) is keyed under
  the pseudonym key, which is never rotated: a rotation gives no guesser fresh guesses and no bad
  address fresh emails;
- what belongs to one link or code (`recipient`, `key_id` of the key that made it) is keyed under
  the signing key that signed it, and checked with that key.

Comparison rules, one place for all of them:
- the same address: trimmed and lower-cased (`address_form`);
- the same mailbox: also without a `+tag` in the local part, and for Gmail without dots
  (`mailbox_form`), so name+1@, name+2@, n.a.m.e@gmail.com share one email budget.
"""

from __future__ import annotations

import hashlib
import hmac

from keyless.core.events import TriggerEvent

UNKNOWN_PREFIX = "unknown-"
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
    """The address is its mailbox's own, not an alias of it (no +tag; at Gmail, no dots in the local
    part): each user with such an address keeps an email of their own in every budget window, so
    nobody can spend a mailbox's budget to keep its owner out."""
    local, at, domain = address_form(address).rpartition("@")
    if not at:
        return True
    return "+" not in local and not (domain in GMAIL_DOMAINS and "." in local)


def key_id(key: bytes) -> str:
    """Names a key without telling anything about it: the signing key a stored hash was made with, the
    pseudonym key wrong codes were counted under."""
    return keyed(key, "key-id", "")[:12]


def recipient(key: bytes, address: str) -> str:
    """Who an email went to, as stored with the link or code it carried."""
    return keyed(key, "recipient", address_form(address))


def mailbox(key: bytes, address: str) -> str:
    return keyed(key, "mailbox", mailbox_form(address))


def suppression(key: bytes, address: str) -> str:
    """An address that hard-bounced or complained, as its suppression is kept (a purpose of its own,
    so the table cannot join it with the `recipient` of a user's sign-in item)."""
    return keyed(key, "suppression", address_form(address))


def unknown_user(key: bytes, user_name: str, case_sensitive: bool) -> str:
    """An unknown user (no sub) as the table and logs know them: the name as typed, keyed, and as
    the pool compares names (on a case-sensitive pool "bob" and "BOB" are two names, like "alice" and
    "Alice" are two users; elsewhere one)."""
    return keyed(key, "unknown-user", user_name if case_sensitive else user_name.lower())


def sign_in_user(event: TriggerEvent, key: bytes, case_sensitive: bool) -> str:
    """The table's name for the user signing in: the immutable sub, or a keyed pseudonym of the name
    an unknown user typed (logs use the same)."""
    if event.user_not_found:
        return UNKNOWN_PREFIX + unknown_user(key, event.user_name, case_sensitive)
    return event.sub
