"""Someone attacking the sign-in: enumeration, email bombing, code guessing."""

from __future__ import annotations

import contextlib
import statistics
import time

import pytest
from botocore.exceptions import ClientError

from testkit.clients import error_message
from testkit.concurrency import run_at_once
from testkit.mail import emails_to, last_code, sent_emails, wrong

ALICE = "alice@example.com"


def ks_statistic(a: list[float], b: list[float]) -> float:
    """Two-sample Kolmogorov-Smirnov D: the largest gap between the two empirical distributions."""
    a, b = sorted(a), sorted(b)
    gap, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        if a[i] <= b[j]:
            i += 1
        else:
            j += 1
        gap = max(gap, abs(i / len(a) - j / len(b)))
    return gap


@pytest.fixture
def timed_client(deployment, clock):
    """A client whose pool records how long CreateAuthChallenge takes in the send round, by
    userNotFound: what Keyless controls (Cognito's own user lookup is Cognito's business)."""
    from keyless_client import PasswordlessClient
    from localpool.client import InProcessCognito
    from localpool.deployment import local_pool

    handlers = deployment.handlers()
    create = handlers["CreateAuthChallenge"]
    durations = {True: [], False: []}

    def timed(event, context):
        started = time.perf_counter()
        try:
            return create(event, context)
        finally:
            if len(event["request"]["session"]) == 1:
                durations[event["request"]["userNotFound"]].append(time.perf_counter() - started)

    handlers["CreateAuthChallenge"] = timed
    auth, _, _ = local_pool(deployment, clock=clock, handlers=handlers)
    return PasswordlessClient(InProcessCognito(auth, deployment.client), deployment.client.client_id), durations


@pytest.mark.timing
def test_send_timing_does_not_tell_known_from_unknown(timed_client, make_user):
    """Known users cost a DynamoDB write and an SES send; unknown ones the write and an imitation of
    the send. Interleaved samples, compared as distributions (machines here are noisy)."""
    client, durations = timed_client
    rounds = 40
    known_addresses = [f"known{i}@example.com" for i in range(rounds)]
    for address in known_addresses:
        make_user(address)
    for i in range(3):  # warm the container: clients built, key fetched, a few sends measured
        make_user(f"warm{i}@example.com")
        client.request_code(client.start(f"warm{i}@example.com"))
    durations[False].clear()
    for i in range(rounds):
        for address in (known_addresses[i], f"ghost{i}@example.com"):
            client.request_code(client.start(address))
    known, unknown = durations[False], durations[True]
    assert len(known) == len(unknown) == rounds
    d = ks_statistic(known, unknown)
    # Critical D for n = m = 40 at alpha = 0.001 is 1.95 * sqrt(2/40) = 0.436.
    medians = f"known median {statistics.median(known) * 1000:.2f} ms, unknown {statistics.median(unknown) * 1000:.2f} ms"
    assert d < 0.436, f"KS D={d:.3f}; {medians}"
    assert len(sent_emails()) == 3 + rounds


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@pytest.mark.timing
def test_unknown_and_known_sends_take_the_same_time_tails_included(timed_client, make_user, faults):
    """The container's first SES call is slow (a new connection), as on Lambda. It must not become
    the unknown addresses' slow tail: the imitation replays recent sends, never that one."""
    client, durations = timed_client
    faults.slow("sesv2", "SendEmail", 0.25)  # the cold connection: the latency the imitation must not replay
    rounds = 30
    for i in range(rounds):
        make_user(f"known{i}@example.com")
    for i in range(rounds):
        for address in (f"known{i}@example.com", f"ghost{i}@example.org"):
            client.request_code(client.start(address))
    assert durations[False][0] >= 0.25, "the first known send met the cold connection"
    known, unknown = durations[False][1:], durations[True][1:]  # without the cold one, and its twin
    tails = {
        q: f"p{q}: known {percentile(known, q) * 1000:.1f} ms, unknown {percentile(unknown, q) * 1000:.1f} ms" for q in (50, 95)
    }
    # Neither side's 95th percentile far beyond the other's: a replayed cold send would be 10x a warm one.
    assert percentile(unknown, 95) < 2.5 * percentile(known, 95) + 0.010, tails
    assert percentile(known, 95) < 2.5 * percentile(unknown, 95) + 0.010, tails


def test_concurrent_requests_for_one_address_send_one_email(client, make_user):
    make_user(ALICE)
    firsts = [client.start(ALICE) for _ in range(8)]
    outcomes = run_at_once(client.request_code, firsts)
    refused = [o.response["Error"]["Message"] for o in outcomes if isinstance(o, ClientError)]
    assert len(emails_to(ALICE)) == 1
    assert len(refused) == 7 and all("Please wait" in message for message in refused)


def test_many_addresses_each_get_at_most_one_email_a_minute(client, make_user):
    addresses = [f"user{i}@example.com" for i in range(10)]
    for address in addresses:
        make_user(address)
    for _ in range(3):
        for address in addresses:
            try:
                client.request_code(client.start(address))
            except ClientError as exc:
                assert "Please wait" in exc.response["Error"]["Message"]
    assert sorted(len(emails_to(a)) for a in addresses) == [1] * 10


def test_guessing_across_sessions_is_bounded_by_the_send_limit(client, make_user, clock):
    """Per minute an attacker gets one new code for a user and three guesses at it, whatever the
    number of sessions they open."""
    make_user(ALICE)
    guesses = 0
    live = []
    for _ in range(5):
        first = client.start(ALICE)
        with contextlib.suppress(ClientError):  # "Please wait": refused sessions are not live
            live.append(client.request_code(first))
    assert len(live) == 1
    code = last_code(ALICE)
    challenge = live[0]
    with pytest.raises(ClientError):
        for _ in range(10):  # far more guesses than the sign-in allows
            challenge = client.answer_code(challenge, wrong(code))
            guesses += 1
    assert guesses + 1 == 3  # the third wrong guess ends the sign-in
    with pytest.raises(ClientError) as excinfo:
        client.request_code(client.start(ALICE))  # still within the minute
    assert "Please wait" in error_message(excinfo)


def test_a_code_of_one_user_does_not_sign_in_another(client, make_user, clock):
    make_user(ALICE)
    make_user("bob@example.com")
    client.request_code(client.start(ALICE))
    bob_round = client.request_code(client.start("bob@example.com"))
    alice_code, bob_code = last_code(ALICE), last_code("bob@example.com")
    if alice_code == bob_code:
        pytest.skip("the two codes happen to be equal")
    again = client.answer_code(bob_round, alice_code)
    assert again["ChallengeParameters"]["attemptsLeft"] == "2"
