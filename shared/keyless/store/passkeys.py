"""Passkeys in DynamoDB: the only code that reads or writes them.

USER#<sub> / PASSKEY#<credential id>, one per passkey:
  credentialId, publicKey     the credential (base64url; the COSE key as the authenticator gave it)
  signCount                   the authenticator's counter at its last use (0: it keeps none)
  friendlyName, transports, aaguid, rpId, createdAt, lastSignIn (epoch seconds)
  backupEligible              the authenticator said at registration whether it may sync the key; an
                              assertion that says otherwise is refused
USER#<sub> / PASSKEYS, one per user with passkeys or a registration started:
  passkeyCount                how many passkeys the user has (at most MAX_PASSKEYS)
  challenge, challengeRpId, challengeExpiresAt
                              the pending registration's challenge (a new start replaces it; a
                              completed registration removes it)
CREDENTIAL#<credential id> / OWNER: sub. Written with the passkey in one transaction, conditional on
  its absence, so a credential id belongs to one user at most.
PASSKEYCHALLENGE#<nonce> / USED: expiresAt (TTL). A usernameless sign-in challenge that was used.

Every state change that must happen once is one conditional write (a transaction where several
items change together).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from keyless.core.aws_errors import error_code, written
from keyless.store.codec import expression_names, from_item, to_attribute, to_item
from keyless.store.keys import (
    PASSKEY_PREFIX,
    credential_owner_key,
    passkey_key,
    passkeys_key,
    sign_in_key,
    used_challenge_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_PASSKEYS = 10  # per user: enough for every device a person holds, few enough to list in one page
MAX_REMOVAL_ATTEMPTS = 3  # delete_all reads again after a change made meanwhile, this many times at most
TRANSACTION_CANCELED = "TransactionCanceledException"
CONDITION_FAILED_IN_TRANSACTION = "ConditionalCheckFailed"


def _cancellation_reasons(exc: ClientError) -> list[str]:
    """Why each item of a cancelled transaction failed, in the items' order ("None" for those that did
    not); [] when the call failed otherwise."""
    if error_code(exc) != TRANSACTION_CANCELED:
        return []
    return [str(reason.get("Code", "")) for reason in exc.response.get("CancellationReasons", [])]


@dataclass(frozen=True)
class Added:
    item: dict[str, Any]


@dataclass(frozen=True)
class NotAdded:
    reason: str  # "challenge" (used, replaced or expired), "limit", "taken" (another user's or own id)


class PasskeyStore:
    def __init__(self, client: DynamoDBClient, table_name: str):
        self._client = client
        self._table = table_name

    # --- reading --------------------------------------------------------------------------------

    def of_user(self, sub: str) -> list[dict[str, Any]]:
        """The user's passkeys, oldest first. One page: at most MAX_PASSKEYS items of about a
        kilobyte each, far below a query page's megabyte."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames=expression_names("pk", "sk"),
            ExpressionAttributeValues={":pk": sign_in_key(sub)["pk"], ":prefix": to_attribute(PASSKEY_PREFIX)},
            ConsistentRead=True,
        )
        items = [from_item(item) for item in response.get("Items", [])]
        return sorted(items, key=lambda item: (item.get("createdAt", 0), item.get("credentialId", "")))

    def get(self, sub: str, credential_id: str) -> dict[str, Any]:
        """One of the user's passkeys ({} when the user has none with this id)."""
        response = self._client.get_item(TableName=self._table, Key=passkey_key(sub, credential_id), ConsistentRead=True)
        return from_item(response.get("Item"))

    def state(self, sub: str) -> dict[str, Any]:
        response = self._client.get_item(TableName=self._table, Key=passkeys_key(sub), ConsistentRead=True)
        return from_item(response.get("Item"))

    # --- registering ----------------------------------------------------------------------------

    def start_registration(self, sub: str, challenge: str, rp_id: str, expires_at: int) -> None:
        """The user's one pending registration: this challenge, replacing any earlier one."""
        self._client.update_item(
            TableName=self._table,
            Key=passkeys_key(sub),
            UpdateExpression="SET #challenge = :challenge, #challengeRpId = :rpId, #challengeExpiresAt = :expiresAt, "
            "#passkeyCount = if_not_exists(#passkeyCount, :zero)",
            ExpressionAttributeNames=expression_names("challenge", "challengeRpId", "challengeExpiresAt", "passkeyCount"),
            ExpressionAttributeValues={
                ":challenge": to_attribute(challenge),
                ":rpId": to_attribute(rp_id),
                ":expiresAt": to_attribute(expires_at),
                ":zero": to_attribute(0),
            },
        )

    def add(self, sub: str, challenge: str, now: int, passkey: dict[str, Any]) -> Added | NotAdded:
        """Store a verified registration, once: the pending challenge it answered is spent, the count
        grows (within MAX_PASSKEYS), and the credential id must be nobody's yet, all in one transaction."""
        credential_id = passkey["credentialId"]
        item = {**passkey, "createdAt": now, "signCount": int(passkey.get("signCount", 0))}
        reasons = self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": passkeys_key(sub),
                        "UpdateExpression": "SET #passkeyCount = #passkeyCount + :one "
                        "REMOVE #challenge, #challengeRpId, #challengeExpiresAt",
                        "ConditionExpression": "#challenge = :challenge AND #challengeExpiresAt > :now AND #passkeyCount < :max",
                        "ExpressionAttributeNames": expression_names(
                            "passkeyCount", "challenge", "challengeRpId", "challengeExpiresAt"
                        ),
                        "ExpressionAttributeValues": {
                            ":one": to_attribute(1),
                            ":challenge": to_attribute(challenge),
                            ":now": to_attribute(now),
                            ":max": to_attribute(MAX_PASSKEYS),
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {**passkey_key(sub, credential_id), **to_item(item)},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {**credential_owner_key(credential_id), **to_item({"sub": sub, "createdAt": now})},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        if reasons:
            return NotAdded(self._why_not_added(reasons, sub, challenge, now))
        return Added(item)

    def _why_not_added(self, reasons: list[str], sub: str, challenge: str, now: int) -> str:
        if reasons[0] == CONDITION_FAILED_IN_TRANSACTION:
            state = self.state(sub)
            if state.get("challenge") == challenge and int(state.get("challengeExpiresAt", 0)) > now:
                return "limit"
            return "challenge"
        return "taken"

    def _transact(self, items: list[dict[str, Any]]) -> list[str]:
        """The items written together: [] when done, else why each failed (a condition of one of them
        refused the transaction; any other failure raises)."""
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]  # plain dicts, built above
        except ClientError as exc:
            reasons = _cancellation_reasons(exc)
            if CONDITION_FAILED_IN_TRANSACTION not in reasons:
                raise
            return reasons
        return []

    # --- managing -------------------------------------------------------------------------------

    def rename(self, sub: str, credential_id: str, name: str) -> bool:
        """False when the user has no passkey with this id (another user's id included)."""
        return written(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=passkey_key(sub, credential_id),
                UpdateExpression="SET #friendlyName = :name",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=expression_names("friendlyName"),
                ExpressionAttributeValues={":name": to_attribute(name)},
            )
        )

    def delete(self, sub: str, credential_id: str) -> bool:
        """Remove the user's passkey, its owner item and one from the count, together; False (nothing
        changed) when the user has no passkey with this id."""
        return not self._transact(
            [
                *self._removal(sub, credential_id),
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": passkeys_key(sub),
                        "UpdateExpression": "SET #passkeyCount = #passkeyCount - :one",
                        "ConditionExpression": "#passkeyCount > :zero",
                        "ExpressionAttributeNames": expression_names("passkeyCount"),
                        "ExpressionAttributeValues": {":one": to_attribute(1), ":zero": to_attribute(0)},
                    }
                },
            ]
        )

    def delete_all(self, sub: str) -> int:
        """Every passkey of the user goes, with its owner item, and the user's passkey state (the count,
        and a registration under way, which can then not complete), in one transaction conditional on
        the count that was read: a passkey added or removed meanwhile cancels it, and it is done again
        from a new read. Returns how many passkeys went (0, and nothing written, for a user with none)."""
        for _ in range(MAX_REMOVAL_ATTEMPTS):
            passkeys, state = self.of_user(sub), self.state(sub)
            if not passkeys and not state:
                return 0
            count = {":count": to_attribute(len(passkeys))}
            items = [
                *(item for passkey in passkeys for item in self._removal(sub, passkey["credentialId"])),
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": passkeys_key(sub),
                        "ConditionExpression": "attribute_not_exists(pk) OR #passkeyCount = :count",
                        "ExpressionAttributeNames": expression_names("passkeyCount"),
                        "ExpressionAttributeValues": count,
                    }
                },
            ]
            if not self._transact(items):
                return len(passkeys)
        raise RuntimeError("the user's passkeys kept changing while they were removed")

    def _removal(self, sub: str, credential_id: str) -> list[dict[str, Any]]:
        """The transaction items that remove one of the user's passkeys and its owner item (each only
        if it is there, and the user's)."""
        return [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": passkey_key(sub, credential_id),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": credential_owner_key(credential_id),
                    "ConditionExpression": "#sub = :sub",
                    "ExpressionAttributeNames": expression_names("sub"),
                    "ExpressionAttributeValues": {":sub": to_attribute(sub)},
                }
            },
        ]

    # --- signing in -----------------------------------------------------------------------------

    def record_use(self, sub: str, credential_id: str, verified_count: int, new_count: int, now: int, method: str) -> bool:
        """The passkey's use, once: its counter moves on from the value the assertion was verified
        against (two uses verified against the same value cannot both pass: a cloned authenticator),
        and the user's sign-in item records the accepted proof (the sign_in_method claim), together."""
        return not self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": passkey_key(sub, credential_id),
                        "UpdateExpression": "SET #signCount = :new, #lastSignIn = :now",
                        "ConditionExpression": "#signCount = :verified",
                        "ExpressionAttributeNames": expression_names("signCount", "lastSignIn"),
                        "ExpressionAttributeValues": {
                            ":new": to_attribute(new_count),
                            ":now": to_attribute(now),
                            ":verified": to_attribute(verified_count),
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": sign_in_key(sub),
                        "UpdateExpression": "SET #provenMethod = :method, #provenAt = :now",
                        "ExpressionAttributeNames": expression_names("provenMethod", "provenAt"),
                        "ExpressionAttributeValues": {":method": to_attribute(method), ":now": to_attribute(now)},
                    }
                },
            ]
        )

    def spend_challenge(self, nonce: str, expires_at: int) -> bool:
        """A usernameless challenge's one use: False when it was used before."""
        return written(
            lambda: self._client.put_item(
                TableName=self._table,
                Item={**used_challenge_key(nonce), **to_item({"expiresAt": expires_at})},
                ConditionExpression="attribute_not_exists(pk)",
            )
        )
