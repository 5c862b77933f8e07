"""Each function's IAM policy names exactly the AWS actions its code calls, on the items it uses.

The actions are not listed by hand. Every path of every function that reaches AWS runs here: the
triggers through the local user pool over HTTP (sign-up, link and code sign-ins, a wrong code, an
email SES refuses, a missing profile, a refresh), EmailEvents on a hard bounce SES reports (and the
request it then sends nothing for), a rotation of the signing key (RotateSecret, which runs
RotateSigningKey's four steps), the custom resource through its own handler (create, update,
delete). A botocore hook records each call with the function whose handler made it
(found on the call stack). template.yaml must grant each function exactly what was recorded: nothing
missing (AccessDenied in production), nothing unused (more than a compromised function needs).
"""

from __future__ import annotations

import inspect
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3
import pytest

from keyless.aws import runtime
from localpool.deployment import REGION
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
from testkit.authenticator_apps import CONFIRM, REMOVE, START, STATUS, AuthenticatorApps
from testkit.clients import passwordless, refresh, sign_up
from testkit.clock import Clock
from testkit.custom_resource import CloudFormationResponses, busy_pool, resource_event
from testkit.faults import on_every_new_session
from testkit.mail import last_code, last_link, ses_report, wrong
from testkit.passkeys import CHALLENGE, DELETE, FIDO2, ORIGIN, RP_ID, UPDATE, Passkeys, from_b64url
from testkit.passkeys import PARAMETERS as PASSKEY_PARAMETERS

# What the paths run with: every optional part that calls AWS on (passkeys, authenticator apps as a
# method and as a second step), so that every statement a deployment can have exists and is checked
# against the calls.
DRIVEN = {
    "DefaultGroup": "members",
    **PASSKEY_PARAMETERS,
    "AuthenticatorApps": "Enabled",
    "AuthenticatorAppSecondStep": "Required",
}
TEMPLATE = Template(parameters=DRIVEN)
LOCAL_POOL = Path(__file__).resolve().parent.parent / "localpool"
FUNCTIONS = TEMPLATE.functions()
ALICE = "alice@example.com"
BOB = "bob@example.com"
CAROL = "carol@example.com"
DAVE = "dave@example.com"


# --- what the template grants ------------------------------------------------------------------------


def statements(logical_id: str) -> list[dict]:
    """The function's own inline statements and those of separate policies attached to its role, as
    CloudFormation makes them with DRIVEN (a statement in Fn::If on a condition that does not hold is
    left out, as AWS::NoValue leaves it)."""
    found = []
    for policy in TEMPLATE.resources[logical_id]["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, f"{logical_id}: only inline statements, no managed policies"
        found.extend(policy["Statement"])
    for resource in TEMPLATE.resources_of_type("AWS::IAM::Policy").values():
        if {"Ref": f"{logical_id}Role"} in resource["Properties"]["Roles"]:
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return [kept for kept in map(with_conditions, found) if kept is not None]


def with_conditions(statement: dict) -> dict | None:
    """The statement CloudFormation keeps of `statement` with DRIVEN's conditions (None: left out)."""
    if set(statement) != {"Fn::If"}:
        return statement
    condition, when_true, when_false = statement["Fn::If"]
    chosen = when_true if TEMPLATE.condition(condition) else when_false
    return None if chosen == {"Ref": "AWS::NoValue"} else with_conditions(chosen)


def listed(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def granted_actions(logical_id: str) -> set[str]:
    return {action for statement in statements(logical_id) for action in listed(statement["Action"])}


def leading_key_patterns(statement: dict) -> list[str]:
    return listed(statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys", []))


# --- what the code calls -----------------------------------------------------------------------------


TRANSACTION_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


class CallRecorder:
    """AWS calls by template function, from botocore's side: '<IAM prefix>:<operation>' and, for
    DynamoDB, the partition keys touched. A before-parameter-build hook on every session (the
    functions' runtime builds one, the attach function one per invocation) hands it each call."""

    def __init__(self):
        self._functions = {spec.code_uri.resolve(): logical_id for logical_id, spec in FUNCTIONS.items()}
        self.actions: dict[str, set[str]] = defaultdict(set)
        self.table_calls: dict[str, set[tuple[str, str]]] = defaultdict(set)  # (action, partition key)
        self.written_attributes: dict[tuple[str, str], set[str]] = defaultdict(set)  # (function, key) -> names
        self.secret_calls: dict[str, set[tuple[str, str]]] = defaultdict(set)  # (action, secret ARN)
        self.physical: dict[str, str] = {}  # the deployment's resources: logical id -> ARN or name

    def calling_function(self) -> str | None:
        """The template function whose handler is on the stack; None for the local pool's own calls
        (its hooks run inside a handler's AWS call, as Cognito's work runs outside the function)."""
        frame = inspect.currentframe()
        while frame is not None:
            path = Path(frame.f_code.co_filename).resolve()
            if LOCAL_POOL in path.parents:
                return None
            found = self._functions.get(path.parent)
            if found:
                return found
            frame = frame.f_back
        return None

    def record(self, params: dict, model: Any, **_: Any) -> None:
        function = self.calling_function()
        if function is None:  # the test's or the local pool's own calls
            return
        prefix = model.service_model.signing_name
        if "TransactItems" in params:
            # IAM authorizes each item of a transaction as the item operation it is (Put: PutItem, ...).
            for item in params["TransactItems"]:
                ((kind, request),) = item.items()
                self.record_call(function, f"{prefix}:{TRANSACTION_ACTIONS[kind]}", request)
            return
        self.record_call(function, f"{prefix}:{model.name}", params)

    def record_call(self, function: str, action: str, params: dict) -> None:
        self.actions[function].add(action)
        if "SecretId" in params:
            self.secret_calls[function].add((action, params["SecretId"]))
        keys = [params.get("Key") or params.get("Item") or {}]
        for request in (params.get("RequestItems") or {}).values():  # BatchGetItem
            keys.extend(request.get("Keys", []))
        if "KeyConditionExpression" in params:  # Query: the partition key it reads
            keys.append({"pk": params["ExpressionAttributeValues"][":pk"]})
        for key in keys:
            if "pk" in key:
                self.table_calls[function].add((action, key["pk"]["S"]))
                self.written_attributes[(function, key["pk"]["S"])].update(
                    (params.get("ExpressionAttributeNames") or {}).values()
                )


@pytest.fixture
def recorder():
    recorder = CallRecorder()
    with on_every_new_session("before-parameter-build", recorder.record):
        yield recorder


def drive_the_triggers(serve_pool) -> dict[str, str]:
    """Returns the deployment's resources (logical id -> ARN or name)."""
    clock = Clock()
    server = serve_pool(clock=clock, parameters=DRIVEN)
    app = passwordless(server)
    ses = boto3.client("ses", region_name=REGION)
    sender = TEMPLATE.parameters.get("SenderEmail") or server.pool.deployment.template.parameters["SenderEmail"]

    alice = sign_up(server, ALICE)  # PreSignUp, PostConfirmation (group, profile)
    app.sign_in_with_link(
        last_link_after(app, ALICE, f"{server.url}/")
    )  # Create (send), Verify (consume, verify email), PreTokenGeneration
    clock.advance(61)
    challenge = app.request_code(app.start(ALICE))
    challenge = app.answer_code(challenge, wrong(last_code(ALICE)))  # Create reads the code back
    tokens = app.answer_code(challenge, last_code(ALICE))

    # SES refuses (sender no longer verified): the reservation is undone, by PutItem (a user with an
    # earlier send) and by DeleteItem (a first send).
    sign_up(server, BOB)
    clock.advance(61)
    ses.delete_identity(Identity=sender)
    for address in (ALICE, BOB):
        with pytest.raises(Exception, match="temporarily unavailable"):
            app.request_code(app.start(address))
    ses.verify_email_identity(EmailAddress=sender)

    # SES reports that Bob's address hard-bounced: EmailEvents records it, and Bob's next request
    # reads it (as every request does) and sends nothing.
    load_handler(FUNCTIONS["EmailEventsFunction"])(ses_report("bounce_permanent", BOB, clock()), LambdaContext("EmailEvents"))
    app.request_code(app.start(BOB))

    # A profile that provisioning never wrote: the next token generation creates it.
    table = boto3.client("dynamodb", region_name=REGION)
    table.delete_item(TableName=server.pool.deployment.table_name, Key={"pk": {"S": f"PROFILE#{alice}"}, "sk": {"S": "PROFILE"}})
    refresh(server, tokens["AuthenticationResult"]["RefreshToken"])

    # The signing key rotates (its schedule, or rotate-secret): RotateSigningKey's four steps. Then
    # a code under the new key, each trigger in a container of its own, as on Lambda (here the
    # functions share one runtime, so Verify would find the keys Create read before it).
    boto3.client("secretsmanager", region_name=REGION).rotate_secret(SecretId=server.pool.deployment.secret_id)
    clock.advance(61)
    runtime.reset(session=server.pool.aws_session, clock=clock)  # a new CreateAuthChallenge container
    challenge = app.request_code(app.start(ALICE))
    runtime.reset(session=server.pool.aws_session, clock=clock)  # a new VerifyAuthChallengeResponse container
    app.answer_code(challenge, last_code(ALICE))
    clock.advance(900)  # past the mailbox's burst window: one more code email for Alice
    drive_passkeys(Passkeys(server, clock))
    drive_the_authenticator_apps(server, clock)
    return server.pool.deployment.physical


def drive_passkeys(pk: Passkeys) -> None:
    """Every passkey path: registration (the management API), a sign-in by user name and one without
    (the usernameless challenge, then Verify spends it), a rename, a removal."""
    alice = pk.signed_in(ALICE)
    authenticator, _ = pk.register(alice)
    assert "AuthenticationResult" in pk.sign_in(ALICE, authenticator)
    _status, challenge = pk.api.call(CHALLENGE)
    answer = authenticator.assert_(challenge["challenge"], ORIGIN, RP_ID)
    first = pk.app.start(from_b64url(answer["userHandleB64"]).decode())
    assert "AuthenticationResult" in pk.app.respond(first, json.dumps(answer), FIDO2)
    assert pk.listed(alice)
    assert pk.api.call(UPDATE, alice, {"credentialId": authenticator.id, "friendlyName": "Laptop"})[0] == 200
    assert pk.api.call(DELETE, alice, {"credentialId": authenticator.id})[0] == 204
    # An address never proved (its verification taken back by an admin), whose first proof then
    # takes the account back: VerifyAuthChallengeResponse removes the passkeys registered before it.
    dave = pk.user(DAVE)
    pk.register(dave)
    pk.cognito.admin_update_user_attributes(
        UserPoolId=pk.server.pool.pool_id,
        Username=dave["cognito:username"],
        UserAttributes=[{"Name": "email_verified", "Value": "false"}],
    )
    assert pk.listed(pk.signed_in(DAVE)) == []


def drive_the_authenticator_apps(server, clock: Clock) -> None:
    """Carol sets an app up through the management API (a wrong first code, a start that is refused,
    one removed), signs in with it, confirms an email code with it (the second step), and signs in
    with it after the key ring rotated (her secret sealed again)."""
    apps = AuthenticatorApps(server, clock)
    sign_up(server, CAROL)
    carol = apps.signed_in(CAROL)  # her first proof: an app set up before it would go
    apps.start(carol)
    assert apps.api.call(CONFIRM, carol, {"code": "000000"})[0] in (200, 400)  # most likely a wrong code, counted
    assert apps.api.call(REMOVE, carol) == (200, {"removed": True})
    phone = apps.set_up(carol)
    assert apps.api.call(START, carol)[0] == 400 and apps.api.call(STATUS, carol)[1]["status"] == "active"
    apps.answer(apps.answer(apps.ask_for_code(CAROL), wrong(phone.code())), phone.code())  # the app as the method
    clock.advance(61)
    second = apps.app.answer_code(apps.app.request_code(apps.app.start(CAROL)), last_code(CAROL))
    assert "AuthenticationResult" in apps.app.respond(second, phone.code())
    boto3.client("secretsmanager", region_name=REGION).rotate_secret(
        SecretId=server.pool.deployment.environment["AUTHENTICATOR_KEY_SECRET_ID"]
    )
    clock.advance(30)
    runtime.reset(session=server.pool.aws_session, clock=clock)  # containers that read the new ring
    assert "AuthenticationResult" in apps.answer(apps.ask_for_code(CAROL), phone.code())


def last_link_after(app, address: str, redirect_uri: str) -> str:
    app.request_link(app.start(address), redirect_uri)
    return last_link(address)


def drive_the_custom_resource() -> None:
    """After drive_the_triggers, whose deployment made the table and set the environment."""
    handler = load_handler(FUNCTIONS["AttachTriggersFunction"])
    cognito = boto3.client("cognito-idp", region_name=REGION)
    pool_id = busy_pool(cognito)
    cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="web")  # read for the operator's warnings
    with CloudFormationResponses() as cloudformation:
        for request_type in ("Create", "Update", "Delete"):
            handler(resource_event(request_type, pool_id), LambdaContext("AttachTriggers", deadline_seconds=60))
    assert [answer["Status"] for answer in cloudformation.answers] == ["SUCCESS"] * 3


@pytest.fixture
def recorded(recorder, serve_pool) -> CallRecorder:
    recorder.physical = drive_the_triggers(serve_pool)
    drive_the_custom_resource()
    return recorder


# --- the checks --------------------------------------------------------------------------------------


def test_each_policy_grants_exactly_the_calls_its_code_makes(recorded):
    mismatches = {}
    for logical_id in FUNCTIONS:
        granted, used = granted_actions(logical_id), recorded.actions.get(logical_id, set())
        if granted != used:
            mismatches[logical_id] = {
                "granted, never called": sorted(granted - used),
                "called, not granted": sorted(used - granted),
            }
    assert mismatches == {}
    assert recorded.actions["CreateAuthChallengeFunction"] >= {"ses:SendEmail", "dynamodb:UpdateItem", "dynamodb:GetItem"}, (
        "every path ran"
    )


def test_each_table_statement_is_limited_to_the_items_its_code_touches(recorded):
    for logical_id in FUNCTIONS:
        table_statements = [s for s in statements(logical_id) if any(a.startswith("dynamodb:") for a in listed(s["Action"]))]
        for statement in table_statements:
            assert leading_key_patterns(statement), f"{logical_id}: a table statement without a dynamodb:LeadingKeys condition"
        for action, key in recorded.table_calls[logical_id]:
            allowing = [s for s in table_statements if action in listed(s["Action"])]
            patterns = [p for s in allowing for p in leading_key_patterns(s)]
            assert any(re.fullmatch(p.replace("*", ".*"), key) for p in patterns), (logical_id, action, key, patterns)


def test_attribute_limited_statements_cover_exactly_what_is_written(recorded):
    """VerifyAuthChallengeResponse may write one attribute of a profile (when the address was first
    proved), never the roles or plan that become claims."""
    limited = 0
    for logical_id in FUNCTIONS:
        for statement in statements(logical_id):
            allowed = statement.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("dynamodb:Attributes")
            if allowed is None:
                continue
            limited += 1
            patterns = leading_key_patterns(statement)
            for (function, key), names in recorded.written_attributes.items():
                if function == logical_id and any(re.fullmatch(p.replace("*", ".*"), key) for p in patterns):
                    assert names and names <= set(allowed), (logical_id, key, names, allowed)
    assert limited >= 1


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_no_wildcard_actions_or_resources(logical_id):
    for statement in statements(logical_id):
        assert all("*" not in action for action in listed(statement["Action"]))
        assert all(resource != "*" for resource in listed(statement["Resource"]))


def test_each_secret_statement_names_exactly_the_secrets_its_code_uses(recorded):
    """The signing key is read by the functions that sign and check links and codes, and written
    only by RotateSigningKey; the pseudonym key is read, never written; EmailEvents never reads the
    signing key."""
    for logical_id in FUNCTIONS:
        granted: dict[str, set[str]] = defaultdict(set)  # action -> the secrets some statement grants it on
        for statement in statements(logical_id):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in (a for a in listed(statement["Action"]) if a.startswith("secretsmanager:")):
                granted[action].update(recorded.physical[resource["Ref"]] for resource in resources)
        for action, secrets in granted.items():
            used = {secret for called, secret in recorded.secret_calls[logical_id] if called == action}
            assert used == secrets, (logical_id, action)
    writes = {
        logical_id
        for logical_id in FUNCTIONS
        for action, _secret in recorded.secret_calls[logical_id]
        if action != "secretsmanager:GetSecretValue" and action != "secretsmanager:DescribeSecret"
    }
    assert writes == {"RotateSigningKeyFunction"}
    signing_key, pseudonym_key = recorded.physical["SigningKeySecret"], recorded.physical["PseudonymKeySecret"]
    key_ring = recorded.physical["AuthenticatorKeySecret"]
    assert {secret for _action, secret in recorded.secret_calls["RotateSigningKeyFunction"]} == {signing_key, key_ring}
    assert {secret for _action, secret in recorded.secret_calls["EmailEventsFunction"]} == {pseudonym_key}


def test_ses_is_limited_to_the_sender():
    (ses,) = [s for s in statements("CreateAuthChallengeFunction") if s["Action"] == "ses:SendEmail"]
    assert ses["Condition"]["StringEquals"]["ses:FromAddress"] == {"Ref": "SenderEmail"}
