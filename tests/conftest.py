"""pytest fixtures: a moto-backed deployment of template.yaml and the local user pool on top of it,
built from the test kit (testkit/), which holds every helper the tests and benchmarks share."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import time

import boto3
import pytest
from moto import mock_aws

from keyless.aws import runtime
from keyless.core.observability import logger
from keyless_client import PasswordlessClient
from localpool.client import InProcessCognito
from localpool.deployment import REGION, local_pool
from testkit.browser import CHROMIUM, CHROMIUM_ARGS
from testkit.clock import Clock
from testkit.deployment import deployed_for_handlers, prepare_test_process, served_pool, sign_up_confirmed
from testkit.faults import Faults

prepare_test_process()


@pytest.fixture
def aws():
    with mock_aws():
        yield


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
def faults(clock) -> Faults:
    """AWS failing on purpose under the functions: their runtime is a fresh container whose clients
    come from the session these faults hook into (clock: the `clock` fixture's)."""
    faults = Faults(region=REGION)
    runtime.reset(session=faults.session, clock=clock)
    return faults


@pytest.fixture
def pool(deployment, clock):
    auth, runner, tokens = local_pool(deployment, clock=clock, timeout_seconds=5)
    return auth, runner, tokens


@pytest.fixture
def cognito(aws):
    return boto3.client("cognito-idp", region_name=REGION)


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


@pytest.fixture
def client(pool, deployment):
    auth, _runner, _tokens = pool
    return PasswordlessClient(InProcessCognito(auth, deployment.client), deployment.client.client_id)


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


@pytest.fixture
def contexts(browser):
    """new() -> a fresh browser context (its own localStorage: another browser, as far as a page can
    tell). Every page's JavaScript errors fail the test."""
    opened, errors = [], []

    def new():
        context = browser.new_context(viewport={"width": 1000, "height": 700})
        context.set_default_timeout(15_000)
        context.on("page", lambda page: page.on("pageerror", lambda error: errors.append(str(error))))
        opened.append(context)
        return context

    yield new
    for context in opened:
        context.close()
    assert errors == [], errors


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
    """serve_pool(**options) -> the local user pool's HTTP server on 127.0.0.1 (testkit.deployment.
    served_pool; the clock is served_clock unless given). Stopped, and the environment restored, after."""
    with contextlib.ExitStack() as servers:

        def start(**options):
            options.setdefault("clock", served_clock)
            return servers.enter_context(served_pool(pool_state_dir, **options))

        yield start


@pytest.fixture
def server(serve_pool):
    """The local user pool as template.yaml makes it, served."""
    return serve_pool()


@pytest.fixture
def log_lines():
    """Everything the functions log, formatted exactly as Lambda would print it (Powertools JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    yield stream
    logging.getLogger(logger.name).removeHandler(handler)
