"""Operator commands (issue 12): `python -m keyless_admin` invite, sign-out, unlock and status, run as
an operator runs them (its main(), reading what it prints), against the served local pool (--local:
the commands run in the pool's process) and against a deployment on moto (--pool-id, --stack: the
settings read from the pool's CreateAuthChallenge function). What they change is then checked from
outside: boto3 against the pool, the mailbox, the app's own sign-in."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import socket
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters

from keyless.attach import pool as attach
from keyless.aws import runtime
from keyless.aws.mailer import DEFAULT_TEMPLATES
from keyless.core import errors
from keyless.core.budget import Budget
from keyless.store.passkeys import NotAdded
from keyless_admin.__main__ import main
from keyless_client import PasswordlessClient
from localpool.client import InProcessCognito
from localpool.deployment import REGION, local_pool
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
from testkit.clients import passwordless, pool_cognito, refresh, refused, sign_up
from testkit.deployment import TEST_PARAMETERS, sign_up_confirmed
from testkit.faults import Faults, error_answer
from testkit.mail import code_in, emails_to, last_link, link_in, mailbox, ses_report, wrong

ALICE = "alice@example.com"
BOB = "bob@example.com"
MASKED = "a***@e***.com"
APP = "https://app.example.com/welcome"
MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"  # moto's STS GetCallerIdentity


@dataclass
class Ran:
    status: int
    result: dict[str, Any] | None  # what stdout says was done
    audit: dict[str, Any]  # the one log line of the command
    errors: list[str]  # the lines saying why not


def admin(*argv: str, session: boto3.session.Session | None = None) -> Ran:
    """`python -m keyless_admin <argv>`, as a shell runs it: its exit status and what it printed.
    (The pool's threads may print their own logs meanwhile: the result is the indented JSON block.)"""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv), session=session)
    lines = out.getvalue().splitlines()
    result = json.loads("\n".join(lines[lines.index("{") : lines.index("}") + 1])) if "{" in lines else None
    err_lines = err.getvalue().splitlines()
    audits = [json.loads(line) for line in err_lines if line.startswith('{"time"')]
    assert len(audits) == 1, err.getvalue()
    return Ran(status, result, audits[0], [line for line in err_lines if line.startswith("error: ")])


def local(server, state_dir, command: str, email: str, *options: str) -> Ran:
    return admin("--local", "--endpoint", server.url, "--state-dir", str(state_dir), *options, command, email)


def emails(server, address: str) -> list[dict]:
    return [mail for mail in mailbox(server) if address in mail["to"]]


def attributes(server, address: str) -> dict[str, str]:
    found = pool_cognito(server).admin_get_user(UserPoolId=server.pool.pool_id, Username=address)
    return {a["Name"]: a["Value"] for a in found["UserAttributes"]} | {"status": found["UserStatus"]}


def refused_as(ran: Ran, code: str) -> str:
    """The one line that says why the command was not done (exit 1, logged with that result)."""
    assert (ran.status, ran.result, ran.audit["result"], len(ran.errors)) == (1, None, code, 1), ran
    assert ran.errors[0].startswith(f"error: {code}: ")
    return ran.errors[0].removeprefix(f"error: {code}: ")


def bounce(address: str, at: float) -> None:
    """SES reporting a hard bounce of `address` to EmailEventsFunction (its real handler)."""
    spec = Template().functions()["EmailEventsFunction"]
    load_handler(spec)(ses_report("bounce_permanent", address, at), LambdaContext(function_name="EmailEvents"))


@pytest.fixture
def server(serve_pool):
    return serve_pool(parameters=TEST_PARAMETERS)


# --- invite ---------------------------------------------------------------------------------------


def test_bad_usage_exits_2():
    with pytest.raises(SystemExit) as exited, contextlib.redirect_stderr(io.StringIO()):
        main(["--local", "status"])
    assert exited.value.code == 2


def test_invite_creates_the_user_without_cognitos_message_and_its_welcome_link_signs_them_in(server, pool_state_dir):
    ran = local(server, pool_state_dir, "invite", ALICE)

    assert ran.status == 0 and ran.errors == []
    sub = ran.result["sub"]
    assert ran.result == {
        "pool": server.pool.pool_id,
        "invited": MASKED,
        "sub": sub,
        "email": "sent",
        "page": "https://app.example.com/",  # the first AllowedRedirectOrigins entry
        "linkExpiresAt": ran.result["linkExpiresAt"],
    }
    assert {k: v for k, v in ran.audit.items() if k != "time"} == {
        "who": "local", "command": "invite", "user": MASKED, "sub": sub, "pool": server.pool.pool_id, "result": "ok",
    }  # fmt: skip
    mails = emails(server, ALICE)
    assert [(m["source"], m["subject"]) for m in mails] == [("ses", "You are invited to Keyless")], "Cognito sent nothing"
    assert "expires in 15 minutes" in mails[0]["text"]
    before = attributes(server, ALICE)
    assert before["status"] == "CONFIRMED" and before.get("email_verified") != "true", (
        "the link proves the address, not the invite"
    )
    limits = local(server, pool_state_dir, "status", ALICE).result
    assert (limits["nextEmailInSeconds"], limits["mailboxEmails"]["inWindow"]) == (60, 0), "the user's email, not the mailbox's"

    app = passwordless(server)
    link = link_in(mails[0])
    assert link.startswith("https://app.example.com/#")
    assert "AuthenticationResult" in app.sign_in_with_link(link)
    assert attributes(server, ALICE)["email_verified"] == "true"
    assert refused(lambda: app.sign_in_with_link(link))[0] == "NotAuthorizedException", "the link works once"

    again = local(server, pool_state_dir, "invite", ALICE.upper())
    assert refused_as(again, "UserExists") == f"a user with the address {MASKED} already exists in {server.pool.pool_id}"
    assert len(emails(server, ALICE)) == 1
    assert ALICE not in json.dumps([ran.result, ran.audit, again.audit, again.errors]).lower()


def test_a_command_that_cannot_be_done_says_why_in_one_line_and_changes_nothing(server, pool_state_dir, served_clock, tmp_path):
    bounce("carol@example.com", served_clock())
    cognito = pool_cognito(server)

    refusals = {
        "dave@mailinator.com": ("SignUpRefused", f"{server.pool.pool_id} refused d***@m***.com: PreSignUp failed with error {errors.DISPOSABLE_EMAIL}."),
        "carol@example.com": ("AddressSuppressed", "c***@e***.com gets no email until "),
        "not an address": ("InvalidAddress", "not an email address a sign-in email can go to"),
    }  # fmt: skip
    for address, (code, message) in refusals.items():
        ran = local(server, pool_state_dir, "invite", address)
        assert refused_as(ran, code).startswith(message), ran.errors
        assert cognito.list_users(UserPoolId=server.pool.pool_id)["Users"] == [], "nobody was created"
    assert mailbox(server) == []

    for command in ("status", "unlock", "sign-out"):
        missing = local(server, pool_state_dir, command, "bob@example.com")
        assert refused_as(missing, "UserNotFound") == f"no user with the address b***@e***.com in {server.pool.pool_id}"

    # --local: only with the pool's own credentials, and only where a pool answers
    (tmp_path / "credentials.json").write_text(json.dumps({"accessKeyId": "LOCALNOTTHEPOOLS", "secretAccessKey": "x"}))
    refused_as(local(server, tmp_path, "status", ALICE), "UnrecognizedClientException")
    unsigned = urllib.request.Request(
        f"{server.url}/keyless-admin", data=b'{"command": "status", "email": "a@b.co"}', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(unsigned)
    assert excinfo.value.code == 403 and json.load(excinfo.value)["__type"] == "MissingAuthenticationTokenException"

    assert "no local user pool credentials in" in refused_as(local(server, tmp_path / "none", "status", ALICE), "NoLocalPool")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    gone = admin("--local", "--endpoint", f"http://127.0.0.1:{port}", "--state-dir", str(pool_state_dir), "status", ALICE)
    assert refused_as(gone, "NoLocalPool").startswith(f"no local user pool answers at http://127.0.0.1:{port}")


# --- sign-out -------------------------------------------------------------------------------------


def test_sign_out_ends_the_users_tokens_and_every_pending_link_and_code(server, pool_state_dir, served_clock):
    sign_up(server, ALICE)
    app = passwordless(server)
    sent = app.request_code(app.start(ALICE))
    tokens = app.answer_code(sent, code_in(emails(server, ALICE)[0]))["AuthenticationResult"]
    served_clock.advance(61)
    waiting = app.request_link(app.start(ALICE), APP)  # its email: a link, and a code for this sign-in
    newest = emails(server, ALICE)[0]

    ran = local(server, pool_state_dir, "sign-out", ALICE)

    assert ran.status == 0 and ran.result["signedOut"] == MASKED and ran.result["pendingProofsRevoked"] == 2
    assert ran.audit["command"] == "sign-out" and ran.audit["result"] == "ok"
    assert refused(lambda: refresh(server, tokens["RefreshToken"]))[0] == "NotAuthorizedException"
    assert refused(lambda: pool_cognito(server).get_user(AccessToken=tokens["AccessToken"]))[0] == "NotAuthorizedException"
    assert refused(lambda: app.sign_in_with_link(link_in(newest)))[0] == "NotAuthorizedException"
    assert "AuthenticationResult" not in app.answer_code(waiting, code_in(newest)), "the code is dead too"

    served_clock.advance(61)  # a sign-out is no ban: the next sign-in works
    again = app.request_code(app.start(ALICE))
    assert "AuthenticationResult" in app.answer_code(again, code_in(emails(server, ALICE)[0]))


# --- unlock and status ----------------------------------------------------------------------------


def test_unlock_clears_the_wrong_code_budget_and_status_shows_it_masked(serve_pool, pool_state_dir, served_clock):
    server = serve_pool(parameters={**TEST_PARAMETERS, "MaxWrongCodes": "1"})
    sub = sign_up(server, ALICE)
    app = passwordless(server)
    sent = app.request_code(app.start(ALICE))
    app.answer_code(sent, wrong(code_in(emails(server, ALICE)[0])))
    served_clock.advance(61)
    assert (
        refused(lambda: app.request_code(app.start(ALICE)))[1] == f"CreateAuthChallenge failed with error {errors.CODES_LOCKED}."
    )

    status = local(server, pool_state_dir, "status", ALICE)
    assert status.status == 0 and status.audit["sub"] == sub
    shown = status.result
    assert shown["user"] == {
        "userName": sub, "email": MASKED, "emailVerified": False, "status": "CONFIRMED", "enabled": True,
        "created": shown["user"]["created"],
    }  # fmt: skip
    assert shown["wrongCodes"]["counted"] == 1 and shown["wrongCodes"]["lockedForSeconds"] > 0
    assert sorted(shown["pendingProofs"]) == ["EMAIL_OTP", "MAGIC_LINK"], "the code's email carries a link"
    assert shown["lastEmail"]["sentTo"] == MASKED and shown["mailboxEmails"]["inWindow"] == 1
    assert shown["profile"]["email"] == MASKED and shown["suppressedUntil"] is None
    item = _sign_in_item(server, sub)
    secrets_held = [item[name]["S"] for name in ("linkHash", "codeHash", "recipient")]
    assert not any(held in json.dumps(shown) for held in [*secrets_held, ALICE]), "nothing secret, no address"

    unlocked = local(server, pool_state_dir, "unlock", ALICE)
    assert unlocked.result == {
        "pool": server.pool.pool_id,
        "unlocked": MASKED,
        "sub": sub,
        "wrongCodesCleared": 1,
        "wasLocked": True,
    }
    again = app.request_code(app.start(ALICE))
    assert "AuthenticationResult" in app.answer_code(again, code_in(emails(server, ALICE)[0]))
    bounce(ALICE, served_clock())
    after = local(server, pool_state_dir, "status", ALICE).result
    assert after["wrongCodes"]["counted"] == 0 and after["nextEmailInSeconds"] == 60 and after["user"]["emailVerified"]
    assert after["suppressionReason"] == "bounce" and after["suppressedUntil"] > after["lastEmail"]["at"]


def _sign_in_item(server, sub: str) -> dict:
    table = boto3.client("dynamodb", region_name=REGION)
    return table.get_item(TableName=server.pool.deployment.table_name, Key={"pk": {"S": f"USER#{sub}"}, "sk": {"S": "SIGNIN"}})[
        "Item"
    ]


# --- a deployment on AWS (moto) -------------------------------------------------------------------


def attach_create_function(deployment) -> str:
    """The deployed CreateAuthChallenge (its code is not run here: only its configuration is read),
    in the pool's slot, as the attach custom resource puts it there."""
    session = boto3.session.Session(region_name=REGION)
    role = session.client("iam").create_role(RoleName="keyless-create", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    names = Template().functions()["CreateAuthChallengeFunction"].environment
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "")
    arn = session.client("lambda").create_function(
        FunctionName="keyless-CreateAuthChallenge",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {name: deployment.environment[name] for name in names}},
    )["FunctionArn"]
    cognito = session.client("cognito-idp")
    described = cognito.describe_user_pool(UserPoolId=deployment.pool_id)["UserPool"]
    cognito.update_user_pool(**attach.update_request(described, {"CreateAuthChallenge": arn}))
    return arn


# The operator's AWS permissions, as the README lists them (with --stack: cloudformation:DescribeStacks;
# a transaction is authorized as its items' operations: remove-passkeys' deletes, dynamodb:DeleteItem).
OPERATOR_CALLS = {
    ("sts", "GetCallerIdentity"),  # needs no permission
    ("cognito-idp", "DescribeUserPool"), ("cognito-idp", "ListUserPoolClients"), ("cognito-idp", "AdminGetUser"),
    ("cognito-idp", "ListUsers"), ("cognito-idp", "AdminCreateUser"), ("cognito-idp", "AdminSetUserPassword"),
    ("cognito-idp", "AdminUserGlobalSignOut"), ("lambda", "GetFunctionConfiguration"), ("dynamodb", "GetItem"),
    ("dynamodb", "UpdateItem"), ("dynamodb", "Query"), ("dynamodb", "TransactWriteItems"),
    ("secretsmanager", "GetSecretValue"), ("sesv2", "SendEmail"),
}  # fmt: skip


def add_passkey(sub: str, name: str, credential_id: str) -> None:
    """A passkey in the table, as a registration stores it (its key is never used here)."""
    store, now = runtime.default_runtime().passkeys, int(time.time())
    store.start_registration(sub, "challenge", "app.example.com", now + 300)
    added = store.add(sub, "challenge", now, {"credentialId": credential_id, "publicKey": "pQECAyYgASFYIA", "friendlyName": name})
    assert not isinstance(added, NotAdded)


def test_with_a_pool_id_the_settings_come_from_its_create_function_and_the_welcome_link_works(deployment, cognito):
    faults = Faults()  # logs every call of its session's clients
    session = faults.session
    pool_id = deployment.pool_id
    assert "no CreateAuthChallenge trigger" in refused_as(
        admin("--pool-id", pool_id, "invite", ALICE, session=session), "NotKeyless"
    )
    missing = admin("--pool-id", "us-east-1_Missing12", "invite", ALICE, session=session)
    assert refused_as(missing, "PoolNotFound") == f"no user pool us-east-1_Missing12 in {REGION}"
    assert missing.audit["who"] == MOTO_CALLER and missing.audit["pool"] == "us-east-1_Missing12"
    function = attach_create_function(deployment)

    ran = admin("--pool-id", pool_id, "invite", ALICE, session=session)

    assert ran.status == 0 and ran.result["invited"] == MASKED and ran.result["page"] == "https://app.example.com/"
    assert {k: ran.audit[k] for k in ("who", "command", "user", "pool", "result")} == {
        "who": MOTO_CALLER, "command": "invite", "user": MASKED, "pool": pool_id, "result": "ok",
    }  # fmt: skip
    assert len(emails_to(ALICE)) == 1 and emails_to(ALICE)[0].subject == "You are invited to Keyless"
    auth, _runner, _tokens = local_pool(deployment)
    app = PasswordlessClient(InProcessCognito(auth, deployment.client), deployment.client.client_id)
    assert "AuthenticationResult" in app.sign_in_with_link(last_link(ALICE))
    add_passkey(ran.result["sub"], "Laptop", "bGFwdG9wLWNyZWRlbnRpYWw")
    for command in ("status", "unlock", "sign-out", "remove-passkeys"):
        assert admin("--pool-id", pool_id, command, ALICE, session=session).status == 0
    assert {(call.service, call.operation) for call in faults.calls} == OPERATOR_CALLS, "the permissions the README lists"

    # What the function's settings rule out, and an email SES refuses
    functions = boto3.client("lambda", region_name=REGION)
    settings = functions.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    functions.update_function_configuration(
        FunctionName=function, Environment={"Variables": {**settings, "SAME_DEVICE_LINKS_ONLY": "true"}}
    )
    no_link = admin("--pool-id", pool_id, "invite", BOB, session=session)
    assert "no link that opens in any browser" in refused_as(no_link, "NoWelcomeLink")
    inside = {**settings, "EMAIL_TEMPLATES_DIR": "/opt/keyless-templates"}  # a folder inside the function
    functions.update_function_configuration(FunctionName=function, Environment={"Variables": inside})
    no_templates = admin("--pool-id", pool_id, "invite", BOB, session=session)
    assert refused_as(no_templates, "TemplatesNotFound").startswith(
        "the email templates in /opt/keyless-templates cannot be read"
    )
    assert [u["Username"] for u in cognito.list_users(UserPoolId=pool_id)["Users"]] == [ALICE], "nobody was created"

    faults.fail("sesv2", "SendEmail", "MessageRejected", "Email address is not verified.")
    unsent = admin("--pool-id", pool_id, "--templates", str(DEFAULT_TEMPLATES), "invite", BOB, session=session)
    assert refused_as(unsent, "EmailNotSent") == (
        f"b***@e***.com was created in {pool_id}, but the welcome email was not sent (MessageRejected): "
        "they can sign in at https://app.example.com/"
    )
    shown = admin("--pool-id", pool_id, "status", BOB, session=session).result
    assert (shown["pendingProofs"], shown["nextEmailInSeconds"]) == ({}, 0), "the send is given back: they may ask at once"


def answer_describe_stacks(session: boto3.session.Session, outputs: dict[str, dict[str, str]]) -> None:
    """CloudFormation's DescribeStacks for the stacks named in `outputs` (name -> its outputs), on this
    session's clients: moto's CloudFormation needs openapi-spec-validator, which the dev dependencies
    do not install. Each answer is checked against the API's model, as botocore's Stubber checks its
    own; a stack not named gets the error CloudFormation answers."""

    def answer(model, params, **_):
        name = params["body"]["StackName"]
        if name not in outputs:
            return error_answer("DescribeStacks", "ValidationError", f"Stack with id {name} does not exist")
        listed = [{"OutputKey": k, "OutputValue": v} for k, v in outputs[name].items()]
        parsed = {
            "Stacks": [
                {"StackName": name, "CreationTime": datetime.now(UTC), "StackStatus": "CREATE_COMPLETE", "Outputs": listed}
            ]
        }
        validate_parameters(copy.deepcopy(parsed), model.output_shape)
        return AWSResponse("https://cloudformation.local", 200, {}, None), parsed

    session.events.register("before-call.cloudformation.DescribeStacks", answer)


def test_a_stack_names_the_pool_and_client_and_a_pool_with_several_clients_needs_one_named(deployment, cognito):
    attach_create_function(deployment)  # moto's UpdateUserPool forgets UsernameAttributes: a pool of plain user names now
    name = sign_up_confirmed(cognito, deployment, ALICE)
    sub = next(
        a["Value"]
        for a in cognito.admin_get_user(UserPoolId=deployment.pool_id, Username=name)["UserAttributes"]
        if a["Name"] == "sub"
    )
    session = boto3.session.Session(region_name=REGION)
    answer_describe_stacks(
        session, {"keyless": {"UserPoolId": deployment.pool_id, "UserPoolClientId": deployment.client.client_id}}
    )

    add_passkey(sub, "Laptop", "bGFwdG9wLWNyZWRlbnRpYWw")
    ran = admin("--stack", "keyless", "status", ALICE, session=session)
    assert ran.status == 0 and ran.result["pool"] == deployment.pool_id and ran.result["sub"] == sub
    assert (ran.result["passkeyCount"], [p["credentialId"] for p in ran.result["passkeys"]]) == (1, ["bGFw***"])
    removed = admin("--stack", "keyless", "remove-passkeys", ALICE, session=session)
    assert (removed.result["passkeysRemoved"], removed.audit["command"], removed.audit["result"]) == (1, "remove-passkeys", "ok")
    assert admin("--stack", "keyless", "status", ALICE, session=session).result["passkeyCount"] == 0
    assert (name, ran.result["user"]["userName"]) == (ALICE, MASKED), "a user name that is an address is masked too"
    assert refused_as(admin("--stack", "nope", "status", ALICE, session=session), "StackNotFound") == f"no stack nope in {REGION}"

    cognito.create_user_pool_client(UserPoolId=deployment.pool_id, ClientName="another")
    several = admin("--pool-id", deployment.pool_id, "status", ALICE, session=session)
    assert "has 2 app clients: name the one links open with --client-id" in refused_as(several, "ClientNotChosen")
    named = admin("--pool-id", deployment.pool_id, "--client-id", deployment.client.client_id, "status", ALICE, session=session)
    assert named.status == 0
    unknown = admin("--pool-id", deployment.pool_id, "--client-id", "nosuchclient", "status", ALICE, session=session)
    assert refused_as(unknown, "ClientNotFound") == f"user pool {deployment.pool_id} has no app client nosuchclient"
    for name in ("bob-1", "bob-2"):  # a pool of plain user names may give two users one address
        cognito.admin_create_user(
            UserPoolId=deployment.pool_id, Username=name, UserAttributes=[{"Name": "email", "Value": "bob@example.com"}]
        )
    several = admin("--stack", "keyless", "status", "bob@example.com", session=session)
    assert refused_as(several, "SeveralUsers") == f"several users have the address b***@e***.com in {deployment.pool_id}"
    assert admin("--stack", "keyless", "status", ALICE, session=session).status == 0, "the stack names its client"


# --- the store's writes, against what may run at the same time ------------------------------------


def test_the_operators_writes_hold_against_sends_and_answers_running_at_the_same_time(deployment):
    store, now, budget = runtime.default_runtime().store, 1_800_000_000, Budget(10, 86400)
    # A send in flight (reserved, not yet sent) cannot give back, on failing, a link revoked meanwhile.
    store.reserve_send("sub-1", "first", now, 60, {"linkHash": "h1", "linkExpiresAt": now + 900})
    in_flight = store.reserve_send("sub-1", "second", now + 61, 60, {"linkHash": "h2", "linkExpiresAt": now + 961})
    before = store.revoke_proofs("sub-1", ("linkHash", "linkExpiresAt"), "revoked-1", now + 62)
    store.release_send("sub-1", "second", in_flight.previous, ("linkHash", "linkExpiresAt", "sentAt", "sendId"))
    assert before["linkHash"] == "h2" and "linkHash" not in store.read("sub-1"), "the older link stays revoked"

    # A wrong code counted from the state before an unlock is counted again on the cleared list.
    store.reserve_send("sub-2", "flow", now, 60, {"codeHash": "h", "codeFlow": "flow", "keyId": "k"})
    for second in range(3):
        store.record_wrong_code("sub-2", store.read("sub-2"), now + second, budget, "k", now + 86400, "flow")
    stale = store.read("sub-2")
    assert len(store.clear_wrong_codes("sub-2")["wrongCodes"]) == 3
    store.record_wrong_code("sub-2", stale, now + 10, budget, "k", now + 86400, "flow")
    assert store.read("sub-2")["wrongCodes"] == [now + 10]

    assert store.revoke_proofs("nobody", ("linkHash",), "revoked-2", now) == {} and store.clear_wrong_codes("nobody") == {}
    assert store.read("nobody") == {}, "no item is made for a user without one"
