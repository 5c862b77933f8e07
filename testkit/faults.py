"""AWS misbehaving on purpose under the functions, through botocore's event hooks on one boto3
Session: the product's clients are built from that session (keyless.aws.runtime.reset(session=...)),
so a fault meets them exactly where AWS would, and nothing of the product is patched.

What botocore emits for each API call of a client (botocore/client.py, BaseClient._make_api_call),
every event with the same `context` dict:
  before-parameter-build.<service>.<Operation>  params: the API parameters as the caller gave them
  before-call.<service>.<Operation>             the first handler to return (http_response, parsed)
                                                answers the call instead of AWS; one that raises
                                                makes the call raise that
  after-call.<service>.<Operation>              the answer (AWS's or a handler's), work done; a
                                                handler that raises makes the call raise that
  after-call-error.<service>.<Operation>        the request itself raised (a connection error)
A call answered at before-call is not retried by botocore (its retries happen inside the request),
so a fault with times=1 fails exactly one call as the product sees it.

Services are named as boto3 names clients ("dynamodb", "sesv2", "secretsmanager", "cognito-idp").
"""

from __future__ import annotations

import contextlib
import copy
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import boto3
from botocore import handlers as botocore_handlers
from botocore.awsrequest import AWSResponse, HTTPHeaders

from localpool.deployment import REGION
from testkit.concurrency import PATIENCE_SECONDS, FirstCallHold, Hold

Params = dict[str, Any]
Picks = Callable[[Params], bool]
# Error codes AWS answers with a 5xx status; any other code is the caller's fault (4xx).
SERVER_ERRORS = frozenset({"InternalServerError", "InternalFailure", "InternalServiceError", "ServiceUnavailable"})


@dataclass(frozen=True)
class Call:
    """One API call a client of the session made."""

    service: str
    operation: str
    params: Params


@dataclass
class Fault:
    """One fault: which calls it picks (service; operation, None for any of the service's; `when`,
    on the call's parameters), how many more it picks (`left`; None: every one, until removed) and
    how many it has picked (`picked`). before/after/ended: what it does at botocore's events."""

    service: str
    operation: str | None
    when: Picks | None
    left: int | None
    picked: int = 0
    before: Callable[[Call, dict[str, Any]], tuple[AWSResponse, dict[str, Any]] | None] | None = None
    after: Callable[[Call, dict[str, Any]], None] | None = None
    ended: Callable[[Call, dict[str, Any]], None] | None = None
    key: str = field(default_factory=lambda: f"testkit.faults.{secrets.token_hex(4)}")

    def matches(self, call: Call) -> bool:
        return (
            call.service == self.service
            and self.operation in (None, call.operation)
            and (self.when is None or self.when(call.params))
        )

    @property
    def used_up(self) -> bool:
        return self.left == 0


class Pause:
    """The first call a fault picks waits before it is sent until release(); `reached` is set when it
    starts waiting. The test does something else meanwhile (another user's request lands)."""

    def __init__(self, patience: float = PATIENCE_SECONDS) -> None:
        self.reached = threading.Event()
        self._released = threading.Event()
        self._patience = patience

    def wait_until_reached(self) -> None:
        assert self.reached.wait(self._patience), "no call reached the pause"

    def release(self) -> None:
        self._released.set()

    def wait_for_release(self) -> None:
        """Called by the paused call itself."""
        self.reached.set()
        assert self._released.wait(self._patience), "the paused call was never released"


def error_answer(operation: str, code: str, message: str = "") -> tuple[AWSResponse, dict[str, Any]]:
    """What botocore makes of an AWS error response, as a before-call handler gives it back: the
    client then raises its own exception class for `code` (client.exceptions.<code> if modelled)."""
    status = 500 if code in SERVER_ERRORS else 400
    metadata = {"RequestId": secrets.token_hex(16), "HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}
    parsed = {"Error": {"Code": code, "Message": message or code}, "ResponseMetadata": metadata}
    return AWSResponse(f"https://{operation.lower()}.aws.invalid/", status, HTTPHeaders(), None), parsed


class Faults:
    """Faults for the API calls of one boto3 Session, and a log of every call its clients made.

    faults = Faults()                                   # or Faults(session) for an existing one
    runtime.reset(session=faults.session, clock=clock)  # the functions' clients come from it
    faults.fail("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException")
    """

    def __init__(self, session: boto3.session.Session | None = None, region: str = REGION) -> None:
        self.session = session or boto3.session.Session(region_name=region)
        self.calls: list[Call] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        events = self.session.events
        unique = f"testkit-faults-{secrets.token_hex(4)}"
        events.register("before-parameter-build", self._remember, unique_id=f"{unique}-remember")
        # botocore's stubs say handlers return None; a before-call handler may answer the call instead.
        events.register("before-call", cast(Callable[..., None], self._before), unique_id=f"{unique}-before")
        events.register("after-call", self._after, unique_id=f"{unique}-after")
        events.register("after-call-error", self._after_error, unique_id=f"{unique}-after-error")

    # --- faults ----------------------------------------------------------------------------------

    def fail(
        self,
        service: str,
        operation: str | None,
        error: str | Exception,
        message: str = "",
        *,
        when: Picks | None = None,
        times: int | None = 1,
    ) -> Fault:
        """The next `times` calls picked fail before they reach AWS. error: an AWS error code (AWS's
        error response, status 5xx for server errors, the message `message` or the code), or an
        exception to raise as it is (botocore's ConnectTimeoutError: the request never left)."""

        def answer(call: Call, _context: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
            if isinstance(error, Exception):
                raise error
            return error_answer(call.operation, error, message)

        return self._add(Fault(service, operation, when, times, before=answer))

    def lose_answer(
        self, service: str, operation: str, error: Exception, *, when: Picks | None = None, times: int | None = 1
    ) -> Fault:
        """The next `times` calls picked reach AWS and do their work; then `error` is raised instead
        of the answer (botocore's ReadTimeoutError: AWS acted, the caller cannot know it did)."""

        def lost(_call: Call, _context: dict[str, Any]) -> None:
            raise error

        return self._add(Fault(service, operation, when, times, after=lost))

    def slow(self, service: str, operation: str, seconds: float, *, when: Picks | None = None, times: int | None = 1) -> Fault:
        """The next `times` calls picked take `seconds` longer (a new connection, a slow answer)."""

        def wait(_call: Call, _context: dict[str, Any]) -> None:
            time.sleep(seconds)  # the latency being simulated, not a wait for something to happen

        return self._add(Fault(service, operation, when, times, before=wait))

    def hold(
        self,
        service: str,
        operation: str,
        *,
        hold: Hold = "after",
        when: Picks | None = None,
        patience: float = PATIENCE_SECONDS,
    ) -> FirstCallHold:
        """The first call picked is held until the second picked has returned (FirstCallHold)."""
        held = FirstCallHold(hold, patience)
        fault = Fault(service, operation, when, None)

        def before(_call: Call, context: dict[str, Any]) -> None:
            number = context[fault.key] = held.starting()
            held.before(number)

        def after(_call: Call, context: dict[str, Any]) -> None:
            held.after(context[fault.key])

        def ended(_call: Call, context: dict[str, Any]) -> None:
            held.returned(context[fault.key])

        fault.before, fault.after, fault.ended = before, after, ended
        self._add(fault)
        return held

    def pause(self, service: str, operation: str, *, when: Picks | None = None, patience: float = PATIENCE_SECONDS) -> Pause:
        """The first call picked waits before it is sent until the returned Pause is released."""
        paused = Pause(patience)
        self._add(Fault(service, operation, when, 1, before=lambda _call, _context: paused.wait_for_release()))
        return paused

    def remove(self, fault: Fault) -> None:
        with self._lock:
            self._faults.remove(fault)

    def unused(self) -> list[Fault]:
        """Faults with calls left to fail (times=None ones never count)."""
        with self._lock:
            return [f for f in self._faults if f.left]

    # --- the log -----------------------------------------------------------------------------------

    def count(self, service: str, operation: str, when: Picks | None = None) -> int:
        """How many calls of the operation the session's clients made (those `when` picks)."""
        with self._lock:
            calls = list(self.calls)
        return sum(1 for c in calls if (c.service, c.operation) == (service, operation) and (when is None or when(c.params)))

    # --- botocore's events -------------------------------------------------------------------------

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def _remember(self, params: Params, model: Any, context: dict[str, Any], **_: Any) -> None:
        call = Call(model.service_model.service_name, model.name, copy.deepcopy(params))
        context["testkit.faults.call"] = call
        with self._lock:
            self.calls.append(call)

    def _before(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        call: Call | None = context.get("testkit.faults.call")
        if call is None:  # a client whose parameters were built before this object hooked in
            return None
        with self._lock:
            picked = [f for f in self._faults if not f.used_up and f.matches(call)]
            for fault in picked:
                fault.picked += 1
                if fault.left is not None:
                    fault.left -= 1
        context["testkit.faults.picked"] = picked
        for fault in picked:
            answer = fault.before(call, context) if fault.before else None
            if answer is not None:
                return answer
        return None

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        call: Call | None = context.get("testkit.faults.call")
        picked: list[Fault] = context.get("testkit.faults.picked", [])
        if call is None:
            return
        try:
            for fault in picked:
                if fault.after:
                    fault.after(call, context)
        finally:
            self._ended(call, picked, context)

    def _after_error(self, context: dict[str, Any], **_: Any) -> None:
        call: Call | None = context.get("testkit.faults.call")
        if call is not None:
            self._ended(call, context.get("testkit.faults.picked", []), context)

    @staticmethod
    def _ended(call: Call, picked: list[Fault], context: dict[str, Any]) -> None:
        for fault in picked:
            if fault.ended:
                fault.ended(call, context)


@contextlib.contextmanager
def on_every_new_session(event: str, handler: Callable[..., Any]) -> Iterator[None]:
    """`handler` registered for `event` on every botocore session created meanwhile, for code that
    builds its own session on each invocation (the attach function). botocore registers the entries
    of botocore.handlers.BUILTIN_HANDLERS on each new session; moto hooks in the same way."""
    entry = (event, handler)
    botocore_handlers.BUILTIN_HANDLERS.append(entry)
    try:
        yield
    finally:
        botocore_handlers.BUILTIN_HANDLERS.remove(entry)
