"""The one table's keys: which item holds what. Each item's store is the only code that reads or
writes it."""

from __future__ import annotations


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def sign_in_key(user: str) -> dict[str, dict[str, str]]:
    """A user's sign-in state: USER#<sub> (an unknown user: USER#unknown-<keyed name>)."""
    return _key(f"USER#{user}", "SIGNIN")


def mailbox_key(mailbox: str) -> dict[str, dict[str, str]]:
    """A mailbox's email budget: MAILBOX#<keyed mailbox>."""
    return _key(f"MAILBOX#{mailbox}", "SENDS")


def profile_key(sub: str) -> dict[str, dict[str, str]]:
    """A user's profile, whose fields become token claims: PROFILE#<sub>."""
    return _key(f"PROFILE#{sub}", "PROFILE")


def attachment_key(pool_id: str) -> dict[str, dict[str, str]]:
    """The triggers an attached pool's slots held before Keyless: ATTACHMENT#<pool id>."""
    return _key(f"ATTACHMENT#{pool_id}", "TRIGGERS")


def suppression_key(address: str) -> dict[str, dict[str, str]]:
    """An address that gets no sign-in email for a while (it hard-bounced or complained):
    SUPPRESSION#<keyed address>."""
    return _key(f"SUPPRESSION#{address}", "EMAIL")


def passkey_key(sub: str, credential_id: str) -> dict[str, dict[str, str]]:
    """One of a user's passkeys: USER#<sub> / PASSKEY#<credential id, base64url>."""
    return _key(f"USER#{sub}", f"PASSKEY#{credential_id}")


PASSKEY_PREFIX = "PASSKEY#"


def passkeys_key(sub: str) -> dict[str, dict[str, str]]:
    """A user's passkey state: how many they have, and the pending registration's challenge."""
    return _key(f"USER#{sub}", "PASSKEYS")


def credential_owner_key(credential_id: str) -> dict[str, dict[str, str]]:
    """Who registered a credential id (so no id is registered twice): CREDENTIAL#<credential id>."""
    return _key(f"CREDENTIAL#{credential_id}", "OWNER")


def used_challenge_key(nonce: str) -> dict[str, dict[str, str]]:
    """A usernameless sign-in challenge that was used (it works once): PASSKEYCHALLENGE#<nonce>."""
    return _key(f"PASSKEYCHALLENGE#{nonce}", "USED")
