"""A user's authenticator app in DynamoDB: the only code that reads or writes it.

USER#<sub> / TOTP, one per user:
  status          pending (begun, not confirmed yet) | active
  keyId, nonce, sealed
                  the secret, sealed with AES-GCM under the authenticator key ring's key `keyId`
                  (keyless.methods.authenticator_app): never in the clear. The nonce is new at each
                  sealing, so it also names this enrolment (a write conditional on it acts on exactly
                  the secret that was read)
  createdAt, confirmedAt
  lastUsedStep    the newest 30-second time step whose code was accepted: a code is accepted once
                  (a write conditional on lastUsedStep < its step), and none older than it

Every change that must happen once is one conditional write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.core.aws_errors import written
from keyless.store.codec import expression_names, from_item, to_attribute, to_item
from keyless.store.keys import authenticator_app_key, sign_in_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING, ACTIVE = "pending", "active"
SEALED_FIELDS = ("keyId", "nonce", "sealed")


class AuthenticatorAppStore:
    def __init__(self, client: DynamoDBClient, table_name: str):
        self._client = client
        self._table = table_name

    def read(self, user: str) -> dict[str, Any]:
        response = self._client.get_item(TableName=self._table, Key=authenticator_app_key(user), ConsistentRead=True)
        return from_item(response.get("Item"))

    def read_with_sign_in(self, user: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The authenticator app ({} when none) and the user's sign-in state (the wrong-code budget),
        in one consistent read."""
        keys = [authenticator_app_key(user), sign_in_key(user)]
        response = self._client.batch_get_item(RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}})
        if response.get("UnprocessedKeys"):
            raise RuntimeError("authenticator read was throttled")  # the answer fails: no guessing
        app: dict[str, Any] = {}
        sign_in: dict[str, Any] = {}
        for item in response.get("Responses", {}).get(self._table, []):
            if item["sk"] == authenticator_app_key(user)["sk"]:
                app = from_item(item)
            else:
                sign_in = from_item(item)
        return app, sign_in

    def begin(self, user: str, sealed: dict[str, str], now: int) -> bool:
        """A new pending secret, replacing a pending one; False (nothing written) while one is active."""
        return written(
            lambda: self._client.put_item(
                TableName=self._table,
                Item={**authenticator_app_key(user), **to_item({"status": PENDING, **sealed, "createdAt": now})},
                ConditionExpression="attribute_not_exists(pk) OR #status = :pending",
                ExpressionAttributeNames=expression_names("status"),
                ExpressionAttributeValues={":pending": to_attribute(PENDING)},
            )
        )

    def activate(self, user: str, nonce: str, step: int, now: int) -> bool:
        """The pending secret that was read (its nonce) becomes active, its first code's step used."""
        return self._update(
            user,
            "SET #status = :active, #confirmedAt = :now, #lastUsedStep = :step",
            "#status = :pending AND #nonce = :nonce",
            {":active": ACTIVE, ":pending": PENDING, ":nonce": nonce, ":now": now, ":step": step},
            ("status", "confirmedAt", "lastUsedStep", "nonce"),
        )

    def spend_step(self, user: str, nonce: str, step: int) -> bool:
        """Accept a code of this time step, once: only for the active secret that was read, and only
        when no code of this step or a later one was accepted before."""
        return self._update(
            user,
            "SET #lastUsedStep = :step",
            "#status = :active AND #nonce = :nonce AND (attribute_not_exists(#lastUsedStep) OR #lastUsedStep < :step)",
            {":active": ACTIVE, ":nonce": nonce, ":step": step},
            ("status", "nonce", "lastUsedStep"),
        )

    def reseal(self, user: str, old_nonce: str, sealed: dict[str, str]) -> bool:
        """The same secret, sealed under another key, if it is still the one that was read."""
        return self._update(
            user,
            "SET " + ", ".join(f"#{name} = :{name}" for name in SEALED_FIELDS),
            "#nonce = :old",
            {":old": old_nonce, **{f":{name}": sealed[name] for name in SEALED_FIELDS}},
            SEALED_FIELDS,
        )

    def remove(self, user: str) -> dict[str, Any]:
        """The user's authenticator app goes, whatever its state; the item as it was ({} when none)."""
        response = self._client.delete_item(TableName=self._table, Key=authenticator_app_key(user), ReturnValues="ALL_OLD")
        return from_item(response.get("Attributes"))

    def _update(self, user: str, update: str, condition: str, values: dict[str, Any], names: tuple[str, ...]) -> bool:
        return written(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=authenticator_app_key(user),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=expression_names(*dict.fromkeys(names)),
                ExpressionAttributeValues={name: to_attribute(value) for name, value in values.items()},
            )
        )
