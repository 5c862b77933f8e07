"""The user's profile item (pk PROFILE#<sub>): the only code that reads or writes it.

Creating it is a single conditional PutItem (attribute_not_exists), so Cognito's retries and the
token-time self-heal can run it any number of times and only the first one writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from keyless.core.aws_errors import condition_failed, written
from keyless.store.codec import from_item, refused_item, to_item
from keyless.store.keys import profile_key, sign_in_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ProfileStore:
    def __init__(self, client: DynamoDBClient, table_name: str):
        self._client = client
        self._table = table_name

    def read(self, sub: str) -> dict[str, Any] | None:
        """The profile, or None when there is none. A DynamoDB error propagates: no guessing."""
        response = self._client.get_item(TableName=self._table, Key=profile_key(sub), ConsistentRead=True)
        item = response.get("Item")
        return from_item(item) if item else None

    def read_for_tokens(self, sub: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The profile (None when there is none) and the user's sign-in state, in one consistent read."""
        keys = [profile_key(sub), sign_in_key(sub)]
        response = self._client.batch_get_item(RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}})
        if response.get("UnprocessedKeys"):
            raise RuntimeError("profile read was throttled")  # fails the token generation: no guessing
        profile, sign_in = None, {}
        for item in response.get("Responses", {}).get(self._table, []):
            if item["pk"]["S"].startswith("PROFILE#"):
                profile = from_item(item)
            else:
                sign_in = from_item(item)
        return profile, sign_in

    def record_email_proved(self, sub: str, now: int) -> bool:
        """Set emailProvedAt unless it is set; False when the user has no profile yet (provisioning
        then sets it from email_verified)."""
        return written(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=profile_key(sub),
                UpdateExpression="SET #proved = if_not_exists(#proved, :now)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#proved": "emailProvedAt"},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        )

    def create(self, profile: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Write the profile unless one exists. Returns the stored profile and whether this call wrote it."""
        item = {**profile_key(profile["sub"]), **to_item(profile)}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            return refused_item(exc) or from_item(item), False
        return dict(profile), True
