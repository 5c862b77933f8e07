"""PreSignUp: refuses addresses the sign-up rules do not accept; confirms the rest at once. No AWS calls."""

from keyless.core import events, triggers
from keyless.signup import rules
from keyless.core.observability import count, logger


@triggers.entry_point
def handler(event, context):
    request = events.parse(event, triggers.PRE_SIGN_UP)
    try:
        response = rules.decide(request, rules.default_rules())
    except rules.SignUpRefused as refused:
        count("SignUpRefused", reason=refused.reason)
        logger.info("sign-up refused", extra={"reason": refused.reason, "source": request.trigger_source})
        raise
    count("SignUpAccepted")
    return events.answer(event, response)
