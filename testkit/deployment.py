"""A local deployment of template.yaml, wired as the tests and the benchmarks use it: on moto (call
everything here inside moto's mock_aws()), the functions' environment set, their runtime fresh.

Three shapes: deployed_for_handlers, for driving the handlers in process (the tests' `deployment`
fixture, plain_name_pool); served_pool, the local user pool's HTTP server in a thread (the tests'
`serve_pool` fixture, bench.calls.local_user_pool); dev_process, `make dev` itself in a process of
its own. The rest builds what a trigger is called with.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from keyless.aws import runtime
from keyless_client import PasswordlessClient
from localpool.client import InProcessCognito
from localpool.deployment import REGION, Deployment, deploy, local_pool
from localpool.triggers import LambdaContext
from testkit.clock import Clock

if TYPE_CHECKING:
    import pytest

    from localpool.server import LocalPoolServer

ROOT = Path(__file__).resolve().parent.parent

# What the tests deploy with: the redirect origins their links use.
TEST_PARAMETERS = {"AllowedRedirectOrigins": "https://app.example.com,http://localhost:9229"}
# What a test process needs before the product is imported: dummy AWS credentials for moto, the
# region, and the Powertools settings template.yaml gives every function (tracing off in process).
TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "POWERTOOLS_METRICS_NAMESPACE": "Keyless",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "keyless",
}


def prepare_test_process() -> None:
    """TEST_ENVIRONMENT where the environment does not say otherwise, and botocore's JSON models
    parsed once per process: every test builds fresh boto3 sessions (the functions' runtime, the
    deployment, the test's own clients), and each new session would parse them again, a third of a
    second per test. One loader for all sessions does what one long-lived session would."""
    for name, value in TEST_ENVIRONMENT.items():
        os.environ.setdefault(name, value)

    import botocore.loaders
    import botocore.session

    loaders: dict[str | None, botocore.loaders.Loader] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> botocore.loaders.Loader:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared


@contextlib.contextmanager
def deployed_for_handlers(monkeypatch: pytest.MonkeyPatch, **deploy_options: Any) -> Iterator[Deployment]:
    """template.yaml deployed onto moto (with TEST_PARAMETERS), its functions' environment set (and
    put back by monkeypatch), and the functions' runtime fresh before and after."""
    deployed = deploy(parameters=TEST_PARAMETERS, **deploy_options)
    for name, value in deployed.environment.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    try:
        yield deployed
    finally:
        runtime.reset()


@contextlib.contextmanager
def served_pool(state_dir: Path | None = None, **options: Any) -> Iterator[LocalPoolServer]:
    """The local user pool's HTTP server (localpool.server) on 127.0.0.1, on a free port, serving from
    a thread; options as localpool.server.build_pool (template, parameters, handlers, clock, ...).
    Stopped after, and the environment and the functions' runtime put back as they were."""
    from localpool.server import create_server

    saved_environment = dict(os.environ)
    try:
        server = create_server("127.0.0.1", 0, state_dir, **options)
        try:
            server.start_background()
            yield server
        finally:
            server.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        runtime.reset()


@dataclass
class DevProcess:
    """A running `python -m localpool`: what it printed up to its banner's last line ("Ctrl+C
    stops"), and its sign-in page's URL."""

    banner: str
    output: list[str] = field(default_factory=list)  # everything printed so far, emails included

    @property
    def url(self) -> str:
        found = re.search(r"Sign-in page\s+(http://127\.0\.0\.1:\d+)/", self.banner)
        assert found, self.banner
        return found.group(1)


@contextlib.contextmanager
def dev_process(state_dir: Path, *args: str, patience: float = 60.0) -> Iterator[DevProcess]:
    """`python -m localpool` (what `make dev` runs) on a free port, in its own process, once it has
    printed its banner; terminated after. Its output is read to the end on a thread of its own, so a
    full pipe can never stall it; the banner is waited for on an event, not polled."""
    process = subprocess.Popen(
        [sys.executable, "-m", "localpool", "--port", "0", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    banner: list[str] = []
    settled = threading.Event()  # the banner is out, or the process ended before it

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip("\n"))
            if not settled.is_set() and "Ctrl+C" in line:
                banner.extend(output)
                settled.set()
        settled.set()

    reader = threading.Thread(target=read, name="dev-process-output", daemon=True)
    reader.start()
    try:
        assert settled.wait(patience), "no banner: " + "\n".join(output)
        assert banner, "ended before its banner: " + "\n".join(output)
        yield DevProcess("\n".join(banner), output)
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=10)


def sign_up_confirmed(cognito: Any, deployed: Deployment, email: str) -> str:
    """A confirmed user whose email is not yet verified, as after a passwordless sign-up. Returns the user's name."""
    cognito.sign_up(
        ClientId=deployed.client.client_id,
        Username=email,
        Password="Aa1-" + secrets.token_urlsafe(24),
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=deployed.pool_id, Username=email)
    return str(cognito.admin_get_user(UserPoolId=deployed.pool_id, Username=email)["Username"])


@contextlib.contextmanager
def plain_name_pool(
    monkeypatch: pytest.MonkeyPatch, case_sensitive: bool, users: Mapping[str, str]
) -> Iterator[tuple[PasswordlessClient, Clock, Deployment]]:
    """A pool as many attached pools are: plain user names (no UsernameAttributes), `users` (name ->
    email) signed up and confirmed, driven in process. Gives (client, clock, deployment)."""
    from localpool.template import Template

    template = Template(parameters=TEST_PARAMETERS)
    props = template.resources["UserPool"]["Properties"]
    props.pop("UsernameAttributes")
    props["UsernameConfiguration"] = {"CaseSensitive": case_sensitive}
    with deployed_for_handlers(monkeypatch, template=template) as deployed:
        clock = Clock()
        runtime.reset(clock=clock)
        auth, _runner, _tokens = local_pool(deployed, clock=clock)
        client = PasswordlessClient(InProcessCognito(auth, deployed.client), deployed.client.client_id)
        cognito = boto3.client("cognito-idp", region_name=REGION)
        for name, email in users.items():
            cognito.sign_up(
                ClientId=deployed.client.client_id,
                Username=name,
                Password="Aa1-" + "x" * 24,
                UserAttributes=[{"Name": "email", "Value": email}],
            )
            cognito.admin_confirm_sign_up(UserPoolId=deployed.pool_id, Username=name)
        yield client, clock, deployed


def use_environment(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Change the functions' environment, as a new container would see it (the clock is kept)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset(clock=runtime.default_runtime().clock)


# --- calling a trigger ------------------------------------------------------------------------------


def cognito_event(sample: Mapping[str, Any], deployment: Deployment, user: Mapping[str, Any]) -> dict[str, Any]:
    """A sample trigger event, for this deployment's pool and client and the given user
    ({"name": ..., "attributes": {...}})."""
    event = copy.deepcopy(dict(sample))
    event["userPoolId"] = deployment.pool_id
    event["userName"] = user["name"]
    event["callerContext"]["clientId"] = deployment.client.client_id
    event["request"]["userAttributes"] = {**user["attributes"], "cognito:user_status": "CONFIRMED"}
    return event


def invoke(handler: Callable[[dict[str, Any], LambdaContext], Any], event: Mapping[str, Any]) -> Any:
    """The handler called as Lambda would, on a copy of the event."""
    return handler(copy.deepcopy(dict(event)), LambdaContext(function_name="trigger"))
