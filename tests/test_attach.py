"""Attaching to an existing user pool: the custom resource against moto's cognito-idp.

moto's UpdateUserPool, like Cognito's, resets every setting it is not given, so a careless attach
shows up here as a changed DescribeUserPool. moto also resets two create-only settings Cognito never
changes (UsernameAttributes, UsernameConfiguration; UpdateUserPool has no such parameters): those
are checked on the request Keyless sends instead, captured with botocore's event hooks.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from pathlib import Path

import boto3
import botocore.session
import pytest

from keyless.attach import pool
from keyless.store.attachments import AttachmentStore
from localpool.deployment import REGION
from localpool.template import Template
from localpool.triggers import LambdaContext
from testkit.custom_resource import ACCOUNT, OTHER, OURS, CloudFormationResponses, busy_pool, resource_event
from testkit.faults import Faults

ROOT = Path(__file__).resolve().parent.parent
FOREIGN_PRE_SIGN_UP = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:customer-pre-sign-up"
FOREIGN_TOKEN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:customer-pre-token"
# Create-only settings: not UpdateUserPool parameters, so Cognito keeps them; moto forgets them.
CREATE_ONLY = {"UsernameAttributes", "UsernameConfiguration", "AliasAttributes"}
VOLATILE = {"LastModifiedDate", "LambdaConfig"}


class Sent:
    """CloudFormation's side of the ResponseURL: what was PUT, in order."""

    def __init__(self, failures: int = 0):
        self.bodies: list[dict] = []
        self.urls: list[str] = []
        self._failures = failures

    def __call__(self, url: str, body: bytes) -> None:
        if self._failures:
            self._failures -= 1
            raise OSError("connection reset")
        self.urls.append(url)
        self.bodies.append(json.loads(body))


@pytest.fixture
def session(aws):
    return boto3.session.Session(region_name=REGION)


@pytest.fixture
def table(session):
    client = session.client("dynamodb")
    client.create_table(
        TableName="keyless-attach-test",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "keyless-attach-test"


@pytest.fixture
def updates(cognito):
    """Every UpdateUserPool request the code under test sends, as botocore is given it."""
    captured: list[dict] = []
    cognito.meta.events.register(
        "provide-client-params.cognito-idp.UpdateUserPool", lambda params, **_: captured.append(copy.deepcopy(params))
    )
    return captured


@pytest.fixture
def attachment(cognito, session, table):
    return pool.TriggerAttachment(cognito, AttachmentStore(session.client("dynamodb"), table))


def describe(cognito, pool_id: str) -> dict:
    return cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]


def run(evt: dict, attachment, sent: Sent | None = None, **kwargs) -> dict:
    sent = sent if sent is not None else Sent()
    answer = pool.run(
        evt, LambdaContext("AttachTriggers", deadline_seconds=60), lambda: attachment, send=sent, sleep=lambda _: None, **kwargs
    )
    assert sent.bodies == [answer], "exactly one answer, and it is the one sent"
    return answer


def unchanged_settings(before: dict, after: dict) -> None:
    for name in sorted(set(before) | set(after)):
        if name in VOLATILE or name in CREATE_ONLY:
            continue
        assert after.get(name) == before.get(name), name


# --- the whole life: attach, update, delete --------------------------------------------------------


def test_attach_update_delete_changes_only_the_trigger_slots(cognito, attachment, updates):
    pool_id = busy_pool(cognito)
    before = describe(cognito, pool_id)

    created = run(resource_event("Create", pool_id), attachment)
    assert created["Status"] == "SUCCESS", created["Reason"]
    assert created["PhysicalResourceId"] == f"keyless-triggers:{pool_id}"
    assert created["Data"] == {"UserPoolId": pool_id, "UserPoolArn": before["Arn"]}
    assert (created["StackId"], created["RequestId"], created["LogicalResourceId"]) == (
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/keyless/1",
        "request-Create",
        "TriggerAttachment",
    )
    attached = describe(cognito, pool_id)
    unchanged_settings(before, attached)
    assert attached["LambdaConfig"] == {
        "CustomMessage": OTHER,
        "PostAuthentication": OTHER,
        **OURS,
        "PreTokenGenerationConfig": {"LambdaArn": OURS["PreTokenGeneration"], "LambdaVersion": "V1_0"},
    }
    # What Cognito itself would keep: the request carries every setting UpdateUserPool takes, as read.
    (request,) = updates
    for name in pool.CARRIED:
        if name in before:
            assert request[name] == before[name], name
    assert request["PoolName"] == before["Name"] and request["UserPoolId"] == pool_id
    assert set(request) <= set(update_parameters()), "only UpdateUserPool parameters"
    assert not CREATE_ONLY & set(update_parameters()), "create-only settings cannot change through UpdateUserPool"

    updated = run(
        resource_event(
            "Update",
            pool_id,
            PreTokenGenerationVersion="V2_0",
            OldResourceProperties=resource_event("Create", pool_id)["ResourceProperties"],
        ),
        attachment,
    )
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"], "same pool, same physical id: no Delete follows"
    reapplied = describe(cognito, pool_id)
    unchanged_settings(before, reapplied)
    assert reapplied["LambdaConfig"]["PreTokenGenerationConfig"]["LambdaVersion"] == "V2_0"

    deleted = run(resource_event("Delete", pool_id), attachment)
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    restored = describe(cognito, pool_id)
    unchanged_settings(before, restored)
    assert restored["LambdaConfig"] == before["LambdaConfig"] == {"CustomMessage": OTHER, "PostAuthentication": OTHER}
    assert len(updates) == 3


def test_delete_restores_the_triggers_it_was_allowed_to_replace(cognito, attachment):
    original = {
        "PreSignUp": FOREIGN_PRE_SIGN_UP,
        "PreTokenGeneration": FOREIGN_TOKEN,
        "PreTokenGenerationConfig": {"LambdaArn": FOREIGN_TOKEN, "LambdaVersion": "V2_0"},
    }
    pool_id = busy_pool(cognito, original)
    before = describe(cognito, pool_id)

    created = run(resource_event("Create", pool_id, AllowReplaceTriggers="true"), attachment)
    assert created["Status"] == "SUCCESS", created["Reason"]
    assert describe(cognito, pool_id)["LambdaConfig"]["PreSignUp"] == OURS["PreSignUp"]
    # A re-apply must not mistake Keyless's own functions for the previous triggers.
    run(resource_event("Update", pool_id, AllowReplaceTriggers="true"), attachment)

    run(resource_event("Delete", pool_id, AllowReplaceTriggers="true"), attachment)
    assert describe(cognito, pool_id)["LambdaConfig"] == before["LambdaConfig"]


def test_a_slot_taken_by_another_function_is_refused_and_nothing_changes(cognito, attachment, updates):
    pool_id = busy_pool(cognito, {"PreSignUp": FOREIGN_PRE_SIGN_UP})
    before = describe(cognito, pool_id)

    refused = run(resource_event("Create", pool_id), attachment)
    assert refused["Status"] == "FAILED"
    assert "PreSignUp" in refused["Reason"] and FOREIGN_PRE_SIGN_UP in refused["Reason"]
    assert "AllowReplaceTriggers=true" in refused["Reason"]
    assert "PostConfirmation" not in refused["Reason"], "only the taken slots are named"
    assert updates == []
    assert describe(cognito, pool_id) == before

    # CloudFormation rolls the failed Create back with a Delete of the id it was given.
    rolled_back = run(resource_event("Delete", pool_id, PhysicalResourceId=refused["PhysicalResourceId"]), attachment)
    assert rolled_back["Status"] == "SUCCESS"
    assert describe(cognito, pool_id)["LambdaConfig"]["PreSignUp"] == FOREIGN_PRE_SIGN_UP
    assert updates == []


def test_legacy_pre_token_generation_slot_counts_as_taken(cognito, attachment):
    pool_id = busy_pool(cognito, {"PreTokenGeneration": FOREIGN_TOKEN})
    refused = run(resource_event("Create", pool_id), attachment)
    assert refused["Status"] == "FAILED" and "PreTokenGeneration" in refused["Reason"]


def test_delete_leaves_alone_a_slot_someone_changed_since(cognito, attachment):
    pool_id = busy_pool(cognito)
    run(resource_event("Create", pool_id), attachment)
    config = describe(cognito, pool_id)
    changed = dict(config["LambdaConfig"], PostConfirmation=FOREIGN_PRE_SIGN_UP)
    cognito.update_user_pool(**pool.update_request(config, changed))

    run(resource_event("Delete", pool_id), attachment)
    after = describe(cognito, pool_id)["LambdaConfig"]
    assert after == {"CustomMessage": OTHER, "PostAuthentication": OTHER, "PostConfirmation": FOREIGN_PRE_SIGN_UP}


def test_delete_without_the_stored_triggers_still_removes_keyless(cognito, attachment, session, table):
    pool_id = busy_pool(cognito)
    run(resource_event("Create", pool_id), attachment)
    session.client("dynamodb").delete_item(TableName=table, Key={"pk": {"S": f"ATTACHMENT#{pool_id}"}, "sk": {"S": "TRIGGERS"}})

    run(resource_event("Delete", pool_id), attachment)
    assert describe(cognito, pool_id)["LambdaConfig"] == {"CustomMessage": OTHER, "PostAuthentication": OTHER}


def test_moving_to_another_pool_attaches_there_and_the_old_one_is_restored_by_delete(cognito, attachment):
    first, second = busy_pool(cognito), busy_pool(cognito)
    run(resource_event("Create", first), attachment)
    moved = run(resource_event("Update", second, PhysicalResourceId=pool.physical_id(first)), attachment)
    assert moved["Status"] == "SUCCESS" and moved["PhysicalResourceId"] == pool.physical_id(second)
    # CloudFormation deletes the old physical resource after a replacement.
    run(resource_event("Delete", first), attachment)
    assert describe(cognito, first)["LambdaConfig"] == {"CustomMessage": OTHER, "PostAuthentication": OTHER}
    assert describe(cognito, second)["LambdaConfig"]["DefineAuthChallenge"] == OURS["DefineAuthChallenge"]


def test_update_recognises_renamed_keyless_functions_as_its_own(cognito, attachment):
    pool_id = busy_pool(cognito)
    old_properties = resource_event("Create", pool_id)["ResourceProperties"]
    run(resource_event("Create", pool_id), attachment)
    renamed = {slot: arn + "-v2" for slot, arn in OURS.items()}
    updated = run(resource_event("Update", pool_id, Triggers=renamed, OldResourceProperties=old_properties), attachment)
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    run(resource_event("Delete", pool_id, Triggers=renamed), attachment)
    assert describe(cognito, pool_id)["LambdaConfig"] == {"CustomMessage": OTHER, "PostAuthentication": OTHER}


def test_the_pool_being_gone_does_not_block_a_delete(cognito, attachment):
    pool_id = busy_pool(cognito)
    run(resource_event("Create", pool_id), attachment)
    cognito.update_user_pool(**{**pool.update_request(describe(cognito, pool_id), {}), "DeletionProtection": "INACTIVE"})
    cognito.delete_user_pool(UserPoolId=pool_id)
    assert run(resource_event("Delete", pool_id), attachment)["Status"] == "SUCCESS"


# --- CloudFormation always gets an answer -----------------------------------------------------------


def test_a_missing_pool_is_a_failed_answer(attachment):
    answer = run(resource_event("Create", "us-east-1_DoesNotExist1"), attachment)
    assert answer["Status"] == "FAILED" and "does not exist" in answer["Reason"]


@pytest.mark.parametrize(
    "changes",
    [
        {"UserPoolId": "not a pool"},
        {"Triggers": {"PreSignUp": OURS["PreSignUp"]}},
        {"Triggers": {**OURS, "PostConfirmation": "not-an-arn"}},
        {"PreTokenGenerationVersion": "V9_0"},
        {"AllowReplaceTriggers": "maybe"},
        {"RequestType": "Explode"},
    ],
)
def test_bad_properties_are_a_failed_answer(changes, attachment):
    answer = run(resource_event("Create", "us-east-1_Example1", **changes), attachment)
    assert answer["Status"] == "FAILED" and answer["Reason"]


def test_a_delete_with_unusable_properties_succeeds_so_the_stack_can_go(attachment):
    answer = run(
        resource_event("Delete", "us-east-1_Example1", UserPoolId="", PhysicalResourceId="keyless-triggers:none"), attachment
    )
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == "keyless-triggers:none"


def test_an_aws_error_is_a_failed_answer_with_the_reason(cognito, session, table):
    pool_id = busy_pool(cognito)
    faults = Faults(session)
    refused = faults.fail("cognito-idp", "UpdateUserPool", "AccessDeniedException", "not authorized to UpdateUserPool")
    broken = pool.TriggerAttachment(session.client("cognito-idp"), AttachmentStore(session.client("dynamodb"), table))
    answer = run(resource_event("Create", pool_id), broken)
    assert refused.used_up
    assert answer["Status"] == "FAILED" and "AccessDeniedException" in answer["Reason"]
    assert answer["PhysicalResourceId"] == pool.physical_id(pool_id), "its rollback Delete can find the pool"


def test_an_error_building_the_clients_is_answered_too():
    def no_configuration():
        raise RuntimeError("environment variable TABLE_NAME is not set")

    sent = Sent()
    answer = pool.run(
        resource_event("Create", "us-east-1_Example1"),
        LambdaContext("AttachTriggers", deadline_seconds=60),
        no_configuration,
        send=sent,
        sleep=lambda _: None,
    )
    assert sent.bodies == [answer] and answer["Status"] == "FAILED" and "TABLE_NAME" in answer["Reason"]


def test_the_answer_is_retried_when_the_put_fails(cognito, attachment):
    pool_id = busy_pool(cognito)
    sent = Sent(failures=2)
    answer = pool.run(
        resource_event("Create", pool_id),
        LambdaContext("AttachTriggers", deadline_seconds=60),
        lambda: attachment,
        send=sent,
        sleep=lambda _: None,
    )
    assert answer["Status"] == "SUCCESS" and len(sent.bodies) == 1
    assert sent.urls == [resource_event("Create", pool_id)["ResponseURL"]]


def test_running_out_of_time_is_answered_before_lambda_stops_the_function():
    release = threading.Event()
    sent = Sent()

    def slow_attachment():
        assert release.wait(5), "the watchdog never answered"
        raise RuntimeError("finished after the answer")

    def answered_then_release(url, body):
        sent(url, body)
        release.set()

    started = time.monotonic()
    answer = pool.run(
        resource_event("Create", "us-east-1_Example1"),
        LambdaContext("AttachTriggers", deadline_seconds=5.2),
        slow_attachment,
        send=answered_then_release,
        margin_seconds=5.0,
    )
    assert time.monotonic() - started < 3
    assert len(sent.bodies) == 1 and sent.bodies[0]["Status"] == "FAILED" and "ran out of time" in sent.bodies[0]["Reason"]
    assert answer == sent.bodies[0], "the late failure is not answered a second time"


def test_the_response_is_put_to_an_https_url_only():
    with CloudFormationResponses() as cloudformation:
        pool.http_put("https://bucket.s3.amazonaws.com/key?X-Amz-Signature=abc", b'{"Status": "SUCCESS"}')
        for url in ("http://bucket.s3.amazonaws.com/key", "file:///etc/passwd", ""):
            with pytest.raises(ValueError):
                pool.http_put(url, b"{}")
    (request,) = cloudformation.requests
    assert request.full_url == "https://bucket.s3.amazonaws.com/key?X-Amz-Signature=abc"
    assert request.get_method() == "PUT" and request.data == b'{"Status": "SUCCESS"}' and request.timeout == 10.0
    assert request.get_header("Content-type") == "", "S3 presigned URLs are signed without a content type"


def test_the_answer_stays_under_cloudformations_4_kb_limit(cognito, attachment):
    pool_id = busy_pool(cognito, {slot: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{'x' * 60}-{slot}" for slot in pool.SLOTS})
    answer = run(resource_event("Create", pool_id), attachment)
    assert answer["Status"] == "FAILED"
    assert len(json.dumps(answer).encode()) < 4096


# --- the pieces -------------------------------------------------------------------------------------


def update_parameters() -> list[str]:
    model = botocore.session.get_session().get_service_model("cognito-idp")
    return list(model.operation_model("UpdateUserPool").input_shape.members)


def test_carried_settings_are_exactly_what_describe_and_update_share():
    model = botocore.session.get_session().get_service_model("cognito-idp")
    update = model.operation_model("UpdateUserPool").input_shape.members
    described = model.operation_model("DescribeUserPool").output_shape.members["UserPool"].members
    shared = {name for name in update if name in described and update[name].name == described[name].name}
    assert set(pool.CARRIED) == shared - {"LambdaConfig"}
    assert set(update) - shared == {"UserPoolId", "PoolName"}
    assert pool.RENAMED == {"Name": "PoolName"} and described["Name"].name == update["PoolName"].name
    trigger_slots = set(model.shape_for("LambdaConfigType").members)
    assert set(pool.SLOTS) | {pool.TOKEN_CONFIG} <= trigger_slots


def test_the_deprecated_validity_field_is_not_sent_next_to_its_replacement():
    described = {
        "Id": "us-east-1_X1",
        "Policies": {"PasswordPolicy": {"MinimumLength": 8, "TemporaryPasswordValidityDays": 3}},
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True, "UnusedAccountValidityDays": 3},
    }
    request = pool.update_request(described, {})
    assert request["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert request["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 3
    assert described["AdminCreateUserConfig"]["UnusedAccountValidityDays"] == 3, "the described pool is not modified"
    legacy = {
        "Id": "us-east-1_X1",
        "Policies": {"PasswordPolicy": {"MinimumLength": 8}},
        "AdminCreateUserConfig": {"UnusedAccountValidityDays": 5},
    }
    assert pool.update_request(legacy, {})["Policies"]["PasswordPolicy"]["TemporaryPasswordValidityDays"] == 5


def test_the_sample_events_run_against_a_pool(cognito, attachment):
    pool_id = busy_pool(cognito)
    for name in ("create", "update", "delete"):
        sample = json.loads((ROOT / "events" / "attach_triggers" / f"{name}.json").read_text())
        sample["ResourceProperties"]["UserPoolId"] = pool_id
        if "OldResourceProperties" in sample:
            sample["OldResourceProperties"]["UserPoolId"] = pool_id
        if "PhysicalResourceId" in sample:
            sample["PhysicalResourceId"] = pool.physical_id(pool_id)
        answer = run(sample, attachment)
        assert answer["Status"] == "SUCCESS", (name, answer["Reason"])
    assert describe(cognito, pool_id)["LambdaConfig"] == {"CustomMessage": OTHER, "PostAuthentication": OTHER}


# --- template.yaml -----------------------------------------------------------------------------------

TEMPLATE = Template()


def test_the_custom_resource_attaches_the_same_functions_as_the_created_pool():
    resource = TEMPLATE.resources["TriggerAttachment"]
    triggers = {slot: value["Fn::GetAtt"][0] for slot, value in resource["Properties"]["Triggers"].items()}
    assert triggers == TEMPLATE.trigger_slots()
    assert set(triggers) == set(pool.SLOTS)
    assert resource["Condition"] == "AttachToExistingPool"
    assert resource["Properties"]["PreTokenGenerationVersion"] == {"Ref": "PreTokenGenerationVersion"}
    pool_config = TEMPLATE.resources["UserPool"]["Properties"]["LambdaConfig"]["PreTokenGenerationConfig"]
    assert pool_config["LambdaVersion"] == {"Ref": "PreTokenGenerationVersion"}
    permissions = {r["Properties"]["FunctionName"]["Fn::GetAtt"][0] for r in cognito_permissions().values()}
    assert permissions == set(triggers.values())
    assert set(resource["DependsOn"]) == {
        f"{function.removesuffix('Function')}InvokePermission" for function in triggers.values()
    }


def cognito_permissions() -> dict[str, dict]:
    """The Lambda permissions Cognito invokes the triggers with (others: Secrets Manager's rotation)."""
    permissions = TEMPLATE.resources_of_type("AWS::Lambda::Permission").items()
    return {k: v for k, v in permissions if v["Properties"]["Principal"] == "cognito-idp.amazonaws.com"}


def test_everything_that_names_the_pool_follows_the_condition():
    assert TEMPLATE.resources["UserPool"]["Condition"] == "CreateUserPool"
    for logical_id, permission in cognito_permissions().items():
        source = permission["Properties"]["SourceArn"]["Fn::If"]
        assert source[0] == "CreateUserPool" and source[1] == {"Fn::GetAtt": ["UserPool", "Arn"]}, logical_id
        assert source[2]["Fn::Sub"].endswith(":userpool/${UserPoolId}"), logical_id
    for logical_id in ("VerifyAuthChallengeUserPoolPolicy", "DefaultGroupPolicy"):
        (statement,) = TEMPLATE.resources[logical_id]["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Resource"]["Fn::If"][0] == "CreateUserPool", logical_id
    client = TEMPLATE.resources["UserPoolClient"]
    assert client["Condition"] == "CreateAppClient"
    assert client["Properties"]["UserPoolId"] == {"Fn::If": ["CreateUserPool", {"Ref": "UserPool"}, {"Ref": "UserPoolId"}]}
    outputs = TEMPLATE.body["Outputs"]
    assert outputs["UserPoolId"]["Value"] == {"Fn::If": ["CreateUserPool", {"Ref": "UserPool"}, {"Ref": "UserPoolId"}]}
    assert outputs["UserPoolClientId"]["Value"]["Fn::If"][0] == "CreateAppClient"


def test_the_attach_function_may_touch_only_the_given_pool_and_its_own_items():
    statements = TEMPLATE.resources["AttachTriggersFunction"]["Properties"]["Policies"][0]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid["ReadAndUpdatePool"]["Action"]) == {
        "cognito-idp:DescribeUserPool", "cognito-idp:UpdateUserPool", "cognito-idp:ListUserPoolClients", "cognito-idp:DescribeUserPoolClient"
    }  # fmt: skip
    assert by_sid["ReadAndUpdatePool"]["Resource"]["Fn::Sub"].endswith(":userpool/${UserPoolId}")
    assert by_sid["PreviousTriggers"]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["ATTACHMENT#*"]


# --- pool settings that weaken sign-in ------------------------------------------------------------------


@pytest.mark.parametrize("settings, warned", [({"AttributesRequireVerificationBeforeUpdate": ["email"]}, False), ({}, True)])
def test_attaching_warns_when_users_may_change_email_without_verifying(cognito, attachment, log_lines, settings, warned):
    pool_id = cognito.create_user_pool(
        PoolName="lenient", AutoVerifiedAttributes=["email"], UserAttributeUpdateSettings=settings
    )["UserPool"]["Id"]
    assert run(resource_event("Create", pool_id), attachment)["Status"] == "SUCCESS"
    logs = log_lines.getvalue()
    assert ('"message":"attached pool setting weakens sign-in"' in logs) is warned
    if warned:
        assert "AttributesRequireVerificationBeforeUpdate" in logs and pool_id in logs


@pytest.mark.parametrize(
    "write_attributes, warned", [(["email", "name"], False), (["email", "email_verified"], True), (None, True)]
)
def test_attaching_warns_when_an_app_client_may_write_email_verified(cognito, attachment, log_lines, write_attributes, warned):
    pool_id = cognito.create_user_pool(
        PoolName="clients",
        AutoVerifiedAttributes=["email"],
        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
    )["UserPool"]["Id"]
    extra = {} if write_attributes is None else {"WriteAttributes": write_attributes}
    client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="web", **extra)["UserPoolClient"]["ClientId"]
    assert run(resource_event("Create", pool_id), attachment)["Status"] == "SUCCESS"
    logs = log_lines.getvalue()
    assert (f"app client {client_id} lets users write email_verified" in logs) is warned


@pytest.mark.parametrize(
    "flows, warned", [(["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"], False), (["ALLOW_CUSTOM_AUTH"], True), (None, True)]
)
def test_attaching_warns_when_another_app_client_may_ask_for_sign_in_emails(cognito, attachment, log_lines, flows, warned):
    pool_id = cognito.create_user_pool(
        PoolName="clients",
        AutoVerifiedAttributes=["email"],
        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
    )["UserPool"]["Id"]
    keyless = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="keyless", ExplicitAuthFlows=["ALLOW_CUSTOM_AUTH"], WriteAttributes=["email"]
    )
    extra = {} if flows is None else {"ExplicitAuthFlows": flows}
    other = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="mobile", WriteAttributes=["email"], **extra)[
        "UserPoolClient"
    ]["ClientId"]
    request = resource_event("Create", pool_id)
    request["ResourceProperties"]["AppClientId"] = keyless["UserPoolClient"]["ClientId"]
    assert run(request, attachment)["Status"] == "SUCCESS"
    logs = log_lines.getvalue()
    assert (f"app client {other} allows CUSTOM_AUTH" in logs) is warned
    assert "allows CUSTOM_AUTH" not in logs.replace(f"app client {other} allows CUSTOM_AUTH", "")
