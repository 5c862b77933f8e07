"""Every sample event in events/ runs through the handler of its function, as `sam local invoke` or
`make invoke` would run it, and gets a well-formed answer; the sign-in samples get the right one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localpool import samples
from localpool.deployment import SAMPLE_SIGNING_KEY
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
from tests.conftest import deployed_for_handlers, sent_emails

ROOT = Path(__file__).resolve().parent.parent
EVENTS = sorted((ROOT / "events").glob("*/*.json"))
FUNCTIONS_BY_FOLDER = {spec.code_uri.resolve().name: spec for spec in Template().functions().values()}
# Custom resource events answer CloudFormation over HTTP: tests/test_attach.py covers them offline.
OFFLINE_ONLY = {"attach_triggers"}

EXPECTED = {
    "define_auth_challenge/first_round": {"challengeName": "CUSTOM_CHALLENGE", "issueTokens": False, "failAuthentication": False},
    "define_auth_challenge/code_requested": {"challengeName": "CUSTOM_CHALLENGE", "issueTokens": False},
    "define_auth_challenge/link_requested": {"challengeName": "CUSTOM_CHALLENGE", "issueTokens": False},
    "define_auth_challenge/link_answer_correct": {"issueTokens": True, "failAuthentication": False},
    "define_auth_challenge/link_answer_wrong": {"issueTokens": False, "failAuthentication": True},
    "define_auth_challenge/code_correct": {"issueTokens": True, "failAuthentication": False},
    "define_auth_challenge/code_wrong_once": {"challengeName": "CUSTOM_CHALLENGE", "issueTokens": False},
    "define_auth_challenge/code_wrong_three_times": {"issueTokens": False, "failAuthentication": True},
    "define_auth_challenge/unknown_user_first_round": {"challengeName": "CUSTOM_CHALLENGE"},
    "verify_auth_challenge/method_request": {"answerCorrect": False},
    "verify_auth_challenge/code_right": {"answerCorrect": True},
    "verify_auth_challenge/code_wrong": {"answerCorrect": False},
    "verify_auth_challenge/link_answer_in_round_two_tampered": {"answerCorrect": False},
    "verify_auth_challenge/unknown_user_code": {"answerCorrect": False},
}


@pytest.fixture
def sample_deployment(aws, monkeypatch):
    with deployed_for_handlers(monkeypatch, signing_key=SAMPLE_SIGNING_KEY) as deployed:
        samples.seed(deployed)
        yield deployed


def test_every_function_has_sample_events():
    folders = {path.parent.name for path in EVENTS}
    assert set(FUNCTIONS_BY_FOLDER) <= folders


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_sample_event(path: Path, sample_deployment):
    if path.parent.name in OFFLINE_ONLY:
        pytest.skip("answers CloudFormation over HTTP; see tests/test_attach.py")
    spec = FUNCTIONS_BY_FOLDER[path.parent.name]
    event = json.loads(path.read_text())
    result = load_handler(spec)(json.loads(path.read_text()), LambdaContext(function_name=spec.logical_id))
    json.dumps(result)  # Cognito reads JSON
    assert isinstance(result, dict)
    assert {k: v for k, v in result.items() if k != "response"} == {k: v for k, v in event.items() if k != "response"}
    assert isinstance(result["response"], dict)
    expected = EXPECTED.get(f"{path.parent.name}/{path.stem}")
    if expected is not None:
        assert {k: result["response"].get(k) for k in expected} == expected


def test_create_samples_send_what_they_say(sample_deployment):
    spec = FUNCTIONS_BY_FOLDER["create_auth_challenge"]
    handler = load_handler(spec)
    for name, step in (("first_round", "CHOOSE_METHOD"), ("send_code", "EMAIL_OTP")):
        event = json.loads((ROOT / "events" / "create_auth_challenge" / f"{name}.json").read_text())
        response = handler(event, LambdaContext(function_name=spec.logical_id))["response"]
        assert response["publicChallengeParameters"]["step"] == step
        assert response["challengeMetadata"].startswith(step + ":")
    assert len(sent_emails()) == 1
