"""CreateAuthChallenge: offers the methods, then emails the link or the code."""

from keyless import events, triggers
from keyless.create import create_challenge
from keyless.observability import logger, metrics
from keyless.runtime import default_runtime
from keyless.tracing import tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@triggers.safe
def handler(event, context):
    request = events.parse(event, triggers.CREATE)
    return events.answer(event, create_challenge(request, default_runtime()))
