"""DefineAuthChallenge: decides, from the rounds so far, what comes next. Pure logic, no AWS calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.core import events, triggers
from keyless.signin.define import define_auth_challenge

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@triggers.entry_point
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return events.answer(event, define_auth_challenge(events.parse(event, triggers.DEFINE)))
