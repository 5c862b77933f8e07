"""A budget of events over a sliding window, as the table keeps it: the times of the latest events,
oldest first, never more than the budget looks at. Pure Python (settings import it)."""

from __future__ import annotations

from dataclasses import dataclass


def _number(value: int) -> dict:
    return {"N": str(value)}


@dataclass(frozen=True)
class Budget:
    """At most `limit` events in any `window_seconds`."""

    limit: int
    window_seconds: int

    def recent(self, times: list[int], now: int) -> list[int]:
        return [t for t in times if t > now - self.window_seconds]

    def retry_after(self, times: list[int], now: int) -> int:
        """Seconds until one more event fits; 0 when it fits now."""
        recent = self.recent(times, now)
        if len(recent) < self.limit:
            return 0
        return max(1, recent[-self.limit] + self.window_seconds - now)

    def with_event(self, times: list[int], now: int) -> list[int]:
        """The list to store after one more event: the newest ones the budget looks at."""
        recent = self.recent(times, now)
        return [*recent[max(0, len(recent) - (self.limit - 1)) :], now]

    def condition(self, name: str) -> str:
        """DynamoDB condition: one more event fits (the list holds at most `limit`, oldest first)."""
        return f"(attribute_not_exists({name}) OR size({name}) < :limit OR {name}[0] <= :windowStart)"

    def values(self, now: int) -> dict:
        return {":limit": _number(self.limit), ":windowStart": _number(now - self.window_seconds)}
