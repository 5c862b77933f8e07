"""Alarms and dashboard (issue 12): every alarm and every dashboard graph names a metric the functions
emit, with the dimensions they emit it with; the thresholds are parameters; the alarms notify an
encrypted topic; deleting the stack keeps what holds data.

What the functions emit is collected from one run of the real handlers through the local pool (the
`run` fixture): Powertools writes each metric as an EMF line on stdout, which CloudWatch turns into
the metric; the functions' log lines are what the template's metric filters turn into the Failures
and EmailSendFailures metrics, read here with the filter patterns the template gives them."""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws

from keyless.aws import runtime
from keyless.core.observability import logger
from keyless.methods import METHODS
from keyless_client import PasswordlessClient
from localpool.client import InProcessCognito
from localpool.deployment import REGION, local_pool
from localpool.template import Template, load_handler
from localpool.triggers import LambdaContext
from testkit.clock import Clock
from testkit.deployment import deployed_for_handlers, sign_up_confirmed
from testkit.faults import Faults
from testkit.mail import emails_to, last_code, last_link, ses_report, wrong

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Template()
FUNCTIONS = TEMPLATE.functions()
# The custom resource runs only while CloudFormation attaches to an existing pool, which reports its
# failures in the stack's events: it has no alarms.
DEPLOY_TIME_ONLY = {"AttachTriggersFunction"}
WATCHED = sorted(set(FUNCTIONS) - DEPLOY_TIME_ONLY)
TRIGGERS = sorted(TEMPLATE.trigger_slots().values())
ALARMS = TEMPLATE.resources_of_type("AWS::CloudWatch::Alarm")
# Physical names as CloudFormation would make them: resolving the template with these tells which
# resource each alarm and graph names.
PHYSICAL = {logical: f"phys-{logical}" for logical in TEMPLATE.resources} | {
    f"{logical}.Arn": f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{logical}" for logical in ALARMS
}
LOGICAL = {physical: logical for logical, physical in PHYSICAL.items()}
GLOBAL_ENVIRONMENT = TEMPLATE.body["Globals"]["Function"]["Environment"]["Variables"]
NAMESPACE = GLOBAL_ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]
SERVICE = GLOBAL_ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]
# AWS's own metrics the alarms and graphs may name, as AWS documents them:
# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html (per function: FunctionName)
# https://docs.aws.amazon.com/ses/latest/dg/reputationdashboard-cloudwatch-alarm.html (the account's rates)
LAMBDA_METRICS = {"Errors", "Throttles", "Duration"}
SES_METRICS = {"Reputation.BounceRate", "Reputation.ComplaintRate"}
INSIGHTS = re.compile(
    r"SELECT SUM\((?P<name>\w+)\) FROM SCHEMA\((?P<namespace>\w+), (?P<keys>[\w, ]+)\)"
    r" WHERE service = '(?P<service>\w+)'(?: GROUP BY (?P<group>\w+))?"
)


@dataclass(frozen=True)
class Metric:
    """A metric as an alarm or a graph names it: dimension name -> value, None for any value (a
    Metrics Insights query's SCHEMA names the dimensions; it sums over their values)."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str | None], ...]
    group_by: str | None = None

    @property
    def keys(self) -> set[str]:
        return {key for key, _ in self.dimensions}


def metric(namespace: str, name: str, dimensions: dict[str, str | None], group_by: str | None = None) -> Metric:
    return Metric(namespace, name, tuple(sorted(dimensions.items())), group_by)


def insights_query(expression: str) -> Metric:
    found = INSIGHTS.fullmatch(expression)
    assert found, f"a query this test does not read: {expression}"
    dimensions: dict[str, str | None] = {key.strip(): None for key in found["keys"].split(",")}
    dimensions["service"] = found["service"]
    return metric(found["namespace"], found["name"], dimensions, found["group"])


def alarm_metrics(props: dict) -> list[Metric]:
    """What a (resolved) alarm watches: its metric, or each metric and query of its math."""
    if "MetricName" in props:
        named = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
        return [metric(props["Namespace"], props["MetricName"], named)]
    found, ids = [], set()
    for query in props["Metrics"]:
        ids.add(query["Id"])
        if "MetricStat" in query:
            stat = query["MetricStat"]["Metric"]
            found.append(
                metric(stat["Namespace"], stat["MetricName"], {d["Name"]: d["Value"] for d in stat.get("Dimensions", [])})
            )
        elif query["Expression"].startswith("SELECT"):
            found.append(insights_query(query["Expression"]))
    for query in props["Metrics"]:  # math names only the alarm's own metrics
        if "Expression" in query and not query["Expression"].startswith("SELECT"):
            assert set(re.findall(r"\b[a-z]\w*\b", query["Expression"])) <= ids, query["Expression"]
    return found


def graph_metrics(widget: dict) -> list[Metric]:
    """What a (resolved) dashboard graph shows: [namespace, name, dim, value, ..., {options}] rows,
    or one Metrics Insights query."""
    found = []
    for row in widget["properties"]["metrics"]:
        if isinstance(row[0], dict):
            found.append(insights_query(row[0]["expression"]))
            continue
        fields = [item for item in row if not isinstance(item, dict)]
        namespace, name, pairs = fields[0], fields[1], fields[2:]
        found.append(metric(namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return found


def filter_matches(pattern: str, record: dict) -> bool:
    """A CloudWatch Logs JSON filter pattern of the form the template uses ({ $.a = "x" && $.b = * },
    a value's `*` at its start or end matching any text) applied to one log record; any other syntax
    fails the test rather than being guessed at.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html"""
    assert pattern.startswith("{") and pattern.endswith("}"), pattern
    for term in pattern[1:-1].split("&&"):
        found = re.fullmatch(r'\s*\$\.(\w+) = (?:"([^"]*)"|(\*))\s*', term)
        assert found, f"a filter term this test does not read: {term!r}"
        field_name, wanted = found[1], found[2]
        value = record.get(field_name)
        if not isinstance(value, str):
            return False
        if wanted is None:  # = * : the field is there
            continue
        core = wanted.strip("*")
        assert "*" not in core, wanted
        if wanted.startswith("*") and wanted.endswith("*"):
            matched = core in value
        elif wanted.startswith("*"):
            matched = value.endswith(core)
        elif wanted.endswith("*"):
            matched = value.startswith(core)
        else:
            matched = value == core
        if not matched:
            return False
    return True


def with_parameters(**parameters: str) -> Template:
    """TEMPLATE with these parameter values (checked as CloudFormation checks them), without parsing it again."""
    template = copy.copy(TEMPLATE)
    template.parameters = dict(TEMPLATE.parameters)
    template.set_parameters(parameters)
    return template


def resolved(props: Any) -> Any:
    """A property with the default parameters and PHYSICAL's names filled in."""
    return TEMPLATE.resolve(props, PHYSICAL, REGION, "123456789012")


@functools.cache
def metric_filters() -> dict[str, dict]:
    """Logical id -> (resolved) metric filter."""
    return {logical: resolved(r["Properties"]) for logical, r in TEMPLATE.resources_of_type("AWS::Logs::MetricFilter").items()}


def log_group_of(function: str) -> str:
    return resolved(TEMPLATE.resources[function]["Properties"]["LoggingConfig"]["LogGroup"])


# --- one run of the functions ----------------------------------------------------------------------------

ALICE, BOB, CAROL, DAN, ERIN, FRANK = (f"{name}@example.com" for name in ("alice", "bob", "carol", "dan", "erin", "frank"))
DISPOSABLE = "0-mail.com"  # in shared/keyless/signup/data/disposable_domains.txt
APP = "https://app.example.com/welcome"


# Trigger slot -> the logical id of the function in it (the name its Lambda context carries here).
CALLED_AS = dict(TEMPLATE.trigger_slots())


@dataclass(frozen=True)
class Emitted:
    namespace: str
    name: str
    dimensions: dict[str, str]


@dataclass
class Run:
    metrics: list[Emitted]  # every EMF metric the functions wrote
    records: list[dict]  # every log record, as Lambda would print it
    raised: list[tuple[str, str]] = field(default_factory=list)  # (function, request id) of calls that raised

    @property
    def errors(self) -> list[dict]:
        return [record for record in self.records if record["level"] == "ERROR"]

    def refusals(self) -> set[str]:
        """Functions that raised without logging an error: refusals (Lambda counts them as errors)."""
        logged = {record.get("function_request_id") for record in self.errors}
        return {function for function, request_id in self.raised if request_id not in logged}

    def emitted(self, wanted: Metric) -> bool:
        return any(
            (m.namespace, m.name, set(m.dimensions)) == (wanted.namespace, wanted.name, wanted.keys)
            and all(value is None or m.dimensions[key] == value for key, value in wanted.dimensions)
            for m in self.metrics
        )


def emf_metrics(stdout: str) -> list[Emitted]:
    found = []
    for line in stdout.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for keys in directive["Dimensions"]:
                for named in directive["Metrics"]:
                    found.append(Emitted(directive["Namespace"], named["Name"], {key: document[key] for key in keys}))
    return found


@contextlib.contextmanager
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """What the functions print (EMF lines) and log (Powertools JSON, one record a line)."""
    stdout, logs = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        with contextlib.redirect_stdout(stdout):
            yield stdout, logs
    finally:
        logging.getLogger(logger.name).removeHandler(handler)


def recording(function: str, handler: Callable, raised: list[tuple[str, str]]) -> Callable:
    @functools.wraps(handler)
    def invoke(event: dict, context: Any) -> Any:
        try:
            return handler(event, context)
        except Exception:
            raised.append((function, context.aws_request_id))
            raise

    return invoke


@pytest.fixture(scope="module")
def run() -> Run:
    """Sign-ins that go right and wrong, refusals of every kind, SES and Cognito failing, a bounce."""
    raised: list[tuple[str, str]] = []
    with mock_aws(), pytest.MonkeyPatch.context() as patch, deployed_for_handlers(patch) as deployed, captured() as (out, logs):
        clock = Clock()
        faults = Faults()
        runtime.reset(session=faults.session, clock=clock)
        handlers = {slot: recording(CALLED_AS[slot], handler, raised) for slot, handler in deployed.handlers().items()}
        auth, _runner, _tokens = local_pool(deployed, clock=clock, timeout_seconds=5, handlers=handlers)
        app = PasswordlessClient(InProcessCognito(auth, deployed.client), deployed.client.client_id)
        cognito = boto3.client("cognito-idp", region_name=REGION)
        users = {email: sign_up_confirmed(cognito, deployed, email) for email in (ALICE, BOB, CAROL, DAN, ERIN, FRANK)}

        # A sign-up from a disposable domain: PreSignUp refuses it (SignUpRefused).
        sign_up = json.loads((ROOT / "events/pre_sign_up/sign_up.json").read_text())
        sign_up["request"]["userAttributes"]["email"] = f"mallory@{DISPOSABLE}"
        with pytest.raises(Exception, match="Disposable"):
            handlers["PreSignUp"](sign_up, LambdaContext(function_name="PreSignUp"))

        # Alice: a code (CodesSent), three wrong answers (AnswerRejected, SignInFailed), asking again
        # too soon (RateLimited), then a right code (SignInSucceeded).
        challenge = app.request_code(app.start(ALICE))
        code = last_code(ALICE)
        for _ in range(2):
            challenge = app.answer_code(challenge, wrong(code))
        with pytest.raises(ClientError):
            app.answer_code(challenge, wrong(code))
        with pytest.raises(ClientError, match="Please wait"):
            app.request_code(app.start(ALICE))
        clock.advance(61)
        assert "AuthenticationResult" in app.answer_code(app.request_code(app.start(ALICE)), last_code(ALICE))

        # Bob's address changed to one the rules refuse: no email (SignInRefused).
        cognito.admin_update_user_attributes(
            UserPoolId=deployed.pool_id, Username=users[BOB], UserAttributes=[{"Name": "email", "Value": f"bob@{DISPOSABLE}"}]
        )
        with pytest.raises(ClientError, match="not allowed"):
            app.request_code(app.start(users[BOB]))

        # Carol's address hard-bounced (AddressesSuppressed): her next email is withheld (EmailSuppressed).
        email_events = recording("EmailEventsFunction", load_handler(FUNCTIONS["EmailEventsFunction"]), raised)
        email_events(ses_report("bounce_permanent", CAROL, clock()), LambdaContext(function_name="EmailEventsFunction"))
        app.request_code(app.start(CAROL))

        # SES refuses Dan's email (a failure: EmailSendFailures), then takes one without answering
        # (EmailMaybeSent, by code); the same for Frank's link.
        faults.fail("sesv2", "SendEmail", "MessageRejected", "Email address is not verified.")
        with pytest.raises(ClientError, match="temporarily unavailable"):
            app.request_code(app.start(DAN))
        lost = ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")
        faults.lose_answer("sesv2", "SendEmail", lost)
        app.request_code(app.start(DAN))
        faults.lose_answer("sesv2", "SendEmail", lost)
        app.request_link(app.start(FRANK), APP)

        # Erin signs in with a link (MagicLinksSent) while Cognito cannot record email_verified
        # (EmailVerificationDeferred: logged as an error, the sign-in succeeds).
        app.request_link(app.start(ERIN), APP)
        faults.fail("cognito-idp", "AdminUpdateUserAttributes", "TooManyRequestsException")
        assert "AuthenticationResult" in app.sign_in_with_link(last_link(ERIN))
        assert faults.unused() == []
        return Run(emf_metrics(out.getvalue()), [json.loads(line) for line in logs.getvalue().splitlines()], raised)


# --- alarms and graphs name what the functions emit ------------------------------------------------------


def check_named(wanted: Metric, run: Run) -> None:
    if wanted.namespace == "AWS/Lambda":
        assert wanted.name in LAMBDA_METRICS
        ((key, function),) = wanted.dimensions
        assert key == "FunctionName" and LOGICAL[function] in WATCHED
    elif wanted.namespace == "AWS/SES":
        assert wanted.name in SES_METRICS and wanted.dimensions == ()
    elif wanted.name in {f["MetricTransformations"][0]["MetricName"] for f in metric_filters().values()}:
        # A metric of the template's log filters: one on the log group of the function it names.
        ((key, function),) = wanted.dimensions
        assert key == "FunctionName"
        (transform,) = [
            f["MetricTransformations"][0]
            for f in metric_filters().values()
            if f["MetricTransformations"][0]["MetricName"] == wanted.name and f["LogGroupName"] == log_group_of(LOGICAL[function])
        ]
        assert transform["MetricNamespace"] == wanted.namespace
        assert transform["Dimensions"] == [{"Key": "FunctionName", "Value": "$.function_name"}]
    else:
        assert wanted.namespace == NAMESPACE
        assert dict(wanted.dimensions).get("service") == SERVICE
        assert run.emitted(wanted), f"no function emitted {wanted}"
        assert wanted.group_by is None or wanted.group_by in wanted.keys


def test_the_functions_emit_into_the_template_s_namespace_with_its_service_dimension(run):
    assert {m.namespace for m in run.metrics} == {NAMESPACE}
    assert all(m.dimensions.get("service") == "keyless" for m in run.metrics)  # the tests' POWERTOOLS_SERVICE_NAME
    assert SERVICE == "keyless"  # ... and the template's


@pytest.mark.parametrize("alarm", sorted(ALARMS))
def test_every_alarm_watches_a_metric_the_functions_emit_with_their_dimensions(run, alarm):
    watched = alarm_metrics(resolved(ALARMS[alarm]["Properties"]))
    assert watched
    for wanted in watched:
        check_named(wanted, run)


def dashboard(template: Template | None = None) -> dict:
    """The dashboard, with every function the template can make (the management API's with
    Passkeys=Enabled) unless another template is given."""
    template = template or with_parameters(Passkeys="Enabled")
    (props,) = [r["Properties"] for r in template.resources_of_type("AWS::CloudWatch::Dashboard").values()]
    body = template.resolve(props["DashboardBody"], PHYSICAL, REGION, "123456789012")
    assert "${" not in body
    return json.loads(body)


def test_the_dashboard_names_the_management_api_only_where_it_exists():
    conditional = {logical for logical, r in TEMPLATE.resources.items() if r.get("Condition") == "ManagementApiEnabled"}
    for passkeys, shown in (("Disabled", False), ("Enabled", True)):
        body = json.dumps(dashboard(with_parameters(Passkeys=passkeys)))
        names = {logical: [PHYSICAL[logical], PHYSICAL.get(f"{logical}.Arn")] for logical in conditional}
        named = {logical for logical, physical in names.items() if any(name and f'"{name}"' in body for name in physical)}
        assert bool(named) is shown, passkeys
        assert named <= conditional


def test_the_dashboard_is_json_naming_only_emitted_metrics_and_the_stack_s_functions(run):
    widgets = dashboard()["widgets"]
    graphs = [w for w in widgets if w["type"] == "metric"]
    shown = [m for graph in graphs for m in graph_metrics(graph)]
    for wanted in shown:
        check_named(wanted, run)
    assert {graph["properties"]["region"] for graph in graphs} == {REGION}
    # Every alarm, in one place.
    (alarms,) = [w["properties"]["alarms"] for w in widgets if w["type"] == "alarm"]
    assert sorted(LOGICAL[arn] for arn in alarms) == sorted(f"{a}.Arn" for a in ALARMS)
    # Sign-ins by method; every method's emails; every refusal a function counts, by its reason.
    grouped = {(m.name, m.group_by) for m in shown}
    assert ("SignInSucceeded", "method") in grouped
    assert {method.sent_metric for method in METHODS.values() if method.sends_email} <= {m.name for m in shown}
    with_reason = {m.name for m in run.metrics if "reason" in m.dimensions}
    assert with_reason and {(name, "reason") for name in with_reason} <= grouped
    # Latency p50 and p99, Lambda's errors and the logged failures, of every function.
    per_function = {
        (m.name, graph["properties"]["stat"], LOGICAL[dict(m.dimensions)["FunctionName"]])
        for graph in graphs
        for m in graph_metrics(graph)
        if m.keys == {"FunctionName"}
    }
    for function in WATCHED:
        for shown_as in (("Duration", "p50"), ("Duration", "p99"), ("Errors", "Sum"), ("Failures", "Sum")):
            assert (*shown_as, function) in per_function


# --- what counts as a failure ------------------------------------------------------------------------------


def failures_alarm(function: str) -> list[Metric]:
    return alarm_metrics(resolved(ALARMS[f"{function.removesuffix('Function')}FailuresAlarm"]["Properties"]))


def test_a_refusal_is_a_lambda_error_but_not_a_failure(run):
    """Raising is how a trigger refuses (a send limit, a blocked domain), and Lambda counts it as a
    function error; it logs no error. So the Failures alarm of a function that refuses that way
    counts only the errors it logs; the other functions' also count Lambda's errors (timeouts,
    crashes before the code runs)."""
    refusing = run.refusals()
    assert refusing == {"CreateAuthChallengeFunction", "PreSignUpFunction"}, refusing
    for function in WATCHED:
        names = {(m.namespace, m.name) for m in failures_alarm(function)}
        assert (NAMESPACE, "Failures") in names
        assert (("AWS/Lambda", "Errors") in names) is (function not in refusing), function
    # Every error a function logged is a failure its filter counts, under its function's name.
    filters = metric_filters()
    assert run.errors
    for record in run.errors:
        function = record["function_name"]
        (counted,) = [
            f
            for f in filters.values()
            if f["LogGroupName"] == log_group_of(function) and f["MetricTransformations"][0]["MetricName"] == "Failures"
        ]
        assert filter_matches(counted["FilterPattern"], record), record["message"]
    for record in run.records:
        if record["level"] != "ERROR":
            for f in filters.values():
                assert not filter_matches(f["FilterPattern"], record), record["message"]


def test_only_an_email_ses_refused_counts_as_a_send_failure(run):
    (send_failures,) = [
        f for f in metric_filters().values() if f["MetricTransformations"][0]["MetricName"] == "EmailSendFailures"
    ]
    assert send_failures["LogGroupName"] == log_group_of("CreateAuthChallengeFunction")
    counted = [record for record in run.errors if filter_matches(send_failures["FilterPattern"], record)]
    assert [(r["message"], r["error_code"]) for r in counted] == [("trigger failed", "MessageRejected")]
    assert len(run.errors) > len(counted)  # Cognito's failure (EmailVerificationDeferred) is not one


def test_every_function_has_failure_and_throttle_alarms_and_every_trigger_a_duration_alarm():
    def watched_by(kind: str) -> set[str]:
        return {
            LOGICAL[dict(m.dimensions)["FunctionName"]]
            for logical, alarm in ALARMS.items()
            if logical.endswith(f"{kind}Alarm")
            for m in alarm_metrics(resolved(alarm["Properties"]))
            if m.keys == {"FunctionName"}
        }

    assert watched_by("Failures") == watched_by("Throttles") == set(WATCHED)
    assert watched_by("Duration") == set(TRIGGERS)
    for logical in TRIGGERS:  # near Cognito's 5 s: below the functions' own timeout
        props = ALARMS[f"{logical.removesuffix('Function')}DurationAlarm"]["Properties"]
        assert props["Statistic"] == "Maximum"
        assert (
            int(TEMPLATE.body["Parameters"]["DurationAlarmMilliseconds"]["MaxValue"]) <= FUNCTIONS[logical].timeout * 1000 < 5000
        )


# --- thresholds, notifications ---------------------------------------------------------------------------


def test_every_threshold_is_a_parameter_the_readme_argues():
    readme = (ROOT / "README.md").read_text()
    parameters = TEMPLATE.body["Parameters"]
    groups = TEMPLATE.body["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    (alarm_group,) = [g["Parameters"] for g in groups if g["Label"]["default"].startswith("Alarms")]
    thresholds = set()
    for logical, alarm in ALARMS.items():
        threshold = alarm["Properties"]["Threshold"]
        assert set(threshold) == {"Ref"}, logical
        thresholds.add(threshold["Ref"])
    for name in thresholds:
        spec = parameters[name]
        assert spec["Type"] == "Number" and "Default" in spec and name in alarm_group
        assert f"| `{name}` | `{spec['Default']}` |" in readme, name
    assert set(alarm_group) == thresholds | {"AlarmTopicArn", "AlarmEmail"}
    assert "## Alarms and dashboard" in readme and "docs/operations.md" in readme


@pytest.mark.parametrize("topic_arn", ["", "arn:aws:sns:us-east-1:123456789012:operators-pager"])
def test_every_alarm_notifies_the_encrypted_topic_keyless_creates_or_the_operator_s(topic_arn):
    template = with_parameters(AlarmTopicArn=topic_arn)
    target = topic_arn or PHYSICAL["AlarmTopic"]
    for logical, alarm in ALARMS.items():
        props = template.resolve(alarm["Properties"], PHYSICAL)
        assert props["AlarmActions"] == props["OKActions"] == [target], logical
    assert template.condition("CreateAlarmTopic") is not bool(topic_arn)
    for logical in ("AlarmTopic", "AlarmTopicKey"):
        assert template.resources[logical]["Condition"] == "CreateAlarmTopic"
    output = template.body["Outputs"]["AlarmTopicArn"]["Value"]
    assert template.resolve(output, PHYSICAL) == target


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use():
    """CloudWatch publishes to an encrypted topic only with a customer managed key whose policy lets it
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
    topic = TEMPLATE.resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = TEMPLATE.resources["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (cloudwatch,) = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    for email, subscribed in (("", False), ("oncall@example.com", True)):
        assert with_parameters(AlarmEmail=email).condition("SubscribeAlarmEmail") is subscribed
    operators = with_parameters(AlarmEmail="oncall@example.com", AlarmTopicArn="arn:aws:sns:us-east-1:123456789012:pager")
    assert operators.condition("SubscribeAlarmEmail") is False  # an operator's topic is theirs to subscribe to
    subscription = TEMPLATE.resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "SubscribeAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }


# --- deleting the stack -----------------------------------------------------------------------------------

# What holds data: the users (pool, app client whose id the apps carry, the default group's members),
# the table (profiles, suppressions), the signing key the table's keyed items are read under, the logs.
HOLDS_DATA = {
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolGroup",
    "AWS::DynamoDB::Table",
    "AWS::SecretsManager::Secret",
    "AWS::Logs::LogGroup",
}


def test_deleting_or_replacing_a_resource_that_holds_data_keeps_it():
    kept = {logical for logical, r in TEMPLATE.resources.items() if r.get("DeletionPolicy") == "Retain"}
    holding = {logical for logical, r in TEMPLATE.resources.items() if r["Type"] in HOLDS_DATA}
    assert holding and kept == holding
    for logical in holding:
        assert TEMPLATE.resources[logical]["UpdateReplacePolicy"] == "Retain", logical
    (table,) = TEMPLATE.resources_of_type("AWS::DynamoDB::Table").values()
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


# --- the runbook's blocks ------------------------------------------------------------------------------------

RUNBOOK = (ROOT / "docs" / "operations.md").read_text()


def runbook_block(name: str, **values: object) -> str:
    """docs/operations.md's Python block `# runbook: <name>`, its placeholder assignments set to `values`."""
    found = re.search(rf"```python\n# runbook: {name}\n(.*?)```", RUNBOOK, re.S)
    assert found, name
    code = found[1]
    for variable, value in values.items():
        code, replaced = re.subn(rf"^{variable} = .*$", f"{variable} = {value!r}", code, flags=re.M)
        assert replaced == 1, variable
    return code


def test_the_runbook_copies_profiles_and_suppressions_into_a_new_stack_s_table(aws):
    (table,) = TEMPLATE.resources_of_type("AWS::DynamoDB::Table").values()
    schema = {k: table["Properties"][k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode")}
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for name in ("kept", "new"):
        dynamodb.create_table(TableName=name, **schema)
    items = {
        pk: {"pk": {"S": pk}, "sk": {"S": sk}, "field": {"N": "1"}}
        for pk, sk in (("PROFILE#a", "PROFILE"), ("SUPPRESSION#b", "EMAIL"), ("USER#a", "SIGNIN"), ("MAILBOX#c", "SENDS"))
    }
    for item in items.values():
        dynamodb.put_item(TableName="kept", Item=item)
    dynamodb.put_item(TableName="new", Item={**items["PROFILE#a"], "field": {"N": "0"}})  # self-healed meanwhile
    exec(runbook_block("copy-table", OLD_TABLE="kept", NEW_TABLE="new"), {})
    copied = sorted(dynamodb.scan(TableName="new")["Items"], key=lambda item: item["pk"]["S"])
    assert copied == [items["PROFILE#a"], items["SUPPRESSION#b"]]


def test_the_runbook_lifts_the_suppressions_recorded_during_an_outage(deployment, client, make_user, clock):
    """From outside: after the block, the address that bounced during the outage gets its sign-in
    email again; one that bounced before it stays suppressed."""
    email_events = load_handler(FUNCTIONS["EmailEventsFunction"])
    now = int(clock())
    for address, reported_at in ((ALICE, now - 600), (BOB, now - 2 * 86400)):
        make_user(address)
        email_events(ses_report("bounce_permanent", address, reported_at), LambdaContext(function_name="EmailEventsFunction"))
    outage = (now - 3600, now)
    exec(runbook_block("lift-suppressions", **{"TABLE": deployment.table_name, "FROM, TO": outage}), {})
    for address in (ALICE, BOB):
        client.request_code(client.start(address))
    assert (len(emails_to(ALICE)), len(emails_to(BOB))) == (1, 0)


def test_the_readme_s_figures_on_alarms_are_the_code_s():
    """The number of alarms, and the retries FailureAlarmThreshold is argued from: each AWS call is
    tried twice, SES's send once."""
    assert runtime.AWS_CONFIG.retries == {"mode": "standard", "total_max_attempts": 2}
    assert runtime.SES_CONFIG.retries == {"mode": "standard", "total_max_attempts": 1}
    stated = re.search(r"The stack creates (\d+) CloudWatch alarms", (ROOT / "README.md").read_text())
    assert stated and int(stated[1]) == len(ALARMS)


def test_the_local_pool_makes_no_alarms(deployment):
    """docs/local-user-pool.md: the alarms, dashboard and alarm topic exist only on AWS."""
    assert boto3.client("cloudwatch", region_name=REGION).describe_alarms()["MetricAlarms"] == []
    assert boto3.client("cloudwatch", region_name=REGION).list_dashboards()["DashboardEntries"] == []
    assert boto3.client("sns", region_name=REGION).list_topics()["Topics"] == []
