"""DefineAuthChallenge: decides, from the rounds so far, what comes next. Pure logic, no AWS calls."""

from keyless.core import events, settings, triggers
from keyless.signin.define import decide
from keyless.core.observability import count


@triggers.entry_point
def handler(event, context):
    request = events.parse(event, triggers.DEFINE)
    decision = decide(request.session, request.client_metadata, settings.max_code_attempts())
    if decision.issue_tokens:
        count("SignInSucceeded", method=decision.method)
    elif decision.fail_authentication:
        count("SignInFailed", method=decision.method, reason=decision.reason)
    return events.answer(event, decision.as_response())
