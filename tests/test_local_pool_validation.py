"""Malformed requests to the served local pool fail as on Cognito: its validation of the API model
(InvalidParameterException "N validation errors detected: ..."), its password policy messages, its
schema check of attributes, and nothing changes when a request is refused. boto3's own checks are
turned off (parameter_validation=False) so the requests reach the pool as a hand-written client's would."""

from __future__ import annotations

import botocore.session
import pytest
from botocore import xform_name

from localpool.api import LocalUserPoolApi
from testkit.clients import pool_cognito, post, refused, sign_up

ALICE = "alice@example.com"
BOB = "bob@example.com"
GOOD_PASSWORD = "Aa1-" + "x" * 24  # the template's policy: 16 characters, lower, upper, digit
MODEL = botocore.session.get_session().get_service_model("cognito-idp")


def unchecked(server):
    return pool_cognito(server, retry=False, parameter_validation=False)


def lower_first(name: str) -> str:
    return name[0].lower() + name[1:]


@pytest.mark.parametrize(
    "operation", [op for op in LocalUserPoolApi.operations() if MODEL.operation_model(op).input_shape.required_members]
)
def test_every_required_member_of_every_operation_is_required(server, operation):
    """An empty request names each required member of the model (signed, so admin calls get this far)."""
    required = MODEL.operation_model(operation).input_shape.required_members
    code, message = refused(lambda: getattr(unchecked(server), xform_name(operation))())
    assert code == "InvalidParameterException"
    count = f"{len(required)} validation error{'s' if len(required) > 1 else ''} detected: "
    assert message.startswith(count)
    for member in required:
        assert f"Value null at '{lower_first(member)}' failed to satisfy constraint: Member must not be null" in message


def test_lengths_ranges_patterns_and_enums(server):
    cognito = unchecked(server)
    answer = refused(lambda: cognito.list_users(UserPoolId="not a pool id", Limit=1000))
    assert answer == (
        "InvalidParameterException",
        "2 validation errors detected: "
        "Value 'not a pool id' at 'userPoolId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+; "
        "Value '1000' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 60",
    )
    flows = ", ".join(MODEL.shape_for("AuthFlowType").enum)
    answer = refused(lambda: cognito.initiate_auth(ClientId=server.pool.client_id, AuthFlow="MAGIC", AuthParameters={}))
    assert answer == (
        "InvalidParameterException",
        f"1 validation error detected: Value 'MAGIC' at 'authFlow' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{flows}]",
    )
    attributes = [{"Name": "email", "Value": ALICE}, {"Name": "n" * 33, "Value": "x"}]
    code, message = refused(
        lambda: cognito.sign_up(ClientId=server.pool.client_id, Username=ALICE, Password=GOOD_PASSWORD, UserAttributes=attributes)
    )
    assert code == "InvalidParameterException"
    assert message.endswith(
        "at 'userAttributes.2.member.name' failed to satisfy constraint: Member must have length less than or equal to 32"
    )
    assert pool_cognito(server).list_users(UserPoolId=server.pool.pool_id)["Users"] == []  # nobody was created
    metadata = {"note": "x" * 131_073}  # a map's entries: worded as AWS words them for other services' maps
    answer = refused(
        lambda: cognito.initiate_auth(
            ClientId=server.pool.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": ALICE}, ClientMetadata=metadata
        )
    )
    assert answer == (
        "InvalidParameterException",
        "1 validation error detected: Value at 'clientMetadata' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 131072]",
    )


def test_sensitive_values_are_not_repeated(server):
    """As Cognito: the message names the member of a password, session or user name, not its value."""
    cognito = unchecked(server)
    code, message = refused(
        lambda: cognito.sign_up(ClientId=server.pool.client_id, Username=ALICE, Password="secret with spaces")
    )
    assert code == "InvalidParameterException"
    assert message == (
        "1 validation error detected: Value at 'password' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\S]+"
    )
    challenge = {"USERNAME": ALICE, "ANSWER": "123456"}
    session = "short-session"
    code, message = refused(
        lambda: cognito.respond_to_auth_challenge(
            ClientId=server.pool.client_id, ChallengeName="CUSTOM_CHALLENGE", Session=session, ChallengeResponses=challenge
        )
    )
    assert message.endswith(
        "Value at 'session' failed to satisfy constraint: Member must have length greater than or equal to 20"
    )
    assert session not in message


def test_a_value_of_the_wrong_type_is_a_serialization_error(server):
    cognito = unchecked(server)
    assert refused(lambda: cognito.list_users(UserPoolId=server.pool.pool_id, Limit="ten"))[0] == "SerializationException"
    parameters = {"USERNAME": 5}
    answer = refused(
        lambda: cognito.initiate_auth(ClientId=server.pool.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters=parameters)
    )
    assert answer[0] == "SerializationException"


@pytest.mark.parametrize(
    "password, broken",
    [
        ("Aa1-short", "Password not long enough"),
        ("aa1-" + "x" * 24, "Password must have uppercase characters"),
        ("AA1-" + "X" * 24, "Password must have lowercase characters"),
        ("Aa--" + "x" * 24, "Password must have numeric characters"),
    ],
)
def test_password_policy_with_cognitos_messages(server, password, broken):
    """The template's policy (16 characters, lower, upper and a digit), worded as Cognito words it."""
    cognito = pool_cognito(server, retry=False)
    expected = ("InvalidPasswordException", f"Password did not conform with policy: {broken}")
    assert refused(lambda: cognito.sign_up(ClientId=server.pool.client_id, Username=ALICE, Password=password)) == expected
    pool_id = server.pool.pool_id
    assert refused(lambda: cognito.admin_create_user(UserPoolId=pool_id, Username=ALICE, TemporaryPassword=password)) == expected
    assert cognito.list_users(UserPoolId=server.pool.pool_id)["Users"] == []


def test_sign_up_without_a_password_is_refused(server):
    """This pool offers no Cognito passwordless sign-up (Keyless signs users up with a password nobody keeps)."""
    cognito = pool_cognito(server, retry=False)
    code, _ = refused(lambda: cognito.sign_up(ClientId=server.pool.client_id, Username=ALICE))
    assert code == "InvalidParameterException"
    assert cognito.list_users(UserPoolId=server.pool.pool_id)["Users"] == []


def test_attributes_outside_the_schema_are_refused_by_admin_calls_too(server):
    cognito = pool_cognito(server, retry=False)
    stray = {"Name": "custom:plan", "Value": "gold"}
    not_in_schema = (
        "InvalidParameterException",
        "Attributes did not conform to the schema: custom:plan: Attribute does not exist in the schema.",
    )
    pool_id = server.pool.pool_id
    attributes = [{"Name": "email", "Value": ALICE}, stray]
    assert (
        refused(lambda: cognito.admin_create_user(UserPoolId=pool_id, Username=ALICE, UserAttributes=attributes)) == not_in_schema
    )
    assert cognito.list_users(UserPoolId=server.pool.pool_id)["Users"] == []
    sign_up(server, ALICE)
    changes = [{"Name": "name", "Value": "Alice"}, stray]
    assert (
        refused(lambda: cognito.admin_update_user_attributes(UserPoolId=pool_id, Username=ALICE, UserAttributes=changes))
        == not_in_schema
    )
    kept = cognito.admin_get_user(UserPoolId=server.pool.pool_id, Username=ALICE)["UserAttributes"]
    assert {a["Name"] for a in kept}.isdisjoint({"custom:plan", "name"})


def test_one_password_policy_everywhere(server):
    """SignUp, AdminCreateUser and AdminSetUserPassword check the pool's policy alike, with Cognito's
    messages, up to the API's 256 characters; only Basic Latin letters and digits count."""
    cognito = pool_cognito(server, retry=False)
    long_password = "Aa1-" + "x" * 200
    cognito.sign_up(ClientId=server.pool.client_id, Username=ALICE, Password=long_password)  # moto alone: 98 at most
    no_digit = ("InvalidPasswordException", "Password did not conform with policy: Password must have numeric characters")
    pool_id = server.pool.pool_id
    assert (
        refused(lambda: cognito.admin_set_user_password(UserPoolId=pool_id, Username=ALICE, Password="Aa--" + "x" * 20))
        == no_digit
    )
    latin_upper = ("InvalidPasswordException", "Password did not conform with policy: Password must have uppercase characters")
    assert (
        refused(lambda: cognito.sign_up(ClientId=server.pool.client_id, Username=BOB, Password="Éa1-" + "x" * 20)) == latin_upper
    )
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=ALICE, Password="Bb2-" + "y" * 20, Permanent=True)


def test_members_the_model_does_not_name_and_nulls_are_ignored(server):
    """As AWS's JSON protocols read a request: an unknown member or a null value is as if absent."""
    request = {
        "ClientId": server.pool.client_id,
        "Username": ALICE,
        "Password": GOOD_PASSWORD,
        "UserAttributes": None,
        "Extra": 1,
    }
    status, _, answer = post(server.url, "SignUp", request)
    assert status == 200 and answer["UserConfirmed"] is True
    start = {
        "ClientId": server.pool.client_id,
        "AuthFlow": "CUSTOM_AUTH",
        "AuthParameters": {"USERNAME": ALICE},
        "ClientMetadata": None,
    }
    status, _, answer = post(server.url, "InitiateAuth", {**start, "Bogus": {"deep": [1]}})
    assert status == 200 and answer["ChallengeName"] == "CUSTOM_CHALLENGE"


def test_confirm_sign_up_tells_nobody_who_has_an_account(server):
    """PreventUserExistenceErrors: an unknown user's confirmation is refused as a wrong code is."""
    cognito = pool_cognito(server, retry=False)
    answer = refused(
        lambda: cognito.confirm_sign_up(ClientId=server.pool.client_id, Username="nobody@example.com", ConfirmationCode="123456")
    )
    assert answer == ("CodeMismatchException", "Invalid verification code provided, please try again.")
