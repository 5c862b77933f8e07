"""The Tracer of the functions that call AWS; it patches botocore so each AWS call is a subsegment.
Imported only when tracing is on (keyless.core.observability.traced): importing it loads the X-Ray
SDK and patches botocore.

Traces must carry nothing secret or personal, and by default they would: Powertools records each
handler's whole return value (the event, so the address, the user's answer, the code's hash) and each
exception as metadata, and the X-Ray SDK records every exception's message on its subsegment,
botocore's ClientErrors included, whose AWS texts quote addresses ("... failed the check in region
US-EAST-1: alice@example.com"). So capture is off here (and in template.yaml's Globals), and the
emitter, the one place a segment leaves the process, keeps exception types and stacks but sends no
message and no metadata. What remains: names, times, ids, annotations (ColdStart, Service), the AWS
operation, region, request id and status, and what the SDK's parameter whitelist records: for
DynamoDB table names and capacity figures (never keys or items), nothing for SES, Secrets Manager
or Cognito (so no address, secret string or attribute).
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Tracer
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.emitters.udp_emitter import PROTOCOL_DELIMITER, PROTOCOL_HEADER, UDPEmitter

from keyless.core.observability import logger


class PrivateTracer(Tracer):
    """Powertools' Tracer with response and error capture off unless a caller asks for it."""

    def capture_lambda_handler(self, lambda_handler=None, capture_response=False, capture_error=False):
        return super().capture_lambda_handler(lambda_handler, capture_response=capture_response, capture_error=capture_error)

    def capture_method(self, method=None, capture_response=False, capture_error=False):
        return super().capture_method(method, capture_response=capture_response, capture_error=capture_error)


class ScrubbingEmitter(UDPEmitter):
    """The SDK's UDP emitter, minus exception messages and metadata (see the module's docstring)."""

    def send_entity(self, entity):
        try:
            document = json.dumps(_scrubbed(entity.to_dict()), default=str)
            self._send_data(f"{PROTOCOL_HEADER}{PROTOCOL_DELIMITER}{document}")
        except Exception as exc:  # as the SDK's emitter: a trace not sent never fails the function
            logger.warning("trace not sent", extra={"error_type": type(exc).__name__})


def _scrubbed(document: dict) -> dict:
    document.pop("metadata", None)
    cause = document.get("cause")
    if isinstance(cause, dict):  # else the id of a cause recorded on another subsegment
        for exception in cause.get("exceptions", []):
            exception.pop("message", None)
    for child in document.get("subsegments", []):
        _scrubbed(child)
    return document


xray_recorder.configure(emitter=ScrubbingEmitter())
# Only botocore: every AWS call becomes a subsegment; patching all supported libraries costs ~5 ms of cold start.
tracer = PrivateTracer(patch_modules=["botocore"])
