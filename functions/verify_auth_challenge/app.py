"""VerifyAuthChallengeResponse: checks a link or a code."""

from keyless import events, triggers
from keyless.observability import count, logger, metrics
from keyless.runtime import default_runtime
from keyless.tracing import tracer
from keyless.verify import verify_answer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@triggers.safe
def handler(event, context):
    request = events.parse(event, triggers.VERIFY)
    verdict = verify_answer(request, default_runtime())
    if not verdict.correct and verdict.reason != "request":
        count("AnswerRejected", method=verdict.method, reason=verdict.reason)
        logger.info("answer rejected", extra={"method": verdict.method, "reason": verdict.reason})
    return events.answer(event, {"answerCorrect": verdict.correct})
