"""Cold starts: each run is a fresh Python process that imports a function's handler and answers its
sample event, with AWS answered by moto's server on 127.0.0.1 (AWS_ENDPOINT_URL), with the
environment template.yaml gives it by default (tracing off) and, for the functions that call AWS,
once more with the Tracing parameter Active; beside it, in the same rounds, the baselines:
`python -c pass`, a process that imports only the Powertools Logger, and one that imports boto3 and
creates the clients the function created; and the peer's trigger in the function's slot, a node
process (bench/peer.py).

Two ways to lay out the code, printed with the table:
- "lambda": the `sam build` output of this run, as Lambda mounts it: the function's folder first on
  sys.path (/var/task), the layer's python/ folder after it (/opt/python), the template's Python
  version, with the bytecode the layer ships and no other cache (Lambda's code folders are read-only);
  on a machine that is not arm64, the layer's few arm64 binary packages swapped for this machine's
  builds of the same versions (host_binaries).
- "source": the repository as it is: functions/<name>/ and shared/ on PYTHONPATH, this venv's Python.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from bench.functions import DUMMY_CREDENTIALS, ROOT, BenchFunction, clear_table, environment
from bench.peer import COLDRUN as PEER_COLDRUN
from bench.peer import FOLDER as PEER_FOLDER
from bench.peer import MEMORY_MB as PEER_MEMORY_MB
from bench.peer import PeerStack, PeerTrigger
from bench.stats import Spread
from localpool.deployment import ACCOUNT, REGION, SAMPLE_SIGNING_KEY, Deployment, deploy
from localpool.samples import answer_for_sample_pools, answer_for_sample_secret, seed_passkey
from localpool.template import Template

COLDRUN = Path(__file__).with_name("coldrun.py")
PROCESS_TIMEOUT_SECONDS = 60
# A sampled trace, as Lambda sets it with Tracing: Active (with tracing on, the X-Ray SDK then
# records, and sends over UDP to a daemon address where nothing listens).
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


class LocalAws:
    """moto's server in a thread of this process, and the template deployed onto it."""

    def __init__(self, template: Template | None = None):
        from moto.server import ThreadedMotoServer

        self._template = template
        self._deployment: Deployment | None = None

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def deployment(self) -> Deployment:
        """The template deployed onto the server once; its table emptied, the sample user's passkey
        stored again (a passkey sign-in moves its counter on) and the signing key's rotation begun
        afresh before every run (each rotation sample starts from there)."""
        with environment({"AWS_ENDPOINT_URL": self.url, **DUMMY_CREDENTIALS}):
            if self._deployment is None:
                self._deployment = deploy(template=self._template, signing_key=SAMPLE_SIGNING_KEY)
                answer_for_sample_pools(self._deployment)
                self._table = boto3.session.Session(region_name=REGION).client("dynamodb")
            clear_table(self._table, self._deployment.table_name)
            answer_for_sample_secret(self._deployment)
            seed_passkey(self._deployment)
        return self._deployment

    def stop(self) -> None:
        self._server.stop()


@dataclass(frozen=True)
class Layout:
    mode: str  # "lambda" or "source"
    python: str
    layer_path: Path
    function_path: Callable[[BenchFunction], Path]
    no_bytecode_cache: bool
    # botocore as pip installs it (all of its data), ahead of the layer for a second boto3 baseline:
    # the layer's botocore keeps only what the functions use (shared/slim_botocore.py).
    stock_botocore: Path | None = None

    def describe(self) -> str:
        version = subprocess.run(
            [self.python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
        ).stdout.strip()
        where = "sam build output (function dir + layer python/)" if self.mode == "lambda" else "functions/<name>/ + shared/"
        cache = (
            ", the layer's shipped .pyc only (read-only code, as in Lambda)"
            if self.no_bytecode_cache
            else ", .pyc cache as usual"
        )
        stock = ", a boto3 baseline also on botocore's full data (pip's)" if self.stock_botocore else ""
        host = (
            f", the layer's arm64 binary packages swapped for {platform.machine()} builds of the same versions"
            if self.mode == "lambda" and platform.machine() != "aarch64"
            else ""
        )
        return f"{self.mode}: Python {version}, {where}{cache}{stock}{host}"


def source_layout() -> Layout:
    import sys

    return Layout("source", sys.executable, ROOT / "shared", lambda f: f.spec.code_uri.resolve(), False)


def lambda_layout(build_dir: Path, runtime: str) -> Layout | None:
    """The built artifacts, under the template's Python if this machine has it."""
    from bench.package import SAM_ENV

    version = runtime.removeprefix("python")
    found = shutil.which(f"python{version}")
    layer = build_dir / "SharedLayer" / "python"
    if not found or not layer.is_dir():
        return None
    # A pyenv shim needs PYENV_VERSION; the measured processes then run the interpreter itself.
    probe = subprocess.run(
        [found, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, env=os.environ | SAM_ENV
    )
    python = probe.stdout.strip()
    if probe.returncode != 0 or not python:
        return None
    runnable = host_binaries(layer, python, version)
    if runnable is None:
        return None
    # The layer ships its compiled bytecode (shared/Makefile); nothing else may add a cache.
    return Layout(
        "lambda", python, runnable, lambda f: build_dir / f.spec.logical_id, True, stock_botocore(layer, python, version)
    )


def host_binaries(layer: Path, python: str, version: str) -> Path | None:
    """The layer as this machine can run it: the layer's packages built for Lambda's arm64
    (cryptography, cffi and cbor2: py_webauthn's) cannot load elsewhere, so a copy of the layer gets
    this machine's builds of the same pinned versions, compiled as the layer is (the build itself stays
    as it ships: the package sizes are its). None when pip cannot fetch them."""
    from bench.package import SAM_ENV

    machine = platform.machine()
    if machine == "aarch64":
        return layer
    pinned = []
    for wheel in layer.glob("*.dist-info/WHEEL"):
        if any(line.startswith("Tag:") and line.rstrip().endswith("_aarch64") for line in wheel.read_text().splitlines()):
            metadata = (wheel.parent / "METADATA").read_text().splitlines()
            fields = dict(line.split(": ", 1) for line in metadata if line.startswith(("Name: ", "Version: ")))
            pinned.append(f"{fields['Name']}=={fields['Version']}")
    if not pinned:
        return layer
    copy = layer.parent.parent / "SharedLayerForThisMachine" / "python"
    shutil.copytree(layer, copy, dirs_exist_ok=True)
    platforms = [arg for tag in ("manylinux_2_28", "manylinux2014") for arg in ("--platform", f"{tag}_{machine}")]
    install = [python, "-m", "pip", "install", "--quiet", "--no-compile", "--no-deps", "--upgrade", "--target", str(copy)]
    target = [*platforms, "--implementation", "cp", "--python-version", version, "--only-binary=:all:"]
    if subprocess.run([*install, *target, *pinned], capture_output=True, env=os.environ | SAM_ENV).returncode != 0:
        return None
    compiled = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(copy)]
    subprocess.run(compiled, capture_output=True, check=True)
    return copy


def stock_botocore(layer: Path, python: str, version: str) -> Path | None:
    """The layer's botocore version as pip installs it, compiled as the layer is, beside the build; None
    if pip cannot fetch it (the boto3 baseline on botocore's full data is then left out)."""
    from bench.package import SAM_ENV

    (dist,) = layer.glob("botocore-*.dist-info")
    target = layer.parent.parent / "StockBotocore"
    pinned = dist.name.removeprefix("botocore-").removesuffix(".dist-info")
    arm64 = ["--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", version]
    install = [python, "-m", "pip", "install", "--quiet", "--no-compile", "--no-deps", "--target", str(target)]
    fetched = subprocess.run(
        [*install, *arm64, "--only-binary=:all:", f"botocore=={pinned}"], capture_output=True, env=os.environ | SAM_ENV
    )
    if fetched.returncode != 0:
        return None
    compiled = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(target)]
    subprocess.run(compiled, capture_output=True, check=True)
    return target


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    report: dict

    @property
    def peak_rss_mb(self) -> float | None:
        return self.report.get("peak_rss_mb")


def run_process(argv: list[str], env: dict[str, str]) -> Sample:
    """Wall time from spawn to exit, and the child's own CPU time (os.wait4)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watchdog = threading.Timer(PROCESS_TIMEOUT_SECONDS, lambda: os.kill(process.pid, signal.SIGKILL))
    watchdog.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-3:])} exited with {process.returncode}: {stderr[-800:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, {"stderr": stderr[-400:]})


@dataclass
class Variant:
    key: str
    argv: Callable[[Path], list[str]]
    env: Callable[[], dict[str, str]]
    samples: list[Sample] = field(default_factory=list)

    def spread(self, attribute: str) -> Spread:
        return Spread.of([getattr(s, attribute) for s in self.samples])


class ColdBench:
    def __init__(
        self,
        layout: Layout,
        functions: list[BenchFunction],
        events: dict[str, Path],
        aws: LocalAws,
        peer: PeerStack | None = None,
        peer_triggers: dict[str, PeerTrigger] | None = None,
    ):
        """peer_triggers: function name -> the peer's trigger in the same slot, run in the same
        rounds on `peer` (the peer's resources on aws's server)."""
        self.layout = layout
        self.functions = functions
        self.events = events
        self.aws = aws
        self.peer = peer
        self.peer_triggers = peer_triggers if peer is not None and peer_triggers else {}
        self.variants: dict[str, Variant] = {}
        self.traced_variants: dict[str, Variant] = {}  # by function name: the Tracing parameter Active
        self.peer_variants: dict[str, Variant] = {}  # by the Keyless function's name

    # --- the processes ---------------------------------------------------------------------------

    def _python(self) -> list[str]:
        return [self.layout.python, "-s", "-P"]  # no user site-packages, no script folder on sys.path

    def _lambda_env(self, name: str, memory: int, task_root: Path, extra: dict[str, str]) -> dict[str, str]:
        paths = [str(task_root), str(self.layout.layer_path)] if task_root else [str(self.layout.layer_path)]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": os.pathsep.join(paths),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.aws.url,
            **DUMMY_CREDENTIALS,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "LAMBDA_TASK_ROOT": str(task_root or self.layout.layer_path),
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "_X_AMZN_TRACE_ID": TRACE_ID,
        }
        if self.layout.no_bytecode_cache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env | extra

    def _function_env(self, function: BenchFunction, traced: bool = False) -> dict[str, str]:
        deployment = self.aws.deployment()
        template = deployment.template
        resolved = {
            k: str(template.resolve(v, deployment.physical, REGION, ACCOUNT)) for k, v in function.spec.environment.items()
        }
        if traced:  # what the template sets with Tracing: Active
            resolved["POWERTOOLS_TRACE_DISABLED"] = "false"
        env = self._lambda_env(function.name, function.spec.memory_size, self.layout.function_path(function), resolved)
        env["_HANDLER"] = function.spec.handler
        return env

    def _add(self, variant: Variant) -> Variant:
        return self.variants.setdefault(variant.key, variant)

    def _baseline_env(self) -> dict[str, str]:
        return self._lambda_env("Baseline", 1024, None, {})

    def function_variant(self, function: BenchFunction, traced: bool = False) -> Variant:
        def argv(result: Path) -> list[str]:
            spec = function.spec
            return [
                *self._python(),
                str(COLDRUN),
                "function",
                str(result),
                spec.handler,
                str(self.events[function.name]),
                function.name,
                str(spec.memory_size),
            ]

        if traced:
            variant = Variant(f"{function.name} (tracing on)", argv, lambda: self._function_env(function, traced=True))
            return self.traced_variants.setdefault(function.name, variant)
        return self._add(Variant(function.name, argv, lambda: self._function_env(function)))

    def pass_variant(self) -> Variant:
        return self._add(Variant("python -c pass", lambda _r: [*self._python(), "-c", "pass"], self._baseline_env))

    def logger_variant(self) -> Variant:
        return self._add(
            Variant("import Logger", lambda r: [*self._python(), str(COLDRUN), "logger", str(r)], self._baseline_env)
        )

    def boto3_variant(self, services: list[str]) -> Variant:
        listed = ",".join(services)
        label = f"import boto3 + clients({listed or 'none'})"
        return self._add(Variant(label, lambda r: [*self._python(), str(COLDRUN), "boto3", str(r), listed], self._baseline_env))

    def stock_variant(self, services: list[str]) -> Variant | None:
        """import boto3 + the clients, with botocore's full data (what a function on boto3 as pip
        installs it pays), when the layout has it."""
        stock = self.layout.stock_botocore
        if stock is None:
            return None
        listed = ",".join(services)
        label = f"import boto3 + clients({listed or 'none'}), botocore's full data"
        layer = os.pathsep.join([str(stock), str(self.layout.layer_path)])
        return self._add(
            Variant(
                label,
                lambda r: [*self._python(), str(COLDRUN), "boto3", str(r), listed],
                lambda: self._baseline_env() | {"PYTHONPATH": layer},
            )
        )

    def stack_variant(self, services: list[str]) -> Variant:
        listed = ",".join(services)
        label = f"import boto3 + clients({listed or 'none'}) + Powertools Logger, Metrics"
        return self._add(Variant(label, lambda r: [*self._python(), str(COLDRUN), "stack", str(r), listed], self._baseline_env))

    def peer_variant(self, function: BenchFunction) -> Variant:
        """The peer's trigger in the function's slot: a cold node process (bench/peer/coldrun.mjs)."""
        trigger = self.peer_triggers[function.name]
        peer = self.peer
        assert peer is not None  # peer_triggers is empty without it

        def argv(result: Path) -> list[str]:
            event = str(peer.event_path(trigger))
            return ["node", str(PEER_COLDRUN), str(result), str(trigger.path), event, trigger.slot, str(PEER_MEMORY_MB)]

        def env() -> dict[str, str]:
            peer.prepare(trigger)
            extra = peer.environment(trigger) | {"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs22.x"}
            return self._lambda_env(trigger.slot, PEER_MEMORY_MB, PEER_FOLDER, extra)

        return self.peer_variants.setdefault(function.name, Variant(f"peer {trigger.slot}", argv, env))

    def run_once(self, variant: Variant) -> Sample:
        """One process of the variant (its env() prepares the state it finds), measured."""
        with tempfile.TemporaryDirectory(prefix="keyless-bench-") as folder:
            result = Path(folder) / "result.json"
            env = variant.env()
            sample = run_process(variant.argv(result), env)
            report = json.loads(result.read_text()) if result.exists() else {}
        return Sample(sample.wall, sample.cpu, {**sample.report, **report})

    # --- the rounds ------------------------------------------------------------------------------

    def run(self, rounds: int, progress: Callable[[str], None] = print) -> None:
        """One untimed round first (it finds which clients each function creates, and warms the
        page cache), then `rounds` rounds, each running every variant once, interleaved so that a
        noisy moment hits every variant alike."""
        self.pass_variant()
        self.logger_variant()
        for function in self.functions:
            self.function_variant(function)
            if function.name in self.peer_triggers:
                self.peer_variant(function)
        first = {f.name: self.run_once(self.variants[f.name]) for f in self.functions}
        self.first_reports = {name: sample.report for name, sample in first.items()}
        for function in self.functions:
            report = first[function.name].report
            if report.get("boto3_loaded"):
                self.boto3_variant(report.get("services", []))
                self.stack_variant(report.get("services", []))
                self.stock_variant(report.get("services", []))
                self.function_variant(function, traced=True)
        every = [*self.variants.values(), *self.traced_variants.values(), *self.peer_variants.values()]
        for variant in every:
            if variant.key not in first:
                self.run_once(variant)  # untimed, like the functions' first run
        for index in range(rounds):
            progress(f"  cold round {index + 1}/{rounds}")
            for variant in every:
                variant.samples.append(self.run_once(variant))

    def baseline_for(self, function: BenchFunction) -> Variant:
        report = self.first_reports[function.name]
        if not report.get("boto3_loaded"):
            return self.variants["import Logger"]
        return self.boto3_variant(report.get("services", []))

    def stock_baseline_for(self, function: BenchFunction) -> Variant | None:
        report = self.first_reports[function.name]
        return self.stock_variant(report.get("services", [])) if report.get("boto3_loaded") else None

    def stack_baseline_for(self, function: BenchFunction) -> Variant | None:
        """boto3, the clients and Powertools as the function sets them up with tracing off: what is
        left above it is Keyless's own code and botocore's first calls."""
        report = self.first_reports[function.name]
        return self.stack_variant(report.get("services", [])) if report.get("boto3_loaded") else None
