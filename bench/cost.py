"""Estimated AWS cost per million sign-ins, from this run's measured call counts and durations.

Prices are us-east-1 list prices as known to the author (late 2025); check them before relying on
the figures. Cognito's own price (per monthly active user) and fixed monthly fees (the secret, the
table's storage) do not depend on the number of sign-ins and are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.calls import Round, is_read, is_write

PRICES = {
    "lambda_arm_gb_second": (0.0000133334, "Lambda arm64 compute, $0.0000133334 per GB-second"),
    "lambda_request": (0.20 / 1e6, "Lambda requests, $0.20 per million"),
    "dynamodb_write_unit": (0.625 / 1e6, "DynamoDB on-demand, $0.625 per million write request units"),
    "dynamodb_read_unit": (0.125 / 1e6, "DynamoDB on-demand, $0.125 per million read request units"),
    "ses_email": (0.10 / 1000, "SES outbound email, $0.10 per 1,000"),
    "secrets_api_call": (0.05 / 10000, "Secrets Manager API calls, $0.05 per 10,000"),
    "kms_request": (0.03 / 10000, "KMS requests (incl. RSA 2048 Sign), $0.03 per 10,000"),
    "xray_trace": (5.00 / 1e6, "X-Ray traces recorded, $5.00 per million"),
    "logs_gb": (0.50, "CloudWatch Logs ingestion, $0.50 per GB"),
}

# Assumptions (not measured here; stated with the table).
AWS_CALL_MS = 10.0  # one in-region AWS API call, as billed Lambda duration
PLATFORM_LOG_BYTES = 350  # Lambda's START, END and REPORT lines per invocation
XRAY_SAMPLED_SHARE = 0.05  # the default sampling rule (1 per second, then 5 %) at a sustained rate
FULL_VCPU_MB = 1769  # Lambda gives one vCPU at 1,769 MB, proportionally less below


def price(name: str) -> float:
    return PRICES[name][0]


@dataclass(frozen=True)
class FunctionCost:
    """What one function costs per invocation: its measured own time and memory."""

    memory_mb: int
    warm_own_ms: float  # warm p50, on one full local core
    cold_cpu_ms: float  # cold-start CPU time (median), on one full local core
    log_bytes: float  # its own log lines per invocation, measured


def cpu_scale(memory_mb: int) -> float:
    return max(1.0, FULL_VCPU_MB / memory_mb)


def billed_ms(own_ms: float, aws_calls: float, memory_mb: int, init_ms: float = 0.0) -> int:
    return math.ceil((own_ms + init_ms) * cpu_scale(memory_mb) + aws_calls * AWS_CALL_MS)


def per_million(sign_in: Round, functions: dict[str, FunctionCost], cold: bool = False) -> dict[str, float]:
    """sign_in: one sign-in's trigger invocations and AWS calls; functions: slot -> its FunctionCost.
    Returns $ per million sign-ins by line item."""
    million = 1e6
    gb_seconds = 0.0
    log_bytes = 0.0
    invocations, calls = sign_in.invocations, sign_in.calls
    for slot, count in invocations.items():
        fn = functions[slot]
        slot_calls = sum(n for key, n in calls.items() if key.startswith(f"{slot}: "))
        init = fn.cold_cpu_ms if cold else 0.0
        ms = billed_ms(fn.warm_own_ms, slot_calls / count, fn.memory_mb, init)
        gb_seconds += count * ms / 1000 * fn.memory_mb / 1024
        log_bytes += count * (fn.log_bytes + PLATFORM_LOG_BYTES)
    ops = sign_in.by_operation()
    writes = sum(n for op, n in ops.items() if is_write(op))
    reads = sum(n for op, n in ops.items() if is_read(op))
    emails = sum(n for op, n in ops.items() if op.endswith("SendEmail"))
    secrets = sum(n for op, n in ops.items() if op.startswith("secretsmanager."))
    kms = sum(n for op, n in ops.items() if op.startswith("kms."))
    lines = {
        "Lambda requests": sum(invocations.values()) * price("lambda_request"),
        "Lambda compute" + (" (every call cold)" if cold else ""): gb_seconds * price("lambda_arm_gb_second"),
        "DynamoDB (1 KB items: 1 unit per request)": writes * price("dynamodb_write_unit") + reads * price("dynamodb_read_unit"),
        "SES": emails * price("ses_email"),
        "Secrets Manager": secrets * price("secrets_api_call"),
        "KMS": kms * price("kms_request"),
        "CloudWatch Logs": log_bytes / 1e9 * price("logs_gb"),
    }
    return {name: value * million for name, value in lines.items()}


def xray_per_million(sign_in: Round) -> float:
    """What X-Ray adds per million sign-ins when the Tracing parameter is Active (off, nothing)."""
    return sum(sign_in.invocations.values()) * XRAY_SAMPLED_SHARE * price("xray_trace") * 1e6


def reference_per_million(operations: dict[str, int]) -> float:
    """The AWS sample's per-call costs for one sign-in (its Lambda time is not known here)."""
    total = 0.0
    for op, n in operations.items():
        if op.startswith("kms."):
            total += n * price("kms_request")
        elif op.startswith("dynamodb."):
            total += n * price("dynamodb_write_unit")
        elif op.startswith("ses."):
            total += n * price("ses_email")
    return total * 1e6
