"""ManagementApi: the management API's routes (passkeys), behind API Gateway's JWT authorizer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.account import api
from keyless.aws.runtime import default_runtime
from keyless.core.observability import logger, metrics, traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context
@traced
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.handle(event, default_runtime())
