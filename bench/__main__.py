"""`make bench` / `python -m bench`: measure everything issue 5 asks for and print one table.

Every number comes from this run. Figures measured repeatedly show the median with min and max;
cold starts are compared with baselines measured in the same rounds, because these machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

# Before keyless is imported: in this process the tracer stays off (the cold processes run both ways).
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "keyless")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Keyless")
warnings.filterwarnings("ignore", message="No application metrics to publish")
warnings.filterwarnings("ignore", category=DeprecationWarning)

from bench import calls, cold, cost, package, paths, peer, throughput, warm  # noqa: E402
from bench.functions import ROOT, BenchFunction, deployed, discover, heaviest, record  # noqa: E402
from bench.report import Row, as_markdown, as_text, number  # noqa: E402
from bench.stats import Spread  # noqa: E402
from localpool.deployment import REGION  # noqa: E402
from localpool.template import Template  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "latest.md"
# Issue 12's cold-start targets, tracing off (the template's default):
TARGET_DEFINE = 1.2  # x a process that imports only the Powertools Logger
TARGET_OTHERS = 1.15  # x import boto3 + the function's clients
TARGET_WARM_P50_MS = 1.0
TARGET_COLD_CPU_SECONDS = 1.0  # cold CPU x (1769 / MemorySize)
TARGET_PEER = 1.0  # x the peer's trigger in the same slot (issue 12)
MEMORY_STEP_MB = 128
# Lambda's arm64 vCPU is not this machine's core: MemorySize is chosen so the worst measured cold CPU
# stays under the target divided by this margin.
MEMORY_HEADROOM = 1.2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="timed cold-start rounds (default 7)")
    parser.add_argument("--warm-calls", type=int, default=1000, help="timed warm calls per repeat (default 1000)")
    parser.add_argument("--warm-repeats", type=int, default=3, help="warm repeats (default 3)")
    parser.add_argument("--throughput-seconds", type=float, default=3.0, help="per level and repeat (default 3)")
    parser.add_argument("--throughput-repeats", type=int, default=3)
    parser.add_argument("--levels", default="1,4,16", help="concurrent clients (default 1,4,16)")
    parser.add_argument(
        "--layout", choices=("auto", "lambda", "source"), default="auto", help="code layout of the cold processes"
    )
    parser.add_argument("--no-build", action="store_true", help="skip sam build (no package sizes; cold starts from source)")
    parser.add_argument("--functions", default="", help="comma-separated logical ids (default: every function in template.yaml)")
    parser.add_argument(
        "--no-peer", action="store_true", help=f"skip the peer's cold starts ({peer.PACKAGE}'s triggers under node)"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help=f"Markdown copy of the table (default {RESULTS.relative_to(ROOT)})"
    )
    return parser.parse_args(argv)


_STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:5.0f} s] {message}", file=sys.stderr, flush=True)


def ms(spread: Spread) -> Spread:
    return spread.scaled(1000)


def suggested_memory(cpu_seconds: float) -> int:
    """The smallest multiple of 128 MB at which this CPU time, on Lambda's share of a vCPU, is under
    1 s / MEMORY_HEADROOM."""
    needed = cpu_seconds * MEMORY_HEADROOM * cost.FULL_VCPU_MB / TARGET_COLD_CPU_SECONDS
    return max(128, int(needed // MEMORY_STEP_MB + 1) * MEMORY_STEP_MB)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    # Passkeys on, so the management API and the passkey's answer run; the other paths are the same
    # either way (round 1 is no function's heaviest path).
    template = Template(parameters={"Passkeys": "Enabled"})
    functions = discover(template)
    if args.functions:
        wanted = set(args.functions.split(","))
        functions = [f for f in functions if f.name in wanted]
    rows: list[Row] = []
    notes: list[str] = []

    with tempfile.TemporaryDirectory(prefix="keyless-bench-build-") as build_root:
        build_dir = Path(build_root) / "build"
        built = False
        if not args.no_build:
            log("sam build ...")
            sam = str(package.sam_command())
            result = package.sam_build(build_dir, sam)
            built = result.returncode == 0
            if not built:
                notes.append(f"sam build failed, so no package sizes and cold starts from source: {result.stderr.strip()[-300:]}")

        # --- what each sample event does, and 2. warm ------------------------------------------------
        log("recording the sample events, warm invocations ...")
        chosen = {}
        warm_results: dict[str, list[warm.WarmResult]] = {}
        for function in functions:
            with deployed(REGION, template) as deployment:
                runs = record(function, REGION, deployment)
                pick = heaviest(runs)
                if pick is None:
                    failed = (
                        "; ".join(f"{r.name}: {r.error or 'AWS calls outside keyless.aws.runtime'}" for r in runs[:1])
                        or "no sample events"
                    )
                    notes.append(f"{function.name}: no sample event runs offline ({failed}); not benchmarked.")
                    continue
                chosen[function.name] = pick
                warm_results[function.name] = [
                    warm.measure(function, pick, REGION, args.warm_calls, warmup=100) for _ in range(args.warm_repeats)
                ]
        measured = [f for f in functions if f.name in chosen]
        log("the authenticator app's paths, warm ...")
        path_results = paths.measure(REGION, args.warm_calls, args.warm_repeats)
        path_imports = paths.import_costs(args.rounds)

        # --- 3. AWS calls per sign-in ------------------------------------------------------------
        log("counting AWS calls per sign-in ...")
        scenarios = calls.count_sign_ins(REGION)

        # --- 1 and 5. cold starts and peak memory -------------------------------------------------
        layout = None
        if args.layout in ("auto", "lambda") and built:
            runtime_name = str(template.body.get("Globals", {}).get("Function", {}).get("Runtime", "python3.12"))
            layout = cold.lambda_layout(build_dir, runtime_name)
            if layout is None:
                notes.append(f"{runtime_name} not found on this machine: cold starts measured from source instead.")
        if layout is None:
            if args.layout == "lambda":
                raise SystemExit("--layout lambda needs a successful sam build and the template's Python")
            layout = cold.source_layout()
        log(f"cold starts ({layout.mode}) ...")
        aws = cold.LocalAws(template)
        try:
            peer_stack, peer_triggers = None, {}
            why_not = "--no-peer" if args.no_peer else peer.unavailable()
            if why_not:
                notes.append(f"The peer ({peer.PACKAGE}) was not measured: {why_not}.")
            else:
                peer_stack = peer.PeerStack(aws.url, Path(build_root))
                peer_triggers = peer.counterparts(template, measured)
            events = {name: run.path for name, run in chosen.items()}
            bench = cold.ColdBench(layout, measured, events, aws, peer_stack, peer_triggers)
            bench.run(args.rounds, progress=log)
        finally:
            aws.stop()

        # --- 4. package sizes (the build is still there) ------------------------------------------
        sizes = []
        if built:
            for function in measured:
                if not function.path:  # a path measured apart is the same package
                    sizes.append(package.measure(build_dir / function.name, function.name))
            sizes.append(package.measure(build_dir / "SharedLayer", "SharedLayer"))

    # --- 7. throughput -----------------------------------------------------------------------------
    levels = tuple(int(n) for n in args.levels.split(","))
    log("local pool throughput ...")
    levels_result = throughput.measure(levels, args.throughput_repeats, args.throughput_seconds, REGION)

    # --- the table ---------------------------------------------------------------------------------
    rows += cold_rows(bench, measured, chosen)
    rows += peer_rows(bench, measured, chosen)
    rows += warm_rows(measured, warm_results)
    rows += path_rows(path_results, path_imports, notes)
    rows += call_rows(scenarios, warm_results)
    rows += size_rows(sizes)
    rows += memory_rows(bench, measured)
    cost_rows_, cost_notes = cost_rows(scenarios, bench, measured, warm_results, template)
    rows += cost_rows_
    rows += throughput_rows(levels_result)

    header = [
        f"Keyless benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs "
        f"({_cpu_model()}), {time.perf_counter() - began:.0f} s. Command: make bench",
        f"Cold starts: {layout.describe()}; {args.rounds} timed rounds after one untimed round, every variant once per "
        "round, interleaved; AWS answered by moto's server on 127.0.0.1; each function with the template's default "
        "environment but Passkeys Enabled (Tracing Disabled), the functions that call AWS once more with Tracing Active (rows 'tracing on'). "
        "Ratios are per round (function / its baseline in the same round): median, with the range in Notes.",
        *(
            [
                f"Peer: {peer.describe()}, each trigger from node_modules as a cold node process in the same rounds, "
                "its magic-link step against the same moto server (AWS deploys it as an esbuild bundle, the SDK from "
                "Lambda's runtime). Ratios are Keyless / peer per round: median, range in Notes."
            ]
            if bench.peer_variants
            else []
        ),
        f"Warm: {args.warm_repeats} repeats of {args.warm_calls} timed calls after 100 untimed ones, one container "
        "each, AWS answered by botocore's Stubber (the tracer is off in this process).",
    ]
    footer = [*notes, *cost_notes]
    text = "\n".join([*header, "", as_text(rows), "", *footer])
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    markdown = "\n".join([*(f"{line}  " for line in header), "", as_markdown(rows), "", *(f"- {line}" for line in footer), ""])
    args.output.write_text(markdown)
    log(f"written to {args.output}")
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


# --- rows ------------------------------------------------------------------------------------------


def _paired_ratios(function: cold.Variant, baseline: cold.Variant, own: bool) -> Spread:
    ratios = []
    for f, b in zip(function.samples, baseline.samples, strict=True):  # measured in the same rounds
        wall = f.wall - (f.report.get("aws_wait_seconds", 0.0) if own else 0.0)
        ratios.append(wall / b.wall)
    return Spread.of(ratios)


def cold_rows(bench: cold.ColdBench, functions: list[BenchFunction], chosen: dict) -> list[Row]:
    rows = []
    names = {f.name for f in functions}
    for variant in bench.variants.values():
        if variant.key in names:
            continue
        rows.append(
            Row(
                "1 cold start: baseline",
                variant.key,
                ms(variant.spread("wall")),
                "ms",
                notes=f"CPU {number(variant.spread('cpu').median * 1000, 'ms')}",
            )
        )
    for function in functions:
        variant = bench.variants[function.name]
        baseline = bench.baseline_for(function)
        no_boto3 = baseline.key == "import Logger"
        target = TARGET_DEFINE if no_boto3 else TARGET_OTHERS
        subject = f"{function.short} ({chosen[function.name].name})"
        reports = [s.report for s in variant.samples]
        errors = sorted({r.get("error") for r in reports if r.get("error")})
        wait = Spread.of([r.get("aws_wait_seconds", 0.0) * 1000 for r in reports])
        calls_made = reports[0].get("aws_calls", 0)
        whole = _paired_ratios(variant, baseline, own=False)
        own = _paired_ratios(variant, baseline, own=True)
        base_text = f"{baseline.key}: {number(baseline.spread('wall').median * 1000, 'ms')}"
        rows.append(
            Row(
                "1 cold start",
                subject,
                ms(variant.spread("wall")),
                "ms",
                base_text,
                whole.median,
                notes=f"ratio range {whole.low:.2f}-{whole.high:.2f}x; includes {calls_made} calls to local AWS "
                f"(wait {number(wait.median, 'ms')})" + (f"; ANSWERED WITH {', '.join(errors)}" if errors else ""),
            )
        )
        own_walls = Spread.of([(s.wall - s.report.get("aws_wait_seconds", 0.0)) * 1000 for s in variant.samples])
        rows.append(
            Row(
                "1 cold start, own (minus local AWS wait)",
                subject,
                own_walls,
                "ms",
                base_text,
                own.median,
                f"<= {target}x",
                own.median <= target,
                f"ratio range {own.low:.2f}-{own.high:.2f}x; import {number(Spread.of([r['import_seconds'] * 1000 for r in reports]).median, 'ms')}",
            )
        )
        further = (
            (
                bench.stack_baseline_for(function),
                "boto3 + Powertools",
                "what remains is Keyless's own imports and logic and botocore's first requests",
            ),
            (
                bench.stock_baseline_for(function),
                "boto3 + clients on botocore's full data",
                "botocore as pip installs it, where the layer's keeps only the data the functions use (shared/slim_botocore.py)",
            ),
        )
        for other, against, meaning in further:
            if other is None:
                continue
            ratio = _paired_ratios(variant, other, own=True)
            rows.append(
                Row(
                    f"1 cold start, own vs {against}",
                    subject,
                    own_walls,
                    "ms",
                    f"{other.key}: {number(other.spread('wall').median * 1000, 'ms')}",
                    ratio.median,
                    notes=f"ratio range {ratio.low:.2f}-{ratio.high:.2f}x; {meaning}",
                )
            )
        if no_boto3:
            loaded = any(r.get("boto3_loaded") for r in reports)
            rows.append(
                Row(
                    "1 cold start: boto3 loaded",
                    subject,
                    None,
                    baseline="",
                    target="no",
                    met=not loaded,
                    notes="yes" if loaded else "no: boto3 never imported",
                )
            )
        libraries = sorted({name for r in reports for name in r.get("passkey_libraries_loaded", [])})
        wanted = bool(function.path)  # the passkey's answer loads them; no other path may
        rows.append(
            Row(
                "1 cold start: py_webauthn, OpenSSL, cryptography or cbor2 loaded",
                subject,
                None,
                baseline="",
                target="yes (its path)" if wanted else "no",
                met=bool(libraries) is wanted,
                notes=", ".join(libraries) if libraries else "none of them",
            )
        )
        xray = any(r.get("xray_loaded") for r in reports)
        patched = any(r.get("botocore_patched") for r in reports)
        rows.append(
            Row(
                "1 cold start, tracing off: X-Ray SDK loaded or botocore patched",
                subject,
                None,
                baseline="",
                target="no",
                met=not (xray or patched),
                notes=f"X-Ray SDK {'loaded' if xray else 'not loaded'}, botocore {'patched' if patched else 'not patched'}",
            )
        )
        traced = bench.traced_variants.get(function.name)
        if traced is not None:
            rows.append(_traced_row(subject, variant, traced, baseline))
        cpu = variant.spread("cpu")
        memory = function.spec.memory_size
        scaled = cpu.high * cost.cpu_scale(memory)
        rows.append(
            Row(
                "1 cold CPU (user+sys)",
                subject,
                ms(cpu),
                "ms",
                target="max x 1769/MemorySize < 1 s",
                met=scaled < TARGET_COLD_CPU_SECONDS,
                notes=f"{cpu.high:.3f} s x 1769/{memory} = {scaled:.2f} s at the template's {memory} MB; "
                f"smallest 128-MB step under 1 s / {MEMORY_HEADROOM} headroom: {suggested_memory(cpu.high)} MB",
            )
        )
    return rows


def _traced_row(subject: str, off: cold.Variant, on: cold.Variant, baseline: cold.Variant) -> Row:
    """The same function with the Tracing parameter Active, against the same baseline."""
    reports = [s.report for s in on.samples]
    own = _paired_ratios(on, baseline, own=True)
    cost = Spread.of([_own_seconds(t) / _own_seconds(o) for t, o in zip(on.samples, off.samples, strict=True)])
    xray = all(r.get("xray_loaded") for r in reports)
    patched = all(r.get("botocore_patched") for r in reports)
    return Row(
        "1 cold start, own, tracing on",
        subject,
        Spread.of([_own_seconds(s) * 1000 for s in on.samples]),
        "ms",
        f"{baseline.key}: {number(baseline.spread('wall').median * 1000, 'ms')}",
        own.median,
        notes=f"ratio range {own.low:.2f}-{own.high:.2f}x; {cost.median:.2f}x the same function with tracing off "
        f"(per round); X-Ray SDK {'loaded' if xray else 'NOT LOADED'}, botocore {'patched' if patched else 'NOT PATCHED'}",
    )


def _peer_ratios(ours: cold.Variant, theirs: cold.Variant, seconds: Callable[[cold.Sample], float]) -> Spread:
    return Spread.of([seconds(o) / seconds(t) for o, t in zip(ours.samples, theirs.samples, strict=True)])


def _own_seconds(sample: cold.Sample) -> float:
    return sample.wall - sample.report.get("aws_wait_seconds", 0.0)


def _load_seconds(sample: cold.Sample) -> float:
    """The module's import and the SDK clients it builds. The peer builds them as its module loads;
    Keyless imports boto3 but builds the session and clients on first use, inside the event."""
    return sample.report["import_seconds"] + sample.report.get("client_seconds", 0.0)


def _keyless_load_text(variant: cold.Variant) -> str:
    imports = Spread.of([s.report["import_seconds"] * 1000 for s in variant.samples]).median
    clients = Spread.of([s.report.get("client_seconds", 0.0) * 1000 for s in variant.samples]).median
    if not clients:
        return f"Keyless: the handler's import {number(imports, 'ms')} (it builds no AWS client)"
    return (
        f"Keyless: the handler's import {number(imports, 'ms')} + its boto3 session and clients "
        f"{number(clients, 'ms')}, built at first use (in the event)"
    )


def peer_rows(bench: cold.ColdBench, functions: list[BenchFunction], chosen: dict) -> list[Row]:
    """Each Keyless function against the peer's trigger in the same slot, measured in the same rounds."""
    rows = []
    for function in functions:
        theirs = bench.peer_variants.get(function.name)
        if theirs is None:
            continue
        trigger = bench.peer_triggers[function.name]
        ours = bench.variants[function.name]
        reports = [s.report for s in theirs.samples]
        errors = sorted({f"{r['error']} ({r.get('message', '')})" for r in reports if r.get("error")})
        loads = Spread.of([_load_seconds(s) * 1000 for s in theirs.samples])
        waits = Spread.of([r.get("aws_wait_seconds", 0.0) * 1000 for r in reports])
        operations = ", ".join(reports[0].get("operations", [])) or "none"
        rows.append(
            Row(
                "1 cold start: peer",
                trigger.label,
                ms(theirs.spread("wall")),
                "ms",
                notes=f"import with its SDK clients {number(loads.median, 'ms')}; "
                f"AWS SDK loaded: {'yes' if reports[0].get('sdk_loaded') else 'no'}; calls to local AWS: {operations} "
                f"(wait {number(waits.median, 'ms')}); CPU {number(theirs.spread('cpu').median * 1000, 'ms')}; "
                f"peak memory {number(theirs.spread('peak_rss_mb').median, 'MB')}; "
                f"answer {json.dumps(reports[0].get('response'), separators=(',', ':'))}"
                + (f"; ANSWERED WITH {', '.join(errors)}" if errors else ""),
            )
        )
        subject = f"{function.short} ({chosen[function.name].name}) vs peer {trigger.slot}"
        own = _peer_ratios(ours, theirs, _own_seconds)
        whole = _peer_ratios(ours, theirs, lambda s: s.wall)
        peer_own = Spread.of([_own_seconds(s) * 1000 for s in theirs.samples])
        rows.append(
            Row(
                "1 cold start, own vs peer",
                subject,
                Spread.of([_own_seconds(s) * 1000 for s in ours.samples]),
                "ms",
                f"peer own: {number(peer_own.median, 'ms')}",
                own.median,
                f"<= {TARGET_PEER}x",
                own.median <= TARGET_PEER,
                f"ratio range {own.low:.2f}-{own.high:.2f}x; spawn to exit, minus each side's local AWS wait "
                f"(with it: {whole.median:.2f}x)",
            )
        )
        load = _peer_ratios(ours, theirs, _load_seconds)
        rows.append(
            Row(
                "1 cold start, import + SDK clients vs peer",
                subject,
                Spread.of([_load_seconds(s) * 1000 for s in ours.samples]),
                "ms",
                f"peer: {number(loads.median, 'ms')}",
                load.median,
                f"<= {TARGET_PEER}x",
                load.median <= TARGET_PEER,
                f"ratio range {load.low:.2f}-{load.high:.2f}x; {_keyless_load_text(ours)}; "
                "peer: its module, which builds its SDK clients as it loads",
            )
        )
    return rows


def warm_rows(functions: list[BenchFunction], results: dict[str, list[warm.WarmResult]]) -> list[Row]:
    rows = []
    for function in functions:
        runs = results[function.name]
        subject = f"{function.short} ({runs[0].event})"
        p50 = Spread.of([r.p50_ms for r in runs])
        p99 = Spread.of([r.p99_ms for r in runs])
        rows.append(
            Row(
                "2 warm own time p50",
                subject,
                p50,
                "ms",
                target=f"< {TARGET_WARM_P50_MS} ms",
                met=p50.median < TARGET_WARM_P50_MS,
                notes=f"{len(runs)} x {runs[0].calls} calls",
            )
        )
        rows.append(Row("2 warm own time p99", subject, p99, "ms", notes=f"{len(runs)} x {runs[0].calls} calls"))
    return rows


def path_rows(results: list[paths.PathResult], imports: dict[str, Spread], notes: list[str]) -> list[Row]:
    """The authenticator app's paths (bench.paths): warm like the sample events, and the cold cost of
    what only they import."""
    rows = []
    for result in results:
        subject = f"{result.function.removesuffix('Function')} ({result.path})"
        if result.error:
            notes.append(f"{subject}: not measured ({result.error}).")
            continue
        p50 = Spread.of([r.p50_ms for r in result.warm])
        p99 = Spread.of([r.p99_ms for r in result.warm])
        runs = f"{len(result.warm)} x {result.warm[0].calls} calls"
        # A trigger's warm target (Cognito waits on it at every sign-in); an API route has none.
        trigger = paths.is_trigger(result)
        target, met = (f"< {TARGET_WARM_P50_MS} ms", p50.median < TARGET_WARM_P50_MS) if trigger else ("", None)
        rows.append(Row("2 warm own time p50", subject, p50, "ms", target=target, met=met, notes=runs))
        rows.append(Row("2 warm own time p99", subject, p99, "ms", notes=runs))
    for name, spread in imports.items():
        rows.append(
            Row(
                "1 cold start: imports of one path only",
                f"{name} libraries",
                spread,
                "ms",
                notes="added to that path's first call in a container",
            )
        )
    return rows


def _ops_text(round_: calls.Round) -> str:
    if not round_.calls:
        return "none"
    return ", ".join(f"{key} x{n}" if n > 1 else key for key, n in sorted(round_.calls.items()))


FIRST_PROOF_CALLS = {
    "cognito-idp.AdminSetUserPassword",
    "cognito-idp.AdminUserGlobalSignOut",
    "cognito-idp.AdminUpdateUserAttributes",
}


def _count(round_: calls.Round, predicate) -> int:
    return sum(n for op, n in round_.by_operation().items() if predicate(op))


def call_rows(scenarios: list[calls.Scenario], warm_results: dict[str, list[warm.WarmResult]]) -> list[Row]:
    rows = [Row("3 AWS calls per round", "how", None, notes=f"{calls.MODE}; counted by trigger with botocore's before-call hook")]
    is_email = lambda op: op.endswith(".SendEmail")  # noqa: E731
    is_first_proof = lambda op: op in FIRST_PROOF_CALLS  # noqa: E731
    is_kms = lambda op: op.startswith("kms.")  # noqa: E731
    is_once_per_container = lambda op: op.startswith("secretsmanager.") or op == "cognito-idp.DescribeUserPool"  # noqa: E731
    for scenario in scenarios:
        for round_ in scenario.rounds:
            rows.append(
                Row(
                    "3 AWS calls per round",
                    f"{scenario.name} / {round_.label}",
                    float(sum(round_.calls.values())),
                    "calls",
                    notes=_ops_text(round_),
                )
            )
    for scenario in scenarios:
        if scenario.method not in ("link", "code"):
            continue
        request, sign_in = scenario.part("request"), scenario.part("sign-in")
        first = "#1" in scenario.name
        label = scenario.name
        n_request = sum(request.calls.values())
        plain = _count(request, lambda op: not is_once_per_container(op))
        writes, reads, emails = _count(request, calls.is_write), _count(request, calls.is_read), _count(request, is_email)
        ok = writes == 2 and reads == 1 and emails == 1 and plain == 4
        target = "1 suppression read + 2 conditional writes (user, mailbox) + 1 email (+ keys, pool's name settings once per container)"
        rows.append(
            Row("3 AWS calls: request", label, float(n_request), "calls", target=target, met=ok, notes=_ops_text(request))
        )
        writes, claims, reads = _count(sign_in, calls.is_write), _count(sign_in, is_first_proof), _count(sign_in, calls.is_read)
        others = sum(sign_in.calls.values()) - writes - claims - reads - _count(sign_in, is_once_per_container)
        # The first proof of an address: the account taken back (its tokens revoked: one more write;
        # password, sign-out), the address marked verified, and the profile told when (one more write).
        expected_claims, expected_writes = (3, 3) if first else (0, 1)
        ok = writes == expected_writes and claims == expected_claims and reads <= 1 and others == 0
        target = (
            "1 conditional write"
            + (" + first proof: 1 revocation write + 3 Cognito calls + 1 profile write" if first else "")
            + " (+ 1 claims read)"
        )
        rows.append(
            Row(
                "3 AWS calls: sign-in",
                label,
                float(sum(sign_in.calls.values())),
                "calls",
                target=target,
                met=ok,
                notes=_ops_text(sign_in),
            )
        )
        whole = scenario.whole()
        rows.append(
            Row(
                "3 Lambda invocations per sign-in",
                label,
                float(sum(whole.invocations.values())),
                "calls",
                notes=", ".join(f"{slot} x{n}" for slot, n in sorted(whole.invocations.items())),
            )
        )
    for name, ops in calls.REFERENCE.items():
        rows.append(
            Row(
                "3 AWS calls: reference",
                f"AWS sample design (anchors.md, not measured): {name}",
                float(sum(ops.values())),
                "calls",
                notes=", ".join(ops),
            )
        )
    kms = sum(_count(s.whole(), is_kms) for s in scenarios)
    rows.append(Row("3 KMS calls", "all sign-ins above", float(kms), "calls", target="0", met=kms == 0))
    for name, runs in warm_results.items():
        fetches = {op: n for op, n in runs[0].api_calls.items() if op.startswith("secretsmanager.GetSecretValue")}
        if not fetches:
            continue
        current = fetches.get("secretsmanager.GetSecretValue[AWSCURRENT]", 0)
        pseudonym = fetches.get("secretsmanager.GetSecretValue[pseudonym key AWSCURRENT]", 0)
        rows.append(
            Row(
                "3 signing key fetches per container",
                f"{name.removesuffix('Function')} over {runs[0].invocations} invocations",
                float(current),
                "calls",
                target="<= 1",
                met=current <= 1 and pseudonym <= 1,  # the pseudonym key, read as the signing key is
                notes=", ".join(f"{op.split('.', 1)[1]} x{n}" for op, n in sorted(fetches.items())),
            )
        )
    return rows


def size_rows(sizes: list[package.Size]) -> list[Row]:
    rows = []
    for size in sizes:
        subject = size.artifact.removesuffix("Function")
        for form, size_bytes, notes in (
            ("unzipped", size.unzipped_bytes, f"{size.files} files"),
            ("zipped", size.zipped_bytes, ""),
        ):
            large = size_bytes > 1e5
            value = size_bytes / 1e6 if large else float(size_bytes)
            rows.append(Row("4 package size (sam build)", f"{subject}, {form}", value, "MB" if large else "B", notes=notes))
    return rows


def memory_rows(bench: cold.ColdBench, functions: list[BenchFunction]) -> list[Row]:
    rows = []
    names = {f.name for f in functions}
    for variant in bench.variants.values():
        if variant.key == "python -c pass" or variant.key in names:
            continue
        rows.append(Row("5 peak memory (VmHWM): baseline", variant.key, variant.spread("peak_rss_mb"), "MB"))
    for function in functions:
        peak = bench.variants[function.name].spread("peak_rss_mb")
        memory = function.spec.memory_size
        rows.append(
            Row("5 peak memory (VmHWM)", function.short, peak, "MB", target=f"< MemorySize {memory} MB", met=peak.high < memory)
        )
    return rows


def cost_rows(scenarios, bench: cold.ColdBench, functions: list[BenchFunction], warm_results, template: Template):
    slots = template.trigger_slots()
    by_id = {f.name: f for f in functions}
    costs = {}
    for slot, logical_id in slots.items():
        if logical_id not in by_id:
            continue
        function = by_id[logical_id]
        costs[slot] = cost.FunctionCost(
            memory_mb=function.spec.memory_size,
            warm_own_ms=Spread.of([r.p50_ms for r in warm_results[logical_id]]).median,
            cold_cpu_ms=bench.variants[logical_id].spread("cpu").median * 1000,
            log_bytes=warm_results[logical_id][0].log_bytes_per_call,
        )
    rows = []
    for scenario in scenarios:
        if "#2" not in scenario.name:  # the steady state: a warm container, a verified address
            continue
        whole = scenario.whole()
        if any(slot not in costs for slot in whole.invocations):
            continue
        warm_lines = cost.per_million(whole, costs)
        cold_lines = cost.per_million(whole, costs, cold=True)
        subject = f"{scenario.method} sign-in"
        for name, value in warm_lines.items():
            rows.append(Row("6 cost per million sign-ins", f"{subject}: {name}", value, "$"))
        rows.append(
            Row("6 cost per million sign-ins", f"{subject}: TOTAL", sum(warm_lines.values()), "$", notes="every invocation warm")
        )
        rows.append(
            Row(
                "6 cost per million sign-ins",
                f"{subject}: X-Ray, with Tracing Active",
                cost.xray_per_million(whole),
                "$",
                notes="not in TOTAL: tracing is off by default",
            )
        )
        cold_total = sum(cold_lines.values())
        rows.append(
            Row(
                "6 cost per million sign-ins",
                f"{subject}: TOTAL if every invocation were cold",
                cold_total,
                "$",
                notes="upper bound; init billed like duration",
            )
        )
    reference = sum(cost.reference_per_million(ops) for ops in calls.REFERENCE.values())
    rows.append(
        Row(
            "6 cost per million sign-ins",
            "AWS sample design, link: KMS + DynamoDB + SES only",
            reference,
            "$",
            notes="its Lambda time not known; not measured",
        )
    )
    notes = [
        "Prices (us-east-1 list prices as known to the author, late 2025; check before relying on them): "
        + "; ".join(description for _value, description in cost.PRICES.values())
        + ".",
        f"Cost assumptions: billed duration per invocation = warm p50 own time of the function's heaviest sample path "
        f"x max(1, 1769/MemorySize) + {cost.AWS_CALL_MS:.0f} ms per AWS call, rounded up to 1 ms; "
        f"{cost.PLATFORM_LOG_BYTES} bytes of Lambda platform log lines per invocation besides the measured ones; "
        f"with Tracing Active, X-Ray records {cost.XRAY_SAMPLED_SHARE:.0%} of invocations (default sampling rule at a "
        "sustained rate); "
        "DynamoDB items under 1 KB; Cognito's per-user price, the secret's $0.40/month and storage are not per sign-in. "
        "Local CPU time is taken as Lambda vCPU time.",
    ]
    return rows, notes


def throughput_rows(levels: list[throughput.Level]) -> list[Row]:
    rows = []
    for level in levels:
        subject = f"{level.clients} client{'s' if level.clients > 1 else ''}"
        extra = f"{calls.MODE}; {level.sign_ins} email-code sign-ins" + (f", {level.failures} FAILED" if level.failures else "")
        rows.append(Row("7 local pool sign-ins per second", subject, level.per_second, "/s", notes=extra))
        rows.append(Row("7 local pool sign-in latency p50", subject, level.p50_ms, "ms"))
        rows.append(Row("7 local pool sign-in latency p95", subject, level.p95_ms, "ms"))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
