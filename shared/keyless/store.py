"""Sign-in state in DynamoDB: the only code that reads or writes it.

Two kinds of item, both keyed by pseudonyms that hold no address:

USER#<sub> / SIGNIN (an unknown user: USER#unknown-<keyed name>), one per user:
  sentAt, sendId            when the last email was reserved, and by which sign-in flow
  method, sentTo            what was sent, to which masked address
  recipient                 keyed hash of the address the email went to (pseudonyms.recipient)
  linkHash, linkExpiresAt, linkUsedAt, linkUsedBy
  codeHash, codeFlow, codeExpiresAt, codeUsedAt, codeUsedBy
  wrongCodes, wrongSeq      times of the latest wrong codes (at most the budget's limit), and a version
  provenMethod, provenAt    the last proof accepted (the sign_in_method claim comes from here)
  expiresAt                 DynamoDB TTL
MAILBOX#<keyed mailbox> / SENDS, one per mailbox (every user whose address lands in it):
  sends                     times of the latest emails (at most the burst), oldest first
  lastSentAt, sendId, expiresAt

Every change that must happen once is one conditional write. Where the new value depends on the old
(the lists), the write is conditional on the version it was computed from, and retried a few times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from keyless.aws_errors import condition_failed
from keyless.budget import Budget

SIGN_IN_SORT_KEY = "SIGNIN"
MAILBOX_SORT_KEY = "SENDS"
MAX_VERSION_RETRIES = 4


def sign_in_key(user: str) -> dict:
    return {"pk": {"S": f"USER#{user}"}, "sk": {"S": SIGN_IN_SORT_KEY}}


def mailbox_key(mailbox: str) -> dict:
    return {"pk": {"S": f"MAILBOX#{mailbox}"}, "sk": {"S": MAILBOX_SORT_KEY}}


def to_attribute(value: Any) -> dict:
    if isinstance(value, bool):
        raise TypeError("booleans are not stored")
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attribute(v) for v in value]}
    return {"S": str(value)}


def _from_attribute(attribute: dict) -> Any:
    if "N" in attribute:
        return int(attribute["N"])
    if "L" in attribute:
        return [_from_attribute(v) for v in attribute["L"]]
    return attribute.get("S")


def from_item(item: dict | None) -> dict[str, Any]:
    return {name: _from_attribute(attribute) for name, attribute in (item or {}).items() if name not in ("pk", "sk")}


@dataclass(frozen=True)
class Reserved:
    """This call owns the send; `previous` is the item as it was, for the release."""

    previous: dict[str, Any]


@dataclass(frozen=True)
class AlreadyReserved:
    """A retry of the call that owns the send: answer from `item`, send nothing."""

    item: dict[str, Any]


@dataclass(frozen=True)
class TooSoon:
    retry_after_seconds: int


@dataclass(frozen=True)
class CodesLocked:
    """Too many wrong codes lately: no new code until the budget allows one."""


@dataclass(frozen=True)
class Outcome:
    """What a conditional accept did: `accepted`, or the item as it was (to tell why not)."""

    accepted: bool
    item: dict[str, Any]


def _names(*names: str) -> dict[str, str]:
    return {f"#{name}": name for name in names}


class SignInStore:
    def __init__(self, client, table_name: str):
        self._client = client
        self._table = table_name

    # --- sending --------------------------------------------------------------------------------

    def reserve_send(
        self,
        user: str,
        send_id: str,
        now: int,
        cooldown: int,
        fields: dict[str, Any],
        removed: tuple[str, ...] = (),
        codes_budget: Budget | None = None,
    ):
        """Atomically claim this user's one email per cooldown, writing the new link or code with it.
        With `codes_budget`, the claim also fails while the user's wrong codes are over the budget."""
        names = dict(fields, sentAt=now, sendId=send_id)
        update = "SET " + ", ".join(f"#{name} = :{name}" for name in names)
        if removed:
            update += " REMOVE " + ", ".join(f"#{name}" for name in removed)
        condition = "(attribute_not_exists(#sentAt) OR #sentAt <= :cutoff)"
        values = {**{f":{name}": to_attribute(value) for name, value in names.items()}, ":cutoff": to_attribute(now - cooldown)}
        if codes_budget is not None:
            condition += " AND " + codes_budget.condition("#wrongCodes")
            values.update(codes_budget.values(now))
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=sign_in_key(user),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=_names(*names, *removed, *(("wrongCodes",) if codes_budget else ())),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            item = from_item(exc.response.get("Item"))
            if item.get("sendId") == send_id:
                return AlreadyReserved(item)
            sent_at = int(item.get("sentAt", 0))
            if sent_at > now - cooldown:
                return TooSoon(max(1, sent_at + cooldown - now))
            return CodesLocked()
        return Reserved(from_item(response.get("Attributes")))

    def release_send(self, user: str, send_id: str, previous: dict[str, Any]) -> None:
        """Undo a reservation whose email could not be sent: the user may ask again at once, and the
        link or code they had before works again. Only the reservation's owner can undo it."""
        self._restore(sign_in_key(user), send_id, previous)

    def reserve_mailbox(self, mailbox: str, send_id: str, now: int, spacing: int, budget: Budget, expires_at: int):
        """Claim one email to this mailbox: at least `spacing` seconds after the last one, and within
        the burst `budget`. One conditional write, or two when the oldest send must make room."""
        item: dict[str, Any] | None = None  # unknown until a write fails and returns it
        for _ in range(MAX_VERSION_RETRIES):
            if item is not None:
                if item.get("sendId") == send_id:
                    return AlreadyReserved(item)
                last = int(item.get("lastSentAt", 0))
                wait = max(last + spacing - now, budget.retry_after(list(item.get("sends", [])), now))
                if wait > 0:
                    return TooSoon(max(1, wait))
            try:
                if item is None or len(item.get("sends", [])) < budget.limit:
                    response = self._append_send(mailbox, send_id, now, spacing, budget, expires_at)
                else:
                    response = self._replace_sends(mailbox, send_id, now, budget.with_event(item["sends"], now), item, expires_at)
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                item = from_item(exc.response.get("Item"))
                continue
            return Reserved(from_item(response.get("Attributes")))
        return TooSoon(1)  # others are sending to this mailbox right now

    def _append_send(self, mailbox: str, send_id: str, now: int, spacing: int, budget: Budget, expires_at: int) -> dict:
        return self._client.update_item(
            TableName=self._table,
            Key=mailbox_key(mailbox),
            UpdateExpression="SET #sends = list_append(if_not_exists(#sends, :none), :now), #lastSentAt = :at, "
            "#sendId = :sendId, #expiresAt = :expiresAt",
            ConditionExpression="(attribute_not_exists(#sends) OR size(#sends) < :limit) "
            "AND (attribute_not_exists(#lastSentAt) OR #lastSentAt <= :spacingStart)",
            ExpressionAttributeNames=_names("sends", "lastSentAt", "sendId", "expiresAt"),
            ExpressionAttributeValues={
                ":none": {"L": []},
                ":now": to_attribute([now]),
                ":at": to_attribute(now),
                ":sendId": to_attribute(send_id),
                ":expiresAt": to_attribute(expires_at),
                ":limit": to_attribute(budget.limit),
                ":spacingStart": to_attribute(now - spacing),
            },
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def _replace_sends(self, mailbox: str, send_id: str, now: int, sends: list[int], old: dict, expires_at: int) -> dict:
        return self._client.update_item(
            TableName=self._table,
            Key=mailbox_key(mailbox),
            UpdateExpression="SET #sends = :sends, #lastSentAt = :at, #sendId = :sendId, #expiresAt = :expiresAt",
            ConditionExpression="#sendId = :previous",  # unchanged since `old` was read
            ExpressionAttributeNames=_names("sends", "lastSentAt", "sendId", "expiresAt"),
            ExpressionAttributeValues={
                ":sends": to_attribute(sends),
                ":at": to_attribute(now),
                ":sendId": to_attribute(send_id),
                ":expiresAt": to_attribute(expires_at),
                ":previous": to_attribute(old.get("sendId", "")),
            },
            ReturnValues="ALL_OLD",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def release_mailbox(self, mailbox: str, send_id: str, previous: dict[str, Any]) -> None:
        """Give back a mailbox slot whose email could not be sent."""
        self._restore(mailbox_key(mailbox), send_id, previous)

    def _restore(self, key: dict, send_id: str, previous: dict[str, Any]) -> None:
        owned = {
            "ConditionExpression": "#sendId = :sendId",
            "ExpressionAttributeNames": {"#sendId": "sendId"},
            "ExpressionAttributeValues": {":sendId": {"S": send_id}},
        }
        try:
            if previous:
                item = {**key, **{name: to_attribute(value) for name, value in previous.items()}}
                self._client.put_item(TableName=self._table, Item=item, **owned)
            else:
                self._client.delete_item(TableName=self._table, Key=key, **owned)
        except ClientError as exc:
            if not condition_failed(exc):
                raise

    # --- answering ------------------------------------------------------------------------------

    def consume_link(self, user: str, link_hash: str, recipient: str, flow: str, now: int, method: str) -> Outcome:
        """Mark the newest link used, once, if it went to `recipient`. A retried call from the same
        sign-in flow succeeds again; any other use of the link fails."""
        return self._accept(
            user,
            "#linkHash = :hash AND #linkExpiresAt > :now AND #recipient = :recipient "
            "AND (attribute_not_exists(#linkUsedAt) OR #linkUsedBy = :flow)",
            used=("linkUsedAt", "linkUsedBy"),
            names=("linkHash", "linkExpiresAt", "recipient"),
            values={":hash": to_attribute(link_hash), ":recipient": to_attribute(recipient)},
            method=method,
            flow=flow,
            now=now,
        )

    def accept_code(self, user: str, code_hash: str, recipient: str, flow: str, now: int, budget: Budget, method: str) -> Outcome:
        """Mark the newest code used, once, if it is this flow's, went to `recipient`, and the user's
        wrong codes are within the budget (over it, even the right code is refused)."""
        return self._accept(
            user,
            "#codeHash = :hash AND #codeFlow = :flow AND #codeExpiresAt > :now AND #recipient = :recipient "
            "AND (attribute_not_exists(#codeUsedAt) OR #codeUsedBy = :flow) AND " + budget.condition("#wrongCodes"),
            used=("codeUsedAt", "codeUsedBy"),
            names=("codeHash", "codeFlow", "codeExpiresAt", "recipient"),
            values={":hash": to_attribute(code_hash), ":recipient": to_attribute(recipient), **budget.values(now)},
            method=method,
            flow=flow,
            now=now,
        )

    def _accept(
        self, user: str, condition: str, used: tuple[str, str], names: tuple[str, ...], values: dict, method: str, flow: str, now: int
    ) -> Outcome:
        used_at, used_by = used
        try:
            self._client.update_item(
                TableName=self._table,
                Key=sign_in_key(user),
                # A proof clears the wrong-code count: whoever holds the mailbox is not guessing.
                UpdateExpression=f"SET #{used_at} = :now, #{used_by} = :flow, #provenMethod = :method, #provenAt = :now "
                "REMOVE #wrongCodes, #wrongSeq",
                ConditionExpression=condition,
                ExpressionAttributeNames=_names(*names, used_at, used_by, "provenMethod", "provenAt", "wrongCodes", "wrongSeq"),
                ExpressionAttributeValues={
                    **values,
                    ":now": to_attribute(now),
                    ":flow": to_attribute(flow),
                    ":method": to_attribute(method),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            return Outcome(False, from_item(exc.response.get("Item")))
        return Outcome(True, {})

    def release_proof(self, user: str, flow: str, link: bool) -> None:
        """Undo an accepted link (or code) whose sign-in could not be completed, so it can be used again."""
        used_at, used_by = ("linkUsedAt", "linkUsedBy") if link else ("codeUsedAt", "codeUsedBy")
        try:
            self._client.update_item(
                TableName=self._table,
                Key=sign_in_key(user),
                UpdateExpression=f"REMOVE #{used_at}, #{used_by}",
                ConditionExpression=f"#{used_by} = :flow",
                ExpressionAttributeNames=_names(used_at, used_by),
                ExpressionAttributeValues={":flow": to_attribute(flow)},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise

    def record_wrong_code(self, user: str, item: dict[str, Any], now: int, budget: Budget, expires_at: int) -> None:
        """Count one wrong code against the user's budget. `item` is the state the count is computed
        from; the write holds only if nobody changed it meanwhile, else it is redone on the new state."""
        for _ in range(MAX_VERSION_RETRIES):
            version = item.get("wrongSeq")
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=sign_in_key(user),
                    UpdateExpression="SET #wrongCodes = :times, #wrongSeq = :next, #expiresAt = :expiresAt",
                    ConditionExpression="attribute_not_exists(#wrongSeq)" if version is None else "#wrongSeq = :version",
                    ExpressionAttributeNames=_names("wrongCodes", "wrongSeq", "expiresAt"),
                    ExpressionAttributeValues={
                        ":times": to_attribute(budget.with_event(list(item.get("wrongCodes", [])), now)),
                        ":next": to_attribute(int(version or 0) + 1),
                        ":expiresAt": to_attribute(max(int(item.get("expiresAt", 0)), expires_at)),
                        **({":version": to_attribute(int(version))} if version is not None else {}),
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                item = from_item(exc.response.get("Item"))
        raise RuntimeError("wrong-code count kept changing under concurrent answers")

    def read(self, user: str) -> dict[str, Any]:
        response = self._client.get_item(TableName=self._table, Key=sign_in_key(user), ConsistentRead=True)
        return from_item(response.get("Item"))
