"""The management API (ManagementApiFunction's HttpApi events) as the local pool serves it under /api:
there with Passkeys=Enabled (as `make dev` runs), absent otherwise; its routes behind the pool's JWT
check; passkeys made for localhost, where the demo page runs them. The passkeys themselves are driven
in headless Chromium (tests/test_passkeys_browser.py) and through the handler (tests/test_passkeys.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from keyless.core.settings.passkeys import PasskeySettings
from localpool import __main__ as localpool_main
from testkit.clients import signed_in_with_code

# The routes of the npm client amazon-cognito-passwordless-auth 0.17.0 (the contract), all POST.
CONTRACT_ROUTES = [
    "POST /authenticator-app/confirm",
    "POST /authenticator-app/remove",
    "POST /authenticator-app/start",
    "POST /authenticator-app/status",
    "POST /authenticators/delete",
    "POST /authenticators/list",
    "POST /authenticators/update",
    "POST /register-authenticator/complete",
    "POST /register-authenticator/start",
    "POST /sign-in-challenge",
]


def api(server, path: str, token: str | None = None, origin: str | None = None, method: str = "POST"):
    """(status, headers, JSON answer or None) of one request to the served management API."""
    request = urllib.request.Request(server.url + "/api" + path, data=b"{}" if method == "POST" else None, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if origin:
        request.add_header("Origin", origin)
        if method == "OPTIONS":
            request.add_header("Access-Control-Request-Method", "POST")
    try:
        with urllib.request.urlopen(request) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, headers, raw = exc.code, exc.headers, exc.read()
    return status, headers, json.loads(raw) if raw else None


def local_config(server) -> dict:
    with urllib.request.urlopen(server.url + "/local-pool.json") as response:
        return json.load(response)


def test_with_passkeys_on_the_pool_serves_the_management_api_for_pages_on_localhost(serve_pool):
    server = serve_pool(parameters={"Passkeys": "Enabled"})
    port = server.server_port
    assert server.pool.http_api.route_keys() == CONTRACT_ROUTES
    open_routes = [route.key for route in server.pool.http_api.routes if route.authorizer is None]
    assert open_routes == ["POST /sign-in-challenge"]
    assert local_config(server)["managementApiUrl"] == f"{server.url}/api"

    # Browsers refuse passkeys on an IP address: the pool's passkeys are made for localhost, and its
    # page there is allowed (its 127.0.0.1 twin too, for links and the API's CORS).
    environment = server.pool.deployment.environment
    assert environment["ALLOWED_REDIRECT_ORIGINS"] == f"http://127.0.0.1:{port},http://localhost:{port}"
    settings = PasskeySettings.from_env(environment)
    assert (settings.rp_id, settings.origins) == ("localhost", (f"http://localhost:{port}",))
    banner = localpool_main.banner(server)
    assert f"Management API {server.url}/api" in banner
    assert f"Passkeys       on http://localhost:{port}/   (relying party localhost" in banner


def test_the_management_api_answers_through_the_pools_jwt_check(serve_pool):
    server = serve_pool(parameters={"Passkeys": "Enabled"})
    tokens = signed_in_with_code(server, "manager@example.com")
    gateway = server.pool.http_api

    assert api(server, "/authenticators/list?rpId=localhost")[::2] == (401, {"message": "Unauthorized"})
    assert gateway.calls == []  # refused before the function ran
    # An access token passes API Gateway's check (client_id); the function wants the ID token.
    status, _, answer = api(server, "/authenticators/list?rpId=localhost", tokens["AccessToken"])
    assert (status, answer) == (401, {"message": "Use your ID token to access this API"})
    status, headers, answer = api(server, "/authenticators/list?rpId=localhost", tokens["IdToken"])
    assert (status, answer) == (200, {"authenticators": []})
    assert headers["Cache-Control"] == "no-store" and headers["Content-Type"] == "application/json"
    status, _, challenge = api(server, "/sign-in-challenge")  # no token: a usernameless sign-in's start
    assert status == 200 and challenge["relyingPartyId"] == "localhost" and challenge["userVerification"] == "required"
    assert api(server, "/no-such-route", tokens["IdToken"])[::2] == (404, {"message": "Not Found"})
    assert gateway.calls == ["POST /authenticators/list", "POST /authenticators/list", "POST /sign-in-challenge"]
    # The API's throttling (bursts of 50) is AWS's: not applied here.
    assert {api(server, "/sign-in-challenge")[0] for _ in range(60)} == {200}

    page = f"http://localhost:{server.server_port}"
    status, headers, _ = api(server, "/authenticators/list", origin=page, method="OPTIONS")
    assert status == 204 and headers["Access-Control-Allow-Origin"] == page
    assert headers["Access-Control-Allow-Headers"] == "authorization,content-type"
    assert headers["Access-Control-Allow-Methods"] == "POST"


def test_with_passkeys_off_there_is_no_management_api(server):
    assert server.pool.http_api.routes == []
    assert "managementApiUrl" not in local_config(server)
    assert api(server, "/authenticators/list")[::2] == (404, {"message": "Not Found"})
    assert api(server, "/sign-in-challenge")[::2] == (404, {"message": "Not Found"})
    assert "Management API" not in localpool_main.banner(server) and "Passkeys" not in localpool_main.banner(server)


def test_an_apps_origin_on_localhost_comes_first_and_names_the_relying_party(serve_pool):
    server = serve_pool(parameters={"Passkeys": "Enabled", "AllowedRedirectOrigins": "http://localhost:3000"})
    settings = PasskeySettings.from_env(server.pool.deployment.environment)
    assert settings.rp_id == "localhost"
    assert settings.origins == ("http://localhost:3000", f"http://localhost:{server.server_port}")
