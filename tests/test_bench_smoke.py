"""The benchmark code runs on a tiny sample and prints well-formed numbers (no timing assertions),
and DefineAuthChallenge's cold process loads no boto3 (a property, not a timing)."""

from __future__ import annotations

import math
import re

import pytest

from bench import __main__ as bench_main
from bench import cold, warm
from bench.functions import deployed, discover, heaviest, record
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
    # The signing key is read once for the whole container, however many invocations.
    assert result.api_calls.get("secretsmanager.GetSecretValue[AWSCURRENT]") == 1
    assert result.log_bytes_per_call > 0


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
