"""Sign-in state in DynamoDB: the only code that reads or writes it.

Two kinds of item, both keyed by pseudonyms that hold no address:

USER#<sub> / SIGNIN (an unknown user: USER#unknown-<keyed name>), one per user:
  sentAt, sendId            when the last email was reserved, and by which sign-in flow
  method, sentTo, keyId     what was sent, to which masked address, under which signing key (its key_id)
  recipient                 keyed hash of the address the email went to (pseudonyms.recipient)
  linkHash, linkExpiresAt, linkUsedAt, linkUsedBy
  codeHash, codeFlow, codeExpiresAt, codeUsedAt, codeUsedBy
  codeWrongs                wrong answers to the current code (the user's own typos, if it is proved)
  wrongCodes, wrongSeq      times of the latest wrong codes (at most the budget's limit), and a version
  wrongKey                  the pseudonym key the wrong codes were counted under: a signing key rotation
                            keeps the count; a new pseudonym key starts a new one for everyone alike
                            (unknown users' items are keyed under it)
  stepWrongCodes, stepWrongKey  the same for the second step's codes, a budget of their own (wrongSeq
                            versions both lists)
  provenMethod, provenAt    the last proof accepted (the sign_in_method claim comes from here); a
                            second step moves provenAt on, when its code is accepted
  provenFlow, provenFactors the sign-in flow of that proof, and the methods accepted in that sign-in,
                            first factor first (the sign_in_factors claim)
  reservedAt                the last email to this user, when their address is its mailbox's own
                            (each such user keeps one email a window, whatever others spent)
  expiresAt                 DynamoDB TTL
  revokedAt                 when the user's tokens so far stopped counting for the management API: an
                            operator's sign-out or passkey removal (keyless_admin), an account's claim
                            (the first proof of its address); PreTokenGeneration puts it in later tokens
                            (after_revocation)
MAILBOX#<keyed mailbox> / SENDS, one per mailbox (every user whose address lands in it):
  sends                     times of the latest emails (at most the burst), oldest first
  lastSentAt, sendId, expiresAt

Every change that must happen once is one conditional write. Where the new value depends on the old
(the lists), the write is conditional on the version it was computed from, and retried a few times.
What a reservation wrote is given back field by field, so nothing written meanwhile is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from keyless.core.aws_errors import condition_failed
from keyless.core.budget import Budget
from keyless.store.codec import expression_names, from_item, refused_item, to_attribute
from keyless.store.keys import mailbox_key, sign_in_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_VERSION_RETRIES = 4
MAILBOX_FIELDS = ("sends", "lastSentAt", "sendId", "expiresAt")
LINK_USED = ("linkUsedAt", "linkUsedBy")
CODE_USED = ("codeUsedAt", "codeUsedBy")


# What every accepted proof records (the first factor of a sign-in): the method, when, in which flow.
PROOF_FIELDS = ("provenMethod", "provenAt", "provenFlow", "provenFactors")
PROOF_UPDATE = "#provenMethod = :method, #provenAt = :now, #provenFlow = :flow, #provenFactors = :factors"


def _proof_values(method: str, flow: str, now: int) -> dict[str, Any]:
    return {
        ":method": to_attribute(method),
        ":now": to_attribute(now),
        ":flow": to_attribute(flow),
        ":factors": to_attribute([method]),
    }


@dataclass(frozen=True)
class WrongCodes:
    """Where one wrong-code budget is kept on the sign-in item: the times of its latest wrong codes, and
    the pseudonym key (its key_id) they were counted under."""

    times: str
    key: str


# Every code's but the second step's: email codes, an authenticator app's as a sign-in method and at
# its setup, unknown users' alike. Anyone who knows an address can spend it (links still work).
SHARED_CODES = WrongCodes("wrongCodes", "wrongKey")
# The second step's own: only a session whose email proof was accepted reaches that round, so nobody
# without the inbox can spend it, and nothing spent elsewhere refuses the owner's right code there.
SECOND_STEP_CODES = WrongCodes("stepWrongCodes", "stepWrongKey")
WRONG_CODE_BUDGETS = (SHARED_CODES, SECOND_STEP_CODES)


def wrong_codes_counted(item: dict[str, Any], count_key: str, where: WrongCodes = SHARED_CODES) -> list[int]:
    """The wrong codes that count now: those counted under the current pseudonym key (its key_id)."""
    return list(item.get(where.times, [])) if item.get(where.key) == count_key else []


def _wrong_codes_condition(budget: Budget, where: WrongCodes = SHARED_CODES) -> str:
    """DynamoDB condition: one more code may be tried (see Budget.condition), counting only the wrong
    codes counted under the current pseudonym key (:countKey)."""
    return f"(attribute_not_exists(#{where.key}) OR #{where.key} <> :countKey OR {budget.condition('#' + where.times)})"


@dataclass(frozen=True)
class _WrongCodes:
    """A new wrong-code list, and what happens to the current code's typo count."""

    times: list[int]
    typo_of: str = ""  # one more typo of this sign-in's code, if it is still the current code
    forgive: bool = False  # the current code's typos no longer count


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
    """What a conditional accept did: `accepted`, and the item as it was before (to tell why not, or
    what the accepted proof leaves to tidy)."""

    accepted: bool
    item: dict[str, Any]


class SignInStore:
    def __init__(self, client: DynamoDBClient, table_name: str):
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
        count_key: str = "",
    ):
        """Atomically claim this user's one email per cooldown, writing the new link or code with it.
        With `codes_budget`, the claim also fails while the user's wrong codes (counted under
        `count_key`, the pseudonym key's id) are over the budget."""
        names = dict(fields, sentAt=now, sendId=send_id)
        update = "SET " + ", ".join(f"#{name} = :{name}" for name in names)
        if removed:
            update += " REMOVE " + ", ".join(f"#{name}" for name in removed)
        condition = "(attribute_not_exists(#sentAt) OR #sentAt <= :cutoff)"
        values = {**{f":{name}": to_attribute(value) for name, value in names.items()}, ":cutoff": to_attribute(now - cooldown)}
        budget_names: tuple[str, ...] = ()
        if codes_budget is not None:
            if not count_key:
                raise ValueError("a wrong-code budget needs the key its count is kept under")
            condition += " AND " + _wrong_codes_condition(codes_budget)
            values.update({**codes_budget.values(now), ":countKey": to_attribute(count_key)})
            budget_names = ("wrongCodes", "wrongKey")
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=sign_in_key(user),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=expression_names(*dict.fromkeys([*names, *removed, *budget_names])),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            item = refused_item(exc)
            if item.get("sendId") == send_id:
                return AlreadyReserved(item)
            sent_at = int(item.get("sentAt", 0))
            if sent_at > now - cooldown:
                return TooSoon(max(1, sent_at + cooldown - now))
            return CodesLocked()
        return Reserved(from_item(response.get("Attributes")))

    def release_send(self, user: str, send_id: str, previous: dict[str, Any], touched: tuple[str, ...]) -> None:
        """Undo a reservation whose email could not be sent: the user may ask again at once, and the
        link or code they had before works again. Only the reservation's owner can undo it, and only
        the fields it wrote go back (a wrong code counted meanwhile stays counted)."""
        self._restore(sign_in_key(user), send_id, previous, touched)

    def reserve_mailbox(self, mailbox: str, send_id: str, now: int, spacing: int, budget: Budget, expires_at: int):
        """Claim one email to this mailbox: at least `spacing` seconds after the last one, and within
        the burst `budget`. One conditional write, or two when the oldest send must make room."""
        item: dict[str, Any] | None = None  # unknown until a write fails and returns it
        for _ in range(MAX_VERSION_RETRIES):
            try:
                if item is not None:
                    if item.get("sendId") == send_id:
                        return AlreadyReserved(item)
                    last = int(item.get("lastSentAt", 0))
                    wait = max(last + spacing - now, budget.retry_after(list(item.get("sends", [])), now))
                    if wait > 0:
                        return TooSoon(wait)
                if item is None or len(item.get("sends", [])) < budget.limit:
                    response = self._append_send(mailbox, send_id, now, spacing, budget, expires_at)
                else:
                    response = self._replace_sends(mailbox, send_id, now, budget.with_event(item["sends"], now), item, expires_at)
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                item = refused_item(exc)
                continue
            return Reserved(from_item(response.get("Attributes")))
        return TooSoon(1)  # others are sending to this mailbox right now

    def _append_send(
        self, mailbox: str, send_id: str, now: int, spacing: int, budget: Budget, expires_at: int
    ) -> Mapping[str, Any]:
        return self._client.update_item(
            TableName=self._table,
            Key=mailbox_key(mailbox),
            UpdateExpression="SET #sends = list_append(if_not_exists(#sends, :none), :now), #lastSentAt = :at, "
            "#sendId = :sendId, #expiresAt = :expiresAt",
            ConditionExpression="(attribute_not_exists(#sends) OR size(#sends) < :limit) "
            "AND (attribute_not_exists(#lastSentAt) OR #lastSentAt <= :spacingStart)",
            ExpressionAttributeNames=expression_names(*MAILBOX_FIELDS),
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

    def _replace_sends(
        self, mailbox: str, send_id: str, now: int, sends: list[int], old: dict, expires_at: int
    ) -> Mapping[str, Any]:
        return self._client.update_item(
            TableName=self._table,
            Key=mailbox_key(mailbox),
            UpdateExpression="SET #sends = :sends, #lastSentAt = :at, #sendId = :sendId, #expiresAt = :expiresAt",
            ConditionExpression="#sendId = :previous",  # unchanged since `old` was read
            ExpressionAttributeNames=expression_names(*MAILBOX_FIELDS),
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
        self._restore(mailbox_key(mailbox), send_id, previous, MAILBOX_FIELDS[:3])

    def _restore(self, key: dict, send_id: str, previous: dict[str, Any], touched: tuple[str, ...]) -> None:
        """The `touched` fields as they were in `previous` (absent ones removed), if the item is still
        the reservation `send_id` made."""
        back = [name for name in touched if name in previous]
        gone = [name for name in touched if name not in previous]
        update = " ".join(
            part
            for part in (
                ("SET " + ", ".join(f"#{name} = :{name}" for name in back)) if back else "",
                ("REMOVE " + ", ".join(f"#{name}" for name in gone)) if gone else "",
            )
            if part
        )
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression="#sendId = :owner",
                ExpressionAttributeNames=expression_names(*dict.fromkeys([*touched, "sendId"])),
                ExpressionAttributeValues={
                    ":owner": {"S": send_id},
                    **{f":{name}": to_attribute(previous[name]) for name in back},
                },
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise

    # --- answering ------------------------------------------------------------------------------

    def consume_link(
        self,
        user: str,
        link_hash: str,
        recipient: str,
        flow: str,
        now: int,
        method: str,
        device: str = "",
        spend_code: bool = True,
    ) -> Outcome:
        """Mark the newest link used, once, if it went to `recipient` (and, given a device binding, was
        asked for by that device). A retried call from the same sign-in flow succeeds again; any other
        use of the link fails, and of the code in the same email too unless spend_code is False."""
        device_condition = " AND #linkDevice = :device" if device else ""
        return self._accept(
            user,
            "#linkHash = :hash AND #linkExpiresAt > :now AND #recipient = :recipient "
            "AND (attribute_not_exists(#linkUsedAt) OR #linkUsedBy = :flow)" + device_condition,
            used=LINK_USED,
            also_spent=CODE_USED if spend_code else None,
            names=("linkHash", "linkExpiresAt", "recipient", *(("linkDevice",) if device else ())),
            values={
                ":hash": to_attribute(link_hash),
                ":recipient": to_attribute(recipient),
                **({":device": to_attribute(device)} if device else {}),
            },
            method=method,
            flow=flow,
            now=now,
        )

    def accept_code(
        self, user: str, code_hash: str, recipient: str, flow: str, now: int, budget: Budget, count_key: str, method: str
    ) -> Outcome:
        """Mark the newest code used, once, if it is this flow's, went to `recipient`, and the user's
        wrong codes are within the budget (over it, even the right code is refused). The link of the
        same email is spent with it."""
        return self._accept(
            user,
            "#codeHash = :hash AND #codeFlow = :flow AND #codeExpiresAt > :now AND #recipient = :recipient "
            "AND (attribute_not_exists(#codeUsedAt) OR #codeUsedBy = :flow) AND " + _wrong_codes_condition(budget),
            used=CODE_USED,
            also_spent=LINK_USED,
            names=("codeHash", "codeFlow", "codeExpiresAt", "recipient", "wrongCodes", "wrongKey"),
            values={
                ":hash": to_attribute(code_hash),
                ":recipient": to_attribute(recipient),
                ":countKey": to_attribute(count_key),
                **budget.values(now),
            },
            method=method,
            flow=flow,
            now=now,
        )

    def _accept(
        self,
        user: str,
        condition: str,
        used: tuple[str, str],
        also_spent: tuple[str, str] | None,
        names: tuple[str, ...],
        values: dict,
        method: str,
        flow: str,
        now: int,
    ) -> Outcome:
        used_at, used_by = used
        other: tuple[str, ...] = ()
        spend_other = ""
        if also_spent is not None:
            other_at, other_by = other = also_spent
            spend_other = f", #{other_at} = if_not_exists(#{other_at}, :now), #{other_by} = if_not_exists(#{other_by}, :flow)"
        return self._write_proof(
            user,
            f"SET #{used_at} = :now, #{used_by} = :flow{spend_other}, " + PROOF_UPDATE,
            condition,
            (*names, used_at, used_by, *other, *PROOF_FIELDS),
            {**values, **_proof_values(method, flow, now)},
        )

    def accept_authenticator_proof(self, user: str, flow: str, now: int, budget: Budget, count_key: str, method: str) -> Outcome:
        """Record a code of the user's authenticator app as this sign-in's proof (its first factor),
        if the user's wrong codes are within the budget (over it, even the right code is refused).
        The code itself was spent on the authenticator's own item (keyless.store.authenticator_apps)."""
        return self._write_proof(
            user,
            "SET " + PROOF_UPDATE + ", #expiresAt = if_not_exists(#expiresAt, :expiresAt)",
            _wrong_codes_condition(budget),
            (*PROOF_FIELDS, "wrongCodes", "wrongKey", "expiresAt"),
            {
                **_proof_values(method, flow, now),
                ":countKey": to_attribute(count_key),
                ":expiresAt": to_attribute(now + budget.window_seconds),
                **budget.values(now),
            },
        )

    def accept_second_step(self, user: str, flow: str, now: int, budget: Budget, count_key: str, method: str) -> Outcome:
        """Add a second step's method to the factors of this sign-in's proof (an email proof of the
        same flow), within the second step's own wrong-code budget; the proof's time moves on to now
        (the tokens follow)."""
        return self._write_proof(
            user,
            "SET #provenAt = :now, #provenFactors = list_append(if_not_exists(#provenFactors, :none), :factors)",
            "#provenFlow = :flow AND " + _wrong_codes_condition(budget, SECOND_STEP_CODES),
            ("provenAt", "provenFactors", "provenFlow", SECOND_STEP_CODES.times, SECOND_STEP_CODES.key),
            {
                ":now": to_attribute(now),
                ":flow": to_attribute(flow),
                ":factors": to_attribute([method]),
                ":none": {"L": []},
                ":countKey": to_attribute(count_key),
                **budget.values(now),
            },
        )

    def _write_proof(self, user: str, update: str, condition: str, names: tuple[str, ...], values: dict) -> Outcome:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=sign_in_key(user),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=expression_names(*dict.fromkeys(names)),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            return Outcome(False, refused_item(exc))
        return Outcome(True, from_item(response.get("Attributes")))

    def release_proof(self, user: str, flow: str) -> None:
        """Undo an accepted link or code (and the other proof of its email) whose sign-in could not be
        completed, so it can be used again."""
        for used_at, used_by in (LINK_USED, CODE_USED):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=sign_in_key(user),
                    UpdateExpression=f"REMOVE #{used_at}, #{used_by}",
                    ConditionExpression=f"#{used_by} = :flow",
                    ExpressionAttributeNames=expression_names(used_at, used_by),
                    ExpressionAttributeValues={":flow": to_attribute(flow)},
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise

    def record_wrong_code(
        self,
        user: str,
        item: dict[str, Any],
        now: int,
        budget: Budget,
        count_key: str,
        expires_at: int,
        flow: str,
        where: WrongCodes = SHARED_CODES,
    ) -> None:
        """Count one wrong code against the user's budget (`where`), and as a typo of this sign-in's
        code (its owner may be forgiven it) only while that code is still the current one: a wrong
        answer counted after a newer email replaced the code is nobody's typo. `item` is the state the
        count is computed from; the write holds only if nobody changed it meanwhile, else it is
        redone on the new state."""

        def counted(state: dict[str, Any]) -> _WrongCodes:
            typo_of = flow if state.get("codeFlow") == flow else ""
            return _WrongCodes(budget.with_event(wrong_codes_counted(state, count_key, where), now), typo_of=typo_of)

        self._rewrite_wrong_codes(user, item, count_key, expires_at, counted, where)

    def forgive_own_typos(self, user: str, item: dict[str, Any], count_key: str) -> None:
        """After a right code: the wrong answers given to that same code (only its own session could
        answer it: the user's typos) no longer count. Wrong codes given to earlier codes still do.
        Once: the count of typos goes with them, so a retried call forgives nothing more."""

        def forgiven(state: dict[str, Any]) -> _WrongCodes | None:
            typos = int(state.get("codeWrongs", 0))
            if not typos:
                return None
            times = wrong_codes_counted(state, count_key)
            return _WrongCodes(times[: max(0, len(times) - typos)], forgive=True)

        self._rewrite_wrong_codes(user, item, count_key, int(item.get("expiresAt", 0)), forgiven)

    def _rewrite_wrong_codes(
        self,
        user: str,
        item: dict[str, Any],
        count_key: str,
        expires_at: int,
        change: Callable[[dict[str, Any]], _WrongCodes | None],
        where: WrongCodes = SHARED_CODES,
    ) -> None:
        """One versioned write of a wrong-code list (`where`), as `change(item)` computes it from the
        item it reads (None: nothing to write)."""
        for _ in range(MAX_VERSION_RETRIES):
            changed = change(item)
            if changed is None:
                return
            version = item.get("wrongSeq")
            update = f"SET #{where.times} = :times, #wrongSeq = :next, #{where.key} = :countKey, #expiresAt = :expiresAt"
            condition = "attribute_not_exists(#wrongSeq)" if version is None else "#wrongSeq = :version"
            values = {
                ":times": to_attribute(changed.times),
                ":next": to_attribute(int(version or 0) + 1),
                ":countKey": to_attribute(count_key),
                ":expiresAt": to_attribute(max(int(item.get("expiresAt", 0)), expires_at)),
                **({":version": to_attribute(int(version))} if version is not None else {}),
            }
            names = [where.times, "wrongSeq", where.key, "expiresAt"]
            if changed.typo_of:
                update += ", #codeWrongs = if_not_exists(#codeWrongs, :zero) + :one"
                condition += " AND #codeFlow = :flow"
                names += ["codeWrongs", "codeFlow"]
                values.update({":zero": to_attribute(0), ":one": to_attribute(1), ":flow": to_attribute(changed.typo_of)})
            elif changed.forgive:
                update += " REMOVE #codeWrongs"
                names.append("codeWrongs")
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=sign_in_key(user),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=expression_names(*names),
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                item = refused_item(exc)
        raise RuntimeError("wrong-code count kept changing under concurrent answers")

    def record_own_email(self, user: str, send_id: str, now: int) -> None:
        """The email kept for a mailbox's own address was taken now by this send (while it is still the
        user's newest send)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=sign_in_key(user),
                UpdateExpression="SET #reservedAt = :now",
                ConditionExpression="#sendId = :sendId",
                ExpressionAttributeNames=expression_names("reservedAt", "sendId"),
                ExpressionAttributeValues={":now": to_attribute(now), ":sendId": to_attribute(send_id)},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise

    # --- ending a user's sign-ins (an operator's, an account's claim) -------------------------------

    def refuse_earlier_tokens(self, user: str, now: int) -> None:
        """The management API refuses every token of a sign-in before `now` (keyless.account.caller):
        Cognito's sign-out ends refresh and access tokens, but an ID token is checked by its signature."""
        self._client.update_item(
            TableName=self._table,
            Key=sign_in_key(user),
            UpdateExpression="SET #revokedAt = :now",
            ExpressionAttributeNames=expression_names("revokedAt"),
            ExpressionAttributeValues={":now": to_attribute(now)},
        )

    # --- an operator's changes (keyless_admin) ----------------------------------------------------

    def revoke_proofs(self, user: str, proof_fields: tuple[str, ...], revocation_id: str, now: int) -> dict[str, Any]:
        """Every pending link and code of this user stops working, in one write: the stored proofs go,
        and the sendId moves on, so a send still in flight can no longer give an older proof back
        (release_send holds only for the reservation's owner). Nothing is written for a user without an
        item. Returns the item as it was ({} when there was none)."""
        return self._update_existing(
            user,
            "SET #sendId = :revoked, #revokedAt = :now REMOVE " + ", ".join(f"#{n}" for n in proof_fields),
            expression_names("sendId", "revokedAt", *proof_fields),
            {":revoked": to_attribute(revocation_id), ":now": to_attribute(now)},
        )

    def clear_wrong_codes(self, user: str) -> dict[str, Any]:
        """The user's wrong-code budgets (the second step's too) start again: no wrong code counts, nor
        the current code's typos. The version moves on, so a count computed from an old list meanwhile
        is redone on the cleared one (_rewrite_wrong_codes). Nothing is written for a user without an
        item. Returns the item as it was ({} when there was none)."""
        cleared = [where.times for where in WRONG_CODE_BUDGETS]
        return self._update_existing(
            user,
            "SET "
            + ", ".join(f"#{name} = :none" for name in cleared)
            + ", #wrongSeq = if_not_exists(#wrongSeq, :zero) + :one REMOVE #codeWrongs",
            expression_names(*cleared, "wrongSeq", "codeWrongs"),
            {":none": {"L": []}, ":zero": to_attribute(0), ":one": to_attribute(1)},
        )

    def _update_existing(self, user: str, update: str, names: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
        """One conditional write to the user's item, only if it exists: the item as it was ({} when there was none)."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=sign_in_key(user),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            return {}
        return from_item(response.get("Attributes"))

    # --- reading --------------------------------------------------------------------------------

    def read(self, user: str) -> dict[str, Any]:
        response = self._client.get_item(TableName=self._table, Key=sign_in_key(user), ConsistentRead=True)
        return from_item(response.get("Item"))

    def read_mailbox(self, mailbox: str) -> dict[str, Any]:
        response = self._client.get_item(TableName=self._table, Key=mailbox_key(mailbox), ConsistentRead=True)
        return from_item(response.get("Item"))
