"""template.yaml: handlers that exist, runtimes and timeouts, the pool, client and table settings.
(The IAM policies are checked in test_iam.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localpool.template import Template, load_handler

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Template()
FUNCTIONS = TEMPLATE.functions()


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_handler_imports(logical_id):
    assert callable(load_handler(FUNCTIONS[logical_id]))


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_runtime_and_timeout_fit_cognito(logical_id):
    spec = FUNCTIONS[logical_id]
    props = TEMPLATE.resources[logical_id]["Properties"]
    runtime = props.get("Runtime", TEMPLATE.body["Globals"]["Function"]["Runtime"])
    assert runtime in ("python3.12", "python3.13")
    if "Cognito" in json.dumps(TEMPLATE.body["Resources"]):  # trigger functions answer within Cognito's 5 s
        assert spec.timeout < 5 or logical_id.startswith("Attach")


def test_app_client_is_passwordless():
    (client,) = TEMPLATE.resources_of_type("AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert props["ExplicitAuthFlows"] == ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert props["GenerateSecret"] is False and props["PreventUserExistenceErrors"] == "ENABLED"
    assert props["AuthSessionValidity"] == {"Ref": "AuthSessionValidity"}


def test_table_has_ttl_pitr_and_string_keys():
    (table,) = TEMPLATE.resources_of_type("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {"pk": "S", "sk": "S"}


DEFINE_PROBE = """
import json, sys
sys.path[:0] = [{shared!r}, {code!r}]
from types import SimpleNamespace
import app
context = SimpleNamespace(function_name="define", memory_limit_in_mb=256, invoked_function_arn="arn", aws_request_id="1")
event = json.load(open({event!r}))
result = app.handler(event, context)
assert result["response"]["challengeName"] == "CUSTOM_CHALLENGE", result
loaded = sorted(m for m in sys.modules if m == "boto3" or m.startswith(("boto3.", "botocore.session", "botocore.client", "aws_xray_sdk")))
print(json.dumps(loaded))
"""


def test_define_auth_challenge_loads_no_boto3():
    """A property, not a timing: DefineAuthChallenge runs 2-3 times per sign-in and never calls AWS."""
    code = FUNCTIONS["DefineAuthChallengeFunction"].code_uri
    probe = DEFINE_PROBE.format(shared=str(ROOT / "shared"), code=str(code), event=str(ROOT / "events/define_auth_challenge/first_round.json"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"POWERTOOLS_METRICS_NAMESPACE": "Keyless"}
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
