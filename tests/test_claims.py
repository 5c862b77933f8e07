"""PreTokenGeneration: claims from the profile, V1_0 and V2_0 shapes, refresh, reserved claims, and
what happens when the profile is missing or cannot be read."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest

from keyless.aws import runtime
from keyless.core import errors, token_events, triggers
from keyless.core.settings import ConfigurationError
from keyless.core.settings.profiles import ClaimsSettings
from keyless.profiles import claims
from localpool.deployment import REGION
from localpool.errors import CognitoError
from localpool.triggers import TriggerRunner
from testkit.deployment import cognito_event, invoke, use_environment

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = {p.stem: json.loads(p.read_text()) for p in (ROOT / "events" / "pre_token_generation").glob("*.json")}
PROFILE = {
    "sub": "5f2b1c1e-8a53-4f0e-9a57-6a0d3c2b9e11",
    "email": "alice@example.com",
    "createdAt": 1_800_000_000,
    "tenant": "acme",
    "roles": ["admin", "user"],
    "plan": "pro",
    "seats": 12,
    "beta": True,
    "limits": {"projects": 5, "storage_gb": 2.5},
}
MAPPING = {"tenant": "tenant_id", "roles": "roles", "plan": "plan", "seats": "seats", "beta": "beta", "limits": "limits"}
ROLE_SCOPES = {"admin": ("api/admin", "api/read"), "user": ("api/read", "api/write")}
SETTINGS = ClaimsSettings(mapping=MAPPING, role_scopes=ROLE_SCOPES)
# Every reserved claim of cognito-triggers.md, and cognito:* names, whatever Cognito calls them.
RESERVED = [
    *sorted(claims.RESERVED_CLAIMS),
    "cognito:groups", "cognito:roles", "cognito:preferred_role", "cognito:username", "cognito:user_status", "cognito:anything",
]  # fmt: skip


def parsed(name: str, **changes) -> token_events.TokenGenerationEvent:
    event = copy.deepcopy(SAMPLES[name])
    for key, value in changes.items():
        if key == "clientMetadata":
            event["request"]["clientMetadata"] = value
        else:
            event[key] = value
    return token_events.parse_token_generation(event, triggers.PRE_TOKEN_GENERATION)


def v2_details(response: dict) -> tuple[dict, dict]:
    details = response["claimsAndScopeOverrideDetails"]
    return details["idTokenGeneration"], details["accessTokenGeneration"]


# --- shapes ------------------------------------------------------------------------------------------


def test_v1_puts_string_claims_in_the_id_token():
    response = claims.token_response(parsed("v1_authentication_magic_link"), PROFILE, SETTINGS, "magic_link")
    assert response == {
        "claimsOverrideDetails": {
            "claimsToAddOrOverride": {
                "tenant_id": "acme",
                "roles": '["admin","user"]',
                "plan": "pro",
                "seats": "12",
                "beta": "true",
                "limits": '{"projects":5,"storage_gb":2.5}',
                "sign_in_method": "magic_link",
            },
            "claimsToSuppress": [],
        }
    }


def test_v2_puts_typed_claims_in_both_tokens_and_scopes_in_the_access_token():
    response = claims.token_response(parsed("v2_authentication"), PROFILE, SETTINGS, "email_otp")
    id_token, access_token = v2_details(response)
    expected = {
        "tenant_id": "acme",
        "roles": ["admin", "user"],
        "plan": "pro",
        "seats": 12,
        "beta": True,
        "limits": {"projects": 5, "storage_gb": 2.5},
        "sign_in_method": "email_otp",
    }
    assert id_token == {"claimsToAddOrOverride": expected, "claimsToSuppress": []}
    assert access_token == {
        "claimsToAddOrOverride": expected,
        "claimsToSuppress": [],
        "scopesToAdd": ["api/admin", "api/read", "api/write"],
        "scopesToSuppress": [],
    }
    assert "groupOverrideDetails" not in response["claimsAndScopeOverrideDetails"]
    json.dumps(response)


def test_the_event_version_picks_the_shape_whatever_was_configured():
    v2_configured = ClaimsSettings(mapping=MAPPING, lambda_version=claims.V2)
    assert "claimsOverrideDetails" in claims.token_response(parsed("v1_refresh"), PROFILE, v2_configured)
    assert "claimsAndScopeOverrideDetails" in claims.token_response(parsed("v2_refresh"), PROFILE, SETTINGS)
    assert "claimsAndScopeOverrideDetails" in claims.token_response(parsed("v2_refresh", version="3"), PROFILE, SETTINGS)
    # No version in the event: the configured one.
    assert "claimsAndScopeOverrideDetails" in claims.token_response(parsed("v1_refresh", version=""), PROFILE, v2_configured)
    assert "claimsOverrideDetails" in claims.token_response(parsed("v1_refresh", version=""), PROFILE, SETTINGS)


@pytest.mark.parametrize("name", ["v1_refresh", "v2_refresh"])
def test_refresh_gets_the_same_claims_without_a_sign_in_method(name):
    response = claims.token_response(parsed(name), PROFILE, SETTINGS)
    added = (response.get("claimsOverrideDetails") or response["claimsAndScopeOverrideDetails"]["idTokenGeneration"])[
        "claimsToAddOrOverride"
    ]
    assert added["tenant_id"] == "acme" and "sign_in_method" not in added


# --- configuration decides the claims ------------------------------------------------------------------


def test_the_mapping_decides_which_fields_become_which_claims():
    only_tenant = ClaimsSettings(mapping={"tenant": "org", "plan": "tier"})
    response = claims.token_response(parsed("v1_refresh"), PROFILE, only_tenant)
    assert response["claimsOverrideDetails"]["claimsToAddOrOverride"] == {"org": "acme", "tier": "pro"}
    nothing = claims.token_response(parsed("v1_refresh"), PROFILE, ClaimsSettings())
    assert nothing["claimsOverrideDetails"]["claimsToAddOrOverride"] == {}


def test_missing_and_null_fields_are_left_out():
    settings = ClaimsSettings(mapping={"tenant": "tenant", "nickname": "nickname", "note": "note"})
    added = claims.token_response(parsed("v2_refresh"), {**PROFILE, "note": None}, settings)
    assert v2_details(added)[0]["claimsToAddOrOverride"] == {"tenant": "acme"}


def test_scopes_come_only_from_roles_the_configuration_knows():
    profile = {**PROFILE, "roles": ["user", "stranger", 7, "user"]}
    _, access = v2_details(claims.token_response(parsed("v2_authentication"), profile, SETTINGS))
    assert access["scopesToAdd"] == ["api/read", "api/write"]
    _, access = v2_details(claims.token_response(parsed("v2_authentication"), {**PROFILE, "roles": "admin"}, SETTINGS))
    assert access["scopesToAdd"] == ["api/admin", "api/read"]


@pytest.mark.parametrize("name", ["v1_authentication_magic_link", "v2_authentication"])
def test_groups_from_roles_replace_the_groups_and_keep_the_iam_roles(name):
    event = copy.deepcopy(SAMPLES[name])
    event["request"]["groupConfiguration"] = {
        "groupsToOverride": ["members"],
        "iamRolesToOverride": ["arn:aws:iam::1:role/r"],
        "preferredRole": "arn:aws:iam::1:role/r",
    }
    request = token_events.parse_token_generation(event, triggers.PRE_TOKEN_GENERATION)
    settings = ClaimsSettings(mapping=MAPPING, groups_from_roles=True)
    response = claims.token_response(request, {**PROFILE, "roles": ["admin", "admin", "user"]}, settings)
    details = response.get("claimsOverrideDetails") or response["claimsAndScopeOverrideDetails"]
    assert details["groupOverrideDetails"] == {
        "groupsToOverride": ["admin", "user"],
        "iamRolesToOverride": ["arn:aws:iam::1:role/r"],
        "preferredRole": "arn:aws:iam::1:role/r",
    }


NOW = 1_800_000_000


@pytest.mark.parametrize(
    "sign_in, claim",
    [
        ({"provenMethod": "MAGIC_LINK", "provenAt": NOW}, "magic_link"),
        ({"provenMethod": "EMAIL_OTP", "provenAt": NOW - 5}, "email_otp"),
        ({"provenMethod": "SMS_OTP", "provenAt": NOW}, ""),
        ({"provenMethod": "magic_link", "provenAt": NOW}, ""),
        ({"provenMethod": "EMAIL_OTP", "provenAt": NOW - 3600}, ""),
        ({"provenMethod": "EMAIL_OTP", "provenAt": NOW + 60}, ""),
        ({"provenMethod": "EMAIL_OTP"}, ""),
        ({}, ""),
    ],
)
def test_sign_in_method_only_from_a_fresh_accepted_proof(sign_in, claim):
    assert claims.accepted_method(parsed("v2_authentication"), sign_in, NOW) == claim


@pytest.mark.parametrize("metadata", [{"signInMethod": "MAGIC_LINK"}, {"signInMethod": "EMAIL_OTP"}])
def test_what_the_client_says_is_never_a_claim(metadata):
    response = claims.token_response(parsed("v2_authentication", clientMetadata=metadata), PROFILE, SETTINGS)
    for token in v2_details(response):
        assert "sign_in_method" not in token["claimsToAddOrOverride"]


@pytest.mark.parametrize("name", ["v1_refresh", "v2_refresh"])
def test_a_refresh_carries_no_sign_in_method_whatever_the_state_says(name):
    assert claims.accepted_method(parsed(name), {"provenMethod": "MAGIC_LINK", "provenAt": NOW}, NOW) == ""


@pytest.mark.parametrize("name", ["v1_authentication_magic_link", "v2_authentication", "v1_refresh", "v2_refresh"])
@pytest.mark.parametrize(
    "sign_in, claim",
    [({"revokedAt": NOW}, str(NOW)), ({}, None), ({"revokedAt": 0}, None), ({"revokedAt": "1800000000"}, None)],
)
def test_tokens_say_which_revocation_they_followed_as_text_in_every_version(name, sign_in, claim):
    """after_revocation: the user's revokedAt as the tokens found it (the management API tells a token
    of the revocation's own second by it), text in V1 and V2 alike, refreshed tokens included."""
    response = claims.token_response(parsed(name), PROFILE, SETTINGS, after_revocation=claims.revocation_seen(sign_in))
    details = response.get("claimsOverrideDetails") or response["claimsAndScopeOverrideDetails"]["idTokenGeneration"]
    assert details["claimsToAddOrOverride"].get("after_revocation") == claim


def test_no_profile_field_becomes_a_claim_keyless_sets_from_what_it_recorded():
    """A ClaimMapping onto sign_in_method, sign_in_factors or after_revocation is ignored: those say
    what VerifyAuthChallengeResponse accepted and which revocation the tokens followed, nothing else."""
    mapping = {"plan": "sign_in_method", "roles": "sign_in_factors", "seats": "after_revocation", "tenant": "tenant_id"}
    settings = ClaimsSettings(mapping=mapping)
    added = claims.token_response(parsed("v1_refresh"), PROFILE, settings)["claimsOverrideDetails"]["claimsToAddOrOverride"]
    assert added == {"tenant_id": "acme"}


# --- reserved claims -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reserved", RESERVED)
@pytest.mark.parametrize("name", ["v1_authentication_magic_link", "v2_authentication"])
def test_a_reserved_claim_is_never_set(reserved, name, caplog):
    # Whatever the configuration maps and whatever the profile holds.
    settings = ClaimsSettings(mapping={"tenant": "tenant", "evil": reserved, reserved: reserved})
    profile = {**PROFILE, "evil": "attacker", reserved: "attacker"}
    response = claims.token_response(parsed(name), profile, settings)
    text = json.dumps(response)
    assert "attacker" not in text
    details = response.get("claimsOverrideDetails") or response["claimsAndScopeOverrideDetails"]
    tokens = [details] if "claimsToAddOrOverride" in details else [details["idTokenGeneration"], details["accessTokenGeneration"]]
    for token in tokens:
        assert reserved not in token["claimsToAddOrOverride"] and token["claimsToAddOrOverride"]["tenant"] == "acme"
        assert reserved not in token["claimsToSuppress"]
    assert any(getattr(r, "claims", None) == [reserved] for r in caplog.records), "the dropped claim is logged"


def test_the_reserved_list_is_the_documented_one():
    documented = {"sub", "iss", "aud", "client_id", "token_use", "exp", "iat", "nbf", "auth_time", "jti", "origin_jti",
                  "event_id", "username", "cognito:username", "nonce", "at_hash", "acr", "amr", "azp", "identities",
                  "device_key", "version"}  # fmt: skip
    assert claims.RESERVED_CLAIMS | {"cognito:username"} == documented
    assert not claims.is_reserved("tenant") and not claims.is_reserved("custom:tenant") and not claims.is_reserved("email")


# --- settings -------------------------------------------------------------------------------------------


def test_settings_from_the_template_defaults():
    parsed_settings = ClaimsSettings.from_env(
        {
            "CLAIM_MAPPING": '{"tenant": "tenant", "roles": "roles", "plan": "plan"}',
            "ROLE_SCOPES": '{"admin": ["api/admin"]}',
            "GROUPS_FROM_ROLES": "true",
            "PRE_TOKEN_GENERATION_VERSION": "V2_0",
        }
    )
    assert parsed_settings == ClaimsSettings(
        mapping={"tenant": "tenant", "roles": "roles", "plan": "plan"},
        role_scopes={"admin": ("api/admin",)},
        groups_from_roles=True,
        lambda_version="V2_0",
    )
    assert ClaimsSettings.from_env({}) == ClaimsSettings()


@pytest.mark.parametrize(
    "env",
    [
        {"CLAIM_MAPPING": '{"tenant": 5}'},
        {"CLAIM_MAPPING": '{"": "x"}'},
        {"CLAIM_MAPPING": "[]"},
        {"ROLE_SCOPES": '{"admin": "api/admin"}'},
        {"ROLE_SCOPES": '{"admin": ["two words"]}'},
        {"PRE_TOKEN_GENERATION_VERSION": "V3_0"},
        {"GROUPS_FROM_ROLES": "on"},
    ],
)
def test_bad_claim_settings_are_refused_clearly(env):
    with pytest.raises(ConfigurationError):
        ClaimsSettings.from_env(env)


# --- the handler, on the deployed template --------------------------------------------------------------


@pytest.fixture
def calls(deployment, clock):
    """DynamoDB operations the triggers make, in order (the runtime's session reports each call)."""
    seen: list[str] = []
    session = boto3.session.Session(region_name=REGION)
    session.events.register("before-call.dynamodb", lambda model, **_: seen.append(model.name))
    runtime.reset(session=session, clock=clock)
    return seen


def test_a_profile_change_shows_at_the_next_refresh(deployment, user, cognito, calls):
    handlers = deployment.handlers()
    confirmation = json.loads((ROOT / "events/post_confirmation/confirm_sign_up.json").read_text())
    invoke(handlers["PostConfirmation"], cognito_event(confirmation, deployment, user))
    first = invoke(handlers["PreTokenGeneration"], cognito_event(SAMPLES["v1_authentication_magic_link"], deployment, user))
    assert first["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]["plan"] == "free"

    store = runtime.default_runtime().profiles
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=deployment.table_name,
        Key={"pk": {"S": f"PROFILE#{user['sub']}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET #plan = :plan",
        ExpressionAttributeNames={"#plan": "plan"},
        ExpressionAttributeValues={":plan": {"S": "pro"}},
    )
    assert store.read(user["sub"])["plan"] == "pro"
    calls.clear()
    refreshed = invoke(handlers["PreTokenGeneration"], cognito_event(SAMPLES["v1_refresh"], deployment, user))
    assert refreshed["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]["plan"] == "pro"
    assert calls == ["BatchGetItem"], "one read of the profile and the sign-in state per token generation"


def test_a_missing_profile_is_created_once_then_read(deployment, user, calls):
    handler = deployment.handlers()["PreTokenGeneration"]
    event = cognito_event(SAMPLES["v2_authentication"], deployment, user)
    response = invoke(handler, event)["response"]
    assert v2_details(response)[0]["claimsToAddOrOverride"]["roles"] == ["user"]
    assert calls == ["BatchGetItem", "PutItem"]
    invoke(handler, event)
    assert calls == ["BatchGetItem", "PutItem", "BatchGetItem"]


def test_an_unreadable_profile_fails_the_token_generation(deployment, user, monkeypatch, caplog):
    use_environment(monkeypatch, TABLE_NAME="keyless-table-that-does-not-exist")
    runner = TriggerRunner({"PreTokenGeneration": deployment.handlers()["PreTokenGeneration"]})
    with pytest.raises(CognitoError) as caught:
        runner("PreTokenGeneration", cognito_event(SAMPLES["v1_authentication_email_otp"], deployment, user))
    assert caught.value.error_type == "UserLambdaValidationException"
    assert caught.value.message == f"PreTokenGeneration failed with error {errors.UNAVAILABLE}."
    (failure,) = [r for r in caplog.records if r.getMessage() == "trigger failed"]
    assert failure.error_code == "ResourceNotFoundException"


def test_a_machine_client_gets_default_tokens_and_no_profile(deployment, calls):
    event = copy.deepcopy(SAMPLES["v2_authentication"])
    event.update(version="3", triggerSource="TokenGeneration_ClientCredentials", userName="machine-client")
    event["request"]["userAttributes"] = {}
    result = invoke(deployment.handlers()["PreTokenGeneration"], event)
    assert result["response"] == {} and calls == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["request"]["userAttributes"].pop("sub"),
        lambda e: e["request"].update(groupConfiguration={"groupsToOverride": "admin"}),
        lambda e: e["request"].update(scopes="aws.cognito.signin.user.admin"),
        lambda e: e.update(version=2),
        lambda e: e.update(triggerSource="TokenGeneration_Unknown"),
    ],
)
def test_a_malformed_event_is_refused(deployment, user, calls, mutate):
    event = cognito_event(SAMPLES["v2_authentication"], deployment, user)
    mutate(event)
    with pytest.raises(errors.MalformedEvent):
        invoke(deployment.handlers()["PreTokenGeneration"], event)
    assert calls == []
