"""CreateAuthChallenge: offers the methods, then emails the link or the code."""

from keyless import events, triggers
from keyless.create import create_challenge
from keyless.runtime import default_runtime
from keyless.tracing import traced_entry_point


@traced_entry_point
def handler(event, context):
    request = events.parse(event, triggers.CREATE)
    return events.answer(event, create_challenge(request, default_runtime()))
