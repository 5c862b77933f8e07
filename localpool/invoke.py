"""`make invoke FUNCTION=... EVENT=...`: run one function of template.yaml on an event, without Docker.

What `sam local invoke` does, minus the container: the function's handler is imported from its
CodeUri, with the environment template.yaml gives it, and AWS (DynamoDB, SES, Secrets Manager,
Cognito) answered by moto with the template's resources deployed. The event is passed as it is;
the signing key is the one the sample events in events/ are signed with, and the table holds the
sign-in state they assume (localpool/samples.py). The answer is printed as
JSON on stdout; the function's logs and any email go to stderr.

FUNCTION is a logical id (CreateAuthChallengeFunction) or a folder (create_auth_challenge).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

from moto import mock_aws

from localpool.deployment import SAMPLE_SIGNING_KEY, deploy_and_start, parse_parameters
from localpool.template import FunctionSpec, Template, load_handler
from localpool.triggers import LambdaContext


class UnknownFunctionError(LookupError):
    pass


def find_function(template: Template, name: str) -> FunctionSpec:
    functions = template.functions()
    wanted = name.strip().rstrip("/")
    for spec in functions.values():
        if wanted in (
            spec.logical_id,
            spec.code_uri.resolve().name,
            str(spec.code_uri.relative_to(template.path.parent)).rstrip("/"),
        ):
            return spec
    known = ", ".join(f"{s.logical_id} ({s.code_uri.resolve().name})" for s in functions.values())
    raise UnknownFunctionError(f"no function {name!r} in {template.path.name}; choose one of: {known}")


def invoke(function: str, event: dict, parameters: dict[str, str] | None = None, echo=None) -> object:
    """Call inside mock_aws(): deploy the template, then run the function once on the event."""
    template = Template(parameters=parameters)
    spec = find_function(template, function)
    condition = template.resources[spec.logical_id].get("Condition")
    if condition and not template.condition(condition):
        raise UnknownFunctionError(
            f"{spec.logical_id} exists only when the template's condition {condition} holds: set its parameters "
            '(make invoke ... ARGS="--parameter Passkeys=Enabled")'
        )
    deployment, _mailbox, _session = deploy_and_start(
        template=template, parameters=parameters, signing_key=SAMPLE_SIGNING_KEY, echo=echo
    )
    # Imported here, after the environment is set and stdout redirected: it loads the product's
    # modules, whose logger writes to the stdout of the moment it is made, as in Lambda.
    from localpool import samples

    samples.seed(deployment)
    handler = load_handler(spec)
    context = LambdaContext(function_name=spec.logical_id, memory_limit_in_mb=spec.memory_size, deadline_seconds=spec.timeout)
    return handler(event, context)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localpool.invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="logical id or folder of a function in template.yaml")
    parser.add_argument("event", type=Path, help="a JSON event file, e.g. events/define_auth_challenge/first_round.json")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE", help="a template parameter (repeatable)"
    )
    args = parser.parse_args(argv)
    try:
        event = json.loads(args.event.read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read the event {args.event}: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    warnings.filterwarnings("ignore", "No application metrics to publish")
    with mock_aws():
        try:
            # Whatever the function prints (its log lines, metrics) goes to stderr: stdout is the answer.
            with contextlib.redirect_stdout(sys.stderr):
                answer = invoke(args.function, event, parse_parameters(args.parameter), echo=_to_stderr)
        except UnknownFunctionError as exc:
            print(exc, file=sys.stderr)
            return 2
        except Exception as exc:  # the function raised: show it as Lambda would report it
            print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}, indent=2))
            return 1
    print(json.dumps(answer, indent=2, default=str))
    return 0


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
