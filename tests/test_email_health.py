"""Email health (issue 12): SES's bounce and complaint events go to EmailEventsFunction (its real
handler, on the sample events of events/email_events/, as SNS hands them over), and an address that
hard-bounced or complained gets no sign-in email for EmailSuppressionDays, while whoever asks is
answered exactly as when an email goes out. Driven from outside: boto3 against the served local
pool, its mailbox read for what was sent."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyless.aws import runtime
from keyless.core.errors import MalformedEvent
from keyless_client import PasswordlessClient
from localpool.client import InProcessCognito
from localpool.deployment import REGION, local_pool
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
from testkit.clients import error_message, passwordless, sign_up
from testkit.deployment import TEST_PARAMETERS, deployed_for_handlers, sign_up_confirmed
from testkit.faults import Faults
from testkit.mail import EMAIL_EVENTS, mailbox, ses_report
from testkit.mail import emails_to as sent_by_moto

ROOT = Path(__file__).resolve().parent.parent
SPEC = Template().functions()["EmailEventsFunction"]
ALICE = "alice@example.com"
BOB = "bob@example.com"
DAY = 86400
PERIOD = 14 * DAY  # EmailSuppressionDays' default
MALFORMED = "Not an SES bounce or complaint event: "


def deliver(event: object) -> dict:
    """SNS handing the event to EmailEventsFunction, as Lambda calls it."""
    return load_handler(SPEC)(copy.deepcopy(event), LambdaContext(function_name="EmailEvents", deadline_seconds=SPEC.timeout))


def emails_to(server, address: str) -> int:
    return sum(1 for mail in mailbox(server) if address in mail["to"])


def suppressions(server) -> list[dict]:
    """The table's suppression items, as they are stored."""
    table = boto3.client("dynamodb", region_name=REGION)
    items = table.scan(TableName=server.pool.deployment.table_name)["Items"]
    return sorted((item for item in items if item["pk"]["S"].startswith("SUPPRESSION#")), key=lambda item: item["pk"]["S"])


def ask(app, address: str, method: str = "code") -> dict:
    """What the app is answered when it asks for an email (a code, or a link to the test origin)."""
    first = app.start(address)
    return app.request_code(first) if method == "code" else app.request_link(first, "https://app.example.com/welcome")


def shown(answer: dict) -> dict:
    """What an answer shows, without what differs from one request to the next (session, expiry)."""
    return {
        "ChallengeName": answer["ChallengeName"],
        "ChallengeParameters": {k: v for k, v in answer["ChallengeParameters"].items() if k not in ("USERNAME", "expiresAt")},
        "fields": sorted(answer["ChallengeParameters"]),
    }


@pytest.fixture
def served(serve_pool, served_clock):
    """The served pool with Alice and Bob signed up, and their app."""
    server = serve_pool(parameters=TEST_PARAMETERS)
    sign_up(server, ALICE)
    sign_up(server, BOB)
    return server, passwordless(server), served_clock


# --- what the person asking sees, and what is sent ------------------------------------------------


@pytest.mark.parametrize("method", ["code", "link"])
def test_a_hard_bounce_stops_the_next_sign_in_email_and_the_answer_does_not_change(served, method, capsys):
    server, app, clock = served
    ask(app, ALICE, method)
    ask(app, BOB, method)
    assert emails_to(server, ALICE) == 1
    assert deliver(ses_report("bounce_permanent", ALICE, clock())) == {"suppressed": 1, "unchanged": 0, "ignored": 0}
    clock.advance(61)

    alice, bob = ask(app, ALICE, method), ask(app, BOB, method)
    assert emails_to(server, ALICE) == 1, "no email to the address that hard-bounced"
    assert emails_to(server, BOB) == 2, "other addresses are not concerned"
    # Exactly what an email that went out shows: same challenge, same parameters, the masked address.
    assert shown(alice) == {**shown(bob), "ChallengeParameters": {**shown(bob)["ChallengeParameters"], "sentTo": "a***@e***.com"}}
    assert '"EmailSuppressed"' in capsys.readouterr().out, "the metric counts the email not sent"


def test_what_an_unknown_address_is_answered_does_not_change_when_it_bounced(served):
    """PreventUserExistenceErrors: an unknown address's answers tell nothing, bounced or not."""
    server, app, clock = served
    before = shown(ask(app, "nobody@example.com"))
    deliver(ses_report("bounce_permanent", "nobody@example.com", clock()))
    clock.advance(61)
    assert shown(ask(app, "nobody@example.com")) == before
    assert emails_to(server, "nobody@example.com") == 0


def test_a_transient_bounce_does_not_stop_emails(served):
    server, app, clock = served
    assert deliver(ses_report("bounce_transient", ALICE, clock())) == {"suppressed": 0, "unchanged": 0, "ignored": 1}
    ask(app, ALICE)
    assert emails_to(server, ALICE) == 1 and suppressions(server) == []


def test_a_complaint_stops_emails_and_a_not_spam_report_does_not(served):
    server, app, clock = served
    not_spam = ses_report("complaint", BOB, clock())
    message = json.loads(not_spam["Records"][0]["Sns"]["Message"])
    message["complaint"]["complaintFeedbackType"] = "not-spam"
    not_spam["Records"][0]["Sns"]["Message"] = json.dumps(message)
    assert deliver(not_spam)["ignored"] == 1
    assert deliver(ses_report("complaint", ALICE, clock()))["suppressed"] == 1
    ask(app, ALICE)
    ask(app, BOB)
    assert (emails_to(server, ALICE), emails_to(server, BOB)) == (0, 1)


def test_the_suppression_ends_after_the_period(served):
    server, app, clock = served
    deliver(ses_report("bounce_permanent", ALICE, clock()))
    clock.advance(PERIOD - 1)
    ask(app, ALICE)
    assert emails_to(server, ALICE) == 0, "a second before the end"
    clock.advance(61)
    ask(app, ALICE)
    assert emails_to(server, ALICE) == 1, "after the end"


def test_the_period_runs_from_the_report_and_a_report_older_than_it_changes_nothing(served):
    server, app, clock = served
    assert deliver(ses_report("bounce_permanent", ALICE, clock() - PERIOD - 1)) == {"suppressed": 0, "unchanged": 1, "ignored": 0}
    assert suppressions(server) == []
    ask(app, ALICE)
    assert emails_to(server, ALICE) == 1


def test_a_redelivered_event_changes_nothing_and_an_older_report_never_shortens_a_newer_one(served):
    server, _app, clock = served
    event = ses_report("bounce_permanent", ALICE, clock())
    assert deliver(event)["suppressed"] == 1
    stored = suppressions(server)
    assert deliver(event) == {"suppressed": 0, "unchanged": 1, "ignored": 0}
    assert deliver(ses_report("complaint", ALICE, clock() - DAY)) == {"suppressed": 0, "unchanged": 1, "ignored": 0}
    assert suppressions(server) == stored
    # A later report moves the end.
    clock.advance(DAY)
    assert deliver(ses_report("complaint", ALICE, clock()))["suppressed"] == 1
    (item,) = suppressions(server)
    assert item["reason"] == {"S": "complaint"} and int(item["expiresAt"]["N"]) == int(clock()) + PERIOD


def test_a_report_dated_in_the_future_suppresses_for_the_period_from_now_and_no_longer(served):
    """A wrong clock at the receiving mail server, or a forged event, cannot lock an address out for years."""
    server, _app, clock = served
    assert deliver(ses_report("bounce_permanent", ALICE, 253_402_300_799))["suppressed"] == 1  # 9999-12-31
    (item,) = suppressions(server)
    assert int(item["expiresAt"]["N"]) == int(clock()) + PERIOD


def test_the_address_is_compared_as_sign_ins_compare_it(served):
    """Whatever case the bounce report gives it in, and with a display name."""
    server, app, clock = served
    deliver(ses_report("bounce_permanent", "Alice Example <ALICE@Example.COM>", clock()))
    ask(app, ALICE)
    assert emails_to(server, ALICE) == 0


def test_the_table_and_the_logs_hold_no_address(served, log_lines):
    server, app, clock = served
    sub = sign_up(server, "carol@example.com")
    deliver(ses_report("bounce_permanent", "carol@example.com", clock()))
    ask(app, "carol@example.com")
    logged = log_lines.getvalue()
    assert "no email: the address hard-bounced or complained lately" in logged and sub in logged
    assert "carol" not in logged
    assert "carol" not in json.dumps(suppressions(server))


# --- malformed events --------------------------------------------------------------------------------


def _message(event: dict) -> dict:
    return json.loads(event["Records"][0]["Sns"]["Message"])


def _with_message(event: dict, change) -> dict:
    message = _message(event)
    change(message)
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event


def _drop_bounce_type(message: dict) -> None:
    del message["bounce"]["bounceType"]


def _no_recipients(message: dict) -> None:
    message["bounce"]["bouncedRecipients"] = []


def _bad_time(message: dict) -> None:
    message["bounce"]["timestamp"] = "yesterday"


def _not_an_address(message: dict) -> None:
    message["mail"]["destination"] = ["alice at example.com"]


def _second_record_malformed(event: dict) -> dict:
    broken = copy.deepcopy(event["Records"][0])
    broken["Sns"]["Message"] = "{not json"
    event["Records"].append(broken)
    return event


MALFORMATIONS = {
    "no bounceType": (lambda e: _with_message(e, _drop_bounce_type), "Records[0].Sns.Message.bounce has no bounceType"),
    "no recipients": (lambda e: _with_message(e, _no_recipients), "Records[0].Sns.Message.bounce.bouncedRecipients is empty"),
    "bad time": (lambda e: _with_message(e, _bad_time), "Records[0].Sns.Message.bounce.timestamp is not an ISO 8601 time"),
    "not an address": (
        lambda e: _with_message(e, _not_an_address),
        "Records[0].Sns.Message.mail.destination[0] is not an email address",
    ),
    "one good record, one bad": (_second_record_malformed, "Records[1].Sns.Message is not JSON"),
    "not from SNS": (
        lambda e: {"Records": [{**e["Records"][0], "EventSource": "aws:sqs"}]},
        "Records[0].EventSource is not aws:sns",
    ),
    "no records": (lambda e: {"Records": []}, "Records is empty"),
    "not an event": (lambda e: ["Records"], "the event is not an object"),
}


@pytest.mark.parametrize("name", sorted(MALFORMATIONS))
def test_a_malformed_event_gets_a_clear_error_and_changes_nothing(served, name, log_lines):
    server, app, clock = served
    malform, detail = MALFORMATIONS[name]
    with pytest.raises(MalformedEvent) as refused:
        deliver(malform(ses_report("bounce_permanent", ALICE, clock())))
    assert str(refused.value) == MALFORMED + detail
    assert ALICE not in str(refused.value) and ALICE not in log_lines.getvalue()
    assert suppressions(server) == []
    ask(app, ALICE)
    assert emails_to(server, ALICE) == 1


def test_events_that_report_no_bounce_or_complaint_are_ignored(served):
    server, _app, clock = served
    delivery = _with_message(ses_report("bounce_permanent", ALICE, clock()), lambda m: m.update(eventType="Delivery"))
    assert deliver(delivery) == {"suppressed": 0, "unchanged": 0, "ignored": 1}
    assert suppressions(server) == []


# --- the configuration set -------------------------------------------------------------------------


@pytest.mark.parametrize("own_set", ["", "operators-own-set"])
def test_sign_in_emails_are_sent_with_the_configuration_set(aws, monkeypatch, own_set):
    """Keyless's own set (created by the template, its events reaching EmailEvents), or the operator's."""
    template = Template(parameters={**TEST_PARAMETERS, "SesConfigurationSet": own_set})
    with deployed_for_handlers(monkeypatch, template=template) as deployed:
        faults = Faults()
        runtime.reset(session=faults.session)
        sign_up_confirmed(boto3.client("cognito-idp", region_name=REGION), deployed, ALICE)
        auth, _runner, _tokens = local_pool(deployed)
        client = PasswordlessClient(InProcessCognito(auth, deployed.client), deployed.client.client_id)
        client.request_code(client.start(ALICE))
        (sent,) = [call.params for call in faults.calls if call.operation == "SendEmail"]
        expected = own_set or deployed.physical["EmailConfigurationSet"]
        assert sent["ConfigurationSetName"] == expected
        created = boto3.client("sesv2", region_name=REGION).list_configuration_sets()["ConfigurationSets"]
        assert created == ([] if own_set else [expected])


# --- AWS failing ---------------------------------------------------------------------------------------


def test_a_failed_suppression_read_sends_nothing_reserves_nothing(client, make_user, faults):
    """The read comes before anything is reserved: the generic error, and the user may ask again at once."""
    make_user(ALICE)
    faults.fail(
        "dynamodb",
        "GetItem",
        "ProvisionedThroughputExceededException",
        when=lambda p: p["Key"]["pk"]["S"].startswith("SUPPRESSION#"),
    )
    with pytest.raises(ClientError) as failed:
        client.request_code(client.start(ALICE))
    assert "temporarily unavailable" in error_message(failed)
    client.request_code(client.start(ALICE))
    assert len(sent_by_moto(ALICE)) == 1


# --- make invoke, and any event at all ---------------------------------------------------------------


def test_make_invoke_records_a_sample_bounce():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "localpool.invoke", "email_events", "events/email_events/bounce_permanent.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"suppressed": 1, "unchanged": 0, "ignored": 0}


SAMPLES = [json.loads(path.read_text()) for path in sorted(EMAIL_EVENTS.glob("*.json"))]
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutated_events(draw):
    """A sample with a few values of its SES event (or of its SNS wrapping) replaced or removed."""
    event = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    inner = draw(st.booleans())
    target = json.loads(event["Records"][0]["Sns"]["Message"]) if inner else event
    for _ in range(draw(st.integers(1, 3))):
        candidates = [path for path in _paths(target) if path]
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = target
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    if inner:
        event["Records"][0]["Sns"]["Message"] = json.dumps(target)
    return event


@pytest.fixture(scope="module")
def quiet_deployment():
    from moto import mock_aws

    with mock_aws(), pytest.MonkeyPatch.context() as patch, deployed_for_handlers(patch) as deployed:
        yield deployed


def test_any_event_is_recorded_or_refused_as_malformed(quiet_deployment):
    """Never the generic failure: whatever SNS could hand over is read, or refused with its reason."""

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(event=st.one_of(mutated_events(), values))
    def check(event):
        try:
            answer = deliver(event)
        except MalformedEvent as refused:
            assert str(refused).startswith(MALFORMED) and len(str(refused)) < 200
            return
        assert set(answer) == {"suppressed", "unchanged", "ignored"}

    check()
