"""Shared fixtures: a moto-backed deployment of template.yaml and the local user pool on top of it."""

from __future__ import annotations

import contextlib
import copy
import functools
import html
import io
import json
import logging
import os
import re
import secrets
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bench.calls import Clock
from keyless.aws import runtime
from keyless.core.observability import logger
from localpool.client import InProcessCognito, PasswordlessClient
from localpool.deployment import REGION, deploy, local_pool
from localpool.triggers import LambdaContext

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Keyless")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "keyless")


def _share_botocore_data_between_sessions() -> None:
    """Every test builds fresh boto3 sessions (the functions' runtime, the deployment, the clients of
    the test), and each new session parses botocore's JSON models again: a third of a second per
    test. One loader for all sessions parses each model once, as one long-lived session would."""
    import botocore.loaders
    import botocore.session

    loaders: dict = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared


_share_botocore_data_between_sessions()

TEST_PARAMETERS = {"AllowedRedirectOrigins": "https://app.example.com,http://localhost:9229"}


@pytest.fixture
def aws():
    with mock_aws():
        yield


@contextlib.contextmanager
def deployed_for_handlers(monkeypatch, **deploy_options):
    """template.yaml deployed onto moto (with TEST_PARAMETERS), its functions' environment set, and
    the runtime fresh before and after."""
    deployed = deploy(parameters=TEST_PARAMETERS, **deploy_options)
    for name, value in deployed.environment.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    yield deployed
    runtime.reset()


@pytest.fixture
def deployment(aws, monkeypatch):
    with deployed_for_handlers(monkeypatch) as deployed:
        yield deployed


@pytest.fixture
def clock(deployment):
    clock = Clock()
    runtime.reset(clock=clock)
    return clock


@pytest.fixture
def pool(deployment, clock):
    auth, runner, tokens = local_pool(deployment, clock=clock, timeout_seconds=5)
    return auth, runner, tokens


@pytest.fixture
def cognito(aws):
    return boto3.client("cognito-idp", region_name=REGION)


def sign_up_confirmed(cognito, deployed, email: str) -> str:
    """A confirmed user whose email is not yet verified, as after a passwordless sign-up. Returns the user's name."""
    cognito.sign_up(
        ClientId=deployed.client.client_id,
        Username=email,
        Password="Aa1-" + secrets.token_urlsafe(24),
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=deployed.pool_id, Username=email)
    return cognito.admin_get_user(UserPoolId=deployed.pool_id, Username=email)["Username"]


@pytest.fixture
def make_user(deployment, cognito):
    """make_user(email) -> a confirmed user with an unverified email, as after a passwordless sign-up."""
    return functools.partial(sign_up_confirmed, cognito, deployment)


@pytest.fixture
def user(make_user, cognito, deployment):
    """A user as Cognito has them right after a passwordless sign-up: name, sub, attributes."""
    name = make_user("alice@example.com")
    found = cognito.admin_get_user(UserPoolId=deployment.pool_id, Username=name)
    attributes = {a["Name"]: a["Value"] for a in found["UserAttributes"]}
    return {"name": name, "sub": attributes["sub"], "attributes": attributes}


def cognito_event(sample: dict, deployment, user: dict) -> dict:
    """A sample trigger event, for this deployment's pool and client and the given user."""
    event = copy.deepcopy(sample)
    event["userPoolId"] = deployment.pool_id
    event["userName"] = user["name"]
    event["callerContext"]["clientId"] = deployment.client.client_id
    event["request"]["userAttributes"] = {**user["attributes"], "cognito:user_status": "CONFIRMED"}
    return event


def invoke(handler, event: dict) -> dict:
    return handler(copy.deepcopy(event), LambdaContext(function_name="trigger"))


def use_environment(monkeypatch, **env: str) -> None:
    """Change the functions' environment, as a new container would see it (the clock is kept)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset(clock=runtime.default_runtime().clock)


# --- the emails moto's SES was asked to send ---------------------------------------------------------


def sent_emails(region: str = REGION) -> list:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages)


def emails_to(address: str, region: str = REGION) -> list:
    return [m for m in sent_emails(region) if address in m.destinations.get("ToAddresses", [])]


def last_link(address: str, region: str = REGION) -> str:
    body = emails_to(address, region)[-1].body
    return html.unescape(re.search(r'href="([^"]+)"', body).group(1))


def last_code(address: str, region: str = REGION) -> str:
    return re.search(r">(\d{6,8})<", emails_to(address, region)[-1].body).group(1)


@pytest.fixture
def client(pool, deployment):
    auth, _runner, _tokens = pool
    return PasswordlessClient(InProcessCognito(auth, deployment.client), deployment.client.client_id)


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def error_message(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def run_at_once(call, arguments: list) -> list:
    """call(argument) for each argument, each on its own thread, all released together. Returns,
    in the arguments' order, what each call returned or the ClientError it raised; any other error
    is raised here."""
    barrier = threading.Barrier(len(arguments))
    outcomes: list = [None] * len(arguments)
    crashes: list[BaseException] = []

    def run(index, argument):
        barrier.wait()
        try:
            outcomes[index] = call(argument)
        except ClientError as exc:
            outcomes[index] = exc
        except BaseException as exc:
            crashes.append(exc)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(arguments)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if crashes:
        raise crashes[0]
    return outcomes


def plain_name_pool(monkeypatch, case_sensitive: bool, users: dict[str, str]):
    """A pool as many attached pools are: plain user names (no UsernameAttributes), `users` (name ->
    email) signed up and confirmed. Yields (client, clock, deployment); use with `yield from`."""
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


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; playwright's own download does not work here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, one per test module."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


class HeldFirstCall:
    """Wraps function so that its first call (among those `when` picks) is held until the second has
    returned: the way to make Cognito time out on a trigger and call it again while the first call
    runs on, without racing a sleep against the timeout. hold="before" holds the first call before it
    does anything, "after" once its work is done. `first_returned` is set when the held call ends."""

    def __init__(self, function, hold: str = "after", when=lambda *args, **kwargs: True, patience: float = 60.0):
        self._function, self._hold, self._when, self._patience = function, hold, when, patience
        self._lock = threading.Lock()
        self._calls = 0
        self.second_returned = threading.Event()
        self.first_returned = threading.Event()

    def __call__(self, *args, **kwargs):
        if not self._when(*args, **kwargs):
            return self._function(*args, **kwargs)
        with self._lock:
            self._calls += 1
            number = self._calls
        if number == 1:
            try:
                if self._hold == "before":
                    self._wait_for_the_second()
                result = self._function(*args, **kwargs)
                if self._hold == "after":
                    self._wait_for_the_second()
                return result
            finally:
                self.first_returned.set()
        try:
            return self._function(*args, **kwargs)
        finally:
            if number == 2:
                self.second_returned.set()

    def _wait_for_the_second(self) -> None:
        # Patience is a safety net for a broken test, not a timing: the second call comes after the
        # pool's own timeout, however long this machine takes.
        assert self.second_returned.wait(self._patience), "the call was never retried"

    def wait_for_the_first(self) -> None:
        assert self.first_returned.wait(self._patience), "the held call never returned"


@pytest.fixture(scope="session")
def pool_state_dir(tmp_path_factory):
    """One token signing key for every local pool server of the run (an RSA key takes a while)."""
    return tmp_path_factory.mktemp("local-state")


@pytest.fixture
def served_clock() -> Clock:
    """A clock for served pools: moved by hand, but from the real time, by which PyJWT and browsers
    judge the tokens."""
    return Clock(start=time.time())


@pytest.fixture
def serve_pool(aws, pool_state_dir, served_clock):
    """serve_pool(**options) -> the local user pool's HTTP server on 127.0.0.1, a free port, running
    in a thread (options as localpool.server.build_pool; the clock is served_clock unless given).
    Stopped, and the environment restored, after."""
    from localpool.server import create_server

    saved_environment = dict(os.environ)
    started = []

    def start(**options):
        options.setdefault("clock", served_clock)
        server = create_server("127.0.0.1", 0, pool_state_dir, **options)
        server.start_background()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    os.environ.clear()
    os.environ.update(saved_environment)
    runtime.reset()


@pytest.fixture
def server(serve_pool):
    """The local user pool as template.yaml makes it, served."""
    return serve_pool()


def pool_cognito(server, retry: bool = True, **credentials: str):
    """boto3's cognito-idp client for a served pool, signing with the pool's own credentials unless
    others are given (aws_access_key_id=..., aws_secret_access_key=...). retry=False: every error is
    seen at once (boto3 retries LimitExceededException, with back-off)."""
    from botocore.config import Config

    own = server.pool.credentials
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.url,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1 if not retry else 3, "mode": "standard"}),
        **({"aws_access_key_id": own.access_key_id, "aws_secret_access_key": own.secret_access_key} | credentials),
    )


def mailbox(server) -> list[dict]:
    """The served pool's mailbox, newest first."""
    request = urllib.request.Request(f"{server.url}/mailbox", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def link_in(mail: dict) -> str:
    return re.search(r"(http://\S+#\S+)", mail["text"]).group(1)


def code_in(mail: dict) -> str:
    return re.search(r"^\s*(\d{6,8})\s*$", mail["text"], re.MULTILINE).group(1)


@pytest.fixture
def log_lines():
    """Everything the functions log, formatted exactly as Lambda would print it (Powertools JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    yield stream
    logger._logger.removeHandler(handler)
