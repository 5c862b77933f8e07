"""What every function shares, with no AWS client: reading trigger events, the protocol"s names,
errors, settings, logs and metrics, the handler entry point (triggers), tracing (apart: it loads the
X-Ray SDK), budgets over a sliding window, and email addresses.
"""

__all__ = [
    "addresses",
    "aws_errors",
    "budget",
    "errors",
    "events",
    "observability",
    "protocol",
    "settings",
    "token_events",
    "tracing",
    "triggers",
]
