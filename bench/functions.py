"""The functions under test, read from template.yaml, and what each of their sample events does.

Every AWS::Serverless::Function in the template is benchmarked; its sample events are
events/<CodeUri folder name>/*.json. Each event is run once through the function's real handler
against moto (in this process), with a SignInRuntime whose clients record every call and answer:
that tells which event is the function's heaviest path (the one the cold and warm figures use) and
gives the answers the warm benchmark replays through botocore's Stubber.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import boto3
import botocore.client

from keyless.aws import runtime
from localpool.template import FunctionSpec, Template, load_handler
from localpool.triggers import LambdaContext

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench"}


# Sign-in paths benchmarked on their own, beside the function's heaviest path: folder -> sample
# event names. The passkey's answer to round 1 (VerifyAuthChallengeResponse with py_webauthn).
SEPARATE_PATHS = {"verify_auth_challenge": ("passkey_answer",)}


@dataclass(frozen=True)
class BenchFunction:
    spec: FunctionSpec
    path: str = ""  # one sign-in path (its sample event's name), measured apart; "" = the heaviest of the others

    @property
    def name(self) -> str:
        return f"{self.spec.logical_id} [{self.path}]" if self.path else self.spec.logical_id

    @property
    def short(self) -> str:
        short = self.spec.logical_id.removesuffix("Function")
        return f"{short} [{self.path}]" if self.path else short

    @property
    def folder(self) -> str:
        return self.spec.code_uri.resolve().name

    @property
    def events(self) -> tuple[Path, ...]:
        if self.path:
            return (EVENTS / self.folder / f"{self.path}.json",)
        separate = SEPARATE_PATHS.get(self.folder, ())
        return tuple(path for path in sorted((EVENTS / self.folder).glob("*.json")) if path.stem not in separate)


def discover(template: Template | None = None) -> list[BenchFunction]:
    """Every function of the template, and the paths measured apart (SEPARATE_PATHS)."""
    found = []
    for spec in (template or Template()).functions().values():
        found.append(BenchFunction(spec))
        found += [BenchFunction(spec, path) for path in SEPARATE_PATHS.get(spec.code_uri.resolve().name, ())]
    return found


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    answer: dict  # botocore's parsed answer (an "Error" key when AWS refused)


@dataclass
class EventRun:
    path: Path
    answered: bool
    error: str
    calls: list[Call] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    calls_outside_runtime: int = 0  # AWS calls the recording could not see (so could not stub)

    @property
    def name(self) -> str:
        return self.path.stem


@functools.cache
def shared_session(region: str) -> boto3.session.Session:
    """One botocore session for all the benchmark's clients: it parses each service's model once."""
    return boto3.session.Session(region_name=region)


def is_custom_resource_event(event: object) -> bool:
    """CloudFormation custom resource events are answered over https (ResponseURL): not offline."""
    return isinstance(event, dict) and "RequestType" in event and "ResponseURL" in event


def is_answer(event: object, result: object) -> bool:
    """A trigger answers Cognito with the event and its response object; EmailEvents, which SNS
    invokes, with an object of its own."""
    if isinstance(event, dict) and "triggerSource" in event:
        return isinstance(result, dict) and isinstance(result.get("response"), dict)
    return isinstance(result, dict)


class RecordingSession:
    """What SignInRuntime builds its clients from: real clients (moto answers) that record each call."""

    def __init__(self, region: str):
        self._session = shared_session(region)
        self.calls: list[Call] = []
        self.services: list[str] = []

    def client(self, service: str, config=None):
        client = self._session.client(service, config=config)
        client.meta.events.register("after-call", functools.partial(self._record, service))
        self.services.append(service)
        return client

    def _record(self, service: str, parsed: dict, model, **_kwargs) -> None:
        self.calls.append(Call(service, model.name, copy.deepcopy(parsed)))


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def all_api_calls() -> Iterator[list[str]]:
    """Every AWS API call made in this process, by any client (to spot calls the runtime did not make)."""
    seen: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counted(client, operation_name, api_params):
        seen.append(operation_name)
        return original(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counted
    try:
        yield seen
    finally:
        botocore.client.BaseClient._make_api_call = original


def quiet(sink: TextIO | None = None) -> contextlib.ExitStack:
    """Handlers log and emit metrics on stdout; keep the benchmark's own output readable. Both go
    to sink (default: nowhere) until the stack closes."""
    from keyless.core.observability import logger

    stack = contextlib.ExitStack()
    if sink is None:
        sink = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115 (closed by the stack)
    stack.enter_context(contextlib.redirect_stdout(sink))
    previous = logger.registered_handler.setStream(sink)
    stack.callback(logger.registered_handler.setStream, previous)
    return stack


@contextlib.contextmanager
def deployed(region: str, template: Template | None = None) -> Iterator:
    """template.yaml deployed onto moto in this process (the sample events' signing key), with the
    functions' environment set, as long as the block runs."""
    from moto import mock_aws

    from localpool.deployment import SAMPLE_SIGNING_KEY, deploy
    from localpool.samples import answer_for_sample_pools

    with mock_aws(), environment({**DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": region}):
        deployment = deploy(template=template, region=region, signing_key=SAMPLE_SIGNING_KEY)
        answer_for_sample_pools(deployment)
        with environment(deployment.environment):
            yield deployment


def clear_table(client, table_name: str) -> None:
    """Forget all sign-in state and profiles, so the next run takes the same path as the last (a
    sign-in email sent by one run would otherwise rate-limit the next)."""
    for page in client.get_paginator("scan").paginate(TableName=table_name, ProjectionExpression="pk, sk"):
        for item in page["Items"]:
            client.delete_item(TableName=table_name, Key={"pk": item["pk"], "sk": item["sk"]})


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Only 127.0.0.1 may be reached: a function that talks to the internet (the CloudFormation custom
    resource answers over https) fails at once instead of waiting for a timeout."""
    import socket

    original_connect, original_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def local_only(host) -> bool:
        return host in ("127.0.0.1", "localhost", "::1")

    def connect(sock, address):
        if isinstance(address, tuple) and not local_only(address[0]):
            raise OSError("network disabled by the benchmark")
        return original_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if not local_only(host):
            raise OSError("network disabled by the benchmark")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect, socket.getaddrinfo = original_connect, original_getaddrinfo


def record(function: BenchFunction, region: str, deployment) -> list[EventRun]:
    """Run each sample event once on a clean table, with the signing key's rotation just begun, and
    in a fresh container (runtime), so that no event sees the state another one left. Call inside
    deployed()."""
    from localpool.samples import answer_for_sample_secret, seed_passkey

    handler = load_handler(function.spec)
    table = shared_session(region).client("dynamodb")
    runs = []
    for path in function.events:
        if is_custom_resource_event(json.loads(path.read_text())):
            runs.append(EventRun(path, False, "a CloudFormation custom resource event (answers over https)"))
            continue
        clear_table(table, deployment.table_name)
        answer_for_sample_secret(deployment)
        seed_passkey(deployment)
        runs.append(record_event(function, path, region, handler))
    clear_table(table, deployment.table_name)
    return runs


def record_event(function: BenchFunction, path: Path, region: str, handler=None, clock=None) -> EventRun:
    """One event run once through the function's handler, in a fresh container (runtime) whose clients
    record every call (clock: the runtime's, time.time if None)."""
    handler = handler or load_handler(function.spec)
    event = json.loads(path.read_text())
    session = RecordingSession(region)
    runtime.reset(session=session, **({"clock": clock} if clock else {}))
    with all_api_calls() as seen, quiet(), no_network():
        try:
            result = handler(event, LambdaContext(function_name=function.name))
            answered, error = is_answer(event, result), ""
        except Exception as exc:
            answered, error = False, type(exc).__name__
    runtime.reset()
    return EventRun(path, answered, error, session.calls, sorted(set(session.services)), len(seen) - len(session.calls))


def heaviest(runs: list[EventRun]) -> EventRun | None:
    """The answered event that makes the most AWS calls (ties: by name): the function's costliest path."""
    usable = [run for run in runs if run.answered and not run.calls_outside_runtime]
    return min(usable, key=lambda run: (-len(run.calls), run.name), default=None)
