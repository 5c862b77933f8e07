"""The user's profile item: the only code that reads or writes it in DynamoDB.

One item per user (pk PROFILE#<sub>, sk PROFILE), created once when the user is confirmed:
  sub, email, createdAt (epoch seconds)   from Cognito, at creation
  emailProvedAt (epoch seconds)           when the address was first proved (a link or code that
                                          reached it, or Cognito's own confirmation code); anything
                                          the user set before then was set by whoever registered
  the operator's defaults                 ProfileDefaults, e.g. {"tenant": ..., "roles": [...], "plan": ...}
Creating it is a single conditional PutItem (attribute_not_exists), so Cognito's retries and the
token-time self-heal can run it any number of times and only the first one writes. Changing a
profile afterwards (a plan upgrade, new roles) is the operator's business; the next token, a refresh
included, carries the change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from keyless.core import settings
from keyless.core.aws_errors import condition_failed
from keyless.aws.directory import UserDirectory
from keyless.core.events import TriggerEvent
from keyless.core.observability import count, logger
from keyless.store.sign_in import sign_in_key

SORT_KEY = "PROFILE"
OWN_FIELDS = ("sub", "email", "createdAt", "emailProvedAt")  # set from Cognito, never from the defaults
KEY_FIELDS = ("pk", "sk")
_GROUP = re.compile(r"^\S{1,128}$")  # Cognito: letters, marks, symbols, numbers, punctuation

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _key(sub: str) -> dict:
    return {"pk": {"S": f"PROFILE#{sub}"}, "sk": {"S": SORT_KEY}}


def _plain(value: Any) -> Any:
    """DynamoDB's numbers (Decimal) back to the int or float a JSON claim carries."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(attr)) for name, attr in item.items() if name not in KEY_FIELDS}


def _to_item(profile: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in profile.items()}


@dataclass(frozen=True)
class ProfileSettings:
    table_name: str
    defaults: Mapping[str, Any]
    default_group: str  # "" = none

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ProfileSettings:
        # Decimal, because DynamoDB refuses floats; 0.5 stays exactly 0.5.
        defaults = settings.json_setting(env, "PROFILE_DEFAULTS", {}, dict, parse_float=Decimal)
        clash = sorted(set(defaults) & {*OWN_FIELDS, *KEY_FIELDS})
        if clash:
            raise settings.ConfigurationError(f"PROFILE_DEFAULTS may not set {', '.join(clash)}")
        try:
            _to_item(defaults)
        except (TypeError, ValueError) as exc:
            raise settings.ConfigurationError("PROFILE_DEFAULTS has a value DynamoDB cannot store") from exc
        group = env.get("DEFAULT_GROUP", "").strip()
        if group and not _GROUP.match(group):
            raise settings.ConfigurationError("DEFAULT_GROUP is not a valid group name")
        return cls(table_name=settings.required(env, "TABLE_NAME"), defaults=defaults, default_group=group)


def new_profile(sub: str, email: str, now: int, defaults: Mapping[str, Any], email_proved: bool = False) -> dict[str, Any]:
    profile = {**defaults, "sub": sub, "email": email.strip(), "createdAt": now}
    if email_proved:
        profile["emailProvedAt"] = now
    return profile


class ProfileStore:
    def __init__(self, client, table_name: str):
        self._client = client
        self._table = table_name

    def read(self, sub: str) -> dict[str, Any] | None:
        """The profile, or None when there is none. A DynamoDB error propagates: no guessing."""
        response = self._client.get_item(TableName=self._table, Key=_key(sub), ConsistentRead=True)
        item = response.get("Item")
        return _from_item(item) if item else None

    def read_for_tokens(self, sub: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The profile (None when there is none) and the user's sign-in state, in one consistent read."""
        keys = [_key(sub), sign_in_key(sub)]
        response = self._client.batch_get_item(RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}})
        if response.get("UnprocessedKeys"):
            raise RuntimeError("profile read was throttled")  # fails the token generation: no guessing
        profile, sign_in = None, {}
        for item in response.get("Responses", {}).get(self._table, []):
            if item["pk"]["S"].startswith("PROFILE#"):
                profile = _from_item(item)
            else:
                sign_in = _from_item(item)
        return profile, sign_in

    def record_email_proved(self, sub: str, now: int) -> bool:
        """Set emailProvedAt unless it is set; False when the user has no profile yet (provisioning
        then sets it from email_verified)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(sub),
                UpdateExpression="SET #proved = if_not_exists(#proved, :now)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#proved": "emailProvedAt"},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            return False
        return True

    def create(self, profile: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """Write the profile unless one exists. Returns the stored profile and whether this call wrote it."""
        item = {**_key(profile["sub"]), **_to_item(profile)}
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
            return _from_item(exc.response.get("Item") or item), False
        return dict(profile), True


@dataclass(frozen=True)
class Provisioned:
    profile: dict[str, Any]
    created: bool


class Provisioner:
    """Provisioning a confirmed user: the default group (if any), then the profile. PostConfirmation
    and PreTokenGeneration's self-heal both come here, so a user gets the same whichever ran."""

    def __init__(
        self,
        store: ProfileStore,
        profile_settings: ProfileSettings,
        directory: Callable[[], UserDirectory],
        clock: Callable[[], int],
    ):
        """`directory` is called only when a default group is configured: a pool without one never
        pays for creating a Cognito client."""
        self._store = store
        self._settings = profile_settings
        self._directory = directory
        self._clock = clock

    def provision(self, event: TriggerEvent) -> Provisioned:
        sub = event.sub
        group = self._settings.default_group
        if group:
            # Before the profile: if this fails, no profile exists and the next attempt (a retry, or
            # the first token generation) does both again. Adding a member twice is not an error.
            self._directory().add_to_group(event.user_pool_id, event.user_name, group)
        profile, created = self._store.create(
            new_profile(sub, event.email, self._clock(), self._settings.defaults, email_proved=event.email_verified)
        )
        user = sub
        if created:
            count("ProfilesCreated")
            logger.info("profile created", extra={"user": user, "group": group or None})
        else:
            logger.info("profile already exists", extra={"user": user})
        return Provisioned(profile, created)


FORGOT_PASSWORD = "PostConfirmation_ConfirmForgotPassword"


def on_confirmation(event: TriggerEvent, provisioner: Provisioner) -> None:
    """PostConfirmation: provision a newly confirmed user; a password reset provisions nothing.

    A failure is logged and swallowed: raising would fail the user's sign-up call after Cognito had
    already confirmed them, and their first token generation provisions them through the same code.
    """
    if event.trigger_source == FORGOT_PASSWORD:
        return
    event.sub  # a malformed event is refused, not deferred
    try:
        provisioner.provision(event)
    except Exception as exc:  # noqa: BLE001 - deferred to the token-time self-heal, see above
        count("ProvisioningDeferred")
        logger.error(
            "provisioning failed; deferred to the first token generation",
            extra={"user": event.user_attributes.get("sub", ""), "error_type": type(exc).__name__},
        )
