"""The sign-in state the sample events in events/ assume: their user's newest code, stored as
CreateAuthChallenge stores it (the product's own code computes it), so that a sample's right answer
is right under `make invoke` and in the tests. The samples are signed with SAMPLE_SIGNING_KEY."""

from __future__ import annotations

import time

import boto3
from moto.cognitoidp.models import cognitoidp_backends

from keyless.methods import email_otp
from keyless.signin import pseudonyms
from keyless.store.sign_in import SignInStore
from localpool.deployment import ACCOUNT, SAMPLE_SIGNING_KEY, Deployment

SUB = "7c1e9a52-3d4b-4e8f-9a61-2b5c8d0e4f13"
EMAIL = "jane.doe@example.com"
FLOW = "sample-flow-3vQk9PzT2cXw"
CODE = "123456"
EXPIRES_AT = 4102444800  # 2100-01-01: the samples never expire
# The pools the sample events name; the deployed pool answers for them (moto cannot be given an id).
POOL_IDS = ("us-east-1_EXAMPLE12", "us-east-1_Example1")


def seed(deployment: Deployment) -> None:
    answer_for_sample_pools(deployment)
    key = SAMPLE_SIGNING_KEY.encode()
    store = SignInStore(boto3.session.Session(region_name=deployment.region).client("dynamodb"), deployment.table_name)
    fields = {
        "method": "EMAIL_OTP",
        "sentTo": "j***@e***.com",
        "recipient": pseudonyms.recipient(key, EMAIL),
        "codeHash": email_otp.code_hash(key, FLOW, CODE),
        "codeFlow": FLOW,
        "codeExpiresAt": EXPIRES_AT,
        "expiresAt": EXPIRES_AT,
    }
    # Sent an hour ago by an earlier call, so the send samples are neither a retry of it nor too soon.
    store.reserve_send(SUB, "sample-earlier-send", int(time.time()) - 3600, 0, fields)


def answer_for_sample_pools(deployment: Deployment) -> None:
    """The triggers read their pool's settings (DescribeUserPool): the samples' pools are the deployed one."""
    pools = cognitoidp_backends[ACCOUNT][deployment.region].user_pools
    for pool_id in POOL_IDS:
        pools[pool_id] = pools[deployment.pool_id]
