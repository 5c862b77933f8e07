"""The local pool's API Gateway (localpool/http_api.py): the template's HTTP API routes under /api,
driven over HTTP as a browser or an app would call API Gateway. A test function (testkit/http_api_echo.py)
answers with the event it was given, so what reaches a function can be read; the management API's own
routes are driven in tests/test_local_pool_management_api.py and tests/test_passkeys_browser.py."""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import jwt
import pytest
from moto import mock_aws

from localpool.deployment import REGION
from localpool.http_api import HttpApiGateway, TemplateApiError, claim_text
from localpool.template import Template
from testkit.clients import pool_cognito, signed_in_with_code
from testkit.clock import Clock
from testkit.deployment import TEST_PARAMETERS, served_pool

TESTKIT = Path(__file__).resolve().parent.parent / "testkit"
ALLOWED_PAGE = "https://app.example.com"  # in TEST_PARAMETERS' AllowedRedirectOrigins
OTHER_PAGE = "http://localhost:3000"  # may call the pool (--cors-origin), but is not in the API's AllowOrigins
ISSUER = {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"}


def echo_template(events: dict | None = None, **api_properties) -> Template:
    """template.yaml plus an HTTP API (JWT authorizer on the pool, as the management API has) and the echo function."""
    template = Template(parameters=TEST_PARAMETERS)
    template.resources["EchoApi"] = {
        "Type": "AWS::Serverless::HttpApi",
        "Properties": {
            "Auth": {
                "Authorizers": {
                    "PoolJwt": {
                        "IdentitySource": "$request.header.Authorization",
                        "JwtConfiguration": {"issuer": ISSUER, "audience": [{"Ref": "UserPoolClient"}]},
                    }
                },
                "DefaultAuthorizer": "PoolJwt",
            },
            "CorsConfiguration": {
                "AllowOrigins": {"Fn::Split": [",", {"Ref": "AllowedRedirectOrigins"}]},  # as the management API's
                "AllowHeaders": ["authorization", "content-type"],
                "AllowMethods": ["POST", "GET"],
                "MaxAge": 600,
            },
            **api_properties,
        },
    }
    route = {"ApiId": {"Ref": "EchoApi"}, "Method": "POST"}
    template.resources["EchoFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": str(TESTKIT),
            "Handler": "http_api_echo.handler",
            "Timeout": 1,
            "Events": events
            or {
                "Open": {"Type": "HttpApi", "Properties": {**route, "Path": "/open", "Auth": {"Authorizer": "NONE"}}},
                "Mine": {"Type": "HttpApi", "Properties": {**route, "Path": "/mine"}},
                "Item": {"Type": "HttpApi", "Properties": {**route, "Path": "/items/{id}"}},
                "Files": {"Type": "HttpApi", "Properties": {**route, "Method": "ANY", "Path": "/files/{path+}"}},
                "Answers": {"Type": "HttpApi", "Properties": {**route, "Path": "/{answer}", "Auth": {"Authorizer": "NONE"}}},
            },
        },
    }
    return template


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(start=time.time())


@pytest.fixture(scope="module")
def server(pool_state_dir, clock):
    """One served pool for the module (each test signs in a user of its own)."""
    with (
        mock_aws(),
        served_pool(pool_state_dir, template=echo_template(), clock=clock, cors_origins=[ALLOWED_PAGE, OTHER_PAGE]) as served,
    ):
        yield served


@pytest.fixture
def tokens(server, request):
    return signed_in_with_code(server, f"{request.node.name.replace('_', '-')[:40]}@example.com")


def call(server, path: str, body: bytes | dict | None = None, method: str = "POST", **headers: str):
    """One request to the API: (status, headers, raw body)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(server.url + "/api" + path, data=data, method=method)
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def event_of(server, path: str, token: str, **headers: str) -> dict:
    status, _, raw = call(server, path, b"{}", Authorization=token, **headers)
    assert status == 200, raw
    return json.loads(raw)


def own_token(server, clock, **claims) -> str:
    """A token signed with the pool's own ID-token key, with the claims given over a valid ID token's."""
    now = int(clock())
    base = {"sub": "someone", "iss": server.pool.issuer, "aud": server.pool.client_id, "token_use": "id"}
    body = {**base, "iat": now, "exp": now + 3600, **claims}
    key = server.pool.tokens.key
    return jwt.encode(
        {k: v for k, v in body.items() if v is not None}, key.private_key, algorithm="RS256", headers={"kid": key.kid}
    )


def test_routes_are_the_functions_http_api_events_with_their_authorizer(server):
    gateway = server.pool.http_api
    assert gateway.route_keys() == ["ANY /files/{path+}", "POST /items/{id}", "POST /mine", "POST /open", "POST /{answer}"]
    protected = {route.key for route in gateway.routes if route.authorizer is not None}
    assert protected == {"ANY /files/{path+}", "POST /items/{id}", "POST /mine"}
    assert json.loads(urllib.request.urlopen(server.url + "/local-pool.json").read())["managementApiUrl"] == server.url + "/api"


def test_a_protected_route_runs_only_with_a_valid_token_of_this_pool(server, clock, tokens):
    """Each refusal is API Gateway's 401 {"message":"Unauthorized"}, and the function never runs."""
    gateway = server.pool.http_api
    id_token, access_token = tokens["IdToken"], tokens["AccessToken"]
    other_key = jwt.encode(
        jwt.decode(id_token, options={"verify_signature": False}),
        "a key that is not the pool key, long enough for HS256",
        algorithm="HS256",
        headers={"kid": "x"},
    )
    header, _payload, signature = id_token.split(".")
    forged_payload = base64.urlsafe_b64encode(
        json.dumps({**jwt.decode(id_token, options={"verify_signature": False}), "sub": "someone-else"}).encode()
    ).rstrip(b"=")
    refused = {
        "no header": None,
        "empty": "",
        "garbage": "not-a-jwt",
        "other scheme": f"Basic {id_token}",
        "lower-case bearer": f"bearer {id_token}",
        "another key": other_key,
        "changed claims": f"{header}.{forged_payload.decode()}.{signature}",
        "alg none": jwt.encode({"sub": "x", "iss": server.pool.issuer, "aud": server.pool.client_id}, None, algorithm="none"),
        "unknown kid": jwt.encode(
            {"iss": server.pool.issuer, "aud": server.pool.client_id, "exp": int(clock()) + 60},
            server.pool.tokens.key.private_key,
            algorithm="RS256",
            headers={"kid": "not-in-the-jwks"},
        ),
        "other issuer": own_token(server, clock, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"),
        "other audience": own_token(server, clock, aud="another-app-client"),
        "audience list without ours": own_token(server, clock, aud=["a", "b"]),
        "no audience and another client_id": own_token(server, clock, aud=None, client_id="another-app-client"),
        "expired": own_token(server, clock, exp=int(clock()) - 1),
        "no exp": own_token(server, clock, exp=None),
        "not yet valid": own_token(server, clock, nbf=int(clock()) + 60),
        "issued in the future": own_token(server, clock, iat=int(clock()) + 60),
    }
    before = len(gateway.calls)
    for case, token in refused.items():
        headers = {} if token is None else {"Authorization": token}
        status, answer_headers, raw = call(server, "/mine", b"{}", **headers)
        assert (status, json.loads(raw)) == (401, {"message": "Unauthorized"}), case
        assert answer_headers["Content-Type"] == "application/json", case
    assert len(gateway.calls) == before

    accepted = {
        "ID token": id_token,
        "ID token after Bearer": f"Bearer {id_token}",
        "access token (client_id, no aud)": access_token,
        "audience list with ours": own_token(server, clock, aud=["a", server.pool.client_id]),
        "the last second": own_token(server, clock, exp=int(clock()) + 1, nbf=int(clock())),
    }
    for case, token in accepted.items():
        status, _, raw = call(server, "/mine", b"{}", Authorization=token)
        assert status == 200, (case, raw)
    assert gateway.calls[before:] == ["POST /mine"] * len(accepted)


def test_a_token_expires_by_the_pools_clock(server, clock, tokens):
    token = tokens["IdToken"]
    assert call(server, "/mine", b"{}", Authorization=token)[0] == 200
    clock.advance(3600)
    try:
        assert call(server, "/mine", b"{}", Authorization=token)[0] == 401
    finally:
        clock.advance(-3600)


def test_a_signed_out_users_token_still_passes_as_at_api_gateway(server, tokens):
    """API Gateway's JWT authorizer knows nothing of GlobalSignOut: the token works until it expires
    (the management API itself refuses what needs a fresh sign-in after an operator's sign-out)."""
    pool_cognito(server).global_sign_out(AccessToken=tokens["AccessToken"])
    assert call(server, "/mine", b"{}", Authorization=tokens["IdToken"])[0] == 200


def test_an_open_route_runs_without_a_token_and_gets_no_claims(server):
    status, _, raw = call(server, "/open", b"{}")
    assert status == 200
    assert "authorizer" not in json.loads(raw)["requestContext"]
    status, _, raw = call(server, "/open", b"{}", Authorization="garbage")
    assert status == 200  # an open route reads no token, not even a bad one


def test_the_claims_reach_the_function_as_strings(server, tokens):
    cognito = pool_cognito(server)
    claims = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    for group in ("editors", "admins"):
        boto3.client("cognito-idp", region_name=REGION).create_group(UserPoolId=server.pool.pool_id, GroupName=group)
        cognito.admin_add_user_to_group(UserPoolId=server.pool.pool_id, Username=claims["sub"], GroupName=group)
    grouped = pool_cognito(server).initiate_auth(
        ClientId=server.pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]}
    )["AuthenticationResult"]["IdToken"]
    given = jwt.decode(grouped, options={"verify_signature": False})
    authorizer = event_of(server, "/mine", grouped)["requestContext"]["authorizer"]
    assert authorizer["jwt"]["scopes"] is None
    seen = authorizer["jwt"]["claims"]
    assert set(seen) == set(given)
    assert all(isinstance(value, str) for value in seen.values())
    assert seen["sub"] == given["sub"] and seen["token_use"] == "id"
    assert seen["auth_time"] == str(given["auth_time"]) and seen["exp"] == str(given["exp"])
    assert seen["email_verified"] == "true"
    assert seen["cognito:groups"] in ("[editors admins]", "[admins editors]")


def test_claim_text_follows_api_gateways_strings():
    assert claim_text("a b") == "a b"
    assert claim_text(1700000000) == "1700000000"
    assert claim_text(True) == "true" and claim_text(False) == "false"
    assert claim_text(["a", "b"]) == "[a b]" and claim_text([]) == "[]" and claim_text([1, True]) == "[1 true]"
    assert claim_text({"city": "Paris"}) == '{"city":"Paris"}'


def test_the_event_is_payload_format_2_0(server, tokens):
    token = tokens["IdToken"]
    request = urllib.request.Request(
        server.url + "/api/items/42?b=2&a=1&a=3&empty=",
        data='{"name": "é"}'.encode(),
        method="POST",
        headers={"Authorization": token, "Content-Type": "application/json", "Cookie": "c1=x; c2=y"},
    )
    with urllib.request.urlopen(request) as response:
        event = json.loads(response.read())
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "b=2&a=1&a=3&empty="
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2", "empty": ""}
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["c1=x", "c2=y"]
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["authorization"] == token and event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"name": "é"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/items/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": event["headers"]["user-agent"],
    }
    assert context["routeKey"] == "POST /items/{id}" and context["stage"] == "$default"
    assert context["domainName"] == server.url.removeprefix("http://")


def test_repeated_headers_are_joined_and_binary_bodies_base64(server, tokens):
    raw = _raw_request(
        server,
        "POST /api/files/a/b.bin HTTP/1.1",
        [
            ("Authorization", tokens["IdToken"]),
            ("X-Repeated", "one"),
            ("X-Repeated", "two"),
            ("Content-Type", "application/octet-stream"),
        ],
        b"\xff\x00\x01",
    )
    event = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert event["headers"]["x-repeated"] == "one,two"
    assert event["routeKey"] == "ANY /files/{path+}" and event["pathParameters"] == {"path": "a/b.bin"}
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\x00\x01"


def test_the_most_specific_route_answers(server, tokens):
    assert event_of(server, "/mine", tokens["IdToken"])["routeKey"] == "POST /mine"  # not POST /{answer}
    status, _, raw = call(server, "/files/x", method="GET", Authorization=tokens["IdToken"])
    assert status == 200 and json.loads(raw)["routeKey"] == "ANY /files/{path+}"


def test_unknown_routes_are_404_not_found(server):
    for path, method in [("/mine/more", "POST"), ("/mine", "GET"), ("/", "POST"), ("/items/", "POST")]:
        status, _, raw = call(server, path, b"{}" if method == "POST" else None, method=method)
        assert (status, json.loads(raw)) == (404, {"message": "Not Found"}), (method, path)
    status, _, raw = call(server, "", b"{}")
    assert (status, json.loads(raw)) == (404, {"message": "Not Found"})


def test_what_the_function_answers_is_read_as_api_gateway_reads_it(server):
    status, headers, raw = call(server, "/plain", b"{}")
    assert (status, headers["Content-Type"], json.loads(raw)) == (200, "application/json", {"just": "json"})
    status, headers, raw = call(server, "/cookies", b"{}")
    assert (status, raw, headers["X-Answer"]) == (201, b"made", "yes")
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    for failing in ("/boom", "/unreadable"):
        status, _, raw = call(server, failing, b"{}")
        assert (status, json.loads(raw)) == (500, {"message": "Internal Server Error"}), failing


def test_a_function_past_its_timeout_is_500(server):
    """The function's Timeout (1 s here): Lambda ends it and API Gateway answers 500. The function
    waits for an event the test sets only after the answer, so the timeout cannot be raced."""
    try:
        status, _, raw = call(server, "/slow", b"{}")
        assert (status, json.loads(raw)) == (500, {"message": "Internal Server Error"})
    finally:
        server.pool.http_api.handlers["EchoFunction"].__globals__["released"].set()


def test_cors_as_the_apis_configuration_says(server, tokens):
    status, headers, raw = call(
        server,
        "/mine",
        method="OPTIONS",
        Origin=ALLOWED_PAGE,
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="authorization",
    )
    assert (status, raw) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == ALLOWED_PAGE
    assert headers["Access-Control-Allow-Headers"] == "authorization,content-type"
    assert headers["Access-Control-Allow-Methods"] == "POST,GET" and headers["Access-Control-Max-Age"] == "600"
    status, headers, _ = call(server, "/cookies", b"{}", Origin=ALLOWED_PAGE)
    assert headers["Access-Control-Allow-Origin"] == ALLOWED_PAGE  # the function's own CORS header is dropped
    status, headers, _ = call(server, "/mine", b"{}", Origin=ALLOWED_PAGE)
    assert status == 401 and headers["Access-Control-Allow-Origin"] == ALLOWED_PAGE  # a page can read why
    for path, refused in (("/boom", 500), ("/mine/more", 404)):
        status, headers, _ = call(server, path, b"{}", Origin=ALLOWED_PAGE)
        assert (status, headers["Access-Control-Allow-Origin"]) == (refused, ALLOWED_PAGE)

    # An origin the pool lets in (--cors-origin) that the API does not allow: no CORS headers, so the
    # browser keeps the answer from the page.
    status, headers, _ = call(server, "/mine", method="OPTIONS", Origin=OTHER_PAGE, Access_Control_Request_Method="POST")
    assert status == 204 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = call(server, "/open", b"{}", Origin=OTHER_PAGE)
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_malformed_requests_are_answered_safely(server, tokens):
    token = tokens["IdToken"]
    too_large = _raw_request(
        server,
        "POST /api/mine HTTP/1.1",
        [("Authorization", token), ("Content-Length", str(2 << 20)), ("Origin", ALLOWED_PAGE)],
        b"",
    )
    assert too_large.startswith(b"HTTP/1.1 413 ") and b'{"message": "Request Entity Too Large"}' in too_large
    assert f"Access-Control-Allow-Origin: {ALLOWED_PAGE}".encode() in too_large  # a page can read why
    chunked = _raw_request(
        server, "POST /api/mine HTTP/1.1", [("Authorization", token), ("Transfer-Encoding", "chunked")], b"3\r\nabc\r\n0\r\n\r\n"
    )
    assert chunked.startswith(b"HTTP/1.1 411 ") and b"Length Required" in chunked
    bad_length = _raw_request(server, "POST /api/mine HTTP/1.1", [("Authorization", token), ("Content-Length", "-1")], b"")
    assert bad_length.startswith(b"HTTP/1.1 411 ")
    calls = len(server.pool.http_api.calls)
    not_json = call(server, "/mine", b"\x00not json{", Authorization=token)
    assert not_json[0] == 200 and len(server.pool.http_api.calls) == calls + 1  # the function reads its body, not API Gateway
    assert call(server, "/open", b"{}")[0] == 200  # and the pool still answers


def test_a_content_length_of_other_digits_than_ascii_ones_is_refused(server, tokens):
    """ "²" and "٣" are digits to str.isdigit (and int() takes "٣"): Content-Length is ASCII digits only.
    Refused as any other malformed length, by the API and the Cognito endpoint alike, and the pool
    still answers."""
    token = tokens["IdToken"]
    for length in ("\u00b2", "1\u00b2", "\u00b9\u00b2"):  # the Latin-1 superscripts a header can carry
        refused = _raw_request(server, "POST /api/mine HTTP/1.1", [("Authorization", token), ("Content-Length", length)], b"")
        assert refused.startswith(b"HTTP/1.1 411 ") and b"Length Required" in refused
        target = ("X-Amz-Target", "AWSCognitoIdentityProviderService.InitiateAuth")
        cognito = _raw_request(server, "POST / HTTP/1.1", [target, ("Content-Length", length)], b"")
        assert cognito.startswith(b"HTTP/1.1 400 ") and b'"__type": "SerializationException"' in cognito
    assert call(server, "/open", b"{}")[0] == 200


def test_routes_the_local_pool_cannot_serve_stop_it():
    """What API Gateway would do that the local pool does not: it refuses to start rather than serve it otherwise."""
    physical = {"UserPool": "us-east-1_pool", "UserPoolClient": "client"}
    issuer = ("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool", "http://127.0.0.1:9229/us-east-1_pool")

    def gateway(template: Template) -> HttpApiGateway:
        return HttpApiGateway.from_template(template, physical, REGION, issuer, keys=lambda: ())

    assert gateway(echo_template()).route_keys()[0] == "ANY /files/{path+}"
    scoped = {"ApiId": {"Ref": "EchoApi"}, "Method": "POST", "Path": "/s", "Auth": {"AuthorizationScopes": ["x"]}}
    with pytest.raises(TemplateApiError, match="AuthorizationScopes"):
        gateway(echo_template({"Scoped": {"Type": "HttpApi", "Properties": scoped}}))
    other_issuer = {"JwtConfiguration": {"issuer": "https://issuer.example.com", "audience": ["x"]}}
    with pytest.raises(TemplateApiError, match="not this pool"):
        gateway(echo_template(Auth={"Authorizers": {"PoolJwt": other_issuer}, "DefaultAuthorizer": "PoolJwt"}))
    implicit = {"Method": "POST", "Path": "/i"}
    with pytest.raises(TemplateApiError, match="ApiId"):
        gateway(echo_template({"Implicit": {"Type": "HttpApi", "Properties": implicit}}))
    with pytest.raises(TemplateApiError, match="one HTTP API"):  # the echo API and the management API
        template = echo_template()
        template.set_parameters({"Passkeys": "Enabled"})
        gateway(template)
    twice = {"ApiId": {"Ref": "EchoApi"}, "Method": "POST", "Path": "/same"}
    with pytest.raises(TemplateApiError, match="twice"):
        gateway(echo_template({n: {"Type": "HttpApi", "Properties": twice} for n in ("One", "Two")}))


def _raw_request(server, request_line: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """A request written byte for byte (what urllib would not send), and everything the server answered."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as connection:
        lines = [request_line, f"Host: 127.0.0.1:{port}", "Connection: close", *(f"{k}: {v}" for k, v in headers)]
        if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
            lines.append(f"Content-Length: {len(body)}")
        connection.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)  # as HTTP headers are read
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received
