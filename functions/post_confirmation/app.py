"""PostConfirmation: provisions the confirmed user (default group, profile item), once per user."""

from keyless import events, profiles, triggers
from keyless.observability import logger, metrics
from keyless.runtime import default_runtime
from keyless.tracing import tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@triggers.safe
def handler(event, context):
    request = events.parse(event, triggers.POST_CONFIRMATION)
    profiles.on_confirmation(request, default_runtime().provisioner)
    return events.answer(event, {})
