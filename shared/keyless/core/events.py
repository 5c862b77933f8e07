"""Reading Cognito trigger events defensively.

Every trigger turns the raw event into one of these frozen records before any logic runs (PreTokenGeneration
reads its own parts on top, in token_events); a missing key, a wrong type or a foreign triggerSource raises
MalformedEvent (a short, safe message) instead of a KeyError deep inside the logic. Pure Python: DefineAuthChallenge uses it, so no boto3 here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keyless.core.errors import MalformedEvent
from keyless.core.protocol import parse_challenge_metadata

MAX_STRING = 2048  # no legitimate field of ours comes near this
MAX_SESSION = 64
# Cognito subs are UUIDs (external users' too); anything else is refused, never used as a key.
_SUB = re.compile(r"^[A-Za-z0-9-]{1,128}$")
# Cognito's own pattern for a user pool id: <region>_<id>.
_USER_POOL_ID = re.compile(r"^[a-z0-9-]+_[0-9a-zA-Z]+$")


@dataclass(frozen=True)
class SessionEntry:
    challenge_name: str
    challenge_result: bool
    step: str | None  # None when challengeMetadata is not one of ours
    flow: str | None
    then: str = ""  # the method of the second step an email proof accepted in this round needs ("": none)


@dataclass(frozen=True)
class TriggerEvent:
    trigger_source: str
    user_pool_id: str
    user_name: str
    client_id: str
    user_attributes: Mapping[str, str]
    client_metadata: Mapping[str, str]
    user_not_found: bool = False
    session: tuple[SessionEntry, ...] = ()
    private_parameters: Mapping[str, str] = field(default_factory=dict)
    answer: str = ""
    answer_too_long: bool = False  # refused like any wrong answer, not as a malformed event

    @property
    def email(self) -> str:
        return self.user_attributes.get("email", "")

    @property
    def sub(self) -> str:
        """The user's immutable id; a known user without one is a malformed event."""
        sub = self.user_attributes.get("sub", "")
        if not _SUB.match(sub):
            raise MalformedEvent("userAttributes has no usable sub")
        return sub

    @property
    def email_verified(self) -> bool:
        return self.user_attributes.get("email_verified", "").lower() == "true"


def require_mapping(value: Any, name: str, *, optional: bool = False) -> Mapping[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedEvent(f"{name} is not an object")
    return value


def string_field(value: Any, name: str, *, optional: bool = False, limit: int = MAX_STRING) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise MalformedEvent(f"{name} is not a string")
    if len(value) > limit:
        raise MalformedEvent(f"{name} is too long")
    return value


def _string_map(value: Any, name: str) -> dict[str, str]:
    """Cognito sends string-to-string maps; null means empty. Oversized values are refused."""
    mapping = require_mapping(value, name, optional=True)
    if len(mapping) > 100:
        raise MalformedEvent(f"{name} has too many entries")
    return {string_field(k, name): string_field(v, name) for k, v in mapping.items()}


def _flag(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise MalformedEvent(f"{name} is not a boolean")


def _session(value: Any) -> tuple[SessionEntry, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_SESSION:
        raise MalformedEvent("session is not a list")
    entries = []
    for raw in value:
        raw = require_mapping(raw, "session entry")
        parsed = parse_challenge_metadata(raw.get("challengeMetadata"))
        entries.append(
            SessionEntry(
                challenge_name=string_field(raw.get("challengeName"), "challengeName"),
                challenge_result=_flag(raw.get("challengeResult"), "challengeResult"),
                step=parsed[0] if parsed else None,
                flow=parsed[1] if parsed else None,
                then=parsed[2] if parsed else "",
            )
        )
    return tuple(entries)


def _user_pool_id(value: Any) -> str:
    pool_id = string_field(value, "userPoolId", limit=55)
    if not _USER_POOL_ID.match(pool_id):
        raise MalformedEvent("userPoolId is not a user pool id")
    return pool_id


def parse(event: Any, trigger_sources: tuple[str, ...]) -> TriggerEvent:
    """Validate the parts of a trigger event every Keyless trigger reads."""
    event = require_mapping(event, "event")
    source = string_field(event.get("triggerSource"), "triggerSource", limit=64)
    if source not in trigger_sources:
        raise MalformedEvent("unexpected triggerSource")
    request = require_mapping(event.get("request"), "request")
    require_mapping(event.get("response"), "response", optional=True)
    answer = request.get("challengeAnswer")
    if answer is not None and not isinstance(answer, str):
        raise MalformedEvent("challengeAnswer is not a string")
    answer = answer or ""
    too_long = len(answer) > MAX_STRING
    return TriggerEvent(
        trigger_source=source,
        user_pool_id=_user_pool_id(event.get("userPoolId")),
        user_name=string_field(event.get("userName"), "userName", limit=256),
        client_id=string_field(
            require_mapping(event.get("callerContext"), "callerContext", optional=True).get("clientId"),
            "clientId",
            optional=True,
            limit=128,
        ),
        user_attributes=_string_map(request.get("userAttributes"), "userAttributes"),
        client_metadata=_string_map(request.get("clientMetadata"), "clientMetadata"),
        user_not_found=_flag(request.get("userNotFound"), "userNotFound"),
        session=_session(request.get("session")),
        private_parameters=_string_map(request.get("privateChallengeParameters"), "privateChallengeParameters"),
        answer="" if too_long else answer,
        answer_too_long=too_long,
    )


def answer(event: dict, response: dict) -> dict:
    """Cognito expects the whole event back with `response` filled in."""
    event["response"] = response
    return event
