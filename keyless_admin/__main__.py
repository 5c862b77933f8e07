"""`python -m keyless_admin` (`make admin ARGS="..."`): an operator's commands on a user pool that runs Keyless.

  python -m keyless_admin --stack keyless invite jane@example.com
  python -m keyless_admin --pool-id us-east-1_AbCdEf123 status jane@example.com
  python -m keyless_admin --local sign-out jane@example.com      (the local user pool, make dev)

What was done goes to stdout as JSON (addresses masked, nothing secret). Every command also logs one
line, JSON, on stderr: when, who (the AWS identity's ARN, or "local"), which command, which user
(masked, and the sub once known), in which pool, and the result ("ok" or why not). Exit status: 0
done, 1 not done (one line on stderr says why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from keyless.core.addresses import mask
from keyless.core.aws_errors import error_code
from keyless.core.settings import ConfigurationError
from keyless_admin import aws, local
from keyless_admin.commands import COMMANDS, AdminError, run

DEFAULT_STATE_DIR = Path(__file__).resolve().parent.parent / ".local-state"


def audit(who: str, command: str, email: str, pool: str, result: str, sub: str = "") -> None:
    line = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "who": who,
        "command": command,
        "user": mask(email),
        **({"sub": sub} if sub else {}),
        "pool": pool,
        "result": result,
    }
    print(json.dumps(line), file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="python -m keyless_admin", description=(__doc__ or "").splitlines()[0])
    where = made.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", metavar="NAME", help="a deployed Keyless stack (its outputs name the pool and app client)")
    where.add_argument("--pool-id", metavar="ID", help="a user pool Keyless is attached to (its triggers name the rest)")
    where.add_argument("--local", action="store_true", help="the local user pool (make dev)")
    made.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    made.add_argument("--profile", help="AWS profile (default: the AWS configuration's)")
    made.add_argument("--client-id", help="with --pool-id: the app client welcome links sign in at, when the pool has several")
    made.add_argument(
        "--templates",
        metavar="DIR",
        help="email templates to use when CreateAuthChallenge's EMAIL_TEMPLATES_DIR is not on this machine",
    )
    made.add_argument(
        "--endpoint", default=local.DEFAULT_ENDPOINT, help=f"with --local: the pool's URL (default {local.DEFAULT_ENDPOINT})"
    )
    made.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="with --local: the pool's --state-dir (its admin credentials)"
    )
    made.add_argument("command", choices=list(COMMANDS), help="invite: create the user and email a welcome link; sign-out: end "
                      "every session, link and code; unlock: clear the wrong-code budget; status: what Keyless holds; "
                      "remove-authenticator: remove the user's authenticator app (check who asks first); remove-passkeys: "
                      "remove all the user's passkeys (check who asks first)")  # fmt: skip
    made.add_argument("email", help="the user's email address")
    return made


def main(argv: list[str] | None = None, session: boto3.session.Session | None = None) -> int:
    """session: the AWS session to use instead of one from --profile and --region (tests pass theirs)."""
    args = parser().parse_args(argv)
    who, pool_id = ("local", "local") if args.local else ("unknown", args.pool_id or args.stack)
    try:
        if args.local:
            result = local.call(args.endpoint, args.state_dir / "credentials.json", args.command, args.email)
        else:
            session = session or boto3.session.Session(profile_name=args.profile, region_name=args.region)
            who = aws.caller(session)
            client_id = args.client_id or ""
            if args.stack:
                pool_id, stack_client = aws.stack_outputs(session, args.stack)
                client_id = client_id or stack_client
            result = run(aws.keyless_pool(session, pool_id, client_id, args.templates or ""), args.command, args.email)
    except AdminError as exc:
        return _refused(who, args, pool_id, exc.code, exc.message)
    except ClientError as exc:  # AWS refused a call before the command ran (a missing permission, say)
        message = exc.response.get("Error", {}).get("Message", "")
        return _refused(who, args, pool_id, error_code(exc) or "ClientError", f"{exc.operation_name}: {message}")
    except BotoCoreError as exc:  # no region, no such profile, no connection
        return _refused(who, args, pool_id, type(exc).__name__, str(exc))
    except ConfigurationError as exc:  # a setting of the function Keyless cannot use (it fails the same way)
        return _refused(who, args, pool_id, "ConfigurationError", str(exc))
    audit(who, args.command, args.email, str(result.get("pool", pool_id)), "ok", str(result.get("sub", "")))
    print(json.dumps(result, indent=2))
    return 0


def _refused(who: str, args: argparse.Namespace, pool_id: str, code: str, message: str) -> int:
    audit(who, args.command, args.email, pool_id, code)
    print(f"error: {code}: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
