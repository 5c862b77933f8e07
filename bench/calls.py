"""AWS API calls per sign-in: whole sign-ins through the local user pool (Cognito's rounds, the
template's real handlers, moto in this process), every call the triggers make counted with a
botocore 'before-call' hook on the session their clients are built from, by round and by trigger.
Scenario #1 runs in fresh containers for a user whose email is not yet verified; #2 repeats it in
the same (now warm) containers, after the send limit, for the now verified user."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bench.functions import DUMMY_CREDENTIALS, environment, quiet
from keyless_client import PasswordlessClient, link_secret, link_user
from localpool.template import Template, load_handler
from testkit.clients import pool_cognito, sign_up
from testkit.clock import Clock
from testkit.deployment import served_pool
from testkit.mail import code_in, link_in, newest_local_mail

APP = "http://localhost:9229/welcome"  # an origin the template allows by default
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
MODE = "HTTP local user pool (localpool/server.py) through boto3"

# The AWS sample's design (anchors.md), for comparison. Not measured: read from its code.
REFERENCE = {
    "link request": {"kms.Sign": 1, "dynamodb.PutItem (conditional)": 1, "ses.SendEmail": 1},
    "link sign-in": {"dynamodb.UpdateItem (conditional)": 1},
}


def is_write(operation: str) -> bool:
    """'<service>.<Operation>' is a DynamoDB write."""
    return operation.startswith("dynamodb.") and operation.split(".")[1] in WRITES


def is_read(operation: str) -> bool:
    """'<service>.<Operation>' is a DynamoDB read."""
    return operation.startswith("dynamodb.") and operation.split(".")[1] in READS


class CallCounter:
    """Counts each AWS call as '<trigger>: <service>.<Operation>' in the round being played."""

    def __init__(self):
        self.round: Counter[str] = Counter()
        self._trigger = threading.local()

    def hook(self, model, **_kwargs) -> None:
        trigger = getattr(self._trigger, "slot", "?")
        self.round[f"{trigger}: {model.service_model.service_name}.{model.name}"] += 1

    def tagged(self, slot: str, handler):
        def run(event, context):
            self._trigger.slot = slot  # TriggerRunner calls handlers on its worker threads
            try:
                return handler(event, context)
            finally:
                self._trigger.slot = None

        return run

    def take(self) -> Counter[str]:
        taken, self.round = self.round, Counter()
        return taken


@dataclass
class Round:
    label: str
    calls: Counter[str]
    invocations: Counter[str]

    def by_operation(self) -> Counter[str]:
        ops: Counter[str] = Counter()
        for key, n in self.calls.items():
            ops[key.split(": ", 1)[1]] += n
        return ops


@dataclass
class Scenario:
    name: str  # "link, first sign-in", ...
    method: str  # "link" or "code"
    rounds: list[Round] = field(default_factory=list)
    request_rounds: int = 2  # the first rounds ask for the email; the rest sign in

    def part(self, which: str) -> Round:
        chosen = self.rounds[: self.request_rounds] if which == "request" else self.rounds[self.request_rounds :]
        calls: Counter[str] = Counter()
        invocations: Counter[str] = Counter()
        for r in chosen:
            calls += r.calls
            invocations += r.invocations
        return Round(which, calls, invocations)

    def whole(self) -> Round:
        return Round(
            "whole", sum((r.calls for r in self.rounds), Counter()), sum((r.invocations for r in self.rounds), Counter())
        )


class _Player:
    def __init__(self, counter: CallCounter, runner):
        self.counter = counter
        self.runner = runner

    def play(self, scenario: Scenario, label: str, call):
        before = len(self.runner.calls)
        result = call()
        invocations = Counter(self.runner.calls[before:])
        scenario.rounds.append(Round(label, self.counter.take(), invocations))
        return result


@dataclass
class Pool:
    """The local user pool to sign in through."""

    client: PasswordlessClient
    runner: object  # TriggerRunner: .calls lists the triggers run
    last_link: Callable[[str], str]  # address -> the newest link emailed to it
    last_code: Callable[[str], str]  # address -> the newest code emailed to it
    sign_up: Callable[[str], object]  # address -> a confirmed user, as after a passwordless sign-up
    clock: Clock
    cooldown: int


@contextlib.contextmanager
def local_user_pool(region: str, counter: CallCounter | None, parameters: dict | None = None) -> Iterator[Pool]:
    """The HTTP local user pool (localpool/server.py, served by testkit.deployment.served_pool) driven
    by boto3, with every trigger in its slot (PreSignUp, PostConfirmation and PreTokenGeneration
    included). Calls inside moto's mock_aws(). Emails are read from the pool's mailbox in process."""
    from moto import mock_aws

    parameters = {"AllowedRedirectOrigins": APP.rsplit("/", 1)[0], **(parameters or {})}
    clock = Clock()
    with mock_aws(), environment({**DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": region}), quiet():
        template = Template(parameters=parameters)
        functions = template.functions()
        handlers = {slot: load_handler(functions[logical]) for slot, logical in template.trigger_slots().items()}
        if counter is not None:
            handlers = {slot: counter.tagged(slot, handler) for slot, handler in handlers.items()}
        cooldown = int(template.parameters["EmailCooldownSeconds"])
        with served_pool(template=template, parameters=parameters, handlers=handlers, clock=clock) as server:
            if counter is not None:
                session = server.pool.aws_session  # the one the functions' clients are built from
                if session is None:
                    raise RuntimeError("the local pool built no session for the functions: nothing to count")
                session.events.register("before-call", counter.hook)
            yield Pool(
                PasswordlessClient(pool_cognito(server), server.pool.client_id),
                server.pool.runner,
                lambda address: link_in(newest_local_mail(server.pool, address)),
                lambda address: code_in(newest_local_mail(server.pool, address)),
                functools.partial(sign_up, server),  # admin calls (AdminConfirmSignUp) are signed with the pool's own keys
                clock,
                cooldown,
            )


def count_sign_ins(region: str) -> list[Scenario]:
    counter = CallCounter()
    scenarios = []
    with local_user_pool(region, counter) as pool:
        client = pool.client
        player = _Player(counter, pool.runner)
        link_address, code_address = "link.user@example.com", "code.user@example.com"
        signing_up = Scenario("sign-up (both users)", "sign-up", request_rounds=0)
        player.play(signing_up, "SignUp (+ confirmation)", lambda: (pool.sign_up(link_address), pool.sign_up(code_address)))
        scenarios.append(signing_up)
        for attempt in ("#1 (fresh container, email unverified)", "#2 (warm container, email verified)"):
            scenario = Scenario(f"link {attempt}", "link")
            first = player.play(scenario, "1 InitiateAuth", functools.partial(client.start, link_address))
            player.play(scenario, "2 Respond: send a link", functools.partial(client.request_link, first, APP))
            secret = link_secret(pool.last_link(link_address))
            opened = player.play(scenario, "3 InitiateAuth (link opened)", functools.partial(client.start, link_user(secret)))
            result = player.play(
                scenario,
                "4 Respond: the link",
                functools.partial(client.respond, opened, secret, {"signInMethod": "MAGIC_LINK", "alreadyHaveMagicLink": "yes"}),
            )
            if "AuthenticationResult" not in result:
                raise RuntimeError("link sign-in did not issue tokens")
            scenarios.append(scenario)

            scenario = Scenario(f"code {attempt}", "code")
            first = player.play(scenario, "1 InitiateAuth", functools.partial(client.start, code_address))
            sent = player.play(scenario, "2 Respond: send a code", functools.partial(client.request_code, first))
            code = pool.last_code(code_address)
            result = player.play(scenario, "3 Respond: the code", functools.partial(client.answer_code, sent, code))
            if "AuthenticationResult" not in result:
                raise RuntimeError("code sign-in did not issue tokens")
            scenarios.append(scenario)
            pool.clock.advance(pool.cooldown + 1)  # the next email may be sent
    return scenarios
