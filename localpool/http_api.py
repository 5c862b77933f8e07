"""The template's HTTP APIs, served as API Gateway serves them, under /api on the local pool's port.

Every `HttpApi` event of every function the template creates is a route (method + path). A route
whose event says `Auth: {Authorizer: NONE}` is open; the others go through their API's JWT authorizer
(the event's `Auth.Authorizer`, else the API's `DefaultAuthorizer`), checked as API Gateway documents
it: the token from the identity source (`$request.header.Authorization`), alone or after `Bearer `;
RS256 with a key of the pool's own JWKS chosen by `kid`; `iss` the pool's; `aud` one of the
authorizer's audiences (`client_id` when there is no `aud`); `exp` after now, `nbf` and `iat` not after
it. Anything else is 401 {"message":"Unauthorized"} and the function never runs. A token ended by
GlobalSignOut or RevokeToken still passes, as at API Gateway, which knows nothing of revocation.

A request that passes is a payload format 2.0 event (claims as strings, below) for the function's real
handler, run as Lambda would run it: the function's MemorySize, its Timeout (past it, 500 as when
Lambda fails), the environment the template gives it. Its answer is read as API Gateway reads a 2.0
answer. The API's CorsConfiguration answers preflights and adds the CORS headers, ignoring the
function's own, as API Gateway does when CORS is configured.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import jwt

from localpool.deployment import ACCOUNT
from localpool.template import FunctionSpec, Template, load_handler
from localpool.tokens import RsaKey
from localpool.triggers import Handler, LambdaContext

PREFIX = "/api"
IDENTITY_HEADER = re.compile(r"\$request\.header\.([A-Za-z0-9-]+)")
# The CORS headers API Gateway sets itself when the API configures CORS (the function's are dropped).
CORS_HEADERS = frozenset(
    {
        "access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers",
        "access-control-max-age", "access-control-allow-methods", "access-control-allow-headers",
    }
)  # fmt: skip
TEXT_TYPES = re.compile(r"^(text/|application/(json|javascript|xml|x-www-form-urlencoded)|[^;]*\+(json|xml))", re.IGNORECASE)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # after /api
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: tuple[tuple[str, str], ...]  # in order; a name may repeat (Set-Cookie)
    body: bytes
    route_key: str | None = None  # the route that answered; None: the gateway answered by itself

    @classmethod
    def message(cls, status: HTTPStatus, route_key: str | None = None) -> ApiResponse:
        """API Gateway's own answers: {"message": "<reason phrase>"}, as for 401, 404 and a failed function."""
        body = json.dumps({"message": status.phrase}).encode()
        return cls(int(status), (("Content-Type", "application/json"),), body, route_key)


@dataclass(frozen=True)
class JwtAuthorizer:
    name: str
    header: str  # lower case: the identity source's header
    issuer: str  # the local pool's own, in place of Cognito's for this pool
    audiences: frozenset[str]


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def allows(self, origin: str) -> bool:
        """AllowOrigins: exact origins, `*`, or a scheme's wildcard (`https://*`)."""
        return any(a == "*" or a == origin or (a.endswith("://*") and origin.startswith(a[:-1])) for a in self.allow_origins)

    def headers(self, origin: str | None, preflight: bool = False) -> dict[str, str]:
        """The CORS headers for a request with this Origin; none when it names no allowed one."""
        if origin is None or not self.allows(origin):
            return {}
        headers = {"Access-Control-Allow-Origin": "*" if self.allow_origins == ("*",) else origin}
        if self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        if preflight:
            if self.allow_methods:
                headers["Access-Control-Allow-Methods"] = ",".join(self.allow_methods)
            if self.allow_headers:
                headers["Access-Control-Allow-Headers"] = ",".join(self.allow_headers)
            if self.max_age is not None:
                headers["Access-Control-Max-Age"] = str(self.max_age)
        elif self.expose_headers:
            headers["Access-Control-Expose-Headers"] = ",".join(self.expose_headers)
        if headers["Access-Control-Allow-Origin"] != "*":
            headers["Vary"] = "Origin"
        return headers


@dataclass(frozen=True)
class Route:
    method: str  # POST, GET, ..., or ANY
    path: str  # /authenticators/list, /items/{id}, /files/{proxy+}
    api: str  # the AWS::Serverless::HttpApi's logical id
    function: FunctionSpec
    authorizer: JwtAuthorizer | None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        parts = []
        for segment in self.path.strip("/").split("/"):
            variable = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
            if variable is None:
                parts.append(re.escape(segment))
            else:
                parts.append(f"(?P<{variable.group(1)}>{'.+' if variable.group(2) else '[^/]+'})")
        return re.compile("/" + "/".join(parts))

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers the most specific route: no greedy variable, then fewer variables, then a method over ANY."""
        return ("+}" in self.path, self.path.count("{"), self.method == "ANY")


class TemplateApiError(ValueError):
    """What the local pool cannot serve as API Gateway would (the template should not deploy with it either)."""


@dataclass
class HttpApiGateway:
    """The routes of every HTTP API the template creates, with their authorizers and CORS."""

    routes: list[Route]
    cors: Cors | None  # the API's CorsConfiguration (None: it has none)
    keys: Callable[[], Iterable[RsaKey]]  # the pool's signing keys (its JWKS)
    clock: Callable[[], float] = time.time
    handlers: dict[str, Handler] = field(default_factory=dict)  # function logical id -> handler, loaded on first use
    calls: list[str] = field(default_factory=list)  # route keys whose function ran, in order
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=16, thread_name_prefix="http-api"))

    @classmethod
    def from_template(
        cls,
        template: Template,
        physical: Mapping[str, str],
        region: str,
        pool_issuer: tuple[str, str],
        keys: Callable[[], Iterable[RsaKey]],
        clock: Callable[[], float] = time.time,
    ) -> HttpApiGateway:
        """pool_issuer: (the issuer Cognito would give this pool's tokens, the local pool's own issuer)."""
        functions = template.functions()
        resources = {k: v for k, v in template.resources_of_type("AWS::Serverless::HttpApi").items() if template.exists(k)}
        if len(resources) > 1:
            raise TemplateApiError(f"the local pool serves one HTTP API under {PREFIX}, not {', '.join(sorted(resources))}")
        physical = {**physical, **{logical: logical for logical in resources}}  # an event's ApiId names its API
        apis = {
            logical: template.resolve(r.get("Properties") or {}, physical, region, ACCOUNT) for logical, r in resources.items()
        }
        routes = []
        for logical, spec in functions.items():
            if not template.exists(logical):
                continue
            for name, event in (template.resources[logical]["Properties"].get("Events") or {}).items():
                if event.get("Type") != "HttpApi":
                    continue
                props = template.resolve(event.get("Properties") or {}, physical, region, ACCOUNT)
                routes.append(_route(f"{logical}.{name}", props, apis, spec, pool_issuer))
        keys_seen = [route.key for route in routes]
        duplicates = sorted({key for key in keys_seen if keys_seen.count(key) > 1})
        if duplicates:
            raise TemplateApiError(f"routes defined twice: {', '.join(duplicates)}")
        cors = next((_cors(props.get("CorsConfiguration")) for props in apis.values()), None)
        return cls(routes, cors if cors and cors.allow_origins else None, keys, clock)

    def route_keys(self) -> list[str]:
        return sorted(route.key for route in self.routes)

    def handle(self, request: ApiRequest) -> ApiResponse:
        origin = _header(request.headers, "origin")
        cors = self.cors
        if (
            request.method == "OPTIONS"
            and cors is not None
            and origin
            and _header(request.headers, "access-control-request-method")
        ):
            return ApiResponse(int(HTTPStatus.NO_CONTENT), tuple(cors.headers(origin, preflight=True).items()), b"")
        found = self._match(request.method, request.path)
        if found is None:
            return self.refuse(HTTPStatus.NOT_FOUND, request.headers)
        route, path_parameters = found
        claims = None
        if route.authorizer is not None:
            claims = self._authorize(route.authorizer, request.headers)
            if claims is None:
                return self.refuse(HTTPStatus.UNAUTHORIZED, request.headers, route.key)
        event = build_event(route, request, path_parameters, claims, self.clock())
        return self._with_cors(self._invoke(route, event), origin)

    def refuse(self, status: HTTPStatus, headers: Iterable[tuple[str, str]], route_key: str | None = None) -> ApiResponse:
        """The gateway's own answer ({"message": reason phrase}), with the CORS headers the request's Origin gets."""
        return self._with_cors(ApiResponse.message(status, route_key), _header(headers, "origin"))

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        candidates = []
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            matched = route.pattern.fullmatch(path)
            if matched is not None:
                candidates.append((route.specificity, route, matched.groupdict()))
        if not candidates:
            return None
        _, route, parameters = min(candidates, key=lambda c: c[0])
        return route, parameters

    def _authorize(self, authorizer: JwtAuthorizer, headers: list[tuple[str, str]]) -> dict[str, Any] | None:
        """The token's claims if API Gateway's JWT authorizer would let the request through, else None."""
        value = _header(headers, authorizer.header)
        if not value:
            return None
        token = value[len("Bearer ") :] if value.startswith("Bearer ") else value
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = next((k for k in self.keys() if k.kid == kid), None)
            if key is None:
                return None
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=["RS256"],
                issuer=authorizer.issuer,
                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except (jwt.PyJWTError, ValueError):
            return None
        now = self.clock()
        audience = claims.get("aud", claims.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a in authorizer.audiences for a in audiences):
            return None
        times = [claims.get("exp"), claims.get("nbf", now), claims.get("iat", now)]
        if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
            return None
        exp, nbf, iat = (float(t) for t in times)
        return claims if exp > now and nbf <= now and iat <= now else None

    def _invoke(self, route: Route, event: dict[str, Any]) -> ApiResponse:
        spec = route.function
        with self._lock:
            handler = self.handlers.get(spec.logical_id)
            if handler is None:
                handler = self.handlers[spec.logical_id] = load_handler(spec)
            self.calls.append(route.key)
        context = LambdaContext(function_name=spec.logical_id, memory_limit_in_mb=spec.memory_size, deadline_seconds=spec.timeout)
        future = self._pool.submit(handler, copy.deepcopy(event), context)
        try:
            result = future.result(timeout=spec.timeout)
        except FutureTimeout:
            return ApiResponse.message(HTTPStatus.INTERNAL_SERVER_ERROR, route.key)  # Lambda: "Task timed out"
        except Exception:
            return ApiResponse.message(HTTPStatus.INTERNAL_SERVER_ERROR, route.key)  # the function's own log tells why
        return read_answer(result, route.key)

    def _with_cors(self, response: ApiResponse, origin: str | None) -> ApiResponse:
        if self.cors is None:
            return response
        headers = tuple((k, v) for k, v in response.headers if k.lower() not in CORS_HEADERS)
        return ApiResponse(response.status, headers + tuple(self.cors.headers(origin).items()), response.body, response.route_key)


def _route(
    name: str, props: Mapping[str, Any], apis: Mapping[str, Mapping[str, Any]], spec: FunctionSpec, pool_issuer: tuple[str, str]
) -> Route:
    api_id = props.get("ApiId")
    if not isinstance(api_id, str) or api_id not in apis:
        raise TemplateApiError(f"{name}: only events with ApiId naming an AWS::Serverless::HttpApi of the template are served")
    path, method = props.get("Path"), str(props.get("Method", "")).upper()
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or method not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
    ):
        raise TemplateApiError(f"{name}: Path and Method are needed")
    if str(props.get("PayloadFormatVersion", "2.0")) != "2.0":
        raise TemplateApiError(f"{name}: only payload format 2.0 is served")
    auth = props.get("Auth") or {}
    if auth.get("AuthorizationScopes"):
        raise TemplateApiError(f"{name}: AuthorizationScopes are not served locally")
    api_auth = apis[api_id].get("Auth") or {}
    authorizer_name = auth.get("Authorizer", api_auth.get("DefaultAuthorizer"))
    authorizer = None
    if authorizer_name is not None and authorizer_name != "NONE":
        config = (api_auth.get("Authorizers") or {}).get(authorizer_name)
        authorizer = _authorizer(name, str(authorizer_name), config, pool_issuer)
    return Route(method, path, api_id, spec, authorizer)


def _authorizer(route: str, name: str, config: Mapping[str, Any] | None, pool_issuer: tuple[str, str]) -> JwtAuthorizer:
    jwt_config = (config or {}).get("JwtConfiguration")
    if not jwt_config:
        raise TemplateApiError(f"{route}: authorizer {name} is not a JWT authorizer of its API")
    source = IDENTITY_HEADER.fullmatch(str(config.get("IdentitySource", "$request.header.Authorization")))  # type: ignore[union-attr]
    if source is None:
        raise TemplateApiError(f"{route}: authorizer {name}: only a header identity source is served")
    cognito_issuer, local_issuer = pool_issuer
    issuer = jwt_config.get("issuer")
    if issuer != cognito_issuer:
        raise TemplateApiError(f"{route}: authorizer {name} trusts {issuer!r}, not this pool ({cognito_issuer})")
    audiences = jwt_config.get("audience") or []
    return JwtAuthorizer(name, source.group(1).lower(), local_issuer, frozenset(str(a) for a in audiences))


def _cors(config: object) -> Cors:
    if not isinstance(config, Mapping):
        return Cors()

    def items(key: str) -> tuple[str, ...]:
        value = config.get(key) or ()
        return tuple(str(v) for v in (value.split(",") if isinstance(value, str) else value))

    max_age = config.get("MaxAge")
    return Cors(
        allow_origins=items("AllowOrigins"),
        allow_methods=items("AllowMethods"),
        allow_headers=items("AllowHeaders"),
        expose_headers=items("ExposeHeaders"),
        max_age=int(max_age) if max_age is not None else None,
        allow_credentials=str(config.get("AllowCredentials", "false")).lower() == "true",
    )


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name]
    return ",".join(values) if values else None


def claim_text(value: object) -> str:
    """A claim as API Gateway's HTTP API puts it in requestContext.authorizer.jwt.claims: every value a
    string; numbers and booleans as their JSON text; an array as its items in brackets, separated by
    spaces ("[admins editors]"). An object: its JSON text (AWS does not document this case)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(claim_text(item) for item in value) + "]"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def build_event(
    route: Route, request: ApiRequest, path_parameters: Mapping[str, str], claims: Mapping[str, Any] | None, now: float
) -> dict[str, Any]:
    """The payload format 2.0 event: lower-case headers (repeated ones joined with commas), cookies apart,
    query parameters likewise joined, the path after /api as rawPath, the body as text (base64 when it is
    not text), and the authorizer's claims as strings."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    query: dict[str, str] = {}
    for key, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    host = headers.get("host", "localhost")
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": route.api.lower(),
        "domainName": host,
        "domainPrefix": host.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route.key,
        "stage": "$default",
        "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": {k: claim_text(v) for k, v in claims.items()}, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": request.path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if request.body:
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and TEXT_TYPES.match(headers.get("content-type", "application/json")):
            event["body"] = text
        else:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    return event


def read_answer(result: object, route_key: str) -> ApiResponse:
    """A function's answer read as API Gateway reads payload 2.0 answers: {statusCode, headers, cookies,
    body, isBase64Encoded}; anything else that is JSON is the body of a 200 application/json answer;
    what cannot be read is 500."""
    if not isinstance(result, dict) or "statusCode" not in result:
        try:
            body = json.dumps(result).encode()
        except (TypeError, ValueError):
            return ApiResponse.message(HTTPStatus.INTERNAL_SERVER_ERROR, route_key)
        return ApiResponse(int(HTTPStatus.OK), (("Content-Type", "application/json"),), body, route_key)
    status, headers, body = result.get("statusCode"), result.get("headers") or {}, result.get("body", "")
    cookies = result.get("cookies") or []
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return ApiResponse.message(HTTPStatus.INTERNAL_SERVER_ERROR, route_key)
    readable = (
        isinstance(headers, dict)
        and all(isinstance(v, str | int | float | bool) for v in headers.values())
        and isinstance(body, str)
        and isinstance(cookies, list)
        and all(isinstance(c, str) for c in cookies)
    )
    if not readable:
        return ApiResponse.message(HTTPStatus.INTERNAL_SERVER_ERROR, route_key)
    try:
        data = base64.b64decode(body, validate=True) if result.get("isBase64Encoded") else body.encode()
    except ValueError:
        return ApiResponse.message(HTTPStatus.INTERNAL_SERVER_ERROR, route_key)
    answer = [(str(k), _header_value(v)) for k, v in headers.items()]
    if not any(k.lower() == "content-type" for k, _ in answer):
        answer.append(("Content-Type", "application/json"))
    answer.extend(("Set-Cookie", cookie) for cookie in cookies)
    return ApiResponse(status, tuple(answer), data, route_key)


def _header_value(value: str | int | float | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
