"""PreSignUp: refuses addresses the sign-up rules do not accept; confirms the rest at once. No AWS calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.core import events, triggers
from keyless.signup.rules import pre_sign_up

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@triggers.entry_point
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return events.answer(event, pre_sign_up(events.parse(event, triggers.PRE_SIGN_UP)))
