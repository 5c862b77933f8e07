"""The triggers an attached pool's six slots held before Keyless (pk ATTACHMENT#<pool id>): the only
code that reads or writes that item, written before the pool is changed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from keyless.store.keys import attachment_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class AttachmentStore:
    """The triggers a pool's six slots held before Keyless: {slot: LambdaConfig entries}."""

    def __init__(self, client: DynamoDBClient, table_name: str, clock: Callable[[], float] = time.time):
        self._client = client
        self._table = table_name
        self._clock = clock

    def read(self, pool_id: str) -> dict[str, dict[str, Any]] | None:
        item = self._client.get_item(TableName=self._table, Key=attachment_key(pool_id), ConsistentRead=True).get("Item")
        return json.loads(item["previous"]["S"]) if item else None

    def save(self, pool_id: str, previous: Mapping[str, Mapping[str, Any]]) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **attachment_key(pool_id),
                "previous": {"S": json.dumps(previous, sort_keys=True)},
                "savedAt": {"N": str(int(self._clock()))},
            },
        )

    def delete(self, pool_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=attachment_key(pool_id))
