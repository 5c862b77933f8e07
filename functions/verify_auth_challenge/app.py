"""VerifyAuthChallengeResponse: checks a link or a code."""

from keyless.core import events, triggers
from keyless.core.observability import count, logger
from keyless.aws.runtime import default_runtime
from keyless.core.tracing import traced_entry_point
from keyless.signin.verify import verify_answer


@traced_entry_point
def handler(event, context):
    request = events.parse(event, triggers.VERIFY)
    verdict = verify_answer(request, default_runtime())
    if not verdict.correct and verdict.reason != "request":
        count("AnswerRejected", method=verdict.method, reason=verdict.reason)
        logger.info("answer rejected", extra={"method": verdict.method, "reason": verdict.reason})
    return events.answer(event, {"answerCorrect": verdict.correct})
