"""Calling a user pool trigger the way Cognito does.

Cognito waits 5 seconds for a trigger and, on a timeout, calls it again with the same event, up to
3 calls in all (the slow call is not stopped: Lambda goes on running it). A trigger that raises
reaches the client as UserLambdaValidationException "<Trigger> failed with error <message>.", and
a return value Cognito cannot read as InvalidLambdaResponseException.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from localpool.errors import CognitoError, invalid_lambda_response

TIMEOUT_SECONDS = 5.0
MAX_CALLS = 3

Handler = Callable[[dict, object], object]


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 128
    aws_request_id: str = ""
    deadline_seconds: float = TIMEOUT_SECONDS

    def __post_init__(self):
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return int(self.deadline_seconds * 1000)


class TriggerRunner:
    """Runs the pool's triggers by slot name (PreSignUp, DefineAuthChallenge, ...)."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        timeout_seconds: float = TIMEOUT_SECONDS,
        max_calls: int = MAX_CALLS,
        functions: Mapping[str, tuple[str, int]] | None = None,
    ):
        """functions: slot -> (function name, MemorySize) for the Lambda context, as the template deploys them
        (a slot it does not name: the slot's name and 128 MB)."""
        self._handlers = dict(handlers)
        self._functions = dict(functions or {})
        self._timeout = timeout_seconds
        self._max_calls = max_calls
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="trigger")
        self.calls: list[str] = []  # slot names in call order, for tests and the terminal
        self._lock = threading.Lock()

    def has(self, slot: str) -> bool:
        return slot in self._handlers

    def __call__(self, slot: str, event: dict) -> dict:
        handler = self._handlers[slot]
        for _ in range(self._max_calls):
            with self._lock:
                self.calls.append(slot)
            name, memory = self._functions.get(slot, (slot, 128))
            context = LambdaContext(function_name=name, memory_limit_in_mb=memory, deadline_seconds=self._timeout)
            future = self._pool.submit(handler, copy.deepcopy(event), context)
            try:
                result = future.result(timeout=self._timeout)
            except FutureTimeout:
                continue  # Cognito gives up on this call and tries again; the call itself runs on
            except Exception as exc:
                raise CognitoError("UserLambdaValidationException", f"{slot} failed with error {exc}.") from None
            return _checked(slot, result)
        raise CognitoError(
            "UnexpectedLambdaException",
            f"{slot} invocation failed due to error Socket timeout while invoking Lambda function.",
        )


def _checked(slot: str, result: object) -> dict:
    if not isinstance(result, dict) or not isinstance(result.get("response"), dict):
        raise invalid_lambda_response(f"Unrecognizable lambda output from {slot}")
    return result["response"]
