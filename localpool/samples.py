"""The state the sample events in events/ assume: their user's newest code, stored as
CreateAuthChallenge stores it (the product's own code computes it), so that a sample's right answer
is right under `make invoke` and in the tests; their user's passkey (the public key of the one that
signed events/verify_auth_challenge/passkey_answer.json, for the relying party localhost); and a rotation of the signing key just begun, as
Secrets Manager begins one before it invokes the rotation function with the samples of
events/rotate_signing_key/. The samples are signed with SAMPLE_SIGNING_KEY."""

from __future__ import annotations

import time
from typing import Any

import boto3
from moto.cognitoidp.models import cognitoidp_backends
from moto.secretsmanager.models import FakeSecret, secretsmanager_backends

from keyless.methods import email_otp
from keyless.signin import pseudonyms
from keyless.store.passkeys import PasskeyStore
from keyless.store.sign_in import SignInStore
from localpool.deployment import ACCOUNT, SAMPLE_SIGNING_KEY, Deployment

SUB = "7c1e9a52-3d4b-4e8f-9a61-2b5c8d0e4f13"
EMAIL = "jane.doe@example.com"
FLOW = "sample-flow-3vQk9PzT2cXw"
CODE = "123456"
EXPIRES_AT = 4102444800  # 2100-01-01: the samples never expire
# The pools the sample events name; the deployed pool answers for them (moto cannot be given an id).
POOL_IDS = ("us-east-1_EXAMPLE12", "us-east-1_Example1")
# The signing key's secret and the new version the rotation samples name (as CloudFormation names a
# secret: logical id and random suffixes); the deployed secret answers for it.
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:SigningKeySecret-AbCdEf012345-Gh1jKl"
ROTATION_TOKEN = "c7a1e2d4-5b6f-4a3e-9d8c-7b6a5f4e3d21"
# The sample user's passkey: what registration stored for it (its COSE public key, counter 0).
PASSKEY: dict[str, Any] = {
    "credentialId": "WjyeC30hT2qLHC0-T1Bhcg",
    "publicKey": "pQECAyYgASFYIAqtknNEIWUltXf4FQoxeA5pC41MQOiVscjbr0FTfNT3IlggeG2P1LhEiZLza6bfNDuK-3pYdlISgAfENeenwBzz7P8",
    "signCount": 0,
    "friendlyName": "Sample key",
    "transports": ["internal"],
    "aaguid": "00000000-0000-0000-0000-000000000000",
    "rpId": "localhost",
    "backupEligible": False,
    "userVerified": True,
}


def seed(deployment: Deployment) -> None:
    answer_for_sample_pools(deployment)
    answer_for_sample_secret(deployment)
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
    seed_passkey(deployment)


def seed_passkey(deployment: Deployment) -> None:
    """The sample user's registered passkey, as the management API stores it (one registration started
    and completed: the product's own store writes it)."""
    store = PasskeyStore(boto3.session.Session(region_name=deployment.region).client("dynamodb"), deployment.table_name)
    now = int(time.time())
    store.start_registration(SUB, "sample-registration", PASSKEY["rpId"], now + 300)
    store.add(SUB, "sample-registration", now, dict(PASSKEY))


def answer_for_sample_pools(deployment: Deployment) -> None:
    """The triggers read their pool's settings (DescribeUserPool): the samples' pools are the deployed one."""
    pools = cognitoidp_backends[ACCOUNT][deployment.region].user_pools
    for pool_id in POOL_IDS:
        pools[pool_id] = pools[deployment.pool_id]


def answer_for_sample_secret(deployment: Deployment) -> None:
    """The rotation samples' secret is the deployed signing key, whose rotation has just begun: the
    samples' version exists, labelled AWSPENDING, with no key yet (what RotateSecret does before
    createSecret). Again on each call: the samples start from there."""
    secrets = secretsmanager_backends[ACCOUNT][deployment.region].secrets
    secret = secrets[deployment.secret_id]
    assert isinstance(secret, FakeSecret)
    dict.__setitem__(secrets, SECRET_ARN.rsplit(":", 1)[1], secret)  # moto finds a full ARN by its last part
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions[ROTATION_TOKEN] = {
        "createdate": int(time.time()),
        "version_id": ROTATION_TOKEN,
        "version_stages": ["AWSPENDING"],
    }
