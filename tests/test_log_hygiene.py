"""Nothing secret or personal reaches a log line or an error message, on happy and failing paths."""

import pytest
from botocore.exceptions import ClientError

from keyless_client import link_secret
from testkit.mail import last_code, last_link

EMAIL = "secret.person@example.com"


def test_logs_hold_no_address_code_or_link(client, make_user, capfd, clock, faults, log_lines):
    make_user(EMAIL)
    sent = client.request_code(client.start(EMAIL))
    code = last_code(EMAIL)
    client.answer_code(sent, "000000" if code != "000000" else "111111")  # a wrong code is logged as such
    clock.advance(61)
    client.request_link(client.start(EMAIL), "https://app.example.com/")
    link = last_link(EMAIL)
    client.sign_in_with_link(link)
    with pytest.raises(ClientError):
        client.sign_in_with_link(link)  # replay
    with pytest.raises(ClientError):
        client.request_code(client.start(EMAIL))  # rate limited
    clock.advance(61)

    faults.fail("sesv2", "SendEmail", "MessageRejected", f"Email address is not verified: {EMAIL}", times=None)
    with pytest.raises(ClientError) as excinfo:
        client.request_code(client.start(EMAIL))
    assert EMAIL not in str(excinfo.value.response)

    output = capfd.readouterr()
    logs = output.out + output.err + log_lines.getvalue()
    assert '"message":"sign-in email sent"' in logs  # the logs were captured at all
    for secret in (EMAIL, EMAIL.split("@")[0], code, link_secret(link), link_secret(link).split(".")[1]):
        assert secret not in logs
    assert '"error_code":"MessageRejected"' in logs
