"""AttachTriggers: the CloudFormation custom resource that puts Keyless's six triggers in an existing
user pool (and gives the pool its previous triggers back when the stack is deleted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from keyless.attach import pool
from keyless.core.observability import logger
from keyless.core.settings import AttachSettings
from keyless.core.tracing import tracer
from keyless.store.attachments import AttachmentStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Not a Cognito trigger: no 5 s limit, so patient timeouts; the function's own timeout is 60 s.
CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "total_max_attempts": 4})


def attachment() -> pool.TriggerAttachment:
    session = boto3.session.Session()
    store = AttachmentStore(session.client("dynamodb", config=CONFIG), AttachSettings.from_env().table_name)
    return pool.TriggerAttachment(session.client("cognito-idp", config=CONFIG), store)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    pool.run(event, context, attachment)
