"""`python -m localpool` (`make dev`): the local user pool, the demo page and the mailbox, in one process.

AWS is moto's in-process mock (mock_aws): the functions' DynamoDB, SES and Secrets Manager calls
and the pool's user store never leave this process, and no AWS account or credentials are used.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import warnings
from pathlib import Path

from moto import mock_aws

from localpool.deployment import parse_parameters
from localpool.server import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STATE_DIR, LOOPBACK_HOSTS, create_server, normalise_origin
from localpool.template import ParameterError
from localpool.tokens import ClientSettingsError

REMOTE_WARNING = (
    "WARNING: --host {host} makes the local user pool reachable from other machines. Its /mailbox page "
    "holds every sign-in link and code it sends, so anyone who can reach this port can sign in as any user."
)


def _echo(line: str) -> None:
    print(line, flush=True)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def banner(server) -> str:
    pool = server.pool
    keys = pool.credentials
    slots = pool.deployment.template.trigger_slots()
    url = server.url
    return "\n".join(
        [
            "Keyless local user pool: template.yaml's triggers on moto, no AWS account needed.",
            f"  Sign-in page   {url}/",
            f"  Mailbox        {url}/mailbox   (JSON: Accept: application/json)",
            f"  Cognito API    {url}   (boto3 endpoint_url / aws --endpoint-url, region {pool.deployment.region})",
            f"  User pool id   {pool.pool_id}",
            f"  App client id  {pool.client_id}",
            (
                f"  Admin calls    AWS_ACCESS_KEY_ID={keys.access_key_id} AWS_SECRET_ACCESS_KEY={keys.secret_access_key}"
                "   (admin operations must be signed with these)"
            ),
            f"  Issuer         {pool.issuer}   (JWKS at /{pool.pool_id}/.well-known/jwks.json)",
            f"  Triggers       {', '.join(f'{slot}={logical}' for slot, logical in slots.items()) or 'none'}",
            *passkey_lines(server),
            "Emails are printed below and listed on the mailbox page. Ctrl+C stops (users and emails are not kept).",
        ]
    )


def passkey_lines(server) -> list[str]:
    """The management API and where passkeys work, when the template makes them (Passkeys=Enabled)."""
    url = server.pool.management_api_url
    if url is None:
        return []
    from keyless.core.settings.passkeys import PasskeySettings

    settings = PasskeySettings.from_env(server.pool.deployment.environment)
    lines = [f"  Management API {url}   (ManagementApiUrl: the passkey routes, behind the pool's JWT check)"]
    if settings.enabled:
        pages = ", ".join(f"{origin}/" for origin in settings.origins)
        lines.append(f"  Passkeys       on {pages}   (relying party {settings.rp_id}; browsers refuse passkeys on an IP address)")
    environment = server.pool.deployment.environment
    if environment.get("AUTHENTICATOR_KEY_SECRET_ID"):
        ways = [
            *(["a sign-in method (TOTP)"] if environment.get("AUTHENTICATOR_APPS") == "Enabled" else []),
            *(["the second step after a link or code"] if environment.get("AUTHENTICATOR_APP_SECOND_STEP") == "Required" else []),
        ]
        lines.append(f"  Authenticator  apps on: {' and '.join(ways)}   (set one up on the demo page once signed in)")
    return lines


def is_loopback(host: str) -> bool:
    return host.lower() in LOOPBACK_HOSTS


def _origin(value: str) -> str:
    try:
        return normalise_origin(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localpool", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other than loopback (anyone who reaches it can sign in as any user)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        type=_origin,
        metavar="URL",
        help="an origin besides the pool's own whose web pages may call it (repeatable), e.g. http://localhost:3000",
    )
    parser.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where the token signing key and the admin credentials are kept"
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter (repeatable), e.g. AppName=Demo",
    )
    args = parser.parse_args(argv)
    # The demo shows passkeys and authenticator apps: on unless --parameter Passkeys=Disabled or
    # AuthenticatorApps=Disabled (a deployment's defaults are Disabled).
    parameters = {"Passkeys": "Enabled", "AuthenticatorApps": "Enabled", **parse_parameters(args.parameter)}
    if not is_loopback(args.host):
        if not args.allow_remote:
            print(
                f"Refusing --host {args.host}: anyone who can reach it could read every sign-in link and code at /mailbox "
                "and sign in as any user. Add --allow-remote if that is what you want.",
                file=sys.stderr,
            )
            return 2
        print(REMOTE_WARNING.format(host=args.host), file=sys.stderr)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", "No application metrics to publish")
    # Stable pool and client ids across restarts, so an app configured once keeps working.
    os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY", "HASH")
    os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY", "HASH")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here
    with mock_aws():
        try:
            server = create_server(
                args.host, args.port, args.state_dir, echo=_echo, parameters=parameters, cors_origins=args.cors_origin
            )
        except OSError as exc:
            print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror}. Try --port.", file=sys.stderr)
            return 1
        except (ParameterError, ClientSettingsError) as exc:  # what CloudFormation or Cognito would refuse
            print(f"Cannot deploy template.yaml: {exc}", file=sys.stderr)
            return 2
        _echo(banner(server))
        signal.signal(signal.SIGTERM, _stop)  # `kill` stops it as cleanly as Ctrl+C
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            _echo("Stopped.")
        finally:
            server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
