"""Run by tests/test_trace_hygiene.py in a fresh process with tracing on (the template's Tracing
parameter Active, as an operator turns it on), as in Lambda: every trigger of template.yaml through
the local user pool on moto, happy and failing paths, and EmailEvents on an
SES report and a malformed one (as SNS would call it), while the X-Ray SDK
sends its segments to the test's UDP listener (AWS_XRAY_DAEMON_ADDRESS). A script, not a test module:
tracing is global state, so the run needs a process of its own.

    python -m testkit.xray_probe RESULT.json

Writes to RESULT.json what the traces must not contain (addresses, codes, links, their hashes, the
signing key) and what happened (outcomes, the triggers called, the documents the SDK handed its
emitter before the emitter removed anything), then sends END_OF_RUN to the listener, after every
segment.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys

import boto3
from moto import mock_aws

from testkit import mail
from testkit.clock import Clock
from testkit.faults import Faults

END_OF_RUN = b"keyless-xray-probe: end of run"
APP = "https://app.example.com/"
# Tracing is off by default: the template then tells the code (POWERTOOLS_TRACE_DISABLED) not to load the tracer.
PARAMETERS = {"AllowedRedirectOrigins": "https://app.example.com", "Tracing": "Active"}
# Unusual local parts, so finding one anywhere in a trace can only be a leak.
CODE_USER = "tracing.code.qx7@example.com"
LINK_USER = "tracing.link.qx7@example.com"
SES_USER = "tracing.ses.qx7@example.com"
DYNAMO_USER = "tracing.dynamo.qx7@example.com"
USERS = (CODE_USER, LINK_USER, SES_USER, DYNAMO_USER)
SES_REFUSAL = "Email address is not verified. The following identities failed the check in region US-EAST-1: {address}"


class Cognito:
    """The local pool's API behind the boto3 method names PasswordlessClient calls."""

    def __init__(self, api):
        self._api = api

    def initiate_auth(self, **body):
        return self._api.call("InitiateAuth", body, signed=False)

    def respond_to_auth_challenge(self, **body):
        return self._api.call("RespondToAuthChallenge", body, signed=False)


def template_without_capture_settings():
    """template.yaml without its POWERTOOLS_TRACER_CAPTURE_* variables, so the code's own settings are
    what this run tests (tests/test_trace_hygiene.py checks the template's separately)."""
    from localpool.template import Template

    template = Template()
    functions = template.resources_of_type("AWS::Serverless::Function").values()
    for variables in [template.body["Globals"]["Function"]["Environment"]["Variables"]] + [
        f["Properties"].get("Environment", {}).get("Variables", {}) for f in functions
    ]:
        for name in [n for n in variables if n.startswith("POWERTOOLS_TRACER_CAPTURE_")]:
            del variables[name]
    return template


def record_what_the_emitter_is_handed(into: list[dict]) -> None:
    """Keep a copy of every document the recorder gives its emitter, before the emitter sends it."""
    from aws_xray_sdk.core import xray_recorder

    emitter = xray_recorder.emitter
    send_entity = emitter.send_entity

    def recorded(entity):
        into.append(json.loads(json.dumps(entity.to_dict(), default=str)))
        send_entity(entity)

    emitter.send_entity = recorded


def main(result_path: str) -> None:
    from keyless.core.errors import MalformedEvent
    from keyless_client import PasswordlessClient, link_secret
    from localpool import rotation
    from localpool.errors import CognitoError
    from localpool.server import build_pool
    from localpool.template import load_handler
    from localpool.triggers import LambdaContext

    found: dict[str, list[str]] = {"addresses": list(USERS), "answers": [], "links": [], "hashes": [], "keys": []}
    outcomes: dict[str, str] = {}
    handed_to_emitter: list[dict] = []

    def expect_error(name: str, call) -> None:
        try:
            call()
        except CognitoError as exc:
            outcomes[name] = exc.error_type
            return
        raise AssertionError(f"{name}: no error")

    def signed_in(response: dict) -> str:
        return "tokens" if "AuthenticationResult" in response else "no tokens"

    with mock_aws():
        template = template_without_capture_settings()
        clock = Clock()
        pool = build_pool("http://127.0.0.1:9", None, template=template, parameters=PARAMETERS, clock=clock, timeout_seconds=60)
        record_what_the_emitter_is_handed(handed_to_emitter)
        faults = Faults(pool.aws_session)
        api = pool.api
        client = PasswordlessClient(Cognito(api), pool.client_id)
        aws = boto3.session.Session(region_name=pool.deployment.region)
        secret_id = pool.deployment.secret_id

        def key(secret: str) -> None:
            found["keys"].append(aws.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"])

        key(secret_id)
        key(pool.deployment.environment["PSEUDONYM_KEY_SECRET_ID"])

        def code_for(address: str) -> str:
            code = mail.code_in(mail.newest_local_mail(pool, address))
            found["answers"].append(code)
            return code

        def link_for(address: str) -> str:
            secret = link_secret(mail.link_in(mail.newest_local_mail(pool, address)))
            found["links"].append(secret)
            return secret

        def remember_hashes() -> None:
            for item in aws.client("dynamodb").scan(TableName=pool.deployment.table_name)["Items"]:
                found["hashes"] += [item[name]["S"] for name in ("codeHash", "linkHash") if name in item]

        def wrong(code: str) -> str:
            answer = mail.wrong(code)
            found["answers"].append(answer)
            return answer

        # Sign-up: PreSignUp, then PostConfirmation (the user is confirmed at once).
        for address in USERS:
            password = "Aa1-" + secrets.token_urlsafe(24)
            attributes = [{"Name": "email", "Value": address}]
            body = {"ClientId": pool.client_id, "Username": address, "Password": password, "UserAttributes": attributes}
            api.call("SignUp", body, signed=False)

        # A code sign-in: a wrong code, then the right one (and PreTokenGeneration); then the send limit.
        sent = client.request_code(client.start(CODE_USER))
        code = code_for(CODE_USER)
        remember_hashes()
        again = client.answer_code(sent, wrong(code))
        outcomes["code sign-in"] = signed_in(client.answer_code(again, code))
        expect_error("code too soon", lambda: client.request_code(client.start(CODE_USER)))

        # A link sign-in: a tampered link, then the right one.
        client.request_link(client.start(LINK_USER), APP)
        secret = link_for(LINK_USER)
        remember_hashes()
        tampered = secret[:-4] + ("BBBB" if secret.endswith("AAAA") else "AAAA")
        found["links"].append(tampered)
        expect_error("tampered link", lambda: client.sign_in_with_link(f"{APP}#{tampered}"))
        outcomes["link sign-in"] = signed_in(client.sign_in_with_link(f"{APP}#{secret}"))

        # SES refuses the email, quoting the address as SES does (and once more in capitals).
        refusal = SES_REFUSAL.format(address=f"{SES_USER}, {SES_USER.upper()}")
        faults.fail("sesv2", "SendEmail", "MessageRejected", refusal)
        expect_error("SES refuses", lambda: client.request_code(client.start(SES_USER)))

        # DynamoDB fails, on a send and on an answer; its messages quote the address here, as a worst
        # case: whatever AWS writes in a message must not leave.
        failure = f"Internal server error ({DYNAMO_USER})"
        faults.fail("dynamodb", "UpdateItem", "InternalServerError", failure)
        expect_error("DynamoDB fails on send", lambda: client.request_code(client.start(DYNAMO_USER)))
        sent = client.request_code(client.start(DYNAMO_USER))
        code = code_for(DYNAMO_USER)
        remember_hashes()
        faults.fail("dynamodb", None, "InternalServerError", failure)  # its next call, whichever
        expect_error("DynamoDB fails on the answer", lambda: client.answer_code(sent, code))
        assert faults.unused() == [], "an injected failure was never reached"
        calls = list(pool.runner.calls)

        # SES reports that an address hard-bounced (the event holds it), then sends a report that
        # cannot be read: EmailEvents, which SNS calls, records the one and refuses the other.
        email_events = load_handler(template.functions()["EmailEventsFunction"])
        report = mail.ses_report("bounce_permanent", SES_USER, clock())
        answer = email_events(report, LambdaContext(function_name="EmailEvents"))
        outcomes["bounce report"] = f"{answer['suppressed']} suppressed"
        report["Records"][0]["Sns"]["Message"] = report["Records"][0]["Sns"]["Message"].replace('"Permanent"', "null")
        try:
            email_events(report, LambdaContext(function_name="EmailEvents"))
        except MalformedEvent as refused:
            outcomes["malformed report"] = type(refused).__name__
        calls += ["EmailEvents", "EmailEvents"]

        # The signing key rotates: Secrets Manager runs RotateSigningKey's four steps (localpool.rotation).
        aws.client("secretsmanager").rotate_secret(SecretId=secret_id)
        key(secret_id)
        outcomes["key rotation"] = (
            type(rotation.ROTATIONS[secret_id].failure).__name__ if rotation.ROTATIONS[secret_id].failure else "new key current"
        )
        calls += ["RotateSigningKey"] * 4

    with open(result_path, "w") as out:
        json.dump({"secrets": found, "outcomes": outcomes, "trigger_calls": calls, "handed_to_emitter": handed_to_emitter}, out)
    # Loopback UDP queues a datagram at the listener when sendto returns: this one comes after all others.
    host, port = os.environ["AWS_XRAY_DAEMON_ADDRESS"].rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as end:
        end.sendto(END_OF_RUN, (host, int(port)))


if __name__ == "__main__":
    main(sys.argv[1])
