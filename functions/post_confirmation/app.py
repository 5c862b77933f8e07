"""PostConfirmation: provisions the confirmed user (default group, profile item), once per user."""

from keyless.core import events, triggers
from keyless.profiles import provisioning
from keyless.aws.runtime import default_runtime
from keyless.core.tracing import traced_entry_point


@traced_entry_point
def handler(event, context):
    request = events.parse(event, triggers.POST_CONFIRMATION)
    provisioning.on_confirmation(request, default_runtime().provisioner)
    return events.answer(event, {})
