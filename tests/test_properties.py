"""Hostile input, property-based: whatever event a handler is given, it answers with a well-formed
event or refuses with a user-facing error. It never crashes (a crash would surface as the generic
"temporarily unavailable" error, which no input may cause while AWS is healthy)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyless.account import api
from keyless.core import errors
from localpool import samples
from localpool.deployment import SAMPLE_SIGNING_KEY
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
from testkit.deployment import deployed_for_handlers

ROOT = Path(__file__).resolve().parent.parent
SPECS = {spec.code_uri.resolve().name: spec for spec in Template().functions().values()}
SAMPLES = {
    folder: [json.loads(p.read_text()) for p in sorted((ROOT / "events" / folder).glob("*.json"))]
    for folder in SPECS
    # Cognito's events only: the custom resource's, SES's (tests/test_email_health.py), Secrets
    # Manager's (tests/test_key_rotation.py) and API Gateway's (the management API's) have shapes of their own.
    if folder not in ("attach_triggers", "email_events", "rotate_signing_key", "management_api")
    and (ROOT / "events" / folder).is_dir()
}
# The management API's events (API Gateway's HTTP API, payload 2.0): answered with an HTTP status, always.
API_SAMPLES = [json.loads(p.read_text()) for p in sorted((ROOT / "events" / "management_api").glob("*.json"))]
TRIGGER_SOURCES = sorted(
    {event["triggerSource"] for events in SAMPLES.values() for event in events} | {"CustomMessage_SignUp", ""}
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
hostile_strings = st.one_of(
    st.text(max_size=60),
    st.text(min_size=3000, max_size=6000),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "../../etc/passwd",
            "${jndi:ldap://x}",
            "<script>",
            "' OR 1=1 --",
            "\r\nBcc: x@evil.com",
            "ｅｍａｉｌ@ｅｘａｍｐｌｅ.ｃｏｍ",
            "a@b.c" * 500,
            "MAGIC_LINK",
            "EMAIL_OTP",
            "yes",
            "CHOOSE_METHOD:x",
        ]
    ),
)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


@st.composite
def mutated_events(draw, folder):
    event = copy.deepcopy(draw(st.sampled_from(SAMPLES[folder] if folder != "management_api" else API_SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        candidates = [p for p in paths(event) if p]
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "string", "delete", "source"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "string":
            parent[path[-1]] = draw(hostile_strings)
        elif action == "source" and folder == "management_api":
            event["routeKey"] = draw(st.sampled_from(sorted(api.ROUTES)) | hostile_strings)
        elif action == "source":
            event["triggerSource"] = draw(st.sampled_from(TRIGGER_SOURCES))
        else:
            parent[path[-1]] = draw(json_values)
    return event


def allowed_refusal(exc: Exception) -> bool:
    return isinstance(exc, errors.UserFacingError) and not isinstance(exc, errors.TemporarilyUnavailable) and len(str(exc)) < 120


@pytest.fixture(scope="module")
def environment():
    from moto import mock_aws

    with (
        mock_aws(),
        pytest.MonkeyPatch.context() as patch,
        # Passkeys on: round 1 and the answers reach the passkey's code too, and the management API exists.
        deployed_for_handlers(
            patch, signing_key=SAMPLE_SIGNING_KEY, template=Template(parameters={"Passkeys": "Enabled"})
        ) as deployed,
    ):
        samples.seed(deployed)
        yield deployed


@pytest.mark.parametrize("folder", sorted(SAMPLES))
def test_any_event_is_answered_or_refused(folder, environment):
    spec = SPECS[folder]
    handler = load_handler(spec)

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(event=st.one_of(mutated_events(folder), json_values))
    def check(event):
        original = copy.deepcopy(event)
        try:
            result = handler(event, LambdaContext(function_name=spec.logical_id))
        except Exception as exc:
            assert allowed_refusal(exc), repr(exc)
            return
        json.dumps(result)
        assert isinstance(result, dict) and isinstance(result.get("response"), dict)
        assert {k: v for k, v in result.items() if k != "response"} == {k: v for k, v in original.items() if k != "response"}

    check()


def test_any_management_api_event_gets_an_http_answer_and_never_a_failure(environment):
    """Malformed events, claims, bodies and routes: a 2xx or a short 4xx, never a 500 nor a raise."""
    spec = Template().functions()["ManagementApiFunction"]
    handler = load_handler(spec)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(event=st.one_of(mutated_events("management_api"), json_values))
    def check(event):
        result = handler(event, LambdaContext(function_name=spec.logical_id))
        assert result["statusCode"] in (200, 204, 400, 401, 403, 404), result
        assert result["headers"] == {"Content-Type": "application/json", "Cache-Control": "no-store"}
        body = json.loads(result["body"]) if result["body"] else None
        assert body is None or (set(body) != {"message"} or len(body["message"]) < 80)

    check()
