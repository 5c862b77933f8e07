"""CreateAuthChallenge: offers the methods, then emails the link or the code."""

from keyless.core import events, triggers
from keyless.signin.create import create_challenge
from keyless.aws.runtime import default_runtime
from keyless.core.tracing import traced_entry_point


@traced_entry_point
def handler(event, context):
    request = events.parse(event, triggers.CREATE)
    return events.answer(event, create_challenge(request, default_runtime()))
