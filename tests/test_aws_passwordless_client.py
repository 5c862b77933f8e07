"""Apps built on AWS's passwordless client library (amazon-cognito-passwordless-auth, the npm package
of AWS's passwordless sample) switch to Keyless by configuration only: the library's own magic-link
code, pinned in clients/aws-passwordless/package.json, signs in against the served local pool under
node's test runner (clients/aws-passwordless/signin.test.mjs)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from testkit.clients import sign_up

KIT = Path(__file__).resolve().parent.parent / "clients" / "aws-passwordless"
USERS = ("alice@example.com", "bob@example.com")


def test_the_aws_passwordless_library_signs_in_by_link_unchanged(server):
    node = shutil.which("node")
    assert node, "node 20+ is needed (the machine's, or apt-get install nodejs)"
    assert (KIT / "node_modules" / "amazon-cognito-passwordless-auth").is_dir(), "run make install (npm ci in the kit)"
    for user in USERS:
        sign_up(server, user)
    environment = {
        **os.environ,
        "KEYLESS_POOL_URL": server.url,
        "KEYLESS_CLIENT_ID": server.pool.client_id,
        "KEYLESS_POOL_ID": server.pool.pool_id,
        "KEYLESS_USERS": ",".join(USERS),
    }
    run = subprocess.run(
        [node, "--test", "--test-reporter=spec", "signin.test.mjs"],
        cwd=KIT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "pass 2" in run.stdout and "fail 0" in run.stdout
