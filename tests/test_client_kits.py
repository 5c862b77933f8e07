"""The client kits under node's test runner, against the served local user pool:
- clients/web: Keyless's own dependency-free ES module (keyless.js), the one the demo page uses;
- clients/aws-passwordless: apps built on AWS's passwordless client library
  (amazon-cognito-passwordless-auth, pinned in its package.json) sign in by link with no code change;
- clients/amplify: the README's Amplify JS v6 recipe, with aws-amplify pinned in its package.json."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parent.parent / "clients"
KITS = {"web": "keyless.test.mjs", "aws-passwordless": "signin.test.mjs", "amplify": "recipe.test.mjs"}


@pytest.mark.parametrize("kit", sorted(KITS))
def test_the_kit_signs_in_against_the_local_pool(server, kit):
    node = shutil.which("node")
    assert node, "node 20+ is needed (.ci/run installs it)"
    folder = CLIENTS / kit
    if (folder / "package.json").exists():
        assert (folder / "node_modules").is_dir(), "run make install (npm ci in the kit)"
    environment = {
        **os.environ,
        "KEYLESS_POOL_URL": server.url,
        "KEYLESS_CLIENT_ID": server.pool.client_id,
        "KEYLESS_POOL_ID": server.pool.pool_id,
    }
    run = subprocess.run(
        [node, "--test", "--test-reporter=spec", KITS[kit]],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "fail 0" in run.stdout and "pass 0" not in run.stdout
