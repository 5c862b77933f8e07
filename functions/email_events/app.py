"""EmailEvents: SES's bounce and complaint events (through SNS) stop sign-in emails to those
addresses for a while."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.aws.runtime import default_runtime
from keyless.core.triggers import traced_entry_point

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@traced_entry_point
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return default_runtime().email_events.record(event)
