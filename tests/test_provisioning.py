"""PostConfirmation provisioning and the token-time self-heal, against the template deployed on moto."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import boto3
import pytest

from keyless.core import errors
from keyless.core.settings import ConfigurationError
from keyless.core.settings.profiles import ProfileSettings
from keyless.profiles import provisioning
from keyless.store.profiles import ProfileStore
from localpool.deployment import REGION
from testkit.deployment import cognito_event, invoke, use_environment

ROOT = Path(__file__).resolve().parent.parent
CONFIRM = json.loads((ROOT / "events/post_confirmation/confirm_sign_up.json").read_text())
FORGOT = json.loads((ROOT / "events/post_confirmation/confirm_forgot_password.json").read_text())
TOKEN_V1 = json.loads((ROOT / "events/pre_token_generation/v1_authentication_magic_link.json").read_text())
ALICE = "alice@example.com"


@pytest.fixture
def dynamodb():
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def handlers(deployment, clock):
    return deployment.handlers()


def stored_profile(dynamodb, deployment, sub: str) -> dict | None:
    item = dynamodb.get_item(
        TableName=deployment.table_name, Key={"pk": {"S": f"PROFILE#{sub}"}, "sk": {"S": "PROFILE"}}, ConsistentRead=True
    ).get("Item")
    return item


# --- PostConfirmation --------------------------------------------------------------------------


def test_confirmation_creates_the_profile(handlers, deployment, user, dynamodb, clock):
    event = cognito_event(CONFIRM, deployment, user)
    result = invoke(handlers["PostConfirmation"], event)
    assert result["response"] == {}
    assert {k: v for k, v in result.items() if k != "response"} == {k: v for k, v in event.items() if k != "response"}
    item = stored_profile(dynamodb, deployment, user["sub"])
    assert item == {
        "pk": {"S": f"PROFILE#{user['sub']}"},
        "sk": {"S": "PROFILE"},
        "sub": {"S": user["sub"]},
        "email": {"S": ALICE},
        "createdAt": {"N": str(int(clock.now))},
        # the template's ProfileDefaults
        "tenant": {"S": "default"},
        "roles": {"L": [{"S": "user"}]},
        "plan": {"S": "free"},
    }


def test_repeated_calls_change_nothing(handlers, deployment, user, dynamodb, clock):
    event = cognito_event(CONFIRM, deployment, user)
    invoke(handlers["PostConfirmation"], event)
    first = stored_profile(dynamodb, deployment, user["sub"])
    for _ in range(2):  # Cognito calls a trigger up to three times
        clock.advance(3)
        invoke(handlers["PostConfirmation"], event)
    assert stored_profile(dynamodb, deployment, user["sub"]) == first


def test_a_changed_profile_is_not_reset_by_a_late_retry(handlers, deployment, user, dynamodb):
    event = cognito_event(CONFIRM, deployment, user)
    invoke(handlers["PostConfirmation"], event)
    key = {"pk": {"S": f"PROFILE#{user['sub']}"}, "sk": {"S": "PROFILE"}}
    dynamodb.update_item(
        TableName=deployment.table_name,
        Key=key,
        UpdateExpression="SET #plan = :p",
        ExpressionAttributeNames={"#plan": "plan"},
        ExpressionAttributeValues={":p": {"S": "pro"}},
    )
    invoke(handlers["PostConfirmation"], event)
    assert stored_profile(dynamodb, deployment, user["sub"])["plan"] == {"S": "pro"}


def test_a_password_reset_does_not_provision(handlers, deployment, user, dynamodb):
    result = invoke(handlers["PostConfirmation"], cognito_event(FORGOT, deployment, user))
    assert result["response"] == {}
    assert stored_profile(dynamodb, deployment, user["sub"]) is None


def test_the_default_group_is_joined_once(handlers, deployment, user, cognito, dynamodb, monkeypatch):
    cognito.create_group(GroupName="members", UserPoolId=deployment.pool_id)
    use_environment(monkeypatch, DEFAULT_GROUP="members")
    event = cognito_event(CONFIRM, deployment, user)
    invoke(handlers["PostConfirmation"], event)
    invoke(handlers["PostConfirmation"], event)
    groups = cognito.admin_list_groups_for_user(UserPoolId=deployment.pool_id, Username=user["name"])["Groups"]
    assert [g["GroupName"] for g in groups] == ["members"]
    assert stored_profile(dynamodb, deployment, user["sub"]) is not None


def test_no_default_group_means_no_group(handlers, deployment, user, cognito):
    cognito.create_group(GroupName="members", UserPoolId=deployment.pool_id)
    invoke(handlers["PostConfirmation"], cognito_event(CONFIRM, deployment, user))
    assert cognito.admin_list_groups_for_user(UserPoolId=deployment.pool_id, Username=user["name"])["Groups"] == []


def test_a_malformed_confirmation_is_refused_and_writes_nothing(handlers, deployment, user, dynamodb):
    for bad_sub in (None, "", "PROFILE#x", "a" * 200, "../../etc"):
        event = cognito_event(CONFIRM, deployment, user)
        if bad_sub is None:
            del event["request"]["userAttributes"]["sub"]
        else:
            event["request"]["userAttributes"]["sub"] = bad_sub
        with pytest.raises(errors.MalformedEvent):
            invoke(handlers["PostConfirmation"], event)
    assert dynamodb.scan(TableName=deployment.table_name)["Items"] == []


# --- provisioning fails: the first token generation provisions --------------------------------------


def test_a_failed_provisioning_does_not_fail_the_confirmation_and_tokens_heal_it(
    handlers, deployment, user, dynamodb, monkeypatch, caplog
):
    use_environment(monkeypatch, TABLE_NAME="keyless-table-that-does-not-exist")
    event = cognito_event(CONFIRM, deployment, user)
    assert invoke(handlers["PostConfirmation"], event)["response"] == {}
    (logged,) = [r for r in caplog.records if "provisioning failed" in r.getMessage()]
    assert logged.levelname == "ERROR" and logged.error_type == "ResourceNotFoundException"

    use_environment(monkeypatch, TABLE_NAME=deployment.table_name)
    assert stored_profile(dynamodb, deployment, user["sub"]) is None
    token = invoke(handlers["PreTokenGeneration"], cognito_event(TOKEN_V1, deployment, user))
    assert token["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]["tenant"] == "default"
    healed = stored_profile(dynamodb, deployment, user["sub"])
    assert healed["email"] == {"S": ALICE} and healed["roles"] == {"L": [{"S": "user"}]}


def test_the_self_heal_creates_exactly_what_confirmation_would(handlers, deployment, user, dynamodb, clock):
    invoke(handlers["PreTokenGeneration"], cognito_event(TOKEN_V1, deployment, user))
    healed = stored_profile(dynamodb, deployment, user["sub"])
    dynamodb.delete_item(TableName=deployment.table_name, Key={"pk": healed["pk"], "sk": healed["sk"]})
    invoke(handlers["PostConfirmation"], cognito_event(CONFIRM, deployment, user))
    assert stored_profile(dynamodb, deployment, user["sub"]) == healed


def test_a_missing_default_group_defers_everything_to_token_time(handlers, deployment, user, cognito, dynamodb, monkeypatch):
    use_environment(monkeypatch, DEFAULT_GROUP="members")  # not created yet
    invoke(handlers["PostConfirmation"], cognito_event(CONFIRM, deployment, user))
    assert stored_profile(dynamodb, deployment, user["sub"]) is None, "no profile without its group"

    with pytest.raises(errors.TemporarilyUnavailable):  # no tokens without the authorization they need
        invoke(handlers["PreTokenGeneration"], cognito_event(TOKEN_V1, deployment, user))

    cognito.create_group(GroupName="members", UserPoolId=deployment.pool_id)
    invoke(handlers["PreTokenGeneration"], cognito_event(TOKEN_V1, deployment, user))
    groups = cognito.admin_list_groups_for_user(UserPoolId=deployment.pool_id, Username=user["name"])["Groups"]
    assert [g["GroupName"] for g in groups] == ["members"]
    assert stored_profile(dynamodb, deployment, user["sub"]) is not None


def test_users_created_by_an_admin_get_their_profile_at_their_first_token(handlers, deployment, cognito, dynamodb):
    created = cognito.admin_create_user(
        UserPoolId=deployment.pool_id,
        Username="carol@example.com",
        UserAttributes=[{"Name": "email", "Value": "carol@example.com"}],
        MessageAction="SUPPRESS",
    )
    attributes = {a["Name"]: a["Value"] for a in created["User"]["Attributes"]}
    user = {"name": created["User"]["Username"], "sub": attributes["sub"], "attributes": attributes}
    invoke(handlers["PreTokenGeneration"], cognito_event(TOKEN_V1, deployment, user))
    assert stored_profile(dynamodb, deployment, user["sub"])["email"] == {"S": "carol@example.com"}


# --- the profile store and its settings ------------------------------------------------------------


def test_create_returns_the_existing_profile_untouched(deployment, dynamodb):
    store = ProfileStore(dynamodb, deployment.table_name)
    first, created = store.create(provisioning.new_profile("sub-1", " a@example.com ", 100, {"plan": "free"}))
    assert created and first == {"plan": "free", "sub": "sub-1", "email": "a@example.com", "createdAt": 100}
    again, created_again = store.create(provisioning.new_profile("sub-1", "changed@example.com", 200, {"plan": "pro"}))
    assert not created_again and again == first
    assert store.read("sub-1") == first
    assert store.read("sub-2") is None


def test_profile_defaults_keep_their_json_types(deployment, dynamodb):
    defaults = ProfileSettings.from_env(
        {
            "TABLE_NAME": deployment.table_name,
            "PROFILE_DEFAULTS": '{"quota": 2.5, "seats": 3, "beta": true, "org": {"id": 7, "tags": ["a"]}, "note": null}',
        }
    ).defaults
    assert defaults["quota"] == Decimal("2.5")
    store = ProfileStore(dynamodb, deployment.table_name)
    store.create(provisioning.new_profile("sub-3", "a@example.com", 1, defaults))
    profile = store.read("sub-3")
    assert profile["quota"] == 2.5 and isinstance(profile["quota"], float)
    assert profile["seats"] == 3 and isinstance(profile["seats"], int)
    assert profile["beta"] is True and profile["org"] == {"id": 7, "tags": ["a"]} and profile["note"] is None


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "TABLE_NAME"),
        ({"TABLE_NAME": "t", "PROFILE_DEFAULTS": "{not json"}, "not valid JSON"),
        ({"TABLE_NAME": "t", "PROFILE_DEFAULTS": '["a"]'}, "JSON object"),
        ({"TABLE_NAME": "t", "PROFILE_DEFAULTS": '{"sub": "x"}'}, "may not set sub"),
        ({"TABLE_NAME": "t", "PROFILE_DEFAULTS": '{"createdAt": 1, "pk": "x"}'}, "may not set createdAt, pk"),
        ({"TABLE_NAME": "t", "DEFAULT_GROUP": "two words"}, "DEFAULT_GROUP"),
    ],
)
def test_bad_profile_settings_are_refused_clearly(env, message):
    with pytest.raises(ConfigurationError, match=message):
        ProfileSettings.from_env(env)
