"""AttachTriggers: the CloudFormation custom resource that puts Keyless's six triggers in an existing
user pool (and gives the pool its previous triggers back when the stack is deleted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.attach import pool
from keyless.core.observability import logger, traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


# Not a Cognito trigger: pool.run is its own error boundary (it always answers CloudFormation).
@logger.inject_lambda_context
@traced
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    pool.run(event, context, pool.from_environment)
