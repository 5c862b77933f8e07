"""CreateAuthChallenge: offers the methods, then emails the link or the code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.aws.runtime import default_runtime
from keyless.core import events, triggers
from keyless.signin.create import create_challenge

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@triggers.traced_entry_point
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return events.answer(event, create_challenge(events.parse(event, triggers.CREATE), default_runtime()))
