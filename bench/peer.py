"""The peer users would pick instead of Keyless: AWS's own passwordless triggers, the npm package
amazon-cognito-passwordless-auth (its compiled triggers under dist/cdk/custom-auth, installed with
the AWS SDK clients they import from bench/peer/package-lock.json, nothing of it copied into the
project). bench/cold.py runs each trigger as a cold node process (bench/peer/coldrun.mjs) in the
same interleaved rounds as Keyless's functions.

Each trigger answers its magic-link sign-in step with the environment the package's CDK construct
gives it (magic links on, FIDO2 and SMS off, LOG_LEVEL INFO); its AWS calls (KMS, DynamoDB, SES)
are answered by the bench's moto server, where this module creates what the construct deploys: the
KMS signing key, the secrets table and the sender's SES identity.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import boto3

from bench.functions import DUMMY_CREDENTIALS, BenchFunction
from localpool.deployment import ACCOUNT, REGION
from localpool.template import Template

FOLDER = Path(__file__).with_name("peer")
COLDRUN = FOLDER / "coldrun.mjs"
PACKAGE = "amazon-cognito-passwordless-auth"
MODULES = FOLDER / "node_modules"
TRIGGERS_FOLDER = MODULES / PACKAGE / "dist" / "cdk" / "custom-auth"
MEMORY_MB = 128  # the construct's NodejsFunctions leave MemorySize at Lambda's default

# What the construct deploys, as named here; any value works, these read well in a log.
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/peer/00000000-0000-4000-8000-000000000000"
SECRETS_TABLE = "peer-passwordless-secrets"
SENDER = "no-reply@peer.local"
ORIGIN = "http://localhost:5173"
USER_POOL_ID = "us-east-1_PEERbench"
CLIENT_ID = "peerbenchclientid0123456789"
USER_NAME = "7c1e9a52-3d4b-4e8f-9a61-2b5c8d0e4f13"
EMAIL = "jane.doe@example.com"


@dataclass(frozen=True)
class PeerTrigger:
    slot: str  # the user pool's trigger slot, as template.yaml's LambdaConfig names it
    module: str  # under dist/cdk/custom-auth
    event: str  # the sign-in step its event is

    @property
    def path(self) -> Path:
        return TRIGGERS_FOLDER / self.module

    @property
    def label(self) -> str:
        return f"{PACKAGE} {self.module.removesuffix('.js')} ({self.event})"


TRIGGERS = {
    trigger.slot: trigger
    for trigger in (
        PeerTrigger("DefineAuthChallenge", "define-auth-challenge.js", "magic link right: tokens"),
        PeerTrigger("CreateAuthChallenge", "create-auth-challenge.js", "send magic link"),
        PeerTrigger("VerifyAuthChallengeResponse", "verify-auth-challenge-response.js", "magic link right"),
        PeerTrigger("PreSignUp", "pre-signup.js", "sign-up: auto-confirm"),
        PeerTrigger("PreTokenGeneration", "pre-token.js", "authentication: client metadata as claims"),
    )
}


def counterparts(template: Template, functions: Iterable[BenchFunction]) -> dict[str, PeerTrigger]:
    """Function name -> the peer's trigger in the same user pool slot, for the functions that have one."""
    slots = {logical_id: slot for slot, logical_id in template.trigger_slots().items()}
    return {f.name: TRIGGERS[slots[f.name]] for f in functions if slots.get(f.name) in TRIGGERS}


def unavailable() -> str:
    """Why the peer cannot be measured on this machine, or "" when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not TRIGGERS_FOLDER.is_dir():
        return f"{PACKAGE} is not installed (make bench runs npm ci in bench/peer)"
    return ""


def _installed_version(package: str) -> str:
    return str(json.loads((MODULES / package / "package.json").read_text())["version"])


def describe() -> str:
    """The versions measured: the package, the SDK clients its triggers load (as pinned), node."""
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    pinned = json.loads((FOLDER / "package.json").read_text())["devDependencies"]
    sdk = ", ".join(f"{name} {_installed_version(name)}" for name in sorted(pinned) if name.startswith("@aws-sdk/"))
    return f"{PACKAGE} {_installed_version(PACKAGE)} under node {node}, {sdk}"


def _js_json(value: object) -> bytes:
    """As JSON.stringify writes it (the peer hashes and signs these bytes)."""
    return json.dumps(value, separators=(",", ":")).encode()


def _salted_hash(value: bytes | str) -> bytes:
    """createHash("sha256").update(salt).end(value), as the peer stores user names and signatures."""
    return hashlib.sha256(STACK_ID.encode() + (value.encode() if isinstance(value, str) else value)).digest()


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class PeerStack:
    """The peer's resources on the bench's moto server, and before each run the state and event that
    send its trigger down its magic-link path (the same path every round)."""

    def __init__(self, aws_url: str, folder: Path):
        self.folder = folder
        self.aws_url = aws_url
        session = boto3.session.Session(region_name=REGION, **_session_credentials())
        self._kms = session.client("kms", endpoint_url=aws_url)
        self._dynamodb = session.client("dynamodb", endpoint_url=aws_url)
        self.key_id = self._kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
        self._dynamodb.create_table(
            TableName=SECRETS_TABLE,
            KeySchema=[{"AttributeName": "userNameHash", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "userNameHash", "AttributeType": "B"}],
            BillingMode="PAY_PER_REQUEST",
        )
        session.client("ses", endpoint_url=aws_url).verify_email_identity(EmailAddress=SENDER)

    def environment(self, trigger: PeerTrigger) -> dict[str, str]:
        """What the construct sets on the trigger's function (magic links on, FIDO2 and SMS off)."""
        common = {"LOG_LEVEL": "INFO"}
        magic_link = {
            "ALLOWED_ORIGINS": ORIGIN,
            "ALLOWED_APPLICATION_ORIGINS": "",
            "MAGIC_LINK_ENABLED": "TRUE",
            "DYNAMODB_SECRETS_TABLE": SECRETS_TABLE,
            "STACK_ID": STACK_ID,
        }
        if trigger.slot == "CreateAuthChallenge":
            return common | magic_link | {
                "SES_FROM_ADDRESS": SENDER,
                "SES_REGION": "",
                "KMS_KEY_ID": self.key_id,
                "SECONDS_UNTIL_EXPIRY": "900",
                "MIN_SECONDS_BETWEEN": "60",
            }  # fmt: skip
        if trigger.slot == "VerifyAuthChallengeResponse":
            return common | magic_link
        if trigger.slot == "PreTokenGeneration":
            return common | {"CLIENT_METADATA_PERSISTED_KEYS": "signInMethod"}
        return common

    def event_path(self, trigger: PeerTrigger) -> Path:
        return self.folder / f"peer-{trigger.module.removesuffix('.js')}.json"

    def prepare(self, trigger: PeerTrigger) -> None:
        """The table as the step finds it in a real sign-in, and the step's event in event_path():
        Create finds no link sent in the last minute (it would refuse another), Verify finds the
        link it is answered with unused."""
        self._dynamodb.delete_item(TableName=SECRETS_TABLE, Key={"userNameHash": {"B": _salted_hash(USER_NAME)}})
        event = _base_event(trigger)
        if trigger.slot == "VerifyAuthChallengeResponse":
            event["request"]["challengeAnswer"] = self._store_magic_link()
        self.event_path(trigger).write_text(json.dumps(event))

    def _store_magic_link(self) -> str:
        """A link as the peer's Create makes it (signed by the KMS key, its hash stored), for Verify."""
        iat = int(time.time())
        exp = iat + 900
        message = _js_json({"userName": USER_NAME, "iat": iat, "exp": exp})
        context = _js_json({"userPoolId": USER_POOL_ID, "clientId": CLIENT_ID})
        signature = self._sign(message + context)
        self._dynamodb.put_item(
            TableName=SECRETS_TABLE,
            Item={
                "userNameHash": {"B": _salted_hash(USER_NAME)},
                "signatureHash": {"B": _salted_hash(signature)},
                "iat": {"N": str(iat)},
                "exp": {"N": str(exp)},
                "kmsKeyId": {"S": self.key_id},
            },
        )
        return f"{_base64url(message)}.{_base64url(signature)}"

    def _sign(self, data: bytes) -> bytes:
        """RSASSA-PSS with SHA-512 and a 64-byte salt, as AWS KMS signs and the peer checks. moto's
        Sign would not do: it pads with the largest salt (and hashes a DIGEST message again), so the
        peer would refuse the link. The key is moto's own, in this process (LocalAws runs moto's
        server in a thread), so the peer's GetPublicKey answers the matching public key."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from moto.kms.models import kms_backends

        key = kms_backends[ACCOUNT][REGION].keys[self.key_id].private_key.private_key
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=hashes.SHA512.digest_size)
        return key.sign(data, pss, hashes.SHA512())


def _session_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
    }


def _base_event(trigger: PeerTrigger) -> dict:
    """The event Cognito sends the trigger at this step of a magic-link sign-in, with the client
    metadata the package's web client sends (signInMethod MAGIC_LINK, the redirect address)."""
    user_attributes = {"sub": USER_NAME, "email": EMAIL, "email_verified": "true", "cognito:user_status": "CONFIRMED"}
    event: dict = {
        "version": "1",
        "region": REGION,
        "userPoolId": USER_POOL_ID,
        "userName": USER_NAME,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": CLIENT_ID},
    }
    # The first round: the client answered the package's PROVIDE_AUTH_PARAMETERS challenge with its
    # sign-in method (Verify says "not correct" to it, and Define asks for the link).
    parameters_round = {
        "challengeName": "CUSTOM_CHALLENGE",
        "challengeResult": False,
        "challengeMetadata": "PROVIDE_AUTH_PARAMETERS",
    }
    metadata = {"signInMethod": "MAGIC_LINK", "redirectUri": f"{ORIGIN}/"}
    if trigger.slot == "DefineAuthChallenge":
        link_round = {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": True, "challengeMetadata": "MAGIC_LINK"}
        request = {"userAttributes": user_attributes, "session": [parameters_round, link_round], "clientMetadata": metadata}
        return event | {
            "triggerSource": "DefineAuthChallenge_Authentication",
            "request": {**request, "userNotFound": False},
            "response": {"challengeName": None, "issueTokens": None, "failAuthentication": None},
        }
    if trigger.slot == "CreateAuthChallenge":
        request = {"userAttributes": user_attributes, "challengeName": "CUSTOM_CHALLENGE", "session": [parameters_round]}
        return event | {
            "triggerSource": "CreateAuthChallenge_Authentication",
            "request": {**request, "clientMetadata": metadata, "userNotFound": False},
            "response": {"publicChallengeParameters": None, "privateChallengeParameters": None, "challengeMetadata": None},
        }
    if trigger.slot == "VerifyAuthChallengeResponse":
        request = {
            "userAttributes": user_attributes,
            "privateChallengeParameters": {"challenge": "PROVIDE_MAGIC_LINK"},
            "challengeAnswer": "",  # prepare() puts a fresh link here
            "clientMetadata": metadata,
            "userNotFound": False,
        }
        return event | {
            "triggerSource": "VerifyAuthChallengeResponse_Authentication",
            "request": request,
            "response": {"answerCorrect": None},
        }
    if trigger.slot == "PreSignUp":
        return event | {
            "triggerSource": "PreSignUp_SignUp",
            "request": {"userAttributes": {"email": EMAIL}, "validationData": None},
            "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
        }
    if trigger.slot == "PreTokenGeneration":
        request = {"userAttributes": user_attributes, "groupConfiguration": {}, "clientMetadata": {"signInMethod": "MAGIC_LINK"}}
        return event | {
            "triggerSource": "TokenGeneration_Authentication",
            "request": request,
            "response": {"claimsOverrideDetails": None},
        }
    raise ValueError(f"no peer event for {trigger.slot}")
