"""Nothing secret or personal leaves through X-Ray, proved from outside: every trigger runs with
tracing on, as in Lambda, in a fresh process (tracing is global state), and every datagram the X-Ray
SDK sends to the daemon's address is read here, on a UDP socket of this test.

The run (testkit/xray_probe.py): sign-ups (PreSignUp, PostConfirmation), a code sign-in with a wrong
then the right code, a link sign-in with a tampered then the right link (DefineAuthChallenge,
CreateAuthChallenge, VerifyAuthChallengeResponse, PreTokenGeneration), the send limit, SES refusing
the email with the address in its message, DynamoDB failing on a send and on an answer; EmailEvents on
an SES report of a hard bounce (the address in the event) and on one it cannot read; a rotation of the
signing key (RotateSigningKey's four steps). The keys (both, and the rotated one) must not leave.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from localpool.template import Template
from testkit.xray_probe import END_OF_RUN

ROOT = Path(__file__).resolve().parent.parent
TRACED = {
    "CreateAuthChallenge", "VerifyAuthChallengeResponse", "PostConfirmation", "PreTokenGeneration", "EmailEvents",
    "RotateSigningKey",
}  # fmt: skip
UNTRACED = {"PreSignUp", "DefineAuthChallenge"}  # no AWS calls, no X-Ray SDK loaded
# AWS calls the traced functions make on this run, as X-Ray names them (endpoint prefix, operation).
EXPECTED_CALLS = {
    ("secretsmanager", "GetSecretValue"),
    ("email", "SendEmail"),
    ("dynamodb", "UpdateItem"),
    ("dynamodb", "PutItem"),
    ("cognito-idp", "AdminUpdateUserAttributes"),
    ("secretsmanager", "PutSecretValue"),
}
LABELS = {"links": "link secret", "hashes": "code or link hash", "keys": "signing key"}


class Daemon:
    """A stand-in for the X-Ray daemon: keeps every datagram until the probe's last one."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(300)  # a bound, never reached on a run that ends: END_OF_RUN ends the loop
        self.datagrams: list[bytes] = []
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self.socket.getsockname()
        return f"{host}:{port}"

    def _read(self) -> None:
        try:
            while (data := self.socket.recv(65536)) != END_OF_RUN:  # each recv bounded by the timeout
                self.datagrams.append(data)
        except OSError:
            return  # closed, or the bound passed: the test reports the missing END_OF_RUN
        self.ended.set()

    def close(self) -> None:
        self.socket.close()
        self._thread.join(timeout=10)


def lambda_environment(daemon_address: str, task_root: Path) -> dict[str, str]:
    """What Lambda gives a traced function, as the X-Ray SDK and Powertools' Tracer read it:
    LAMBDA_TASK_ROOT (the SDK takes its Lambda context; Powertools keeps tracing on), the trace header
    of a sampled invocation, the daemon's address. No POWERTOOLS_TRACER_CAPTURE_* settings: the code's
    own are tested. POWERTOOLS_TRACE_DISABLED starts true: the probe's deployment sets it from the
    template's Tracing parameter, which the probe turns on, so traces arrive only through it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_TRACER_", "AWS_SAM_LOCAL", "AWS_CHALICE"))}
    env.update(
        LAMBDA_TASK_ROOT=str(task_root),
        AWS_LAMBDA_FUNCTION_NAME="keyless-trace-hygiene",
        _X_AMZN_TRACE_ID=f"Root=1-{secrets.token_hex(4)}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=1",
        AWS_XRAY_DAEMON_ADDRESS=daemon_address,
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_SERVICE_NAME="keyless",
        POWERTOOLS_METRICS_NAMESPACE="Keyless",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env


@dataclass
class Run:
    datagrams: list[bytes]
    secrets: dict[str, list[str]]
    outcomes: dict[str, str]
    trigger_calls: list[str]
    handed_to_emitter: list[dict]

    def subsegments(self) -> list[dict]:
        return [e for datagram in self.datagrams for e in entities(document(datagram))]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    folder = tmp_path_factory.mktemp("xray")
    daemon = Daemon()
    try:
        probe = subprocess.run(
            [sys.executable, "-m", "testkit.xray_probe", str(folder / "result.json")],
            cwd=ROOT,
            env=lambda_environment(daemon.address, folder),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert probe.returncode == 0, probe.stderr[-4000:]
        assert daemon.ended.wait(timeout=30), "the probe's END_OF_RUN never arrived"
    finally:
        daemon.close()
    return Run(datagrams=daemon.datagrams, **json.loads((folder / "result.json").read_text()))


def document(datagram: bytes) -> dict:
    header, _, body = datagram.decode("utf-8").partition("\n")
    assert json.loads(header) == {"format": "json", "version": 1}
    return json.loads(body)


def entities(doc: dict):
    """A document and its nested subsegments."""
    yield doc
    for child in doc.get("subsegments", []):
        yield from entities(child)


def exceptions(entity: dict) -> list[dict]:
    cause = entity.get("cause")
    return cause.get("exceptions", []) if isinstance(cause, dict) else []  # else the id of one recorded elsewhere


def strings(value, path: str = ""):
    """(path, text) for every key and string in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", str(key)
            yield from strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def pieces(secret: str, size: int = 16) -> set[str]:
    return {secret} if len(secret) <= size else {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaks(datagram: bytes, found: dict) -> list[str]:
    """Where a secret shows in a datagram: in its raw text (addresses in any case) or in any string of
    the document; codes (digits) as whole numbers in strings only, as times are numbers."""
    text = datagram.decode("utf-8")
    fields = list(strings(document(datagram)))
    out = []
    for address in found["addresses"]:
        for needle in (address.lower(), address.split("@")[0].lower()):
            if needle in text.lower():
                where = [p for p, s in fields if needle in s.lower()] or ["(raw text)"]
                out.append(f"address {needle!r} in {where}")
    for kind, label in LABELS.items():
        for secret in found[kind]:
            parts = pieces(secret)
            where = [p for p, s in fields if any(part in s for part in parts)]
            if where or any(part in text for part in parts):
                out.append(f"{label} (or a 16-character piece of it) in {where or ['(raw text)']}")
    for answer in found["answers"]:
        where = [p for p, s in fields if re.search(rf"(?<!\d){answer}(?!\d)", s)]
        if where:
            out.append(f"code {answer!r} in {where}")
    return out


def test_the_run_did_what_it_says(run):
    assert run.outcomes == {
        "code sign-in": "tokens",
        "code too soon": "UserLambdaValidationException",
        "tampered link": "NotAuthorizedException",
        "link sign-in": "tokens",
        "SES refuses": "UserLambdaValidationException",
        "DynamoDB fails on send": "UserLambdaValidationException",
        "DynamoDB fails on the answer": "UserLambdaValidationException",
        "bounce report": "1 suppressed",
        "malformed report": "MalformedEvent",
        "key rotation": "new key current",
    }
    assert set(run.trigger_calls) >= TRACED | UNTRACED
    found = run.secrets
    assert len(found["answers"]) >= 3 and len(found["links"]) == 2 and len(found["hashes"]) >= 3 and len(found["keys"]) == 3


def test_no_datagram_holds_an_address_code_link_hash_or_key(run):
    found = {f"datagram {i}: {leak}" for i, datagram in enumerate(run.datagrams) for leak in leaks(datagram, run.secrets)}
    assert not found, "\n".join(sorted(found))


def test_tracing_ran_one_segment_per_traced_call_with_the_aws_calls_under_it(run):
    subsegments = run.subsegments()
    handlers = {s["id"]: s for s in subsegments if s["name"] == "## handler"}
    assert len(handlers) == len([c for c in run.trigger_calls if c in TRACED]) >= 15
    assert all(h["annotations"].get("Service") == "keyless" for h in handlers.values())
    aws_calls = [s for s in subsegments if s.get("namespace") == "aws" and s.get("parent_id") in handlers]
    assert {(s["name"], s["aws"]["operation"]) for s in aws_calls} >= EXPECTED_CALLS


def test_failures_are_traced_by_type_and_stack_without_their_messages(run):
    subsegments = run.subsegments()

    def exception_types(name: str, operation: str) -> set[str]:
        calls = [s for s in subsegments if s["name"] == name and s.get("aws", {}).get("operation") == operation]
        return {x["type"] for s in calls for x in exceptions(s)}

    assert "MessageRejected" in exception_types("email", "SendEmail")
    assert "InternalServerError" in exception_types("dynamodb", "UpdateItem")
    recorded = [x for s in subsegments for x in exceptions(s)]
    assert recorded and all("message" not in x and x.get("type") and x.get("stack") for x in recorded)
    assert all("metadata" not in s for s in subsegments)


def test_the_tracer_captures_no_response_and_no_error(run):
    """Before the emitter removes anything: Powertools' capture_response / capture_error are off."""
    assert run.handed_to_emitter
    assert all("metadata" not in e for doc in run.handed_to_emitter for e in entities(doc))


def test_template_turns_capture_off_for_every_function():
    """Functions added later inherit the Globals: the Tracer's response and error capture is off."""
    variables = Template().body["Globals"]["Function"]["Environment"]["Variables"]
    assert str(variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"]).lower() == "false"
    assert str(variables["POWERTOOLS_TRACER_CAPTURE_ERROR"]).lower() == "false"


LOAD_PROBE = """
import importlib.util, json, sys
for name, path in {handlers!r}.items():
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
import botocore.client
print(json.dumps({{
    "xray": sorted(m for m in sys.modules if m.startswith("aws_xray_sdk")),
    "patched": type(vars(botocore.client.BaseClient)["_make_api_call"]).__name__ != "function",
}}))
"""


@pytest.mark.parametrize("parameters, traced", [({}, False), ({"Tracing": "Active"}, True)])
def test_off_by_default_the_xray_sdk_never_loads_and_botocore_is_not_patched(parameters, traced, tmp_path):
    """Every function's handler loaded as in Lambda (a sampled trace header, a daemon address) with the
    environment the template gives it: unless the Tracing parameter turns it on, nothing of the X-Ray
    SDK is imported and botocore's calls are not wrapped (the SDK replaces BaseClient._make_api_call
    with a wrapt wrapper)."""
    template = Template(parameters=parameters)
    functions = template.functions()
    handlers = {f"function_{name}": str(spec.code_uri / "app.py") for name, spec in functions.items()}
    (disabled,) = {template.resolve(spec.environment["POWERTOOLS_TRACE_DISABLED"], {}) for spec in functions.values()}
    # Nothing is sent while handlers load: the daemon address only has to be there, as in Lambda.
    env = lambda_environment("127.0.0.1:2000", tmp_path) | {"POWERTOOLS_TRACE_DISABLED": disabled}
    probe = subprocess.run(
        [sys.executable, "-c", LOAD_PROBE.format(handlers=handlers)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    loaded = json.loads(probe.stdout.strip().splitlines()[-1])
    assert bool(loaded["xray"]) is traced and loaded["patched"] is traced
