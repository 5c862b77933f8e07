"""Shared fixtures: a moto-backed deployment of template.yaml and the local user pool on top of it."""

from __future__ import annotations

import html
import os
import re
import secrets

import functools
import threading

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import DynamoDBBackend
from moto.ses.models import ses_backends

from keyless import runtime
from localpool.client import InProcessCognito, PasswordlessClient
from localpool.deployment import REGION, deploy, local_pool

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Keyless")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "keyless")

TEST_PARAMETERS = {"AllowedRedirectOrigins": "https://app.example.com,http://localhost:9229"}


def _make_dynamodb_writes_atomic() -> None:
    """DynamoDB applies each single-item write, condition included, atomically; moto's in-process
    backend does not lock, so threads could interleave a condition check and a write. Serialising
    the backend's item operations gives tests the guarantee the product relies on."""
    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "get_item"):
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)


_make_dynamodb_writes_atomic()


class Clock:
    """Time that tests move by hand; shared by the triggers and the local pool."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def deployment(aws, monkeypatch):
    deployed = deploy(parameters=TEST_PARAMETERS)
    for name, value in deployed.environment.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    yield deployed
    runtime.reset()


@pytest.fixture
def clock(deployment):
    clock = Clock()
    runtime.reset(clock=clock)
    return clock


@pytest.fixture
def pool(deployment, clock):
    auth, runner, tokens = local_pool(deployment, clock=clock, timeout_seconds=5)
    return auth, runner, tokens


def sent_emails() -> list:
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


@pytest.fixture
def cognito(aws):
    return boto3.client("cognito-idp", region_name=REGION)


def emails_to(address: str) -> list:
    return [m for m in sent_emails() if address in m.destinations.get("ToAddresses", [])]


def last_link(address: str) -> str:
    body = emails_to(address)[-1].body
    return html.unescape(re.search(r'href="([^"]+)"', body).group(1))


def last_code(address: str) -> str:
    return re.search(r">(\d{6,8})<", emails_to(address)[-1].body).group(1)


@pytest.fixture
def make_user(deployment, cognito):
    """A confirmed user with an unverified email, as after a passwordless sign-up."""

    def make(email: str) -> str:
        cognito.sign_up(
            ClientId=deployment.client.client_id,
            Username=email,
            Password="Aa1-" + secrets.token_urlsafe(24),
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        cognito.admin_confirm_sign_up(UserPoolId=deployment.pool_id, Username=email)
        return cognito.admin_get_user(UserPoolId=deployment.pool_id, Username=email)["Username"]

    return make


@pytest.fixture
def client(pool, deployment):
    auth, _runner, _tokens = pool
    return PasswordlessClient(InProcessCognito(auth, deployment.client), deployment.client.client_id)


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def error_message(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


@pytest.fixture(scope="session")
def pool_state_dir(tmp_path_factory):
    """One token signing key for every local pool server of the run (an RSA key takes a while)."""
    return tmp_path_factory.mktemp("local-state")


@pytest.fixture
def serve_pool(aws, pool_state_dir):
    """serve_pool(**options) -> the local user pool's HTTP server on 127.0.0.1, a free port, running
    in a thread (options as localpool.server.build_pool). Stopped, and the environment restored, after."""
    from localpool.server import create_server

    saved_environment = dict(os.environ)
    started = []

    def start(**options):
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
