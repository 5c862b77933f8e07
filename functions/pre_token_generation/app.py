"""PreTokenGeneration: the profile's claims (and scopes, groups) in the tokens, V1_0 or V2_0 events."""

from keyless.core import events, triggers
from keyless.profiles import claims
from keyless.aws.runtime import default_runtime
from keyless.core.tracing import traced_entry_point


@traced_entry_point
def handler(event, context):
    request = events.parse_token_generation(event, triggers.PRE_TOKEN_GENERATION)
    runtime = default_runtime()
    return events.answer(event, claims.respond(request, runtime.profiles, runtime.provisioner, runtime.claims_settings, runtime.now()))
