"""--local: the commands against the local user pool (`make dev`).

Its AWS is moto inside the pool's own process, out of any other process's reach, so the commands run
there: this sends one to the pool's ADMIN_PATH, signed (SigV4) with the admin credentials the pool
keeps in its state folder, as its Cognito admin operations are, and the pool runs it
(localpool.server) with the same functions as on AWS and answers what it did, or why not.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keyless_admin.commands import AdminError

ADMIN_PATH = "/keyless-admin"
DEFAULT_ENDPOINT = "http://127.0.0.1:9229"
SIGNING_SERVICE = "cognito-idp"  # the pool checks admin signatures for this service
SIGNING_REGION = "us-east-1"  # the local pool's region
TIMEOUT_SECONDS = 30


def call(endpoint: str, credentials_file: Path, command: str, email: str) -> dict[str, Any]:
    """The command's answer from the pool at `endpoint`, or AdminError (the pool's refusal, or why the
    pool could not be asked)."""
    if urlsplit(endpoint).scheme not in ("http", "https"):
        raise AdminError("BadEndpoint", f"not an http(s) URL: {endpoint}")
    try:
        saved = json.loads(credentials_file.read_text())
        credentials = Credentials(saved["accessKeyId"], saved["secretAccessKey"])
    except (OSError, ValueError, KeyError):
        raise AdminError(
            "NoLocalPool",
            f"no local user pool credentials in {credentials_file}: start it with make dev, or name its --state-dir",
        ) from None
    body = json.dumps({"command": command, "email": email}).encode()
    request = AWSRequest(
        method="POST",
        url=endpoint.rstrip("/") + ADMIN_PATH,
        data=body,
        headers={"Content-Type": "application/json", "X-Amz-Target": f"KeylessAdmin.{command}"},
    )
    SigV4Auth(credentials, SIGNING_SERVICE, SIGNING_REGION).add_auth(request)
    prepared = request.prepare()
    sent = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers.items()), method="POST")
    try:
        # bandit B310: the scheme is checked above (http or https only).
        with urllib.request.urlopen(sent, timeout=TIMEOUT_SECONDS) as response:  # nosec B310
            return dict(json.load(response))
    except urllib.error.HTTPError as refused:
        try:
            payload = json.load(refused)
        except ValueError:
            payload = {}
        raise AdminError(str(payload.get("__type", f"HTTP{refused.code}")), str(payload.get("message", refused.reason))) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AdminError("NoLocalPool", f"no local user pool answers at {endpoint} ({reason}): start it with make dev") from None
