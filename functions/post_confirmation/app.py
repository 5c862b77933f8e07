"""PostConfirmation: provisions the confirmed user (default group, profile item), once per user."""

from keyless import events, profiles, triggers
from keyless.runtime import default_runtime
from keyless.tracing import traced_entry_point


@traced_entry_point
def handler(event, context):
    request = events.parse(event, triggers.POST_CONFIRMATION)
    profiles.on_confirmation(request, default_runtime().provisioner)
    return events.answer(event, {})
