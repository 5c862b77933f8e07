"""Attaching Keyless to a user pool it did not create: the CloudFormation custom resource.

Cognito's UpdateUserPool resets every setting it is not given. So attaching reads the pool
(DescribeUserPool), changes only Keyless's six trigger slots in its LambdaConfig, and writes every
other setting back exactly as read: the DescribeUserPool fields UpdateUserPool accepts (CARRIED,
checked against botocore's cognito-idp model by the tests), plus the pool's name.

- Create and Update attach (again). A slot another function holds is refused, with the slots named,
  unless AllowReplaceTriggers is true.
- What the six slots held before is kept in the Keyless table (pk ATTACHMENT#<pool id>, sk TRIGGERS),
  written before the pool is changed; this module is the only code that reads or writes that item.
- Delete puts those triggers back, in the slots that still hold Keyless's functions, and leaves a slot
  alone that someone has changed since. A slot is never left pointing at a deleted Keyless function.
- Every request gets an answer (PUT to the presigned ResponseURL), errors and near-timeouts included,
  so a stack never waits an hour for a custom resource.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from keyless.core.aws_errors import error_code, failure_details
from keyless.core.observability import logger
from keyless.core.settings.attach import AttachSettings
from keyless.store.attachments import AttachmentStore

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

SLOTS = (
    "PreSignUp",
    "PostConfirmation",
    "PreTokenGeneration",
    "DefineAuthChallenge",
    "CreateAuthChallenge",
    "VerifyAuthChallengeResponse",
)
TOKEN_SLOT = "PreTokenGeneration"
TOKEN_CONFIG = "PreTokenGenerationConfig"  # {LambdaArn, LambdaVersion}; Cognito keeps TOKEN_SLOT equal to its ARN
TOKEN_VERSIONS = ("V1_0", "V2_0")

# DescribeUserPool's UserPool fields that UpdateUserPool accepts under the same name and shape.
# (botocore cognito-idp model; tests/test_attach.py fails when a botocore upgrade changes the set.)
CARRIED = (
    "Policies",
    "DeletionProtection",
    "AutoVerifiedAttributes",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "SmsAuthenticationMessage",
    "UserAttributeUpdateSettings",
    "MfaConfiguration",
    "DeviceConfiguration",
    "EmailConfiguration",
    "SmsConfiguration",
    "UserPoolTags",
    "AdminCreateUserConfig",
    "UserPoolAddOns",
    "DcrConfiguration",
    "AccountRecoverySetting",
    "UserPoolTier",
    "KeyConfiguration",
    "IssuerConfiguration",
    "AcrConfiguration",
)
RENAMED = {"Name": "PoolName"}  # DescribeUserPool field -> UpdateUserPool parameter

PHYSICAL_PREFIX = "keyless-triggers:"
NO_POOL = PHYSICAL_PREFIX + "none"  # a Create refused before a pool was known: its Delete does nothing
_POOL_ID = re.compile(r"^[\w-]+_[0-9a-zA-Z]+$")
MAX_REASON = 1500  # the whole response must stay under 4 KB


class AttachError(Exception):
    """A failure whose message is meant for the operator, in the stack's events."""


class SlotsTaken(AttachError):
    def __init__(self, held: Mapping[str, str]):
        slots = ", ".join(f"{slot} ({arn})" for slot, arn in held.items())
        super().__init__(
            f"Keyless will not replace triggers that other functions hold: {slots}. Remove them from the pool, "
            "or deploy with AllowReplaceTriggers=true (the stack puts them back when it is deleted)."
        )
        self.held = dict(held)


# --- the pool's LambdaConfig, slot by slot ------------------------------------------------------


def slot_arn(lambda_config: Mapping[str, Any], slot: str) -> str:
    if slot == TOKEN_SLOT:
        return (lambda_config.get(TOKEN_CONFIG) or {}).get("LambdaArn") or lambda_config.get(TOKEN_SLOT, "")
    return lambda_config.get(slot, "")


def slot_entries(lambda_config: Mapping[str, Any], slot: str) -> dict[str, Any]:
    """The LambdaConfig entries one slot consists of (the token slot has two)."""
    keys = (TOKEN_SLOT, TOKEN_CONFIG) if slot == TOKEN_SLOT else (slot,)
    return {key: copy.deepcopy(lambda_config[key]) for key in keys if key in lambda_config}


def _replace_slot(lambda_config: dict[str, Any], slot: str, entries: Mapping[str, Any]) -> None:
    for key in (TOKEN_SLOT, TOKEN_CONFIG) if slot == TOKEN_SLOT else (slot,):
        lambda_config.pop(key, None)
    lambda_config.update(copy.deepcopy(dict(entries)))


def keyless_entries(slot: str, arn: str, token_version: str) -> dict[str, Any]:
    if slot == TOKEN_SLOT:
        return {TOKEN_SLOT: arn, TOKEN_CONFIG: {"LambdaArn": arn, "LambdaVersion": token_version}}
    return {slot: arn}


def update_request(pool: Mapping[str, Any], lambda_config: Mapping[str, Any]) -> dict[str, Any]:
    """UpdateUserPool's parameters: the pool as described, with this LambdaConfig."""
    request: dict[str, Any] = {"UserPoolId": pool["Id"]}
    for name in CARRIED:
        if name in pool:
            request[name] = copy.deepcopy(pool[name])
    for described, parameter in RENAMED.items():
        if described in pool:
            request[parameter] = pool[described]
    request["LambdaConfig"] = copy.deepcopy(dict(lambda_config))
    admin = request.get("AdminCreateUserConfig") or {}
    if "UnusedAccountValidityDays" in admin:
        # DescribeUserPool still reports this deprecated field, but UpdateUserPool refuses it next to
        # PasswordPolicy.TemporaryPasswordValidityDays ("Please use TemporaryPasswordValidityDays ...").
        days = admin.pop("UnusedAccountValidityDays")
        password_policy = (request.get("Policies") or {}).get("PasswordPolicy")
        if password_policy is not None:
            password_policy.setdefault("TemporaryPasswordValidityDays", days)
    return request


def integrity_warnings(pool: Mapping[str, Any], clients: Sequence[Mapping[str, Any]], keyless_client_id: str = "") -> list[str]:
    """What in an attached pool's settings weakens sign-in, for the operator (README: "What to check
    on a pool you attach to"). Keyless binds each link and code to the address it was sent to
    whatever these say; they keep users' own attributes honest."""
    warnings = []
    update_settings = pool.get("UserAttributeUpdateSettings") or {}
    if "email" not in (update_settings.get("AttributesRequireVerificationBeforeUpdate") or []):
        warnings.append(
            "users can change their email without verifying it first: set UserAttributeUpdateSettings."
            "AttributesRequireVerificationBeforeUpdate to [email] (it needs email in AutoVerifiedAttributes)"
        )
    for client in clients:
        writable = client.get("WriteAttributes")
        if writable is None or "email_verified" in writable:
            warnings.append(
                f"app client {client.get('ClientId', '?')} lets users write email_verified (set WriteAttributes "
                "without it): a user could mark any address verified, and Keyless would never take that account back"
            )
        flows = client.get("ExplicitAuthFlows") or []
        if keyless_client_id and client.get("ClientId") != keyless_client_id and (not flows or "ALLOW_CUSTOM_AUTH" in flows):
            warnings.append(
                f"app client {client.get('ClientId', '?')} allows CUSTOM_AUTH (an empty ExplicitAuthFlows does): it can ask "
                "Keyless for sign-in emails, whose links then work only through it; leave CUSTOM_AUTH to the apps that use Keyless"
            )
    return warnings


# --- attaching and detaching --------------------------------------------------------------------


class TriggerAttachment:
    def __init__(self, cognito: CognitoIdentityProviderClient, store: AttachmentStore):
        self._cognito = cognito
        self._store = store

    def _describe(self, pool_id: str) -> Mapping[str, Any]:
        try:
            return self._cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise AttachError(f"User pool {pool_id} does not exist in this account and region.") from None
            raise

    def attach(
        self,
        pool_id: str,
        triggers: Mapping[str, str],
        token_version: str,
        allow_replace: bool,
        previously_ours: Mapping[str, str] | None = None,
        keyless_client_id: str = "",
    ) -> dict[str, str]:
        """Put Keyless's functions in the six slots. previously_ours: the ARNs of the last attach
        (an Update's old properties), so a renamed function does not count as someone else's."""
        pool = self._describe(pool_id)
        for warning in integrity_warnings(pool, self._app_clients(pool_id), keyless_client_id):
            logger.warning("attached pool setting weakens sign-in", extra={"user_pool_id": pool_id, "advice": warning})
        current = pool.get("LambdaConfig") or {}
        stored = self._store.read(pool_id) or {}
        previous: dict[str, dict[str, Any]] = {}
        held: dict[str, str] = {}
        for slot in SLOTS:
            arn = slot_arn(current, slot)
            ours = {triggers[slot], (previously_ours or {}).get(slot)} - {None, ""}
            if arn in ours:
                previous[slot] = stored.get(slot, {})  # attached already: what was there before us
            else:
                if arn and not allow_replace:
                    held[slot] = arn
                previous[slot] = slot_entries(current, slot)
        if held:
            raise SlotsTaken(held)
        self._store.save(pool_id, previous)  # first, so a Delete can always restore
        lambda_config = copy.deepcopy(dict(current))
        for slot in SLOTS:
            _replace_slot(lambda_config, slot, keyless_entries(slot, triggers[slot], token_version))
        self._cognito.update_user_pool(**update_request(pool, lambda_config))
        replaced = sorted(slot for slot in SLOTS if slot_arn(previous[slot], slot))
        logger.info("triggers attached", extra={"user_pool_id": pool_id, "replaced_slots": replaced})
        return {"UserPoolId": pool_id, "UserPoolArn": pool.get("Arn", "")}

    def _app_clients(self, pool_id: str) -> list[Mapping[str, Any]]:
        """The pool's app clients as described, for the warnings only: if they cannot be read, say so."""
        try:
            pages = self._cognito.get_paginator("list_user_pool_clients").paginate(
                UserPoolId=pool_id, PaginationConfig={"PageSize": 60}
            )
            ids = [c["ClientId"] for page in pages for c in page.get("UserPoolClients", [])]
            return [self._cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=i)["UserPoolClient"] for i in ids]
        except ClientError as exc:
            logger.warning("app clients not checked", extra={"user_pool_id": pool_id, "error_code": error_code(exc)})
            return []

    def detach(self, pool_id: str, ours: Mapping[str, str]) -> None:
        """Give the slots that still hold Keyless's functions back what they held before."""
        stored = self._store.read(pool_id) or {}
        try:
            pool = self._describe(pool_id)
        except AttachError:
            logger.info("user pool is gone; nothing to detach", extra={"user_pool_id": pool_id})
            self._store.delete(pool_id)
            return
        current = pool.get("LambdaConfig") or {}
        lambda_config = copy.deepcopy(dict(current))
        restored = []
        for slot in SLOTS:
            arn = slot_arn(current, slot)
            if arn and arn == ours.get(slot):
                _replace_slot(lambda_config, slot, stored.get(slot, {}))
                restored.append(slot)
        if restored:
            self._cognito.update_user_pool(**update_request(pool, lambda_config))
        self._store.delete(pool_id)
        logger.info("triggers detached", extra={"user_pool_id": pool_id, "restored_slots": restored})


# --- the custom resource request ----------------------------------------------------------------


@dataclass(frozen=True)
class ResourceRequest:
    request_type: str  # Create, Update, Delete
    pool_id: str
    triggers: dict[str, str]
    token_version: str
    allow_replace: bool
    physical_id: str  # the event's (Update, Delete); "" on Create
    old_triggers: dict[str, str] = field(default_factory=dict)
    app_client_id: str = ""  # the app client Keyless serves (for the operator's warnings only)


def physical_id(pool_id: str) -> str:
    return PHYSICAL_PREFIX + pool_id


def pool_of(physical: str) -> str | None:
    pool_id = physical[len(PHYSICAL_PREFIX) :] if physical.startswith(PHYSICAL_PREFIX) else ""
    return pool_id if _POOL_ID.match(pool_id) else None


def _triggers(properties: Mapping[str, Any]) -> dict[str, str]:
    raw = properties.get("Triggers")
    if not isinstance(raw, Mapping):
        raise AttachError("Triggers must map each of " + ", ".join(SLOTS) + " to a function ARN.")
    triggers = {}
    for slot in SLOTS:
        arn = raw.get(slot)
        if not isinstance(arn, str) or not arn.startswith("arn:") or not 20 <= len(arn) <= 2048:
            raise AttachError(f"Triggers.{slot} must be a Lambda function ARN.")
        triggers[slot] = arn
    return triggers


def parse_request(event: Mapping[str, Any]) -> ResourceRequest:
    request_type = event.get("RequestType")
    if request_type not in ("Create", "Update", "Delete"):
        raise AttachError("RequestType must be Create, Update or Delete.")
    properties = event.get("ResourceProperties") or {}
    pool_id = str(properties.get("UserPoolId", "")).strip()
    if not _POOL_ID.match(pool_id) or len(pool_id) > 55:
        raise AttachError("UserPoolId must be a user pool id such as us-east-1_AbCdEf123.")
    version = str(properties.get("PreTokenGenerationVersion", "V1_0"))
    if version not in TOKEN_VERSIONS:
        raise AttachError("PreTokenGenerationVersion must be V1_0 or V2_0.")
    allow = str(properties.get("AllowReplaceTriggers", "false")).strip().lower()
    if allow not in ("true", "false"):
        raise AttachError("AllowReplaceTriggers must be true or false.")
    old = event.get("OldResourceProperties") or {}
    return ResourceRequest(
        request_type=request_type,
        pool_id=pool_id,
        triggers=_triggers(properties),
        token_version=version,
        allow_replace=allow == "true",
        physical_id=str(event.get("PhysicalResourceId", "")),
        old_triggers=_triggers(old) if isinstance(old.get("Triggers"), Mapping) else {},
        app_client_id=str(properties.get("AppClientId", "")).strip()[:128],
    )


def handle(request: ResourceRequest, attachment: TriggerAttachment) -> tuple[str, dict[str, str]]:
    """Carry out one request; returns the physical resource id and the Data to answer with."""
    if request.request_type == "Delete":
        pool_id = pool_of(request.physical_id)
        if pool_id is not None:  # None: a Create that failed before it touched any pool
            attachment.detach(pool_id, request.triggers)
        return request.physical_id, {}
    # A new pool id gives a new physical id: CloudFormation then deletes the old one, which gives
    # the old pool its triggers back. The same pool keeps its physical id, so no Delete follows.
    data = attachment.attach(
        request.pool_id,
        request.triggers,
        request.token_version,
        request.allow_replace,
        request.old_triggers,
        request.app_client_id,
    )
    return physical_id(request.pool_id), data


# --- answering CloudFormation -------------------------------------------------------------------


def http_put(url: str, body: bytes, timeout: float = 10.0) -> None:
    """PUT the response to CloudFormation's presigned S3 URL (no Content-Type: it is not signed)."""
    if urlsplit(url).scheme != "https":
        raise ValueError("ResponseURL is not an https URL")
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))})
    # bandit B310 (urlopen of file:/ or custom schemes) does not apply: https only, checked above.
    with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec B310
        response.read()


Sender = Callable[[str, bytes], None]


class Responder:
    """Answers one custom resource request exactly once, with a few attempts at the PUT."""

    def __init__(self, event: Mapping[str, Any], send: Sender, attempts: int = 3, sleep: Callable[[float], None] = time.sleep):
        self._event = event
        self._send = send
        self._attempts = attempts
        self._sleep = sleep
        self._lock = threading.Lock()
        self.answered: dict[str, Any] | None = None

    def answer(self, status: str, physical: str, reason: str = "", data: Mapping[str, str] | None = None) -> bool:
        with self._lock:
            if self.answered is not None:
                return False
            body = {
                "Status": status,
                "Reason": (reason or status)[:MAX_REASON],
                "PhysicalResourceId": physical,
                "StackId": self._event.get("StackId", ""),
                "RequestId": self._event.get("RequestId", ""),
                "LogicalResourceId": self._event.get("LogicalResourceId", ""),
                "NoEcho": False,
                "Data": dict(data or {}),
            }
            self.answered = body
            payload = json.dumps(body).encode()
            for attempt in range(1, self._attempts + 1):
                try:
                    self._send(str(self._event.get("ResponseURL", "")), payload)
                    break
                except Exception as exc:
                    logger.error("could not answer CloudFormation", extra={"attempt": attempt, "error_type": type(exc).__name__})
                    if attempt < self._attempts:
                        self._sleep(attempt)
            logger.info("answered CloudFormation", extra={"status": status, "physical_id": physical})
            return True


def _default_physical(event: Mapping[str, Any]) -> str:
    """The physical id to answer with when the request did not complete. A failed Create still names
    its pool, so the Delete that rolls it back detaches whatever part of it did happen."""
    if event.get("PhysicalResourceId"):
        return str(event["PhysicalResourceId"])
    pool_id = str((event.get("ResourceProperties") or {}).get("UserPoolId", "")).strip()
    return physical_id(pool_id) if _POOL_ID.match(pool_id) and len(pool_id) <= 55 else NO_POOL


# Not a Cognito trigger: no 5 s limit, so patient timeouts; the function's own timeout is 60 s.
AWS_CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "total_max_attempts": 4})


def from_environment() -> TriggerAttachment:
    """The attachment the function's environment describes, with its own clients."""
    session = boto3.session.Session()
    store = AttachmentStore(session.client("dynamodb", config=AWS_CONFIG), AttachSettings.from_env().table_name)
    return TriggerAttachment(session.client("cognito-idp", config=AWS_CONFIG), store)


def run(
    event: Mapping[str, Any],
    context: Any,
    attachment: Callable[[], TriggerAttachment],
    send: Sender = http_put,
    margin_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Handle a custom resource event and always answer it; returns the answer sent."""
    responder = Responder(event, send, sleep=sleep)
    remaining_ms = getattr(context, "get_remaining_time_in_millis", lambda: 0)()
    watchdog = None
    if remaining_ms:
        # Lambda stops the function at its timeout without a word; answer just before that instead.
        reason = "Keyless's attach function ran out of time; see its logs."
        watchdog = threading.Timer(
            max(0.0, remaining_ms / 1000 - margin_seconds),
            lambda: responder.answer("FAILED", _default_physical(event), reason),
        )
        watchdog.daemon = True
        watchdog.start()
    logger.info(
        "custom resource request",
        extra={"request_type": event.get("RequestType"), "logical_id": event.get("LogicalResourceId")},
    )
    try:
        try:
            request = parse_request(event)
        except AttachError:
            if event.get("RequestType") != "Delete":
                raise
            # Properties this bad never attached anything; failing would wedge the stack's deletion.
            logger.warning("delete with unusable properties: nothing to detach")
            responder.answer("SUCCESS", _default_physical(event))
            return responder.answered or {}
        physical, data = handle(request, attachment())
        responder.answer("SUCCESS", physical, data=data)
    except AttachError as exc:
        logger.warning("custom resource request refused", extra={"reason": str(exc)})
        responder.answer("FAILED", _default_physical(event), str(exc))
    except Exception as exc:
        logger.error("custom resource request failed", extra=failure_details(exc))
        responder.answer("FAILED", _default_physical(event), f"{type(exc).__name__}: {exc}")
    finally:
        if watchdog is not None:
            watchdog.cancel()
    return responder.answered or {}
