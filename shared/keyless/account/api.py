"""The management API's one entry point: an API Gateway HTTP API event (payload version 2.0) routed
through ROUTES, the one route table (route key -> callable(Caller | None, Request) -> Response).

API Gateway's JWT authorizer has already checked the token of every route but those marked
`Auth: {Authorizer: NONE}` in template.yaml; its claims arrive in requestContext.authorizer.jwt.claims
and become the Caller (None on a route without the authorizer). Answers are JSON, never cached;
errors are {"message": short safe text}: 400 bad input, 401 not an ID token, 403 a fresh sign-in
needed, 404 an unknown route, 500 anything else (the details only in the log, without their message).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keyless.account import authenticator_app, passkeys
from keyless.account.caller import Caller, caller_from
from keyless.account.errors import INTERNAL, ApiError, bad_request, not_found
from keyless.account.http import Request, Response, Route
from keyless.core.aws_errors import failure_details
from keyless.core.observability import logger

if TYPE_CHECKING:
    from keyless.aws.runtime import SignInRuntime

MAX_BODY_BYTES = 16 * 1024  # a registration's attestation is a few kilobytes at most


# The one route table. A module of keyless.account adds its routes here.
ROUTES: dict[str, Route] = {**passkeys.ROUTES, **authenticator_app.ROUTES}


def handle(event: Any, runtime: SignInRuntime) -> dict[str, Any]:
    """The HTTP answer to an API Gateway event. A failure is logged as an error (the Failures metric
    counts it) with its type and stack, never its message."""
    route = event.get("routeKey") if isinstance(event, Mapping) else None
    logged = route if isinstance(route, str) and route in ROUTES else "unknown"
    try:
        return _route(event, runtime).as_result()
    except ApiError as exc:
        logger.info("management request refused", extra={"route": logged, "status": exc.status})
        return Response(exc.status, {"message": exc.message}).as_result()
    except Exception as exc:
        logger.error("management request failed", extra={"route": logged, **failure_details(exc)})
        return Response(500, {"message": INTERNAL}).as_result()


def _route(event: Any, runtime: SignInRuntime) -> Response:
    if not isinstance(event, Mapping) or not isinstance(event.get("routeKey"), str):
        raise bad_request("Invalid request")
    target = ROUTES.get(event["routeKey"])
    if target is None:
        raise not_found()
    request = Request(event["routeKey"], _query(event), _body(event), runtime, runtime.now())
    return target(_caller(event, runtime), request)


def _caller(event: Mapping[str, Any], runtime: SignInRuntime) -> Caller | None:
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    jwt = authorizer.get("jwt") if isinstance(authorizer, Mapping) else None
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    if not isinstance(claims, Mapping):
        return None
    return caller_from(claims, lambda sub: int(runtime.account_sign_in_store.read(sub).get("revokedAt", 0) or 0))


def _query(event: Mapping[str, Any]) -> Mapping[str, str]:
    query = event.get("queryStringParameters") or {}
    if not isinstance(query, Mapping) or not all(isinstance(v, str) for v in query.values()):
        raise bad_request("Invalid request")
    return query


def _body(event: Mapping[str, Any]) -> str:
    body = event.get("body") or ""
    if not isinstance(body, str) or len(body) > MAX_BODY_BYTES * 2:
        raise bad_request("Request too large" if isinstance(body, str) else "Invalid body")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise bad_request("Invalid body") from None
    if len(body.encode()) > MAX_BODY_BYTES:
        raise bad_request("Request too large")
    return body
