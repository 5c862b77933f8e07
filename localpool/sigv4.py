"""The local pool's own AWS credentials, and AWS Signature Version 4 checked with them.

Cognito authorizes its admin operations with IAM: a request signed (SigV4) by credentials allowed
to call them. The local pool has one key pair of its own, made on first start and kept in the state
folder; admin requests must be signed with it. The signature is computed again here from the
request as received (method, path, query, the signed headers, the body's SHA-256) and compared in
constant time; the request's date must be within 15 minutes of the real time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote, urlsplit

from botocore.utils import normalize_url_path

from localpool.errors import CognitoError

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "cognito-idp"
MAX_SKEW_SECONDS = 15 * 60
AMZ_DATE = "%Y%m%dT%H%M%SZ"
# Headers a signature must cover: the endpoint, the time (replays end with it) and the operation.
REQUIRED_SIGNED_HEADERS = ("host", "x-amz-date", "x-amz-target")
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,"
    r"\s*SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*"
)


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    @classmethod
    def generate(cls) -> Credentials:
        key_id = "LOCAL" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(15))
        return cls(key_id, secrets.token_urlsafe(30))

    @classmethod
    def load_or_create(cls, path: Path | None) -> Credentials:
        """The key pair kept at `path` (JSON, mode 0600), made there on first use; in memory if None."""
        if path is not None and path.exists():
            saved = json.loads(path.read_text())
            return cls(saved["accessKeyId"], saved["secretAccessKey"])
        made = cls.generate()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created with 0600 from the start: no moment where another user could read the secret.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                json.dump({"accessKeyId": made.access_key_id, "secretAccessKey": made.secret_access_key}, file)
        return made


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _sign(f"AWS4{secret}".encode(), date)
    return _sign(_sign(_sign(key, region), service), "aws4_request")


def _canonical_query(query: str) -> str:
    pairs = [pair.partition("=")[::2] for pair in query.split("&")] if query else []
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(method: str, target: str, headers: Iterable[tuple[str, str]], signed: list[str], body: bytes) -> str:
    """As botocore builds it: `target` is the request line's path and query, as sent."""
    parts = urlsplit(target)
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(" ".join(value.split()))
    lines = "".join(f"{name}:{','.join(received.get(name, []))}\n" for name in signed)
    return "\n".join(
        [
            method.upper(),
            quote(normalize_url_path(parts.path), safe="/~"),
            _canonical_query(parts.query),
            lines,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),  # the body as received: an unsigned payload is refused
        ]
    )


def _invalid_signature(message: str) -> CognitoError:
    return CognitoError("InvalidSignatureException", message)


def verify(
    credentials: Credentials,
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise Cognito's error unless the request carries a valid SigV4 signature by `credentials`.
    now: the real time (never the pool's clock, which tests move)."""
    headers = list(headers)
    values = {name.lower(): value for name, value in headers}
    authorization = values.get("authorization", "")
    if not authorization:
        raise CognitoError("MissingAuthenticationTokenException", "Missing Authentication Token", status=HTTPStatus.FORBIDDEN)
    match = _AUTHORIZATION.fullmatch(authorization.strip())
    if match is None:
        raise CognitoError("IncompleteSignatureException", "The request signature does not conform to AWS standards.")
    key_id, _, scope = match["credential"].partition("/")
    date, region, service, terminal = [*scope.split("/"), "", "", "", ""][:4]
    signed = match["signed"].split(";")
    if not hmac.compare_digest(key_id.encode(), credentials.access_key_id.encode()):
        raise CognitoError(
            "UnrecognizedClientException", "The security token included in the request is invalid.", status=HTTPStatus.BAD_REQUEST
        )
    if terminal != "aws4_request" or service != SERVICE or not region:
        raise _invalid_signature(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if signed != sorted(set(signed)) or any(name not in signed for name in REQUIRED_SIGNED_HEADERS):
        raise _invalid_signature(f"The request must sign the headers {', '.join(REQUIRED_SIGNED_HEADERS)}.")
    amz_date = values.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise CognitoError("IncompleteSignatureException", "The request must carry a valid X-Amz-Date.") from None
    if date != amz_date[:8]:
        raise _invalid_signature("Date in Credential scope does not match YYYYMMDD from X-Amz-Date.")
    now = time.time() if now is None else now
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        current = datetime.fromtimestamp(now, UTC).strftime(AMZ_DATE)
        raise _invalid_signature(f"Signature expired: {amz_date} is not within 15 minutes of {current}.")
    to_sign = "\n".join(
        [
            ALGORITHM,
            amz_date,
            scope,
            hashlib.sha256(canonical_request(method, target, headers, signed, body).encode()).hexdigest(),
        ]
    )
    expected = hmac.new(
        signing_key(credentials.secret_access_key, date, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), match["signature"].encode()):
        raise _invalid_signature(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        )
