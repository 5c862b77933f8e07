"""Every sample event in events/ runs through the handler of its function, as `sam local invoke` or
`make invoke` would run it (the function's memory and timeout in its context), and gets a
well-formed answer; the sign-in samples get the right one. The custom resource samples answer
CloudFormation over HTTP: that answer is caught in this process (testkit.custom_resource) and checked.
The SES samples (SNS events, answered with what was recorded) get what each records; the rotation
samples (Secrets Manager's steps) do what each step does, after the steps before it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest

from keyless.aws import runtime
from localpool import invoke, samples
from localpool.deployment import SAMPLE_SIGNING_KEY
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
from testkit.custom_resource import CloudFormationResponses
from testkit.deployment import deployed_for_handlers
from testkit.mail import sent_emails

ROOT = Path(__file__).resolve().parent.parent
EVENTS = sorted((ROOT / "events").glob("*/*.json"))
FUNCTIONS_BY_FOLDER = {spec.code_uri.resolve().name: spec for spec in Template().functions().values()}
CUSTOM_RESOURCES = {"attach_triggers"}  # answer CloudFormation at the event's ResponseURL, not by returning
# SNS events of SES's reports: no Cognito shape; the answer says what was recorded.
EMAIL_EVENTS = {
    "email_events/bounce_permanent": {"suppressed": 1, "unchanged": 0, "ignored": 0},
    "email_events/bounce_transient": {"suppressed": 0, "unchanged": 0, "ignored": 1},
    "email_events/complaint": {"suppressed": 1, "unchanged": 0, "ignored": 0},
}
# A custom resource's answer (CloudFormation's response object), and the fields it repeats from the request.
ANSWER_FIELDS = {"Status", "Reason", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId", "NoEcho", "Data"}
REQUEST_FIELDS = ("StackId", "RequestId", "LogicalResourceId")

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
# Secrets Manager's rotation steps, in their order: what each answers after the ones before it, on a
# deployment whose rotation has just begun (localpool.samples).
ROTATION_STEPS = {
    "create_secret": "stored a new key",
    "set_secret": "nothing to set: the functions read the key from the secret",
    "test_secret": "pending key is usable",
    "finish_secret": "new key is current",
}
# What CloudFormation is told. The samples name the deployed pool (localpool.samples), each on a
# fresh deployment: Create and Update attach to it; Delete takes away what the create sample attached.
EXPECTED_ANSWERS = {
    "attach_triggers/create": {"Status": "SUCCESS", "Reason": "SUCCESS"},
    "attach_triggers/update": {"Status": "SUCCESS", "Reason": "SUCCESS"},
    "attach_triggers/delete": {"Status": "SUCCESS", "Reason": "SUCCESS"},
}


@pytest.fixture
def sample_deployment(aws, monkeypatch):
    with deployed_for_handlers(monkeypatch, signing_key=SAMPLE_SIGNING_KEY) as deployed:
        samples.seed(deployed)
        yield deployed


def test_every_function_has_sample_events():
    folders = {path.parent.name for path in EVENTS}
    assert set(FUNCTIONS_BY_FOLDER) <= folders


def context_for(spec) -> LambdaContext:
    """The context `make invoke` gives the function (localpool/invoke.py)."""
    return LambdaContext(function_name=spec.logical_id, memory_limit_in_mb=spec.memory_size, deadline_seconds=spec.timeout)


# Samples of the passkey paths: they run as `make invoke ... ARGS="--parameter Passkeys=Enabled"` runs
# them (the relying party is localhost, the local pool's).
PASSKEY_SAMPLES = [p for p in EVENTS if p.parent.name == "management_api" or p.stem == "passkey_answer"]


@pytest.mark.parametrize("path", [p for p in EVENTS if p not in PASSKEY_SAMPLES], ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_sample_event(path: Path, sample_deployment):
    if path.parent.name in CUSTOM_RESOURCES:
        check_custom_resource_sample(path, sample_deployment)
        return
    if path.parent.name == "rotate_signing_key":
        check_rotation_sample(path, sample_deployment)
        return
    spec = FUNCTIONS_BY_FOLDER[path.parent.name]
    event = json.loads(path.read_text())
    result = load_handler(spec)(json.loads(path.read_text()), context_for(spec))
    if path.parent.name == "email_events":
        assert result == EMAIL_EVENTS[f"{path.parent.name}/{path.stem}"]
        return
    json.dumps(result)  # Cognito reads JSON
    assert isinstance(result, dict)
    assert {k: v for k, v in result.items() if k != "response"} == {k: v for k, v in event.items() if k != "response"}
    assert isinstance(result["response"], dict)
    expected = EXPECTED.get(f"{path.parent.name}/{path.stem}")
    if expected is not None:
        assert {k: result["response"].get(k) for k in expected} == expected


# What each passkey sample gets: the management API's HTTP answer (the sample user has the sample
# passkey: localpool/samples.py), Verify's verdict.
PASSKEY_ANSWERS = {
    "sign_in_challenge": (200, {"challenge", "timeout", "userVerification", "relyingPartyId"}),
    "list_authenticators": (200, {"authenticators"}),
    "register_start_stale_sign_in": (403, {"message": "Sign in again to do this"}),
    "rename_unknown_credential": (400, {"message": "Unknown credential"}),
    "access_token_refused": (401, {"message": "Use your ID token to access this API"}),
    "passkey_answer": {"answerCorrect": True},
}


@pytest.mark.parametrize("path", PASSKEY_SAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_passkey_sample(path: Path, aws):
    saved = dict(os.environ)
    function = FUNCTIONS_BY_FOLDER[path.parent.name].logical_id
    try:
        answer = invoke.invoke(function, json.loads(path.read_text()), {"Passkeys": "Enabled"})
    finally:
        os.environ.clear()
        os.environ.update(saved)
        runtime.reset()
    expected = PASSKEY_ANSWERS[path.stem]
    if isinstance(expected, dict):
        assert answer["response"] == expected
        return
    status, body = expected
    assert answer["statusCode"] == status and answer["headers"]["Cache-Control"] == "no-store"
    parsed = json.loads(answer["body"])
    assert (set(parsed) if isinstance(body, set) else parsed) == body


def test_the_management_api_exists_for_make_invoke_only_with_its_parameters(aws):
    with pytest.raises(invoke.UnknownFunctionError, match="Passkeys=Enabled"):
        invoke.invoke("ManagementApiFunction", {})


def check_rotation_sample(path: Path, deployment) -> None:
    """Secrets Manager invokes the steps in order with one token: the samples of the steps before
    this one run first. Only finishSecret moves AWSCURRENT, to the key createSecret stored."""
    spec = FUNCTIONS_BY_FOLDER[path.parent.name]
    handler = load_handler(spec)
    steps = list(ROTATION_STEPS)
    for earlier in steps[: steps.index(path.stem)]:
        handler(json.loads((path.parent / f"{earlier}.json").read_text()), context_for(spec))
    event = json.loads(path.read_text())
    assert handler(event, context_for(spec)) == {"step": event["Step"], "outcome": ROTATION_STEPS[path.stem]}
    secrets_manager = boto3.client("secretsmanager", region_name=deployment.region)
    stages = secrets_manager.describe_secret(SecretId=deployment.secret_id)["VersionIdsToStages"][samples.ROTATION_TOKEN]
    current = secrets_manager.get_secret_value(SecretId=deployment.secret_id, VersionStage="AWSCURRENT")["SecretString"]
    if path.stem == "finish_secret":
        assert stages == ["AWSCURRENT"] and current != SAMPLE_SIGNING_KEY
    else:
        assert stages == ["AWSPENDING"] and current == SAMPLE_SIGNING_KEY


def check_custom_resource_sample(path: Path, deployment) -> None:
    """The handler answers CloudFormation once, at the event's ResponseURL, with a well-formed
    answer for this request, and the pool shows what the answer says was done."""
    spec = FUNCTIONS_BY_FOLDER[path.parent.name]
    handler = load_handler(spec)
    event = json.loads(path.read_text())
    if event["RequestType"] == "Delete":
        with CloudFormationResponses() as cloudformation:
            handler(json.loads((path.parent / "create.json").read_text()), context_for(spec))
        assert [answer["Status"] for answer in cloudformation.answers] == ["SUCCESS"]
    with CloudFormationResponses() as cloudformation:
        returned = handler(json.loads(path.read_text()), context_for(spec))
    assert returned is None, "a custom resource answers at the ResponseURL, not by returning"
    (request,) = cloudformation.requests
    assert request.get_method() == "PUT" and request.full_url == event["ResponseURL"]
    (answer,) = cloudformation.answers
    assert set(answer) == ANSWER_FIELDS
    assert {k: answer[k] for k in REQUEST_FIELDS} == {k: event[k] for k in REQUEST_FIELDS}, "the answer is for this request"
    expected = EXPECTED_ANSWERS[f"{path.parent.name}/{path.stem}"]
    assert {k: answer[k] for k in expected} == expected, answer["Reason"]
    pool_id = event["ResourceProperties"]["UserPoolId"]
    assert answer["PhysicalResourceId"] == f"keyless-triggers:{pool_id}"
    described = boto3.client("cognito-idp", region_name=deployment.region).describe_user_pool(UserPoolId=pool_id)
    lambda_config = described["UserPool"].get("LambdaConfig", {})
    triggers = event["ResourceProperties"]["Triggers"]
    if event["RequestType"] == "Delete":
        assert not set(triggers.values()) & set(lambda_config.values())
    else:
        assert answer["Data"]["UserPoolId"] == pool_id
        assert {slot: lambda_config.get(slot) for slot in triggers} == triggers
        version = event["ResourceProperties"]["PreTokenGenerationVersion"]
        assert lambda_config["PreTokenGenerationConfig"]["LambdaVersion"] == version


def test_create_samples_send_what_they_say(sample_deployment):
    spec = FUNCTIONS_BY_FOLDER["create_auth_challenge"]
    handler = load_handler(spec)
    for name, step in (("first_round", "CHOOSE_METHOD"), ("send_code", "EMAIL_OTP")):
        event = json.loads((ROOT / "events" / "create_auth_challenge" / f"{name}.json").read_text())
        response = handler(event, context_for(spec))["response"]
        assert response["publicChallengeParameters"]["step"] == step
        assert response["challengeMetadata"].startswith(step + ":")
    assert len(sent_emails()) == 1
