"""Addresses that get no sign-in email for a while (pk SUPPRESSION#<keyed address>): the only code
that reads or writes them. EmailEvents writes one when SES reports a hard bounce or a complaint;
CreateAuthChallenge reads it before every email.

  reason        bounce or complaint: the report that set the current end
  reportedAt    when the ISP reported it
  expiresAt     when the suppression ends, and the item's DynamoDB TTL (TTL deletes an item within
                days, not at once: a read compares the time itself)

A report is one conditional write that only moves the end later, so the same report recorded again
(SNS delivers at least once) writes nothing, and an older report never shortens a newer one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.core.aws_errors import written
from keyless.store.codec import expression_names, from_item, to_attribute
from keyless.store.keys import suppression_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FIELDS = ("reason", "reportedAt", "expiresAt")


class SuppressionStore:
    def __init__(self, client: DynamoDBClient, table_name: str):
        self._client = client
        self._table = table_name

    def suppress(self, address: str, reason: str, reported_at: int, until: int) -> bool:
        """No sign-in email to `address` (a keyed pseudonym) before `until`, unless it is suppressed
        as long already. True when this call wrote."""
        return written(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=suppression_key(address),
                UpdateExpression="SET #reason = :reason, #reportedAt = :reportedAt, #expiresAt = :until",
                ConditionExpression="attribute_not_exists(#expiresAt) OR #expiresAt < :until",
                ExpressionAttributeNames=expression_names(*FIELDS),
                ExpressionAttributeValues={
                    ":reason": to_attribute(reason),
                    ":reportedAt": to_attribute(reported_at),
                    ":until": to_attribute(until),
                },
            )
        )

    def is_suppressed(self, address: str, now: int) -> bool:
        """`address` (a keyed pseudonym) gets no sign-in email at `now`. An eventually consistent
        read: a report recorded within the last second may be missed once."""
        return int(self.read(address).get("expiresAt", 0)) > now

    def read(self, address: str) -> dict[str, Any]:
        """The suppression of `address` (a keyed pseudonym) as stored, ended or not; {} when there is none."""
        return from_item(self._client.get_item(TableName=self._table, Key=suppression_key(address)).get("Item"))
