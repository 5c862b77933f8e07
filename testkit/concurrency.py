"""Races made on purpose, with nothing left to timing: calls released together by a barrier, and a
first call held until a second has returned (the way Cognito retries a trigger that ran over its
timeout while the first call runs on). Every wait has a patience that only a broken test reaches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from botocore.exceptions import ClientError

PATIENCE_SECONDS = 60.0  # a safety net for a broken test, not a timing
Argument = TypeVar("Argument")
Hold = Literal["before", "after"]


def run_at_once(call: Callable[[Argument], Any], arguments: Sequence[Argument]) -> list[Any]:
    """call(argument) for each argument, each on its own thread, all released together. Returns,
    in the arguments' order, what each call returned or the ClientError it raised; any other error
    is raised here."""
    barrier = threading.Barrier(len(arguments))
    outcomes: list[Any] = [None] * len(arguments)
    crashes: list[BaseException] = []

    def run(index: int, argument: Argument) -> None:
        barrier.wait()
        try:
            outcomes[index] = call(argument)
        except ClientError as exc:
            outcomes[index] = exc
        except BaseException as exc:
            crashes.append(exc)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(arguments)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if crashes:
        raise crashes[0]
    return outcomes


class FirstCallHold:
    """Holds the first of a run of calls until the second has returned. hold="before": the first
    call waits before it does anything; "after": once its work is done. `first_returned` is set when
    the first call ends, `second_returned` when the second does.

    Whoever makes the calls tells it about each one: number = starting(), then before(number), the
    call itself, after(number) if the call completed, and returned(number) in any case. HeldFirstCall
    does so around a function; testkit.faults.Faults.hold around an AWS call."""

    def __init__(self, hold: Hold = "after", patience: float = PATIENCE_SECONDS) -> None:
        if hold not in ("before", "after"):
            raise ValueError(f"hold is 'before' or 'after', not {hold!r}")
        self._hold = hold
        self._patience = patience
        self._lock = threading.Lock()
        self._calls = 0
        self.first_returned = threading.Event()
        self.second_returned = threading.Event()

    def starting(self) -> int:
        """The number of the call now starting (1 for the first)."""
        with self._lock:
            self._calls += 1
            return self._calls

    def before(self, number: int) -> None:
        if number == 1 and self._hold == "before":
            self._wait_for_the_second()

    def after(self, number: int) -> None:
        if number == 1 and self._hold == "after":
            self._wait_for_the_second()

    def returned(self, number: int) -> None:
        if number == 1:
            self.first_returned.set()
        elif number == 2:
            self.second_returned.set()

    def _wait_for_the_second(self) -> None:
        # The second call comes after the pool's own timeout, however long this machine takes.
        assert self.second_returned.wait(self._patience), "the call was never retried"

    def wait_for_the_first(self) -> None:
        assert self.first_returned.wait(self._patience), "the held call never returned"


class HeldFirstCall(FirstCallHold):
    """Wraps function so that its first call (among those `when` picks) is held until the second has
    returned: the way to make Cognito time out on a trigger and call it again while the first call
    runs on, without racing a sleep against the timeout."""

    def __init__(
        self,
        function: Callable[..., Any],
        hold: Hold = "after",
        when: Callable[..., bool] = lambda *args, **kwargs: True,
        patience: float = PATIENCE_SECONDS,
    ) -> None:
        super().__init__(hold, patience)
        self._function = function
        self._when = when

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._when(*args, **kwargs):
            return self._function(*args, **kwargs)
        number = self.starting()
        try:
            self.before(number)
            result = self._function(*args, **kwargs)
            self.after(number)
            return result
        finally:
            self.returned(number)
