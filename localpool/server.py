"""The local user pool over HTTP: Cognito's wire protocol, the demo page, the mailbox, the JWKS.

POST / with `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>` and an
`application/x-amz-json-1.1` body, answered as Cognito answers (errors as `__type` + `message`),
so boto3, the AWS CLI, the JavaScript SDK and browsers need only the endpoint URL. Admin operations
must be signed (SigV4) with the pool's own credentials, and so must POST /keyless-admin: an
operator's command (`python -m keyless_admin --local`), run in this process, where the pool's AWS
is. Unlike Cognito's, the endpoint answers web pages only from its own origin and those named with
--cors-origin: any page the developer opens could otherwise drive it. Build it with create_server()
inside moto's mock_aws(): template.yaml is deployed onto moto and the triggers are the template's
real handlers.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from urllib.parse import urlsplit

import boto3

from keyless.core.addresses import mask
from keyless.signin.redirects import parse_allowlist
from keyless_admin.commands import AdminError, KeylessPool
from keyless_admin.commands import run as run_admin_command
from keyless_admin.local import ADMIN_PATH
from localpool.api import COGNITO_SENDER, SIGNED_OPERATIONS, LocalUserPoolApi
from localpool.claims import claims_hook
from localpool.deployment import Deployment, deploy_and_start, local_pool
from localpool.errors import CognitoError
from localpool.http_api import PREFIX as API_PREFIX
from localpool.http_api import ApiRequest, ApiResponse, HttpApiGateway
from localpool.mailbox import COGNITO_SOURCE, Mail, Mailbox
from localpool.orchestrator import Directory
from localpool.sigv4 import Credentials, verify
from localpool.template import ROOT, Template
from localpool.tokens import RsaKey, TokenService
from localpool.triggers import TIMEOUT_SECONDS, Handler, TriggerRunner

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9229
DEFAULT_STATE_DIR = ROOT / ".local-state"
STATIC = Path(__file__).with_name("static")
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
MAX_BODY_BYTES = 1 << 20
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The pages served: only files that are there, by name, of a type above: the demo page's, and the
# web kit it is built on (clients/web/keyless.js).
WEB_KIT = Path(__file__).resolve().parent.parent / "clients" / "web" / "keyless.js"
STATIC_FILES = {p.name: p for p in [*STATIC.iterdir(), WEB_KIT] if p.is_file() and p.suffix in CONTENT_TYPES}
PAGE_POLICY = (
    "default-src 'self'; connect-src *; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# Emails' HTML is shown in a sandboxed frame, which inherits this policy: inline styles, no scripts.
MAILBOX_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src data:; frame-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
EXPOSED_HEADERS = "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost"})  # a URL's host names for the pool on loopback (IPv4)
_SIGN_OUT_USER = "keyless_admin_sign_out_user"

log = logging.getLogger("localpool.server")


class LocalPool:
    """Everything behind the endpoint, wired together."""

    def __init__(
        self,
        url: str,
        deployment: Deployment,
        api: LocalUserPoolApi,
        mailbox: Mailbox,
        runner: TriggerRunner,
        tokens: TokenService,
        aws_session: boto3.session.Session | None = None,
        credentials: Credentials | None = None,
        http_api: HttpApiGateway | None = None,
    ):
        self.url = url
        self.deployment = deployment
        self.api = api
        self.mailbox = mailbox
        self.runner = runner
        self.tokens = tokens
        self.http_api = http_api  # the template's HTTP APIs (the management API), under /api; None: it has none
        self.aws_session = aws_session  # the functions' runtime builds its AWS clients from it
        self.credentials = credentials or Credentials.generate()  # admin operations are signed with these

    @property
    def pool_id(self) -> str:
        return self.deployment.pool_id

    @property
    def client_id(self) -> str:
        return self.deployment.client.client_id

    @property
    def issuer(self) -> str:
        return self.tokens.issuer

    def openid_configuration(self) -> dict:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "token"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "email", "email_verified", "cognito:username", "cognito:groups"],
        }

    def admin(self, command: str, email: str) -> dict:
        """An operator's command (keyless_admin), with the functions' runtime (this process's moto, the
        mailbox, the pool's clock) and Cognito's calls through this pool's own endpoint, so they run
        its triggers and end its tokens as any admin call does."""
        from keyless.aws import runtime

        cognito = boto3.session.Session().client(
            "cognito-idp",
            endpoint_url=self.url,
            region_name=self.deployment.region,
            aws_access_key_id=self.credentials.access_key_id,
            aws_secret_access_key=self.credentials.secret_access_key,
        )
        return run_admin_command(KeylessPool(self.pool_id, self.client_id, cognito, runtime.default_runtime()), command, email)

    @property
    def management_api_url(self) -> str | None:
        """Where the template's HTTP API is served (API Gateway's URL of the ManagementApiUrl output), if it makes one."""
        return self.url + API_PREFIX if self.http_api is not None and self.http_api.routes else None

    def demo_config(self) -> dict:
        config = {"endpoint": self.url, "region": self.deployment.region, "userPoolId": self.pool_id, "clientId": self.client_id}
        if self.management_api_url:
            config["managementApiUrl"] = self.management_api_url
        return config


def _origins_with(allowed: str, url: str) -> str:
    """The AllowedRedirectOrigins parameter plus this server's own origins (on loopback both
    127.0.0.1 and localhost: passkeys work only on the latter), so the demo page's magic links work on
    any port, and its passkeys and management API calls too (their origins and CORS come from this
    parameter). Not a plain-http origin other than loopback (`--host` on a LAN address): Keyless
    refuses those, since whoever can change an http page could read the link."""
    origins = [o.strip() for o in allowed.split(",") if o.strip()]
    try:
        parse_allowlist(url)
    except ValueError:
        log.warning("magic links cannot point at %s (plain http off loopback); codes still work", url)
        return ",".join(origins)
    parts = urlsplit(url)
    own = [url, *(f"http://{host}:{parts.port}" for host in ("127.0.0.1", "localhost") if parts.hostname in LOOPBACK_NAMES)]
    return ",".join([*origins, *(o for o in dict.fromkeys(own) if o not in origins)])


def _local_relying_party(template: Template, parameters: dict[str, str]) -> None:
    """Browsers refuse an IP address as a passkey's relying party id, and the template's default is
    the first allowed origin's host, 127.0.0.1 for the local pool: its passkeys are made for localhost
    (open the page at http://localhost:<port>/), unless PasskeyRelyingPartyId says otherwise."""
    if "PasskeyRelyingPartyId" not in template.parameters:
        return
    if parameters.get("PasskeyRelyingPartyId") or template.parameters["PasskeyRelyingPartyId"]:
        return
    first = urlsplit(parameters["AllowedRedirectOrigins"].split(",")[0]).hostname or ""
    try:
        loopback_address = ipaddress.ip_address(first).is_loopback
    except ValueError:
        return  # a host name: it can be the relying party
    if loopback_address:
        parameters["PasskeyRelyingPartyId"] = "localhost"


def build_pool(
    url: str,
    state_dir: Path | None,
    *,
    template: Template | None = None,
    parameters: Mapping[str, str] | None = None,
    handlers: Mapping[str, Handler | None] | None = None,
    clock: Callable[[], float] = time.time,
    timeout_seconds: float = TIMEOUT_SECONDS,
    echo: Callable[[str], None] | None = None,
) -> LocalPool:
    """Deploy template.yaml onto moto (call inside mock_aws) and wire the pool behind `url`.
    handlers: slot -> handler to use instead of the template's (None empties the slot)."""
    template = template or Template()
    parameters = dict(parameters or {})
    allowed = parameters.get("AllowedRedirectOrigins", template.parameters.get("AllowedRedirectOrigins", ""))
    parameters["AllowedRedirectOrigins"] = _origins_with(allowed, url)
    _local_relying_party(template, parameters)
    deployment, mailbox, session = deploy_and_start(template=template, parameters=parameters, clock=clock, echo=echo)

    slots = deployment.handlers()
    for slot, handler in (handlers or {}).items():
        if handler is None:
            slots.pop(slot, None)
        else:
            slots[slot] = handler
    key = RsaKey.load_or_create(state_dir / "signing-key.pem" if state_dir else None)
    access_key = RsaKey.load_or_create(state_dir / "access-signing-key.pem" if state_dir else None, "access")
    credentials = Credentials.load_or_create(state_dir / "credentials.json" if state_dir else None)
    tokens = TokenService(f"{url}/{deployment.pool_id}", key, access_key, clock=clock)
    auth, runner, _ = local_pool(deployment, tokens=tokens, timeout_seconds=timeout_seconds, handlers=slots, clock=clock)
    revoke_on_admin_sign_out(session, tokens, auth.directory)
    cognito = boto3.session.Session(region_name=deployment.region).client("cognito-idp")

    def cognito_email(to: str, subject: str, text: str) -> None:
        mailbox.add(Mail((to,), COGNITO_SENDER, subject, text, "", clock(), COGNITO_SOURCE))

    api = LocalUserPoolApi(deployment, cognito, auth, runner, tokens, send_cognito_email=cognito_email, clock=clock)
    tokens.claims_hook = claims_hook(runner, deployment.pool_id, deployment.region, api.pre_token_version())
    cognito_issuer = f"https://cognito-idp.{deployment.region}.amazonaws.com/{deployment.pool_id}"
    http_api = HttpApiGateway.from_template(
        deployment.template,
        deployment.physical,
        deployment.region,
        (cognito_issuer, tokens.issuer),
        keys=lambda: (tokens.key, tokens.access_key),
        clock=clock,
    )
    return LocalPool(
        url, deployment, api, mailbox, runner, tokens, aws_session=session, credentials=credentials, http_api=http_api
    )


def revoke_on_admin_sign_out(session: boto3.session.Session, tokens: TokenService, directory: Directory) -> None:
    """A trigger's AdminUserGlobalSignOut goes to moto, which knows nothing of the local pool's
    tokens: after each one that succeeds on the functions' session, end the user's tokens here too."""

    def remember(params, context, **_):
        context[_SIGN_OUT_USER] = params.get("Username")

    def revoke(http_response, context, **_):
        name = context.get(_SIGN_OUT_USER)
        if name and http_response is not None and http_response.status_code < 300:
            user = directory.find(name)
            tokens.sign_out(user.user_name if user else name)

    events = session.events
    events.register("before-parameter-build.cognito-idp.AdminUserGlobalSignOut", remember, unique_id="keyless-sign-out-remember")
    events.register("after-call.cognito-idp.AdminUserGlobalSignOut", revoke, unique_id="keyless-sign-out-revoke")


class LocalPoolServer(ThreadingHTTPServer):
    daemon_threads = True
    pool: LocalPool
    echo: Callable[[str], None] | None = None
    cors_origins: frozenset[str] = frozenset()  # --cors-origin: other origins whose pages may call the pool

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        # bandit B104 (binding to all interfaces) does not apply: this only names what --host chose.
        if host in ("0.0.0.0", "::", ""):  # nosec B104
            host = "localhost"
        return f"http://{host}:{self.server_port}"

    @cached_property
    def allowed_hosts(self) -> frozenset[str] | None:
        """Host headers accepted when listening on loopback only, so a web page whose name
        re-resolves to 127.0.0.1 (DNS rebinding) cannot read the mailbox. None: any host."""
        if self.server_address[0] not in LOOPBACK_HOSTS:
            return None
        port = self.server_port
        return frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"})

    @cached_property
    def allowed_origins(self) -> frozenset[str]:
        """Origins whose pages may call the pool: its own, and those named with --cors-origin."""
        port = self.server_port
        own = {f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}", self.url}
        return frozenset(own | self.cors_origins)

    def start_background(self) -> Thread:
        thread = Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, name="local-user-pool", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def create_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    state_dir: Path | None = DEFAULT_STATE_DIR,
    echo: Callable[[str], None] | None = None,
    cors_origins: Iterable[str] = (),
    **pool_options,
) -> LocalPoolServer:
    """Bind (port 0: any free port), then build the pool, whose token issuer is this server's URL.
    cors_origins: origins (scheme://host[:port]) besides the pool's own whose pages may call it."""
    server = LocalPoolServer((host, port), RequestHandler)
    try:
        server.echo = echo
        server.cors_origins = frozenset(normalise_origin(o) for o in cors_origins)
        server.pool = build_pool(server.url, state_dir, echo=echo, **pool_options)
    except BaseException:
        server.server_close()
        raise
    return server


def normalise_origin(origin: str) -> str:
    """An origin as browsers send it (scheme://host[:port], lower case, no path); ValueError if it is not one."""
    parts = urlsplit(origin.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or port == -1:
        raise ValueError(f"not an origin (scheme://host[:port]): {origin}")
    if parts.query or parts.fragment:
        raise ValueError(f"not an origin (scheme://host[:port]): {origin}")
    default = {"http": 80, "https": 443}[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


class RequestHandler(BaseHTTPRequestHandler):
    server: LocalPoolServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may take to send what it announced, so none holds a thread forever
    # Headers and body go out as two writes; with Nagle's algorithm and delayed ACKs a kept-alive
    # client would wait ~40 ms for every body.
    disable_nagle_algorithm = True
    server_version = "KeylessLocalUserPool/1"

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        allowed = self.server.allowed_hosts
        if allowed is not None and self.headers.get("Host", "").lower() not in allowed:
            refusal = json.dumps(
                {"__type": "InvalidHostException", "message": "Use 127.0.0.1 or localhost to reach the local user pool."}
            )
            self.close_connection = True
            self._send(HTTPStatus.MISDIRECTED_REQUEST, refusal.encode(), "application/json", {})
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.allowed_origins:
            # Refused before anything runs (preflights too): a page's request can have effects
            # even when the browser then hides the answer from it.
            message = f"Web pages from {origin} may not call the local user pool (start it with --cors-origin {origin})."
            body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
            self.close_connection = True
            self._send(HTTPStatus.FORBIDDEN, body, "application/json", {"x-amzn-ErrorType": "AccessDeniedException:"})
            if self.server.echo is not None:
                self.server.echo(f"Refused a request from the web page origin {origin!r} (allow it with --cors-origin)")
            return False
        return True

    def _cors(self) -> dict[str, str]:
        """CORS headers naming the request's origin (parse_request refused those not allowed); a request
        without one (boto3, the CLI, scripts, same-origin reads) needs none."""
        origin = self.headers.get("Origin")
        if origin is None:
            return {"Vary": "Origin"}
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": EXPOSED_HEADERS, "Vary": "Origin"}

    # --- Cognito's API ---------------------------------------------------------------------------

    def do_OPTIONS(self):
        if self._is_api():
            self._api()
            return
        requested = self.headers.get("Access-Control-Request-Headers", "")
        allowed = requested if re.fullmatch(r"[A-Za-z0-9\-_, ]*", requested) else ""
        self._send(
            HTTPStatus.NO_CONTENT,
            b"",
            "text/plain",
            {
                **self._cors(),
                "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
                "Access-Control-Allow-Headers": allowed or "content-type, x-amz-target, x-amz-user-agent, authorization",
                "Access-Control-Max-Age": "86400",
            },
        )

    def do_POST(self):
        if self._is_api():
            self._api()
            return
        if urlsplit(self.path).path == ADMIN_PATH:
            self._admin()
            return
        started = time.perf_counter()
        pool = self.server.pool
        calls_before = len(pool.runner.calls)
        target = self.headers.get("X-Amz-Target", "")
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        try:
            if urlsplit(self.path).path != "/":
                raise CognitoError("UnknownOperationException", "Send Cognito requests to POST /.", status=HTTPStatus.NOT_FOUND)
            raw = self._body()
            signed = operation in SIGNED_OPERATIONS
            if signed:  # Cognito's public operations are called unsigned; their signatures are not checked
                verify(pool.credentials, self.command, self.path, self.headers.items(), raw)
            answer = pool.api.call(operation, _json(raw), signed=signed)
            status: int = HTTPStatus.OK
            payload, headers = answer, {}
        except CognitoError as exc:
            status, payload = exc.status, exc.as_body()
            headers = {"x-amzn-ErrorType": f"{exc.error_type}:"}
        except Exception:
            log.error("local user pool: %s failed\n%s", operation, traceback.format_exc())
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            payload = {"__type": "InternalErrorException", "message": "The local user pool failed; its terminal shows why."}
            headers = {"x-amzn-ErrorType": "InternalErrorException:"}
        data = json.dumps(payload, default=_json_value).encode()
        self._send(status, data, "application/x-amz-json-1.1", {**self._cors(), "x-amzn-RequestId": str(uuid.uuid4()), **headers})
        if self.server.echo is not None:
            triggers = pool.runner.calls[calls_before:]
            outcome = "OK" if status == HTTPStatus.OK else payload["__type"]
            note = f"  triggers: {', '.join(triggers)}" if triggers else ""
            self.server.echo(
                f"{operation or target or '?'} -> {int(status)} {outcome} ({(time.perf_counter() - started) * 1000:.0f} ms){note}"
            )

    def _admin(self) -> None:
        """An operator's command from `python -m keyless_admin --local`: {"command", "email"}, signed
        with the pool's admin credentials; the answer is the command's, or {"__type", "message"}."""
        pool = self.server.pool
        command, user = "?", "***"
        try:
            raw = self._body()
            verify(pool.credentials, self.command, self.path, self.headers.items(), raw)
            request = _json(raw)
            if not isinstance(request, dict) or not all(isinstance(request.get(k), str) for k in ("command", "email")):
                raise CognitoError("SerializationException", 'Send {"command": "<command>", "email": "<address>"}.')
            command, user = request["command"], mask(request["email"])
            status: int = HTTPStatus.OK
            payload, outcome = pool.admin(command, request["email"]), "ok"
        except AdminError as exc:
            status, payload, outcome = HTTPStatus.BAD_REQUEST, {"__type": exc.code, "message": exc.message}, exc.code
        except CognitoError as exc:
            status, payload, outcome = exc.status, exc.as_body(), exc.error_type
        except Exception:
            log.error("local user pool: keyless_admin %s failed\n%s", command, traceback.format_exc())
            status, outcome = HTTPStatus.INTERNAL_SERVER_ERROR, "InternalErrorException"
            payload = {"__type": outcome, "message": "The command failed; the local user pool's terminal shows why."}
        self._send(status, json.dumps(payload).encode(), "application/json", {"Cache-Control": "no-store"})
        if self.server.echo is not None:
            self.server.echo(f"keyless_admin {command} {user} -> {outcome}")

    def _body(self) -> bytes:
        length = self._content_length()
        if length is None or length > MAX_BODY_BYTES:
            self.close_connection = True
            raise CognitoError("SerializationException", "Request body missing or too large.")
        return self.rfile.read(length)

    # --- pages ------------------------------------------------------------------------------------------

    def do_GET(self):
        if self._is_api():
            self._api()
            return
        path = urlsplit(self.path).path
        pool = self.server.pool
        well_known = f"/{pool.pool_id}/.well-known/"
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path.startswith("/static/"):
            self._static(path[len("/static/") :])
        elif path == "/local-pool.json":
            self._json(pool.demo_config())
        elif path == well_known + "jwks.json":
            self._json(pool.tokens.jwks())
        elif path == well_known + "openid-configuration":
            self._json(pool.openid_configuration())
        elif path in ("/mailbox", "/mailbox/"):
            self._mailbox()
        else:
            self._json({"message": "Not found"}, HTTPStatus.NOT_FOUND)

    # Mail scanners and link previews check a link with HEAD before (or instead of) fetching it.
    do_HEAD = do_GET

    # --- the template's HTTP APIs (API Gateway), under /api -------------------------------------------

    def do_PUT(self):
        self._api_only()

    do_PATCH = do_DELETE = do_PUT

    def _is_api(self) -> bool:
        path = urlsplit(self.path).path
        return path == API_PREFIX or path.startswith(API_PREFIX + "/")

    def _api_only(self) -> None:
        if self._is_api():
            self._api()
        else:
            self._json({"message": "Not found"}, HTTPStatus.NOT_FOUND)

    def _api(self) -> None:
        """A request for the template's HTTP API, answered as API Gateway answers (localpool.http_api)."""
        started = time.perf_counter()
        parts = urlsplit(self.path)
        gateway = self.server.pool.http_api
        headers = list(self.headers.items())
        length = self._content_length()
        refusal = None
        if self.headers.get("Transfer-Encoding") is not None or length is None:
            refusal = HTTPStatus.LENGTH_REQUIRED  # a body whose end cannot be told from the next request's start
        elif length > MAX_BODY_BYTES:
            refusal = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        if refusal is not None or gateway is None:
            self.close_connection = True  # its body, if any, is left unread
            refused = refusal or HTTPStatus.NOT_FOUND
            response = gateway.refuse(refused, headers) if gateway else ApiResponse.message(refused)
        else:
            request = ApiRequest(
                method=self.command,
                path=parts.path[len(API_PREFIX) :] or "/",
                raw_query=parts.query,
                headers=headers,
                body=self.rfile.read(length or 0),
                source_ip=self.client_address[0],
            )
            try:
                response = gateway.handle(request)
            except Exception:
                log.error("local user pool: %s %s failed\n%s", self.command, parts.path, traceback.format_exc())
                response = ApiResponse.message(HTTPStatus.INTERNAL_SERVER_ERROR)
        content_type = next((v for k, v in response.headers if k.lower() == "content-type"), "application/json")
        answer_headers = [(k, v) for k, v in response.headers if k.lower() != "content-type"]
        self._send(response.status, response.body, content_type, answer_headers)
        if self.server.echo is not None and self.command != "OPTIONS":
            route = f"  ({response.route_key})" if response.route_key else ""
            elapsed = (time.perf_counter() - started) * 1000
            self.server.echo(f"{self.command} {parts.path} -> {response.status}{route} ({elapsed:.0f} ms)")

    def _content_length(self) -> int | None:
        """The Content-Length header's number (0 when absent); None when it is not one: ASCII digits
        only (str.isdigit takes "²", which int() refuses, and int() takes other scripts' digits)."""
        raw = self.headers.get("Content-Length", "0")
        return int(raw) if raw.isascii() and raw.isdigit() else None

    def _static(self, name: str) -> None:
        found = STATIC_FILES.get(name)
        if found is None:
            self._json({"message": "Not found"}, HTTPStatus.NOT_FOUND)
            return
        headers = {"Content-Security-Policy": PAGE_POLICY, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
        self._send(HTTPStatus.OK, found.read_bytes(), CONTENT_TYPES[found.suffix], headers)

    def _json(self, payload: object, status: HTTPStatus = HTTPStatus.OK, cors: bool = True) -> None:
        headers = {**(self._cors() if cors else {}), "Cache-Control": "no-store"}
        self._send(status, json.dumps(payload, indent=2).encode(), "application/json", headers)

    def _mailbox(self) -> None:
        mails = self.server.pool.mailbox.messages()
        if "application/json" in self.headers.get("Accept", ""):
            self._json([m.as_json() for m in mails], cors=False)  # other origins may not read the mail
            return
        page = mailbox_page(mails)
        self._send(
            HTTPStatus.OK,
            page.encode(),
            "text/html; charset=utf-8",
            {"Content-Security-Policy": MAILBOX_POLICY, "Cache-Control": "no-store"},
        )

    # --- plumbing --------------------------------------------------------------------------------------

    def _send(self, status: int, data: bytes, content_type: str, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items() if isinstance(headers, Mapping) else headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # do_POST reports each API call; pages and assets are not worth a line


def _json(raw: bytes) -> object:
    """The request body: JSON in UTF-8, as AWS's JSON protocols take it (no NaN or Infinity, no lone
    surrogates); anything else, however deep or long, is a SerializationException, never a crash."""
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")  # refuses lone surrogates ("\ud800")
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeError are ValueErrors
        raise CognitoError("SerializationException", "The request body is not valid JSON.") from None
    return parsed


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON")


_URL = re.compile(r"https?://[^\s<>\"']+")


def _linked(text: str) -> str:
    """Escaped text with its http(s) addresses as links."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def mailbox_page(mails: list[Mail]) -> str:
    items = []
    for mail in mails:
        sent = datetime.fromtimestamp(mail.sent_at).strftime("%Y-%m-%d %H:%M:%S")
        html_part = ""
        if mail.html:
            html_part = (
                "<details><summary>HTML version</summary>"
                f'<iframe sandbox title="HTML version" srcdoc="{html.escape(mail.html, quote=True)}"></iframe></details>'
            )
        items.append(
            '<article class="mail">'
            f"<h2>{html.escape(mail.subject)}</h2>"
            f'<p class="meta">To <b>{html.escape(", ".join(mail.to))}</b> from {html.escape(mail.sender)} at {sent}</p>'
            f'<pre class="text">{_linked(mail.text or "")}</pre>{html_part}</article>'
        )
    body = "".join(items) or '<p class="empty">No email yet. Ask for a link or a code on the <a href="/">sign-in page</a>.</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Mailbox - Keyless local user pool</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/static/style.css"></head><body class="mailbox">'
        "<header><h1>Mailbox</h1><p>Every email the local user pool sent, newest first. "
        '<a href="/mailbox">Reload</a> · <a href="/">Sign-in page</a></p></header>'
        f"<main>{body}</main></body></html>"
    )
