"""What a route of the management API takes and gives: the Request (the query, the body, the
runtime and the time), the Response (JSON, never cached), and signed_in for a route that needs a caller."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keyless.account.caller import Caller
from keyless.account.errors import bad_request, unauthorized

if TYPE_CHECKING:
    from keyless.aws.runtime import SignInRuntime

HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: Mapping[str, Any] | None = None  # None: no body (204)

    def as_result(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": dict(HEADERS),
            "body": "" if self.body is None else json.dumps(self.body, separators=(",", ":")),
            "isBase64Encoded": False,
        }


@dataclass(frozen=True)
class Request:
    route: str
    query: Mapping[str, str]
    raw_body: str
    runtime: SignInRuntime
    now: int
    _parsed: list = field(default_factory=list, compare=False, repr=False)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; 400 "Invalid body" for anything else."""
        if not self._parsed:
            try:
                value = json.loads(self.raw_body) if self.raw_body else {}
            except ValueError:
                raise bad_request("Invalid body") from None
            if not isinstance(value, dict):
                raise bad_request("Invalid body")
            self._parsed.append(value)
        return self._parsed[0]


Route = Callable[[Caller | None, Request], Response]


def signed_in(caller: Caller | None) -> Caller:
    """The caller of a route that needs one (a route behind the authorizer always has one)."""
    if caller is None:
        raise unauthorized()
    return caller
