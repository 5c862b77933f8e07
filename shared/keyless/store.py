"""The sign-in state of one user: the only code that reads or writes it in DynamoDB.

One item per user (pk USER#<ref>, sk SIGNIN) holds the send limit and the newest link and code:
  sentAt, sendId        when the last email was reserved, and by which sign-in flow
  method, sentTo        what was sent, to which masked address
  linkHash, linkExpiresAt, linkUsedAt, linkUsedBy
  codeHash, codeFlow, codeExpiresAt
  expiresAt             DynamoDB TTL
Every change that must happen once is a single conditional write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from keyless.aws_errors import condition_failed

SORT_KEY = "SIGNIN"


def _key(user_ref: str) -> dict:
    return {"pk": {"S": f"USER#{user_ref}"}, "sk": {"S": SORT_KEY}}


def _to_attribute(value: Any) -> dict:
    if isinstance(value, bool):
        raise TypeError("booleans are not stored")
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


def _from_item(item: dict | None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, attribute in (item or {}).items():
        if "N" in attribute:
            result[name] = int(attribute["N"])
        elif "S" in attribute:
            result[name] = attribute["S"]
    return result


@dataclass(frozen=True)
class Reserved:
    """This call owns the send; `previous` is the item as it was, for release()."""

    previous: dict[str, Any]


@dataclass(frozen=True)
class AlreadyReserved:
    """A retry of the call that owns the send: answer from `item`, send nothing."""

    item: dict[str, Any]


@dataclass(frozen=True)
class TooSoon:
    retry_after_seconds: int


class SignInStore:
    def __init__(self, client, table_name: str):
        self._client = client
        self._table = table_name

    def reserve_send(self, user_ref: str, send_id: str, now: int, cooldown: int, fields: dict[str, Any]):
        """Atomically claim this user's one email per cooldown, writing the new link or code with it.

        Fields not named (the other method's link or code) are kept, so asking for a code does not
        spoil a link that is still on its way.
        """
        names = dict(fields, sentAt=now, sendId=send_id)
        # A new link starts unused; the old link's used-mark would otherwise carry over.
        removed = ("linkUsedAt", "linkUsedBy") if "linkHash" in fields else ()
        update = "SET " + ", ".join(f"#{name} = :{name}" for name in names)
        if removed:
            update += " REMOVE " + ", ".join(f"#{name}" for name in removed)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=_key(user_ref),
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(#sentAt) OR #sentAt <= :cutoff",
                ExpressionAttributeNames={f"#{name}": name for name in [*names, *removed]},
                ExpressionAttributeValues={
                    **{f":{name}": _to_attribute(value) for name, value in names.items()},
                    ":cutoff": _to_attribute(now - cooldown),
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            item = _from_item(exc.response.get("Item"))
            if item.get("sendId") == send_id:
                return AlreadyReserved(item)
            return TooSoon(max(1, int(item.get("sentAt", now)) + cooldown - now))
        return Reserved(_from_item(response.get("Attributes")))

    def release_send(self, user_ref: str, send_id: str, previous: dict[str, Any]) -> None:
        """Undo a reservation whose email could not be sent: the user may ask again at once, and the
        link or code they had before works again. Only the reservation's owner can undo it."""
        owned = {
            "ConditionExpression": "#sendId = :sendId",
            "ExpressionAttributeNames": {"#sendId": "sendId"},
            "ExpressionAttributeValues": {":sendId": {"S": send_id}},
        }
        try:
            if previous:
                item = {name: _to_attribute(value) for name, value in previous.items()}
                self._client.put_item(TableName=self._table, Item=item, **owned)
            else:
                self._client.delete_item(TableName=self._table, Key=_key(user_ref), **owned)
        except ClientError as exc:
            if not condition_failed(exc):
                raise

    def consume_link(self, user_ref: str, link_hash: str, flow: str, now: int) -> bool:
        """Mark the newest link used, once. A retried call from the same sign-in flow succeeds again;
        any other attempt with the same link fails."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(user_ref),
                UpdateExpression="SET #usedAt = :now, #usedBy = :flow",
                ConditionExpression=(
                    "#hash = :hash AND #expires > :now AND (attribute_not_exists(#usedAt) OR #usedBy = :flow)"
                ),
                ExpressionAttributeNames={
                    "#hash": "linkHash",
                    "#expires": "linkExpiresAt",
                    "#usedAt": "linkUsedAt",
                    "#usedBy": "linkUsedBy",
                },
                ExpressionAttributeValues={
                    ":hash": {"S": link_hash},
                    ":now": {"N": str(now)},
                    ":flow": {"S": flow},
                },
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def read(self, user_ref: str) -> dict[str, Any]:
        response = self._client.get_item(TableName=self._table, Key=_key(user_ref), ConsistentRead=True)
        return _from_item(response.get("Item"))
