"""The authenticator app's paths (issue 16), which no sample event takes, timed warm as the sample events
are (bench.warm): each is run once on moto (AuthenticatorApps=Enabled) to record AWS's answers, then
replayed through botocore's Stubber in one container. A code is a time's, so each runs at a fixed time
(its runtime's clock):

- VerifyAuthChallengeResponse answered with the right code by a user whose app is set up (read the
  app and the sign-in state, open the sealed secret, check the code, spend its step, record the proof);
- the management API's POST /authenticator-app/start (a new secret, sealed, stored, and its QR code).

And their cold cost: what only these paths import (pyotp, cryptography's AES-GCM and HKDF; segno),
timed in fresh processes. No other function imports them (tests/test_authenticator_apps.py)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pyotp

from bench import warm
from bench.functions import EVENTS, BenchFunction, deployed, discover, record_event
from bench.stats import Spread
from localpool import samples
from localpool.template import Template
from testkit.passkeys import api_event

PARAMETERS = {"AuthenticatorApps": "Enabled"}
AT = 1_800_000_000  # the paths' time (testkit.clock.START)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NEW_USER = "2d8f4b1a-6c3e-4f7a-8b9d-0e1f2a3b4c5d"  # the sample user's app (160 bits, base32)
IMPORTS = {
    "the TOTP answer's": "import pyotp; from cryptography.hazmat.primitives.ciphers.aead import AESGCM; "
    "from cryptography.hazmat.primitives.kdf.hkdf import HKDF; from cryptography.hazmat.primitives import hashes",
    "the setup's QR code": "import segno",
}


@dataclass(frozen=True)
class PathResult:
    function: str
    path: str  # what the path does, as the row names it
    warm: list[warm.WarmResult]
    error: str = ""  # why it was not measured


def is_trigger(result: PathResult) -> bool:
    return result.function != "ManagementApiFunction"


def measure(region: str, calls: int, repeats: int) -> list[PathResult]:
    template = Template(parameters=PARAMETERS)
    functions = {function.name: function for function in discover(template)}
    with deployed(region, template) as deployment, tempfile.TemporaryDirectory(prefix="keyless-bench-paths-") as folder:
        _set_up_app(deployment)
        results = []
        for number, (logical_id, name, event) in enumerate(_paths(deployment)):
            path = Path(folder) / f"path-{number}.json"
            path.write_text(json.dumps(event))
            results.append(_measure(functions[logical_id], name, path, region, calls, repeats))
        return results


def _measure(function: BenchFunction, name: str, path: Path, region: str, calls: int, repeats: int) -> PathResult:
    run = record_event(function, path, region, clock=_at)
    if not run.answered or run.calls_outside_runtime:
        return PathResult(function.name, name, [], run.error or "AWS calls outside keyless.aws.runtime")
    return PathResult(
        function.name, name, [warm.measure(function, run, region, calls, warmup=100, clock=_at) for _ in range(repeats)]
    )


def _at() -> float:
    return float(AT)


def _paths(deployment) -> Iterator[tuple[str, str, dict]]:
    answer = json.loads((EVENTS / "verify_auth_challenge" / "code_right.json").read_text())
    event = copy.deepcopy(answer)
    event["userPoolId"] = deployment.pool_id
    event["request"]["privateChallengeParameters"] = {"step": "TOTP", "flow": samples.FLOW}
    event["request"]["challengeAnswer"] = pyotp.TOTP(SECRET).at(AT)
    event["request"]["clientMetadata"] = {"signInMethod": "TOTP"}
    yield "VerifyAuthChallengeFunction", "right TOTP code", event
    # Another user than the sample's, who has no app yet (the start route refuses one who has).
    claims = {
        "sub": NEW_USER,
        "token_use": "id",
        "auth_time": str(AT - 10),
        "email": "new.user@example.com",
        "email_verified": "true",  # setting an app up needs a proved address
    }
    yield "ManagementApiFunction", "POST authenticator-app/start", api_event("POST /authenticator-app/start", claims, {})


def _set_up_app(deployment) -> None:
    """The sample user's app, active, sealed under the ring's current key as the start route seals it."""
    from keyless.aws.authenticator_keys import parse_ring
    from keyless.methods.authenticator_app import seal
    from keyless.store.codec import to_item
    from keyless.store.keys import authenticator_app_key

    session = boto3.session.Session(region_name=deployment.region)
    value = session.client("secretsmanager").get_secret_value(SecretId=deployment.environment["AUTHENTICATOR_KEY_SECRET_ID"])
    ring = parse_ring(value["SecretString"])
    sealed = seal(SECRET, samples.SUB, ring.current, ring.keys[ring.current])
    fields = {"status": "active", **sealed, "createdAt": AT - 86400, "confirmedAt": AT - 86400, "lastUsedStep": AT // 30 - 10}
    item = {**authenticator_app_key(samples.SUB), **to_item(fields)}
    session.client("dynamodb").put_item(TableName=deployment.table_name, Item=item)


def import_costs(rounds: int) -> dict[str, Spread]:
    """What each path's own imports take in a fresh process of this Python (the installed packages,
    not the layer's .pyc), wall ms (the first of rounds + 1 untimed)."""
    return {name: Spread.of([_import_ms(statement) for _ in range(rounds + 1)][1:]) for name, statement in IMPORTS.items()}


def _import_ms(statement: str) -> float:
    timed = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    out = subprocess.run([sys.executable, "-c", timed], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())
