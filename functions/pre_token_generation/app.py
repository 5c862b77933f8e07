"""PreTokenGeneration: the profile's claims (and scopes, groups) in the tokens, V1_0 or V2_0 events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.aws.runtime import default_runtime
from keyless.core import events, token_events, triggers
from keyless.profiles.claims import pre_token_generation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@triggers.traced_entry_point
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return events.answer(
        event, pre_token_generation(token_events.parse_token_generation(event, triggers.PRE_TOKEN_GENERATION), default_runtime())
    )
