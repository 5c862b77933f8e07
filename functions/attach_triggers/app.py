"""AttachTriggers: the CloudFormation custom resource that puts Keyless's six triggers in an existing
user pool (and gives the pool its previous triggers back when the stack is deleted)."""

import os

import boto3
from botocore.config import Config

from keyless import attach, settings
from keyless.observability import logger
from keyless.tracing import tracer

# Not a Cognito trigger: no 5 s limit, so patient timeouts; the function's own timeout is 60 s.
CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "total_max_attempts": 4})


def attachment() -> attach.TriggerAttachment:
    session = boto3.session.Session()
    store = attach.AttachmentStore(session.client("dynamodb", config=CONFIG), settings.required(os.environ, "TABLE_NAME"))
    return attach.TriggerAttachment(session.client("cognito-idp", config=CONFIG), store)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event, context):
    attach.run(event, context, attachment)
