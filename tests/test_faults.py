"""AWS failing underneath a sign-in: each fault gives the generic message, leaves nothing half done,
and the same request succeeds when repeated after the fault."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError

from keyless.aws import runtime
from localpool.client import link_secret
from tests.conftest import emails_to, error_code, error_message, last_code, last_link, wrong

APP = "https://app.example.com/"
ALICE = "alice@example.com"
GENERIC = "failed with error Sign-in is temporarily unavailable, please try again."


def aws_error(code: str, operation: str, message: str = "") -> ClientError:
    status = 500 if code in ("InternalServerError", "ServiceUnavailable", "InternalFailure") else 400
    return ClientError(
        {"Error": {"Code": code, "Message": message or code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


class Faults:
    """Makes one AWS call of the container's runtime fail a given number of times."""

    def __init__(self, monkeypatch):
        self._monkeypatch = monkeypatch

    def client(self, dependency: str):
        target = getattr(runtime.default_runtime(), dependency)
        return target._current.client if dependency == "keys" else target._client

    def fail(self, dependency: str, method: str, error: Exception, times: int = 1):
        client = self.client(dependency)
        original = getattr(client, method)
        left = [times]

        def failing(*args, **kwargs):
            if left[0] > 0:
                left[0] -= 1
                raise error
            return original(*args, **kwargs)

        self._monkeypatch.setattr(client, method, failing)
        return left


@pytest.fixture
def faults(monkeypatch, deployment):
    return Faults(monkeypatch)


def table_item(deployment):
    import boto3

    items = boto3.client("dynamodb", region_name=deployment.region).scan(TableName=deployment.table_name)["Items"]
    return [i for i in items if i["sk"]["S"] == "SIGNIN"]


def expect_generic(call, trigger: str):
    with pytest.raises(ClientError) as excinfo:
        call()
    assert error_code(excinfo) == "UserLambdaValidationException"
    assert error_message(excinfo) == f"{trigger} {GENERIC}"
    assert ALICE not in error_message(excinfo)


def fault_id(value) -> str:
    return getattr(value, "__name__", None) or str(value)[:40]


STORE_FAULTS = [
    ("store", "update_item", aws_error("ProvisionedThroughputExceededException", "UpdateItem")),
    ("store", "update_item", aws_error("InternalServerError", "UpdateItem")),
    ("store", "update_item", ConnectTimeoutError(endpoint_url="https://dynamodb")),
]
SEND_FAULTS = STORE_FAULTS + [
    ("mailer", "send_email", aws_error("MessageRejected", "SendEmail", f"Email address is not verified: {ALICE}")),
    ("mailer", "send_email", aws_error("TooManyRequestsException", "SendEmail")),
    ("mailer", "send_email", aws_error("AccountSuspendedException", "SendEmail")),
    ("mailer", "send_email", aws_error("SendingPausedException", "SendEmail")),
    ("mailer", "send_email", aws_error("MailFromDomainNotVerifiedException", "SendEmail")),
    ("mailer", "send_email", aws_error("LimitExceededException", "SendEmail", "Daily message quota exceeded")),
    ("keys", "get_secret_value", aws_error("InternalServiceError", "GetSecretValue")),
    ("keys", "get_secret_value", aws_error("AccessDeniedException", "GetSecretValue")),
]


@pytest.mark.parametrize("method", ["EMAIL_OTP", "MAGIC_LINK"])
@pytest.mark.parametrize("dependency, call, error", SEND_FAULTS, ids=fault_id)
def test_send_fault_leaves_no_limit_and_a_retry_succeeds(
    client, make_user, faults, deployment, clock, dependency, call, error, method, capfd, log_lines
):
    make_user(ALICE)
    request = client.request_code if method == "EMAIL_OTP" else (lambda c: client.request_link(c, APP))
    if dependency == "keys":
        runtime.reset(clock=clock)  # a cold container: the key must be fetched
    else:
        runtime.default_runtime().keys.current()  # a warm container, so the fault hits the call under test
    runtime.default_runtime().mailer  # build clients before patching them
    faults.fail(dependency, call, error)
    expect_generic(lambda: request(client.start(ALICE)), "CreateAuthChallenge")
    assert emails_to(ALICE) == []
    assert all("sentAt" not in item for item in table_item(deployment))  # not rate-limited
    sent = request(client.start(ALICE))  # at once
    answer = (
        (lambda: client.answer_code(sent, last_code(ALICE)))
        if method == "EMAIL_OTP"
        else (lambda: client.sign_in_with_link(last_link(ALICE)))
    )
    assert "AuthenticationResult" in answer()
    output = capfd.readouterr()
    logs = output.out + output.err + log_lines.getvalue()
    assert '"message":"trigger failed"' in logs  # the fault was logged, and captured here
    for personal in (ALICE, ALICE.split("@")[0], last_code(ALICE) if method == "EMAIL_OTP" else link_secret(last_link(ALICE))):
        assert personal not in logs


@pytest.mark.parametrize("dependency, call, error", STORE_FAULTS, ids=fault_id)
def test_link_is_not_used_up_by_a_fault(client, make_user, faults, dependency, call, error):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    runtime.default_runtime().directory  # build the client before patching it
    faults.fail(dependency, call, error)
    expect_generic(lambda: client.sign_in_with_link(link), "VerifyAuthChallengeResponse")
    assert "AuthenticationResult" in client.sign_in_with_link(link)


@pytest.mark.parametrize("method", ["EMAIL_OTP", "MAGIC_LINK"])
def test_cognito_failing_to_record_email_verified_does_not_fail_the_sign_in(
    client, make_user, faults, cognito, deployment, method
):
    make_user(ALICE)
    runtime.default_runtime().directory
    faults.fail("directory", "admin_update_user_attributes", aws_error("TooManyRequestsException", "AdminUpdateUserAttributes"))
    if method == "EMAIL_OTP":
        sent = client.request_code(client.start(ALICE))
        assert "AuthenticationResult" in client.answer_code(sent, last_code(ALICE))
    else:
        client.request_link(client.start(ALICE), APP)
        assert "AuthenticationResult" in client.sign_in_with_link(last_link(ALICE))
    attributes = {
        a["Name"]: a["Value"] for a in cognito.admin_get_user(UserPoolId=deployment.pool_id, Username=ALICE)["UserAttributes"]
    }
    assert attributes.get("email_verified", "false") == "false"  # recorded at the next sign-in


def test_verify_with_secrets_manager_down_fails_cleanly_and_recovers(client, make_user, faults, clock):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    runtime.reset(clock=clock)  # a cold Verify container
    runtime.default_runtime().keys
    faults.fail("keys", "get_secret_value", aws_error("InternalServiceError", "GetSecretValue"))
    expect_generic(lambda: client.sign_in_with_link(link), "VerifyAuthChallengeResponse")
    assert "AuthenticationResult" in client.sign_in_with_link(link)


def test_ask_code_again_with_dynamodb_down(client, make_user, faults):
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    code = last_code(ALICE)
    faults.fail("store", "get_item", aws_error("InternalServerError", "GetItem"))
    expect_generic(lambda: client.answer_code(sent, wrong(code)), "CreateAuthChallenge")


def test_failed_release_after_failed_send_is_logged_not_hidden(client, make_user, faults, deployment):
    """Two faults in a row (SES, then DynamoDB undoing the reservation): the user sees the generic
    message; the reservation stays, so the limit applies until it runs out. Documented limitation."""
    make_user(ALICE)
    runtime.default_runtime().mailer
    faults.fail("mailer", "send_email", aws_error("MessageRejected", "SendEmail"))
    faults.fail("store", "put_item", aws_error("InternalServerError", "PutItem"))
    faults.fail("store", "delete_item", aws_error("InternalServerError", "DeleteItem"))
    expect_generic(lambda: client.request_code(client.start(ALICE)), "CreateAuthChallenge")
    assert emails_to(ALICE) == []
