"""VerifyAuthChallengeResponse: checks a link or a code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.aws.runtime import default_runtime
from keyless.core import events, triggers
from keyless.signin.verify import verify_auth_challenge

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@triggers.traced_entry_point
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return events.answer(event, verify_auth_challenge(events.parse(event, triggers.VERIFY), default_runtime()))
