"""One cold Lambda container as a process: import the handler the way the Lambda runtime does, answer
one event, and write what happened to a JSON file.

It runs under the interpreter being measured and imports only the standard library and what the
measured code itself imports (nothing from bench/), so the process loads exactly what the function
loads. The parent measures wall time and CPU time from outside (os.wait4); the process reports its own
peak memory.

    coldrun.py function <result.json> <handler module.function> <event.json> <function name> <memory MB>
    coldrun.py logger   <result.json>       # a process that only imports the Powertools Logger
    coldrun.py boto3    <result.json> <service,service,...>   # import boto3 and create those clients
    coldrun.py stack    <result.json> <service,service,...>   # the same, plus Powertools Logger and Metrics,
                                                              # as the functions use them with tracing off
"""

import json
import sys
import time


class _Context:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, memory_mb: int):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = "00000000-0000-4000-8000-000000000000"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 4000


class _AwsWatch:
    """Time spent waiting for the (local) AWS answer, the clients created and the time spent
    building them and their session (a peer that builds its clients as it loads pays that in its
    import). Hooked into boto3 and botocore only if the function itself loaded them, so a function
    without boto3 stays without it."""

    def __init__(self):
        self.wait_seconds = 0.0
        self.calls = 0
        self.services: list[str] = []
        self.client_seconds = 0.0
        endpoint = sys.modules.get("botocore.endpoint")
        client = sys.modules.get("botocore.client")
        session = sys.modules.get("boto3.session")
        if session is not None:
            for name in ("__init__", "client"):
                setattr(session.Session, name, self._timed(getattr(session.Session, name)))
        if endpoint is not None:
            send = endpoint.Endpoint._send

            def timed_send(this, request):
                started = time.perf_counter()
                try:
                    return send(this, request)
                finally:
                    self.wait_seconds += time.perf_counter() - started
                    self.calls += 1

            endpoint.Endpoint._send = timed_send
        if client is not None:
            create = client.ClientCreator.create_client

            def recorded_create(this, service_name, *args, **kwargs):
                self.services.append(service_name)
                return create(this, service_name, *args, **kwargs)

            client.ClientCreator.create_client = recorded_create

    def _timed(self, build):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return build(*args, **kwargs)
            finally:
                self.client_seconds += time.perf_counter() - started

        return timed


def _function(args: list[str], report: dict) -> None:
    import importlib

    handler_name, event_path, function_name, memory_mb = args
    module_name, _, attribute = handler_name.rpartition(".")
    started = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), attribute)
    imported = time.perf_counter()
    watch = _AwsWatch()
    with open(event_path, encoding="utf-8") as stream:
        event = json.load(stream)
    try:
        result = handler(event, _Context(function_name, int(memory_mb)))
        # as bench.functions.is_answer (not imported: this process measures the handler's imports alone)
        trigger = isinstance(event, dict) and "triggerSource" in event
        report["answered"] = isinstance(result, dict) and (not trigger or isinstance(result.get("response"), dict))
        report["error"] = ""
    except Exception as exc:  # a cold start that fails is reported, not hidden
        report["answered"] = False
        report["error"] = type(exc).__name__
    report.update(
        import_seconds=imported - started,
        aws_wait_seconds=watch.wait_seconds,
        aws_calls=watch.calls,
        client_seconds=watch.client_seconds,
        services=sorted(set(watch.services)),
    )


def _botocore_patched() -> bool:
    """Whether something (the X-Ray SDK, through wrapt) replaced botocore's API call method."""
    client = sys.modules.get("botocore.client")
    return client is not None and type(vars(client.BaseClient)["_make_api_call"]).__name__ != "function"


def _peak_rss_mb() -> float | None:
    """This process's own peak resident memory. (getrusage's ru_maxrss would not do: Linux carries
    it over from the parent through fork and exec, so a child of a big process reports the parent.)"""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def main() -> None:
    mode, result_path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    report: dict = {"mode": mode}
    if mode == "function":
        _function(args, report)
    elif mode == "logger":
        from aws_lambda_powertools import Logger
    elif mode in ("boto3", "stack"):
        # As every function of the layer does (shared/keyless/__init__.py): botocore then leaves
        # urllib3's pyOpenSSL shim, and OpenSSL and cryptography, unloaded.
        sys.modules.setdefault("urllib3.contrib.pyopenssl", None)
        import boto3

        for service in filter(None, (args[0] if args else "").split(",")):
            boto3.client(service)
        if mode == "stack":
            from aws_lambda_powertools import Logger, Metrics

            Logger()
            Metrics(namespace="Bench")
    else:
        raise SystemExit(f"unknown mode {mode}")
    report["boto3_loaded"] = "boto3" in sys.modules
    report["xray_loaded"] = any(name.startswith("aws_xray_sdk") for name in sys.modules)
    report["botocore_patched"] = _botocore_patched()
    report["passkey_libraries_loaded"] = sorted(
        name for name in ("webauthn", "OpenSSL", "cryptography", "cbor2") if name in sys.modules
    )
    report["peak_rss_mb"] = _peak_rss_mb()
    with open(result_path, "w", encoding="utf-8") as stream:
        json.dump(report, stream)


if __name__ == "__main__":
    main()
