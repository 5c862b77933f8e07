"""The benchmark code runs on a tiny sample and prints well-formed numbers (no timing assertions),
DefineAuthChallenge's cold process loads no boto3 (a property, not a timing), and the peer's rows
(AWS's passwordless triggers under node) are well formed."""

from __future__ import annotations

import math
import re
import shutil

import pytest

from bench import __main__ as bench_main
from bench import cold, paths, peer, warm
from bench.functions import EventRun, deployed, discover, heaviest, record
from bench.report import Row, as_markdown, as_text
from bench.stats import Spread, percentile
from localpool.deployment import REGION
from localpool.template import Template


def test_percentile_and_spread():
    values = [float(v) for v in range(1, 1001)]
    assert percentile(values, 50) == 500.0
    assert percentile(values, 99) == 990.0
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(2.0, 1.0, 3.0, 3)


def test_tables_have_one_line_per_row():
    rows = [Row("1 x", "a|b", Spread.of([1.0, 2.0]), "ms", target="< 1 s", met=False), Row("2 y", "c", 3.0, "calls")]
    markdown = as_markdown(rows).splitlines()
    assert len(markdown) == 4 and all(line.count(" | ") == 9 for line in markdown[2:])
    assert "NO" in as_text(rows) and "a\\|b" in markdown[2]


def test_define_cold_process_loads_no_boto3_and_reports_numbers():
    """One cold process per variant, from source, against moto's server."""
    template = Template()
    define = next(f for f in discover(template) if f.name == "DefineAuthChallengeFunction")
    event = sorted(define.events)[0]
    aws = cold.LocalAws(template)
    try:
        bench = cold.ColdBench(cold.source_layout(), [define], {define.name: event}, aws)
        bench.run(1, progress=lambda _m: None)
    finally:
        aws.stop()
    sample = bench.variants[define.name].samples[0]
    assert sample.report["answered"] is True and sample.report["error"] == ""
    assert sample.report["boto3_loaded"] is False
    assert bench.baseline_for(define).key == "import Logger"
    for variant in bench.variants.values():
        (s,) = variant.samples
        assert 0 < s.wall < 60 and 0 <= s.cpu < 60
    assert 0 < bench.variants[define.name].spread("peak_rss_mb").median < 1024


@pytest.mark.parametrize("logical_id", ["CreateAuthChallengeFunction", "VerifyAuthChallengeFunction"])
def test_recorded_event_replays_warm_through_the_stubber(logical_id):
    template = Template()
    function = next(f for f in discover(template) if f.name == logical_id)
    with deployed(REGION, template) as deployment:
        runs = record(function, REGION, deployment)
        chosen = heaviest(runs)
        assert chosen is not None and chosen.calls, [(r.name, r.error) for r in runs]
        result = warm.measure(function, chosen, REGION, calls=20, warmup=2)
    assert result.calls == 20 and 0 < result.p50_ms <= result.p99_ms and math.isfinite(result.p99_ms)
    # The signing and pseudonym keys are read once for the whole container, however many invocations.
    assert result.api_calls.get("secretsmanager.GetSecretValue[AWSCURRENT]") == 1
    assert result.api_calls.get("secretsmanager.GetSecretValue[pseudonym key AWSCURRENT]") == 1
    assert result.log_bytes_per_call > 0


@pytest.mark.parametrize(
    "name, operations",
    [
        ("VerifyAuthChallengeFunction [passkey_answer]", ["GetItem", "TransactWriteItems"]),
        ("ManagementApiFunction", ["GetItem", "Query"]),
    ],
)
def test_the_passkey_paths_are_benchmarked_accepted_and_replay_warm(name, operations):
    """With Passkeys=Enabled (as make bench deploys), the passkey's answer is measured apart from
    Verify's other paths, and accepted (its use recorded), and the management API lists passkeys."""
    template = Template(parameters={"Passkeys": "Enabled"})
    function = next(f for f in discover(template) if f.name == name)
    with deployed(REGION, template) as deployment:
        runs = record(function, REGION, deployment)
        chosen = heaviest(runs)
        assert chosen is not None and [call.operation for call in chosen.calls] == operations
        result = warm.measure(function, chosen, REGION, calls=20, warmup=2)
    assert result.calls == 20 and 0 < result.p50_ms <= result.p99_ms


def test_whole_run_on_a_tiny_sample_prints_a_well_formed_table(tmp_path, capsys):
    output = tmp_path / "latest.md"
    args = [
        "--no-build",
        "--rounds",
        "1",
        "--warm-calls",
        "10",
        "--warm-repeats",
        "1",
        "--levels",
        "1",
        "--throughput-seconds",
        "0.5",
        "--throughput-repeats",
        "1",
        "--output",
        str(output),
        "--functions",
        "DefineAuthChallengeFunction,CreateAuthChallengeFunction,VerifyAuthChallengeFunction",
        "--no-peer",  # one node process per peer trigger and round: test_peer_rows_are_well_formed has one
    ]
    assert bench_main.main(args) == 0
    printed = capsys.readouterr().out
    markdown = output.read_text()
    for figure in (
        "1 cold start",
        "1 cold CPU",
        "2 warm own time p50",
        "3 AWS calls: request",
        "3 KMS calls",
        "5 peak memory",
        "6 cost per million sign-ins",
        "7 local pool sign-ins per second",
    ):
        assert figure in printed and figure in markdown
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == 9 for line in table[2:] if "\\|" not in line)
    numbers = re.findall(r"\| (\$?[\d,]+(?:\.\d+)?) (?:ms|MB|calls|/s)? ?\|", markdown)
    assert numbers and all(not n.startswith("-") for n in numbers)
    assert "nan" not in markdown.lower() and "inf" not in markdown.lower().replace("info", "")
    assert "Prices (us-east-1 list prices" in markdown
    assert "FAILED" not in markdown, "every sign-in the benchmark drives succeeds"
    call_rows = [line for line in markdown.splitlines() if line.startswith("| 3 AWS calls")]
    assert call_rows and not any("| NO |" in line for line in call_rows), "call counts as designed"
    assert "amazon-cognito-passwordless-auth) was not measured: --no-peer." in markdown
    # Both ways: the default (tracing off) loads no X-Ray SDK; Create and Verify once more with it on.
    untraced = [line for line in markdown.splitlines() if line.startswith("| 1 cold start, tracing off: X-Ray SDK")]
    assert len(untraced) == 3 and all("| yes |" in line and "not loaded, botocore not patched" in line for line in untraced)
    traced = [line for line in markdown.splitlines() if line.startswith("| 1 cold start, own, tracing on |")]
    assert len(traced) == 2 and all("X-Ray SDK loaded, botocore patched" in line for line in traced)
    # The authenticator app's paths (bench.paths), warm, and what only they import.
    for subject in ("VerifyAuthChallenge (right TOTP code)", "ManagementApi (POST authenticator-app/start)"):
        assert f"| 2 warm own time p50 | {subject} |" in markdown
    assert markdown.count("| 1 cold start: imports of one path only |") == 2


def test_the_authenticator_app_paths_take_their_whole_way_warm():
    """A right code: the app and the sign-in state read together, the step spent, the proof recorded,
    the keys read once per container; the setup: the caller's app and sign-in state read, the secret
    sealed under the ring's key (read once) and stored."""
    verify, start = paths.measure(REGION, calls=5, repeats=1)
    assert not verify.error and not start.error
    ((verify_run,), (start_run,)) = (verify.warm, start.warm)
    invocations = verify_run.invocations
    assert verify_run.api_calls == {
        "dynamodb.BatchGetItem": invocations,
        "dynamodb.UpdateItem": 2 * invocations,
        "secretsmanager.GetSecretValue[AWSCURRENT]": 1,
        "secretsmanager.GetSecretValue[pseudonym key AWSCURRENT]": 1,
    }
    assert start_run.api_calls == {
        "dynamodb.GetItem": 2 * invocations,
        "dynamodb.PutItem": invocations,
        "secretsmanager.GetSecretValue[AWSCURRENT]": 1,
    }
    assert 0 < verify_run.p50_ms <= verify_run.p99_ms and 0 < start_run.p50_ms <= start_run.p99_ms


def test_peer_rows_are_well_formed(tmp_path):
    """One cold node process of the peer's Verify (its magic-link check against moto's server) beside
    one of Keyless's Verify, and the rows make bench prints from them (no timing assertions)."""
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: the peer's triggers run under node")
    assert peer.unavailable() == "", "make install runs npm ci in bench/peer"
    template = Template()
    functions = discover(template)
    triggers = peer.counterparts(template, functions)
    assert {name: trigger.slot for name, trigger in triggers.items()} == {
        "DefineAuthChallengeFunction": "DefineAuthChallenge",
        "CreateAuthChallengeFunction": "CreateAuthChallenge",
        "VerifyAuthChallengeFunction": "VerifyAuthChallengeResponse",
        "PreSignUpFunction": "PreSignUp",
        "PreTokenGenerationFunction": "PreTokenGeneration",
    }
    verify = next(f for f in functions if f.name == "VerifyAuthChallengeFunction")
    event = next(path for path in verify.events if path.stem == "code_wrong")
    aws = cold.LocalAws(template)
    try:
        bench = cold.ColdBench(
            cold.source_layout(), [verify], {verify.name: event}, aws, peer.PeerStack(aws.url, tmp_path), triggers
        )
        for variant in (bench.function_variant(verify), bench.peer_variant(verify)):
            variant.samples.append(bench.run_once(variant))
    finally:
        aws.stop()

    ours = bench.variants[verify.name].samples[0].report
    assert ours["answered"] is True and ours["client_seconds"] > 0, ours
    theirs = bench.peer_variants[verify.name].samples[0].report
    assert theirs["answered"] is True and theirs["error"] == "", theirs
    assert theirs["response"] == {"answerCorrect": True}, "the peer took the link it made as right"
    assert theirs["operations"] == ["DynamoDB_20120810.UpdateItem", "TrentService.GetPublicKey"]
    assert theirs["sdk_loaded"] is True and theirs["import_seconds"] > 0 and 0 < theirs["peak_rss_mb"] < 1024

    rows = bench_main.peer_rows(bench, [verify], {verify.name: EventRun(event, True, "")})
    assert [row.figure for row in rows] == [
        "1 cold start: peer",
        "1 cold start, own vs peer",
        "1 cold start, import + SDK clients vs peer",
    ]
    assert rows[0].subject == "amazon-cognito-passwordless-auth verify-auth-challenge-response (magic link right)"
    for row in rows[1:]:
        assert row.subject == "VerifyAuthChallenge (code_wrong) vs peer VerifyAuthChallengeResponse"
        assert row.ratio is not None and 0 < row.ratio < math.inf and row.target == "<= 1.0x"
        assert row.met is (row.ratio <= 1.0)
    markdown = as_markdown(rows)
    assert all(line.count(" | ") == 9 for line in markdown.splitlines()[2:]), markdown
    assert "ANSWERED WITH" not in markdown and "nan" not in markdown.lower()
    # The versions measured are the pinned ones (the SDK's version moves the peer's figures).
    assert re.fullmatch(
        r"amazon-cognito-passwordless-auth 0\.17\.0 under node v\d+\.\d+\.\d+, @aws-sdk/client-dynamodb 3\.1169\.0, "
        r"@aws-sdk/client-kms 3\.1164\.0, @aws-sdk/client-ses 3\.1169\.0, @aws-sdk/client-sns 3\.1169\.0, "
        r"@aws-sdk/lib-dynamodb 3\.1169\.0",
        peer.describe(),
    ), peer.describe()
