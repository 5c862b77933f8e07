"""The local user pool attacked from outside: a web page in the developer's browser calling it, admin
calls with made-up, wrong or replayed signatures, a pool exposed beyond loopback, concurrent
requests racing for one email, and InitiateAuth's USERNAME telling known users from unknown ones.

Everything goes through the HTTP endpoint (boto3 with endpoint_url, urllib, headless Chromium, or
`python -m localpool` itself); the signature checker is also unit-tested against botocore's signer.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from keyless_client import PasswordlessClient
from localpool import __main__ as localpool_main
from localpool.errors import CognitoError
from localpool.server import LocalPoolServer, create_server
from localpool.sigv4 import Credentials, verify
from localpool.template import Template
from testkit.clients import pool_cognito, post, refused
from testkit.concurrency import run_at_once
from testkit.deployment import dev_process
from testkit.mail import mailbox

TARGET = "AWSCognitoIdentityProviderService."
ALICE = "alice@example.com"
EVIL = "http://127.0.0.1:9"  # a page on another origin (another port), as any site the developer visits
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def sign_up(server, email: str = ALICE) -> None:
    """A passwordless sign-up (the template's PreSignUp confirms it), unsigned as an app calls it."""
    pool_cognito(server).sign_up(
        ClientId=server.pool.client_id,
        Username=email,
        Password="Aa1-" + "x" * 24,
        UserAttributes=[{"Name": "email", "Value": email}],
    )


def signed(url: str, operation: str, body: dict, key_id: str, secret: str) -> AWSRequest:
    """A request signed by botocore's own SigV4 signer, as boto3 and the AWS CLI sign."""
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + operation},
    )
    SigV4Auth(BotoCredentials(key_id, secret), "cognito-idp", "us-east-1").add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> tuple[int, dict]:
    """Send a signed request as it is (or with another body); (status, JSON answer)."""
    sent = urllib.request.Request(request.url, data=request.body if body is None else body, method="POST")
    for name, value in request.headers.items():
        sent.add_header(name, value)
    try:
        with urllib.request.urlopen(sent) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


# --- 1. only the pool's own origin (and --cors-origin ones) may call it from a browser -----------------


def test_another_origin_cannot_list_users(server):
    """The hole this closes: any page could send ListUsers with a made-up "AWS4-HMAC-SHA256" header and
    read every user's email. The preflight and the call itself are refused before anything runs."""
    sign_up(server)
    preflight = {
        "Origin": EVIL,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-amz-target",
    }
    status, headers, answer = post(server.url, "ListUsers", b"", preflight, method="OPTIONS")
    assert status == 403 and answer["__type"] == "AccessDeniedException"
    assert "Access-Control-Allow-Origin" not in headers
    forged = {"Origin": EVIL, "Authorization": "AWS4-HMAC-SHA256 Credential=x/20250101/us-east-1/cognito-idp/aws4_request"}
    status, headers, answer = post(server.url, "ListUsers", {"UserPoolId": server.pool.pool_id}, forged)
    assert status == 403 and answer["__type"] == "AccessDeniedException" and ALICE not in json.dumps(answer)
    assert "Access-Control-Allow-Origin" not in headers


def test_another_origin_cannot_run_public_operations_either(server):
    """Refused before anything runs: no sign-up, no email, whatever the browser would show the page."""
    status, _, answer = post(
        server.url,
        "SignUp",
        {"ClientId": server.pool.client_id, "Username": ALICE, "Password": "Aa1-" + "x" * 24},
        {"Origin": EVIL},
    )
    assert status == 403 and answer["__type"] == "AccessDeniedException"
    status, _, answer = post(server.url, "ListUsers", {"UserPoolId": server.pool.pool_id}, {"Origin": "null"})  # sandboxed frames
    assert status == 403
    assert pool_cognito(server).list_users(UserPoolId=server.pool.pool_id)["Users"] == []


def test_own_origin_and_cors_origin_are_answered_with_their_own_name(serve_pool):
    server = serve_pool(cors_origins=["http://localhost:3000/"])
    for origin in (server.url, server.url.replace("127.0.0.1", "localhost"), "http://localhost:3000"):
        preflight = {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-amz-target"}
        status, headers, _ = post(server.url, "SignUp", b"", preflight, method="OPTIONS")
        assert status == 204 and headers["Access-Control-Allow-Origin"] == origin and headers["Vary"] == "Origin"
    status, headers, _ = post(server.url, "InitiateAuth", {"ClientId": "x"}, {"Origin": "http://localhost:3001"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_requests_without_an_origin_get_no_cors_headers(server):
    unknown_client = {"ClientId": "nope", "AuthFlow": "CUSTOM_AUTH", "AuthParameters": {"USERNAME": "a"}}
    status, headers, answer = post(server.url, "InitiateAuth", unknown_client)
    assert status == 400 and answer["__type"] == "ResourceNotFoundException"
    assert "Access-Control-Allow-Origin" not in headers


@pytest.fixture
def other_site() -> Iterator[str]:
    """Another web site on this machine (another port: another origin), serving an empty page."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>another site</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    site = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    Thread(target=site.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{site.server_port}"
    site.shutdown()
    site.server_close()


@pytest.mark.browser
def test_a_page_on_another_origin_cannot_read_the_users_in_chromium(browser, server, other_site):
    """A real browser on a page of another site, and the attack as a page would write it: fetch()
    with the headers the pool used to accept."""
    sign_up(server)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{other_site}/")
    outcome = page.evaluate(
        """async ([endpoint, poolId]) => {
            try {
                const response = await fetch(endpoint + "/", {
                    method: "POST",
                    headers: {
                        "Content-Type": "application/x-amz-json-1.1",
                        "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUsers",
                        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20250101/us-east-1/cognito-idp/aws4_request",
                    },
                    body: JSON.stringify({ UserPoolId: poolId }),
                });
                return "read: " + await response.text();
            } catch (error) {
                return "blocked: " + error;
            }
        }""",
        [server.url, server.pool.pool_id],
    )
    context.close()
    assert outcome.startswith("blocked"), outcome
    assert ALICE not in outcome


# --- 2. admin operations need the pool's own credentials -----------------------------------------------


def test_admin_operations_refuse_made_up_credentials(server):
    sign_up(server)
    stranger = pool_cognito(server, aws_access_key_id="local", aws_secret_access_key="local")
    assert refused(lambda: stranger.list_users(UserPoolId=server.pool.pool_id)) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    guessed = pool_cognito(server, aws_secret_access_key="not-the-secret")  # the key id is printed; the secret is not guessable
    code, message = refused(lambda: guessed.admin_delete_user(UserPoolId=server.pool.pool_id, Username=ALICE))
    assert code == "InvalidSignatureException" and message.startswith("The request signature we calculated does not match")
    users = pool_cognito(server).list_users(UserPoolId=server.pool.pool_id)["Users"]
    assert [a["Value"] for u in users for a in u["Attributes"] if a["Name"] == "email"] == [ALICE]


def test_public_operations_stay_callable_unsigned(server):
    sign_up(server)
    status, _, answer = post(
        server.url,
        "InitiateAuth",
        {"ClientId": server.pool.client_id, "AuthFlow": "CUSTOM_AUTH", "AuthParameters": {"USERNAME": ALICE}},
    )
    assert status == 200 and answer["ChallengeName"] == "CUSTOM_CHALLENGE"
    status, _, answer = post(server.url, "ListUsers", {"UserPoolId": server.pool.pool_id})
    assert (status, answer["__type"]) == (403, "MissingAuthenticationTokenException")


def test_a_captured_admin_request_cannot_be_changed_or_replayed_late(server, monkeypatch):
    keys = server.pool.credentials
    sign_up(server)
    sign_up(server, "bob@example.com")

    def get_alice():
        body = {"UserPoolId": server.pool.pool_id, "Username": ALICE}
        return signed(server.url, "AdminGetUser", body, keys.access_key_id, keys.secret_access_key)

    captured = get_alice()
    assert send(captured)[0] == 200
    other_body = json.dumps({"UserPoolId": server.pool.pool_id, "Username": "bob@example.com"}).encode()
    status, answer = send(captured, other_body)
    assert (status, answer["__type"]) == (400, "InvalidSignatureException")
    captured.headers.replace_header("X-Amz-Target", TARGET + "AdminDeleteUser")  # same body, another operation
    assert send(captured)[1]["__type"] == "InvalidSignatureException"

    old = datetime.now(UTC) - timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: old)
    late = get_alice()
    status, answer = send(late)
    assert (status, answer["__type"]) == (400, "InvalidSignatureException") and answer["message"].startswith("Signature expired")


def test_signatures_are_judged_by_real_time_not_the_pools_clock(server, served_clock):
    served_clock.advance(7 * 24 * 3600)  # tests move the pool's clock; the signer uses the real one
    assert pool_cognito(server).list_users(UserPoolId=server.pool.pool_id)["Users"] == []


def test_credentials_are_made_once_kept_private_and_printed(aws, restored_environment, tmp_path):
    server = create_server("127.0.0.1", 0, tmp_path)
    try:
        keys = server.pool.credentials
        saved = tmp_path / "credentials.json"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert json.loads(saved.read_text()) == {"accessKeyId": keys.access_key_id, "secretAccessKey": keys.secret_access_key}
        assert len(keys.secret_access_key) >= 40 and keys.access_key_id != "local"
        text = localpool_main.banner(server)
        assert f"AWS_ACCESS_KEY_ID={keys.access_key_id}" in text and f"AWS_SECRET_ACCESS_KEY={keys.secret_access_key}" in text
    finally:
        server.server_close()
    assert Credentials.load_or_create(tmp_path / "credentials.json") == keys  # the next start keeps them
    assert Credentials.load_or_create(None) != Credentials.load_or_create(None)  # no state dir: new, in memory


# --- the verifier on its own, against botocore's signer -------------------------------------------------

KEYS = Credentials("LOCALTESTKEY23456789", "a-secret-nobody-else-has-0123456789")
URL = "http://127.0.0.1:9229"
BODY = {"UserPoolId": "us-east-1_x", "Username": "alice@example.com"}


def check(request: AWSRequest, keys: Credentials = KEYS, body: bytes | None = None, now: float | None = None) -> None:
    headers = [*request.headers.items(), ("Host", "127.0.0.1:9229")]  # what the HTTP client adds
    verify(keys, request.method, "/", headers, request.body if body is None else body, now=now)


def error_of(call) -> str:
    with pytest.raises(CognitoError) as excinfo:
        call()
    return excinfo.value.error_type


def test_verifier_accepts_what_botocore_signs():
    check(signed(URL, "AdminGetUser", BODY, KEYS.access_key_id, KEYS.secret_access_key))


@pytest.mark.parametrize(
    "tamper, expected",
    [
        (lambda r: check(r, body=json.dumps({**BODY, "Username": "bob@example.com"}).encode()), "InvalidSignatureException"),
        (lambda r: (r.headers.replace_header("X-Amz-Target", TARGET + "AdminDeleteUser"), check(r)), "InvalidSignatureException"),
        (lambda r: check(r, keys=Credentials(KEYS.access_key_id, "another-secret")), "InvalidSignatureException"),
        (lambda r: check(r, keys=Credentials("LOCALOTHERKEY2345678", KEYS.secret_access_key)), "UnrecognizedClientException"),
        (lambda r: check(r, now=time.time() + 16 * 60), "InvalidSignatureException"),
        (lambda r: check(r, now=time.time() - 16 * 60), "InvalidSignatureException"),
        (lambda r: (r.headers.__delitem__("Authorization"), check(r)), "MissingAuthenticationTokenException"),
        (
            lambda r: (r.headers.replace_header("Authorization", "AWS4-HMAC-SHA256 made up"), check(r)),
            "IncompleteSignatureException",
        ),
    ],
    ids=[
        "body-changed",
        "operation-changed",
        "other-secret",
        "other-key-id",
        "replayed-late",
        "dated-ahead",
        "unsigned",
        "malformed",
    ],
)
def test_verifier_refuses_tampering(tamper, expected):
    request = signed(URL, "AdminGetUser", BODY, KEYS.access_key_id, KEYS.secret_access_key)
    assert error_of(lambda: tamper(request)) == expected


def test_verifier_requires_the_operation_to_be_signed():
    """A signature that leaves X-Amz-Target out could be reused for any operation with the same body."""
    request = AWSRequest(
        method="POST", url=URL + "/", data=json.dumps(BODY).encode(), headers={"Content-Type": "application/x-amz-json-1.1"}
    )
    SigV4Auth(BotoCredentials(KEYS.access_key_id, KEYS.secret_access_key), "cognito-idp", "us-east-1").add_auth(request)
    request.headers["X-Amz-Target"] = TARGET + "AdminDeleteUser"
    assert error_of(lambda: check(request)) == "InvalidSignatureException"


# --- 3. a pool reachable from other machines only when asked for --------------------------------------


@pytest.fixture
def restored_environment():
    """main() sets the functions' environment and the runtime, as `make dev` does; undo it after."""
    from keyless.aws import runtime

    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    runtime.reset()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_a_non_loopback_host_is_refused_without_allow_remote(host, monkeypatch, capsys):
    started = []
    monkeypatch.setattr(localpool_main, "create_server", lambda *a, **k: started.append(a) or pytest.fail("it would listen"))
    assert localpool_main.main(["--host", host, "--port", "0"]) == 2
    assert started == []
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--allow-remote" in err and "/mailbox" in err and "sign in as any user" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "LOCALHOST"])
def test_loopback_hosts_need_nothing(host):
    assert localpool_main.is_loopback(host)


def test_allow_remote_starts_with_a_warning(monkeypatch, capsys, tmp_path, restored_environment):
    def stop_at_once(self, poll_interval=0.5):
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalPoolServer, "serve_forever", stop_at_once)
    monkeypatch.setattr(localpool_main.signal, "signal", lambda *args: None)  # keep pytest's own SIGTERM handling
    assert localpool_main.main(["--host", "0.0.0.0", "--port", "0", "--allow-remote", "--state-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "WARNING" in err and "/mailbox" in err and "sign in as any user" in err
    assert "Sign-in page   http://localhost:" in out and "Stopped." in out


# --- 4. concurrent requests cannot send two emails ------------------------------------------------------


def ask_twelve_at_once(endpoint, client_id: str, address: str) -> list:
    """Twelve sign-ins started one by one, then all twelve ask for a code at the same moment."""
    client = PasswordlessClient(endpoint, client_id)
    firsts = [client.start(address) for _ in range(12)]
    return run_at_once(client.request_code, firsts)


def test_twelve_concurrent_requests_send_one_email(server):
    sign_up(server)
    outcomes = ask_twelve_at_once(pool_cognito(server), server.pool.client_id, ALICE)
    assert len([m for m in mailbox(server) if ALICE in m["to"]]) == 1
    sent = [o for o in outcomes if isinstance(o, dict)]
    waits = [o for o in outcomes if isinstance(o, ClientError)]
    assert len(sent) == 1 and len(waits) == 11
    assert {e.response["Error"]["Code"] for e in waits} == {"UserLambdaValidationException"}  # "Please wait N seconds"


def test_make_dev_sends_one_email_for_twelve_concurrent_requests(tmp_path):
    """The same race in `make dev` itself, where no test fixture locks moto (it sent 3 to 5 emails)."""
    with dev_process(tmp_path / "state") as dev:
        url = dev.url
        with urllib.request.urlopen(url + "/local-pool.json") as response:
            client_id = json.load(response)["clientId"]
        endpoint = boto3.client(
            "cognito-idp", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        endpoint.sign_up(
            ClientId=client_id, Username=ALICE, Password="Aa1-" + "x" * 24, UserAttributes=[{"Name": "email", "Value": ALICE}]
        )
        ask_twelve_at_once(endpoint, client_id, ALICE)
        request = urllib.request.Request(url + "/mailbox", headers={"Accept": "application/json"})
        with urllib.request.urlopen(request) as response:
            assert len([m for m in json.load(response) if ALICE in m["to"]]) == 1


def test_make_dev_answers_the_cors_origins_it_is_given(tmp_path):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-amz-target"}
    with dev_process(
        tmp_path / "state", "--cors-origin", "http://localhost:3000", "--cors-origin", "https://app.example.com"
    ) as dev:
        url = dev.url
        for origin in ("http://localhost:3000", "https://app.example.com", url):
            status, headers, _ = post(url, "SignUp", b"", {"Origin": origin, **preflight}, method="OPTIONS")
            assert status == 204 and headers["Access-Control-Allow-Origin"] == origin
        status, _, answer = post(url, "SignUp", b"", {"Origin": "http://localhost:4000", **preflight}, method="OPTIONS")
        assert status == 403 and answer["__type"] == "AccessDeniedException"


def test_make_dev_refuses_a_malformed_cors_origin(capsys):
    with pytest.raises(SystemExit) as exited:
        localpool_main.main(["--cors-origin", "localhost:3000/app"])
    assert exited.value.code == 2 and "--cors-origin" in capsys.readouterr().err


# --- 6. USERNAME does not tell unknown addresses from known ones ---------------------------------------


def test_an_unknown_address_gets_a_stable_username_shaped_like_a_known_one(server):
    sign_up(server)
    client = PasswordlessClient(pool_cognito(server), server.pool.client_id)
    known = client.start(ALICE)["ChallengeParameters"]["USERNAME"]
    ghost = client.start("nobody@example.com")
    unknown = ghost["ChallengeParameters"]["USERNAME"]
    assert UUID4.match(known) and UUID4.match(unknown), (known, unknown)
    assert client.start("nobody@example.com")["ChallengeParameters"]["USERNAME"] == unknown  # stable
    assert client.start("Nobody@Example.COM")["ChallengeParameters"]["USERNAME"] == unknown  # spelled as names match
    assert client.start("other@example.com")["ChallengeParameters"]["USERNAME"] != unknown
    assert unknown != str(uuid.uuid5(uuid.NAMESPACE_DNS, "nobody@example.com"))  # keyed: not computable outside

    sent = client.request_code(ghost)  # answered with that USERNAME; the triggers still saw the typed address
    assert sent["ChallengeParameters"]["USERNAME"] == unknown and sent["ChallengeParameters"]["sentTo"] == "n***@e***.com"
    again = client.answer_code(sent, "123456")
    assert again["ChallengeParameters"]["USERNAME"] == unknown and again["ChallengeParameters"]["attemptsLeft"] == "2"


def test_pools_with_plain_user_names_answer_with_the_typed_name(serve_pool):
    template = Template()
    template.resources["UserPool"]["Properties"].pop("UsernameAttributes")
    server = serve_pool(template=template)
    client = PasswordlessClient(pool_cognito(server), server.pool.client_id)
    assert client.start("nobody")["ChallengeParameters"]["USERNAME"] == "nobody"
