"""PostConfirmation: provisions the confirmed user (default group, profile item), once per user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.aws.runtime import default_runtime
from keyless.core import events, triggers
from keyless.profiles.provisioning import on_confirmation

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@triggers.traced_entry_point
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return events.answer(event, on_confirmation(events.parse(event, triggers.POST_CONFIRMATION), default_runtime().provisioner))
