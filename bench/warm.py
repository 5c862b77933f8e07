"""Warm invocations: each function's handler called in this process, over and over, in one container
(one SignInRuntime). AWS is answered by botocore's Stubber with the answers moto gave for the same
event (bench.functions.record), so the time is our code and botocore's request building, not a fake
server. Each call gets a fresh copy of the event and a fresh context; only the handler call is timed.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections import Counter
from dataclasses import dataclass

from botocore.stub import Stubber

from bench.functions import BenchFunction, Call, EventRun, quiet, shared_session
from bench.stats import percentile
from keyless.aws import runtime
from keyless.aws.runtime import AWS_CONFIG
from localpool.template import load_handler
from localpool.triggers import LambdaContext


class StubbedSession:
    """What SignInRuntime builds its clients from: real botocore clients whose answers come from a
    Stubber, re-armed before every invocation with the answers the recorded run got."""

    def __init__(self, region: str, calls: list[Call], services: list[str]):
        session = shared_session(region)
        self._calls = calls
        # Every client the recorded run created, called or not: a call without a recorded answer fails.
        self._clients = {
            service: session.client(service, config=AWS_CONFIG) for service in sorted({*services, *(c.service for c in calls)})
        }
        # botocore's method name (get_item) for each operation (GetItem), per client
        self._methods = {
            service: {api: method for method, api in client.meta.method_to_api_mapping.items()}
            for service, client in self._clients.items()
        }
        self._stubbers: dict[str, Stubber] = {}
        self.api_calls: Counter[str] = Counter()
        for service, client in self._clients.items():
            client.meta.events.register("before-parameter-build", self._counter(service))

    def _counter(self, service: str):
        pseudonym_key = os.environ.get("PSEUDONYM_KEY_SECRET_ID")  # its reads apart from the signing key's

        def count(model, params, **_kwargs):
            stage = f"[{params['VersionStage']}]" if isinstance(params, dict) and params.get("VersionStage") else ""
            if stage and pseudonym_key and params.get("SecretId") == pseudonym_key:
                stage = f"[pseudonym key {stage[1:]}"
            self.api_calls[f"{service}.{model.name}{stage}"] += 1

        return count

    def client(self, service: str, config=None):
        if service not in self._clients:
            raise LookupError(f"{service}: the recorded run created no such client")
        return self._clients[service]

    def arm(self) -> None:
        """A fresh Stubber per client, queued with the recorded answers (those a warm call skips,
        like the cached key, are simply left over)."""
        for stubber in self._stubbers.values():
            stubber.deactivate()
        self._stubbers = {service: Stubber(client) for service, client in self._clients.items()}
        for call in self._calls:
            stubber = self._stubbers[call.service]
            method = self._methods[call.service][call.operation]
            answer = dict(call.answer)
            if "Error" in answer:
                error = answer.pop("Error")
                meta = answer.pop("ResponseMetadata", {})
                stubber.add_client_error(
                    method,
                    service_error_code=error.get("Code", ""),
                    service_message=error.get("Message", ""),
                    http_status_code=meta.get("HTTPStatusCode", 400),
                    modeled_fields={k: v for k, v in answer.items() if k not in ("message", "Message")} or None,
                )
            else:
                stubber.add_response(method, answer)
        for stubber in self._stubbers.values():
            stubber.activate()


class _CountingSink(io.TextIOBase):
    """Where the handlers' log lines and metrics go: counted (for the CloudWatch Logs estimate), not kept."""

    def __init__(self):
        self.characters = 0

    def write(self, text: str) -> int:
        self.characters += len(text)
        return len(text)

    def writable(self) -> bool:
        return True


@dataclass(frozen=True)
class WarmResult:
    event: str
    calls: int
    p50_ms: float
    p99_ms: float
    api_calls: dict[str, int]  # over all calls, warm-up included: the container's whole life
    invocations: int
    log_bytes_per_call: float


def measure(function: BenchFunction, run: EventRun, region: str, calls: int, warmup: int, clock=None) -> WarmResult:
    """clock: the runtime's (time.time if None), the one the run was recorded with."""
    handler = load_handler(function.spec)
    session = StubbedSession(region, run.calls, run.services)
    runtime.reset(session=session, **({"clock": clock} if clock else {}))
    raw = run.path.read_text()
    sink = _CountingSink()
    durations: list[float] = []
    try:
        with quiet(sink):
            for index in range(warmup + calls):
                event = json.loads(raw)
                context = LambdaContext(function_name=function.name)
                session.arm()
                started = time.perf_counter_ns()
                handler(event, context)
                elapsed = time.perf_counter_ns() - started
                if index >= warmup:
                    durations.append(elapsed / 1e6)
    finally:
        runtime.reset()
    return WarmResult(
        event=run.name,
        calls=calls,
        p50_ms=percentile(durations, 50),
        p99_ms=percentile(durations, 99),
        api_calls=dict(session.api_calls),
        invocations=warmup + calls,
        log_bytes_per_call=sink.characters / (warmup + calls),
    )
