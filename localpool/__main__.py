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
from localpool.server import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STATE_DIR, create_server


def _echo(line: str) -> None:
    print(line, flush=True)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def banner(server) -> str:
    pool = server.pool
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
            f"  Issuer         {pool.issuer}   (JWKS at /{pool.pool_id}/.well-known/jwks.json)",
            f"  Triggers       {', '.join(f'{slot}={logical}' for slot, logical in slots.items()) or 'none'}",
            "Emails are printed below and listed on the mailbox page. Ctrl+C stops (users and emails are not kept).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localpool", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where the token signing key is kept")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter (repeatable), e.g. AppName=Demo",
    )
    args = parser.parse_args(argv)
    parameters = parse_parameters(args.parameter)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", "No application metrics to publish")
    # Stable pool and client ids across restarts, so an app configured once keeps working.
    os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY", "HASH")
    os.environ.setdefault("MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY", "HASH")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here
    with mock_aws():
        try:
            server = create_server(args.host, args.port, args.state_dir, echo=_echo, parameters=parameters)
        except OSError as exc:
            print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror}. Try --port.", file=sys.stderr)
            return 1
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
