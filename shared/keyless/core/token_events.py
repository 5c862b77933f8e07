"""Reading PreTokenGeneration's events: what every trigger event holds (events.parse), plus the groups,
scopes and version only this trigger is sent. Apart from events so that no other function defines
these records at its cold start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keyless.core.errors import MalformedEvent
from keyless.core.events import TriggerEvent, parse, require_mapping, string_field


@dataclass(frozen=True)
class GroupConfiguration:
    """PreTokenGeneration's request.groupConfiguration: what Cognito would put in the tokens."""

    groups: tuple[str, ...] = ()
    iam_roles: tuple[str, ...] = ()
    preferred_role: str | None = None


@dataclass(frozen=True)
class TokenGenerationEvent:
    trigger: TriggerEvent
    version: str  # the event's own "version": "1" for V1_0, "2" / "3" for V2_0 / V3_0
    group_configuration: GroupConfiguration
    scopes: tuple[str, ...] | None  # V2/V3 only; None when the request has none


def _string_list(value: Any, name: str, *, limit: int = 100) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > limit:
        raise MalformedEvent(f"{name} is not a list")
    return tuple(string_field(item, name) for item in value)


def parse_token_generation(event: Any, trigger_sources: tuple[str, ...]) -> TokenGenerationEvent:
    """A PreTokenGeneration event of any version: the common parts, plus groups, scopes and version."""
    trigger = parse(event, trigger_sources)
    request = event["request"]
    groups = require_mapping(request.get("groupConfiguration"), "groupConfiguration", optional=True)
    preferred = groups.get("preferredRole")
    scopes = request.get("scopes")
    return TokenGenerationEvent(
        trigger=trigger,
        version=string_field(event.get("version"), "version", optional=True, limit=8),
        group_configuration=GroupConfiguration(
            groups=_string_list(groups.get("groupsToOverride"), "groupsToOverride"),
            iam_roles=_string_list(groups.get("iamRolesToOverride"), "iamRolesToOverride"),
            preferred_role=None if preferred is None else string_field(preferred, "preferredRole"),
        ),
        scopes=None if scopes is None else _string_list(scopes, "scopes", limit=500),
    )
