"""template.yaml: handlers that exist, runtimes and timeouts, the pool, client and table settings.
(The IAM policies are checked in test_iam.py.)"""

from __future__ import annotations

import dataclasses
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
    if logical_id in TEMPLATE.trigger_slots().values():  # the triggers answer within Cognito's 5 s
        assert spec.timeout < 5


def test_app_client_is_passwordless():
    (client,) = TEMPLATE.resources_of_type("AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert props["ExplicitAuthFlows"] == ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert props["GenerateSecret"] is False and props["PreventUserExistenceErrors"] == "ENABLED"
    assert props["AuthSessionValidity"] == {"Ref": "AuthSessionValidity"}


def test_a_pool_keyless_creates_keeps_email_changes_pending_and_email_verified_unwritable():
    pool = TEMPLATE.resources["UserPool"]["Properties"]
    assert pool["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert "email" in pool["AutoVerifiedAttributes"]  # Cognito requires it for the setting above
    (client,) = TEMPLATE.resources_of_type("AWS::Cognito::UserPoolClient").values()
    writable = client["Properties"]["WriteAttributes"]
    assert "email" in writable and not {"email_verified", "phone_number_verified"} & set(writable)


@pytest.mark.parametrize("user_pool_id, expected", [("", "true"), ("us-east-1_AbCdEf123", "false")])
def test_auto_confirmation_is_on_for_a_new_pool_and_off_for_an_attached_one(user_pool_id, expected):
    template = Template(parameters={"UserPoolId": user_pool_id})
    variable = template.functions()["PreSignUpFunction"].environment["AUTO_CONFIRM_SIGN_UP"]
    assert template.resolve(variable, {}) == expected
    explicit = Template(parameters={"UserPoolId": user_pool_id, "AutoConfirmSignUp": "true"})
    assert explicit.resolve(variable, {}) == "true"


@pytest.mark.parametrize("user_pool_id", ["", "us-east-1_AbCdEf123"])
def test_the_optional_waf_rate_limit_guards_the_pool(user_pool_id):
    off = Template(parameters={"UserPoolId": user_pool_id})
    assert not off.condition("EnableWaf")
    on = Template(parameters={"UserPoolId": user_pool_id, "EnableWafRateLimit": "true"})
    assert on.condition("EnableWaf")
    (acl,) = on.resources_of_type("AWS::WAFv2::WebACL").values()
    (association,) = on.resources_of_type("AWS::WAFv2::WebACLAssociation").values()
    assert acl["Condition"] == association["Condition"] == "EnableWaf"
    (rule,) = acl["Properties"]["Rules"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"] == {"Limit": {"Ref": "WafRequestsPer5Minutes"}, "AggregateKeyType": "IP"}
    assert acl["Properties"]["Scope"] == "REGIONAL" and acl["Properties"]["DefaultAction"] == {"Allow": {}}
    pool_arn = on.resolve(
        association["Properties"]["ResourceArn"], {"UserPool.Arn": "arn:created-pool"}, "us-east-1", "123456789012"
    )
    expected = "arn:created-pool" if not user_pool_id else f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{user_pool_id}"
    assert pool_arn == expected


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
    probe = DEFINE_PROBE.format(
        shared=str(ROOT / "shared"), code=str(code), event=str(ROOT / "events/define_auth_challenge/first_round.json")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"POWERTOOLS_METRICS_NAMESPACE": "Keyless"}
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_parameter_is_in_exactly_one_console_group():
    groups = TEMPLATE.body["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(TEMPLATE.body["Parameters"])


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_logs_to_its_own_group_kept_as_long_as_the_parameter_says(logical_id):
    group_id = TEMPLATE.resources[logical_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = TEMPLATE.resources[group_id]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group.get("Condition") == TEMPLATE.resources[logical_id].get("Condition")
    assert logical_id.removesuffix("Function") in group["Properties"]["LogGroupName"]["Fn::Sub"]


POOL_ARN = {
    "Fn::If": [
        "CreateUserPool",
        {"Fn::GetAtt": ["UserPool", "Arn"]},
        {"Fn::Sub": "arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${UserPoolId}"},
    ]
}


def test_the_pool_arn_is_one_expression_wherever_it_is_used():
    """CloudFormation has no variables (and refuses YAML aliases): the pool's ARN is written where it
    is used, so each use must be this one expression (only the attach function, which exists only
    for an attached pool, names that pool directly)."""
    found: list[object] = []

    def walk(value):
        if value == POOL_ARN:
            found.append(value)
            return
        if isinstance(value, dict):
            for key, child in value.items():
                if key == "Fn::GetAtt" and child == ["UserPool", "Arn"]:
                    raise AssertionError("UserPool.Arn outside the pool ARN expression")
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)
        elif isinstance(value, str) and "userpool/" in value:
            found.append("direct")

    for logical_id, resource in TEMPLATE.resources.items():
        before = len(found)
        walk(resource)
        if logical_id == "AttachTriggersFunction":
            assert found[before:] == ["direct"]
            del found[before:]
    assert "direct" not in found and len(found) >= 9


def test_the_readme_documents_every_parameter():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in TEMPLATE.body["Parameters"] if f"| `{name}` |" not in readme]
    assert missing == []


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_each_function_is_given_exactly_the_variables_its_settings_read(logical_id):
    from keyless.core.settings.functions import FUNCTIONS as READS

    given = {name for name in FUNCTIONS[logical_id].environment if not name.startswith("POWERTOOLS_")}
    read = {name for settings_class in READS[logical_id] for name in settings_class.VARIABLES}
    assert given == read


RECORDS_PROBE = """
import dataclasses, json, sys
sys.path[:0] = [{shared!r}, {code!r}]
from types import SimpleNamespace
import app
context = SimpleNamespace(function_name="f", memory_limit_in_mb=256, invoked_function_arn="arn", aws_request_id="1")
app.handler(json.load(open({event!r})), context)
modules = [m for name, m in list(sys.modules.items()) if name.startswith("keyless") and m is not None]
print(json.dumps(sorted(
    f"{{v.__module__}}.{{v.__qualname__}}" for m in modules for v in vars(m).values()
    if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == m.__name__
)))
"""
# What the two triggers measured against the Logger-only baseline (make bench) share: the event they read.
TRIGGER_RECORDS = {"keyless.core.events.SessionEntry", "keyless.core.events.TriggerEvent", "keyless.methods.Method"}


@pytest.mark.parametrize(
    ("logical_id", "event", "own_records"),
    [
        ("DefineAuthChallengeFunction", "define_auth_challenge/first_round.json", {"keyless.signin.define.Decision"}),
        ("PreSignUpFunction", "pre_sign_up/sign_up.json", {"keyless.signup.rules.SignUpRules"}),
    ],
)
def test_the_triggers_that_call_no_aws_define_only_the_records_they_use(logical_id, event, own_records):
    """A frozen dataclass costs cold-start time to define (issue 12): after its first call, each of these
    functions has defined only its own settings classes and the records its own code uses."""
    from keyless.core.settings.functions import FUNCTIONS as READS

    settings = {
        f"{base.__module__}.{base.__qualname__}"
        for settings_class in READS[logical_id]
        for base in settings_class.__mro__
        if dataclasses.is_dataclass(base)
    }
    probe = RECORDS_PROBE.format(
        shared=str(ROOT / "shared"), code=str(FUNCTIONS[logical_id].code_uri), event=str(ROOT / "events" / event)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"POWERTOOLS_METRICS_NAMESPACE": "Keyless"}
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=True, cwd=ROOT
    )
    assert set(json.loads(out.stdout.strip().splitlines()[-1])) == settings | TRIGGER_RECORDS | own_records


def test_a_created_pool_is_on_the_lite_plan_unless_its_tokens_need_essentials():
    """Cognito puts a new pool on Essentials unless told otherwise; Keyless needs it only for V2_0
    token customization (both tokens, scopes)."""
    for version, tier in (("V1_0", "LITE"), ("V2_0", "ESSENTIALS")):
        template = Template(parameters={"PreTokenGenerationVersion": version})
        props = template.resources["UserPool"]["Properties"]
        assert template.resolve(props["UserPoolTier"], {}) == tier


# --- email health: bounces and complaints ------------------------------------------------------------

CREATED_SET = {"EmailConfigurationSet": "keyless-created-set"}


@pytest.mark.parametrize("own_set", ["", "operators-own-set"])
def test_the_sign_in_emails_use_keyless_s_configuration_set_unless_the_operator_names_one(own_set):
    template = Template(parameters={"SesConfigurationSet": own_set})
    used = own_set or CREATED_SET["EmailConfigurationSet"]
    variable = template.functions()["CreateAuthChallengeFunction"].environment["SES_CONFIGURATION_SET"]
    assert template.resolve(variable, CREATED_SET) == used
    assert template.condition("CreateSesConfigurationSet") is not bool(own_set)
    for logical_id in ("EmailConfigurationSet", "EmailEventDestination"):
        assert template.resources[logical_id]["Condition"] == "CreateSesConfigurationSet"
    output = template.body["Outputs"]["SesConfigurationSetName"]["Value"]
    assert template.resolve(output, CREATED_SET) == used
    # Whichever set it is, only SES, for that set of this account, may publish to the events' topic.
    statement, deny = template.resources["EmailEventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert template.resolve(deny["Condition"], CREATED_SET, "us-east-1", "123456789012") == {
        "ArnNotEquals": {"AWS:SourceArn": f"arn:aws:ses:us-east-1:123456789012:configuration-set/{used}"}
    }
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Allow",
        {"Service": "ses.amazonaws.com"},
        "sns:Publish",
    )
    assert template.resolve(statement["Condition"], CREATED_SET, "us-east-1", "123456789012") == {
        "StringEquals": {
            "AWS:SourceAccount": "123456789012",
            "AWS:SourceArn": f"arn:aws:ses:us-east-1:123456789012:configuration-set/{used}",
        }
    }


def test_bounces_and_complaints_reach_email_events_through_an_encrypted_topic():
    destination = TEMPLATE.resources["EmailEventDestination"]["Properties"]
    assert destination["ConfigurationSetName"] == {"Ref": "EmailConfigurationSet"}
    events = destination["EventDestination"]
    assert events["Enabled"] is True and sorted(events["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert events["SnsDestination"] == {"TopicARN": {"Ref": "EmailEventsTopic"}}
    assert TEMPLATE.resources["EmailEventsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "EmailEventsKey"}
    key = TEMPLATE.resources["EmailEventsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (ses,) = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "ses.amazonaws.com"}]
    assert sorted(ses["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    # Only the configuration set's SES may publish a report: an Allow for it, a Deny for everyone else.
    allow, deny = TEMPLATE.resources["EmailEventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"Service": "ses.amazonaws.com"}
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "sns:Publish"
    assert deny["Condition"]["ArnNotEquals"]["AWS:SourceArn"] == allow["Condition"]["StringEquals"]["AWS:SourceArn"]
    function = TEMPLATE.resources["EmailEventsFunction"]["Properties"]
    assert list(function["Events"].values()) == [{"Type": "SNS", "Properties": {"Topic": {"Ref": "EmailEventsTopic"}}}]
    assert TEMPLATE.body["Outputs"]["EmailEventsTopicArn"]["Value"] == {"Ref": "EmailEventsTopic"}
    assert function["Environment"]["Variables"]["EMAIL_SUPPRESSION_DAYS"] == {"Ref": "EmailSuppressionDays"}
    assert TEMPLATE.body["Parameters"]["EmailSuppressionDays"]["Default"] == 14


def test_the_signing_key_rotates_on_the_parameter_s_schedule_and_only_secrets_manager_runs_the_rotation():
    schedule = TEMPLATE.resources["SigningKeyRotationSchedule"]
    assert schedule["Properties"] == {
        "SecretId": {"Ref": "SigningKeySecret"},
        "RotationLambdaARN": {"Fn::GetAtt": ["RotateSigningKeyFunction", "Arn"]},
        "RotationRules": {"AutomaticallyAfterDays": {"Ref": "SigningKeyRotationDays"}},
        "RotateImmediatelyOnUpdate": True,
    }
    assert schedule["DependsOn"] == "RotateSigningKeyPermission"  # the first rotation runs at creation
    assert TEMPLATE.resources["RotateSigningKeyPermission"]["Properties"] == {
        "FunctionName": {"Fn::GetAtt": ["RotateSigningKeyFunction", "Arn"]},
        "Action": "lambda:InvokeFunction",
        "Principal": "secretsmanager.amazonaws.com",
        "SourceAccount": {"Ref": "AWS::AccountId"},
        "SourceArn": {"Ref": "SigningKeySecret"},
    }
    # The pseudonym key is a secret of its own, which nothing rotates.
    assert set(TEMPLATE.resources_of_type("AWS::SecretsManager::Secret")) == {
        "SigningKeySecret",
        "PseudonymKeySecret",
        "AuthenticatorKeySecret",
    }
    assert set(TEMPLATE.resources_of_type("AWS::SecretsManager::RotationSchedule")) == {
        "SigningKeyRotationSchedule",
        "AuthenticatorKeyRotationSchedule",
    }


@pytest.mark.parametrize(
    "parameters, exists",
    [
        ({}, False),
        ({"AuthenticatorApps": "Enabled"}, True),
        ({"AuthenticatorAppSecondStep": "Required"}, True),
    ],
)
def test_the_authenticator_key_ring_exists_with_either_parameter_and_rotates_on_its_own_schedule(parameters, exists):
    """The ring's first value is CloudFormation's: {"current": "initial", "initial": <64 random characters>};
    each rotation (RotateSigningKey, its schedule) adds a key; only Secrets Manager runs it."""
    template = Template(parameters=parameters)
    resources = ("AuthenticatorKeySecret", "AuthenticatorKeyRotationSchedule", "AuthenticatorKeyRotationPermission")
    assert all(template.exists(name) is exists for name in resources)
    assert template.condition("ManagementApiEnabled") is exists
    generated = template.resources["AuthenticatorKeySecret"]["Properties"]["GenerateSecretString"]
    assert json.loads(generated["SecretStringTemplate"]) == {"current": "initial"}
    assert (generated["GenerateStringKey"], generated["PasswordLength"]) == ("initial", 64)
    assert template.resources["AuthenticatorKeySecret"]["DeletionPolicy"] == "Retain"
    schedule = template.resources["AuthenticatorKeyRotationSchedule"]
    assert schedule["Properties"]["RotationRules"] == {"AutomaticallyAfterDays": {"Ref": "AuthenticatorKeyRotationDays"}}
    assert schedule["Properties"]["RotationLambdaARN"] == {"Fn::GetAtt": ["RotateSigningKeyFunction", "Arn"]}
    assert template.resources["AuthenticatorKeyRotationPermission"]["Properties"]["SourceArn"] == {
        "Ref": "AuthenticatorKeySecret"
    }
    ring = "arn:ring"
    for function in ("CreateAuthChallengeFunction", "VerifyAuthChallengeFunction", "RotateSigningKeyFunction"):
        variable = template.functions()[function].environment["AUTHENTICATOR_KEY_SECRET_ID"]
        assert template.resolve(variable, {"AuthenticatorKeySecret": ring}) == (ring if exists else "")


def _sam_transform(parameters: dict[str, str]) -> dict:
    """template.yaml as the SAM transform hands it to CloudFormation (code locations stubbed: the
    transform only checks their form)."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    body = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in body["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://bucket/layer.zip"
    return transform(body, parameters, NoManagedPolicies())


@pytest.mark.parametrize("parameters, active", [({}, False), ({"Tracing": "Active"}, True)])
def test_tracing_is_off_unless_the_parameter_turns_it_on(parameters, active):
    """Off (the default): no TracingConfig, no X-Ray write permission, and the code told not to load the
    tracer. The code's side: tests/test_trace_hygiene.py."""
    resources = _sam_transform(parameters)["Resources"]
    template = Template(parameters=parameters)
    for logical_id, spec in template.functions().items():
        function = resources[logical_id]["Properties"]
        managed = resources[f"{logical_id}Role"]["Properties"]["ManagedPolicyArns"]
        assert template.resolve(function.get("TracingConfig", {}).get("Mode", "PassThrough"), {}) == (
            "Active" if active else "PassThrough"
        )
        assert any("Xray" in arn for arn in managed) is active
        assert template.resolve(spec.environment["POWERTOOLS_TRACE_DISABLED"], {}) == ("false" if active else "true")


def test_the_route_anyone_may_call_has_a_throttle_of_its_own_far_under_the_stages():
    """/sign-in-challenge needs no token: a flood of it must be refused on that route (its own
    route-level limit, a fraction of the stage's) instead of spending the requests of the routes the
    signed-in users need. As CloudFormation gets it from the SAM transform: the stage's RouteSettings."""
    parameters = {"Passkeys": "Enabled"}
    resources = _sam_transform(parameters)["Resources"]
    (stage,) = (r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage")
    default = stage["DefaultRouteSettings"]
    routes = {key: Template(parameters=parameters).resolve(value, {}) for key, value in stage["RouteSettings"].items()}
    assert list(routes) == ["POST /sign-in-challenge"]  # the only route without the authorizer
    own = routes["POST /sign-in-challenge"]
    assert own["ThrottlingRateLimit"] * 4 <= default["ThrottlingRateLimit"]
    assert own["ThrottlingBurstLimit"] * 5 <= default["ThrottlingBurstLimit"]
    open_routes = [
        event["Properties"]["Path"]
        for event in TEMPLATE.resources["ManagementApiFunction"]["Properties"]["Events"].values()
        if event["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
    ]
    assert open_routes == ["/sign-in-challenge"]
