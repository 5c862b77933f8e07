"""AWS failing underneath a sign-in: each fault gives the generic message, leaves nothing half done,
and the same request succeeds when repeated after the fault."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError

from keyless.aws import runtime
from keyless_client import link_secret
from testkit.clients import error_code, error_message
from testkit.mail import emails_to, last_code, last_link, wrong

APP = "https://app.example.com/"
ALICE = "alice@example.com"
GENERIC = "failed with error Sign-in is temporarily unavailable, please try again."


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


# (service, operation, error: an AWS error code or an exception, message)
STORE_FAULTS = [
    ("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException", ""),
    ("dynamodb", "UpdateItem", "InternalServerError", ""),
    ("dynamodb", "UpdateItem", ConnectTimeoutError(endpoint_url="https://dynamodb"), ""),
]
SEND_FAULTS = [
    *STORE_FAULTS,
    ("sesv2", "SendEmail", "MessageRejected", f"Email address is not verified: {ALICE}"),
    ("sesv2", "SendEmail", "TooManyRequestsException", ""),
    ("sesv2", "SendEmail", "AccountSuspendedException", ""),
    ("sesv2", "SendEmail", "SendingPausedException", ""),
    ("sesv2", "SendEmail", "MailFromDomainNotVerifiedException", ""),
    ("sesv2", "SendEmail", "LimitExceededException", "Daily message quota exceeded"),
    ("secretsmanager", "GetSecretValue", "InternalServiceError", ""),
    ("secretsmanager", "GetSecretValue", "AccessDeniedException", ""),
]


@pytest.mark.parametrize("method", ["EMAIL_OTP", "MAGIC_LINK"])
@pytest.mark.parametrize("service, operation, error, message", SEND_FAULTS, ids=fault_id)
def test_send_fault_leaves_no_limit_and_a_retry_succeeds(
    client, make_user, faults, deployment, clock, service, operation, error, message, method, capfd, log_lines
):
    make_user(ALICE)
    request = client.request_code if method == "EMAIL_OTP" else (lambda c: client.request_link(c, APP))
    if service == "secretsmanager":
        runtime.reset(session=faults.session, clock=clock)  # a cold container: the key must be fetched
    else:
        runtime.default_runtime().keys.current()  # a warm container, so the fault hits the call under test
    faults.fail(service, operation, error, message)
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


@pytest.mark.parametrize("service, operation, error, message", STORE_FAULTS, ids=fault_id)
def test_link_is_not_used_up_by_a_fault(client, make_user, faults, service, operation, error, message):
    make_user(ALICE)
    client.request_link(client.start(ALICE), APP)
    link = last_link(ALICE)
    faults.fail(service, operation, error, message)
    expect_generic(lambda: client.sign_in_with_link(link), "VerifyAuthChallengeResponse")
    assert "AuthenticationResult" in client.sign_in_with_link(link)


@pytest.mark.parametrize("method", ["EMAIL_OTP", "MAGIC_LINK"])
def test_cognito_failing_to_record_email_verified_does_not_fail_the_sign_in(
    client, make_user, faults, cognito, deployment, method
):
    make_user(ALICE)
    faults.fail("cognito-idp", "AdminUpdateUserAttributes", "TooManyRequestsException")
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
    runtime.reset(session=faults.session, clock=clock)  # a cold Verify container
    faults.fail("secretsmanager", "GetSecretValue", "InternalServiceError")
    expect_generic(lambda: client.sign_in_with_link(link), "VerifyAuthChallengeResponse")
    assert "AuthenticationResult" in client.sign_in_with_link(link)


def test_ask_code_again_with_dynamodb_down(client, make_user, faults):
    make_user(ALICE)
    sent = client.request_code(client.start(ALICE))
    code = last_code(ALICE)
    faults.fail("dynamodb", "GetItem", "InternalServerError")
    expect_generic(lambda: client.answer_code(sent, wrong(code)), "CreateAuthChallenge")


def test_failed_release_after_failed_send_is_logged_not_hidden(client, make_user, faults, deployment, log_lines):
    """Two faults in a row (SES, then DynamoDB undoing the reservation): the user sees the generic
    message; the reservation stays, so the limit applies until it runs out. Documented limitation."""
    make_user(ALICE)
    refused = faults.fail("sesv2", "SendEmail", "MessageRejected")
    # Every DynamoDB write after the refusal (the release) fails.
    release = faults.fail("dynamodb", "UpdateItem", "InternalServerError", when=lambda _params: refused.used_up, times=None)
    expect_generic(lambda: client.request_code(client.start(ALICE)), "CreateAuthChallenge")
    assert emails_to(ALICE) == []
    assert refused.used_up and release.picked >= 1, "both faults were met"
    assert '"message":"trigger failed"' in log_lines.getvalue()
