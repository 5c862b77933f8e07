"""Magic link tokens: `<base64url JSON payload>.<signature>`, signed with itsdangerous.

The payload names the user twice: by user name `u` (so the page a link opens can start a fresh
sign-in) and by the immutable `sub` `s` (which VerifyAuthChallengeResponse compares with the user
signing in: on a case-sensitive pool `alice` and `Alice` are two people). It names where it must be
redeemed: the user pool `p` (checked by VerifyAuthChallengeResponse) and the app client `c` that asked
for it (a page that opens a link takes its pool and client from here, never from its own address,
which whoever asked for the link chose). Then the expiry `e` and a random nonce `n`. It is readable by
the client, and only the signature makes it worth anything. The
table stores an HMAC of the whole token, never the token, so the table alone cannot mint a link.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from itsdangerous import BadData, Serializer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from keyless.signin.pseudonyms import key_id

SALT = "keyless.magic-link.v1"
MAX_TOKEN_LENGTH = 1024
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")


class _Serializer(URLSafeSerializer):
    """Never zlib-compressed, so any client can read the payload with plain base64url + JSON."""

    def dump_payload(self, obj) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


def _serializer(key: bytes) -> _Serializer:
    return _Serializer(key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


class InvalidLink(ValueError):
    pass


@dataclass(frozen=True)
class Subject:
    """Whom a link signs in, and where."""

    user_name: str
    sub: str
    pool_id: str
    client_id: str


@dataclass(frozen=True)
class LinkClaims:
    subject: Subject
    expires_at: int


def issue(key: bytes, subject: Subject, expires_at: int) -> str:
    payload = {
        "u": subject.user_name,
        "s": subject.sub,
        "p": subject.pool_id,
        "c": subject.client_id,
        "e": expires_at,
        "n": secrets.token_urlsafe(12),
        "k": key_id(key),
    }
    return _serializer(key).dumps(payload)


def read(token: str, keys: Iterable[bytes]) -> tuple[LinkClaims, bytes]:
    """The claims and the key that signed them; raises InvalidLink for anything not signed by us."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not _TOKEN_SHAPE.match(token):
        raise InvalidLink("not a link token")
    for key in keys:
        try:
            payload = _serializer(key).loads(token)
        except BadData:
            continue
        if not isinstance(payload, dict):
            break
        names = [payload.get(field) for field in ("u", "s", "p", "c")]
        expires_at = payload.get("e")
        if not all(isinstance(name, str) for name in names) or not isinstance(expires_at, int) or isinstance(expires_at, bool):
            break
        return LinkClaims(Subject(*names), expires_at), key
    raise InvalidLink("bad signature or payload")


def signing_key_id(token: object) -> str:
    """The (unverified) name of the key a link says it was signed with; "" when it names none."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not _TOKEN_SHAPE.match(token):
        return ""
    try:
        payload = _serializer(b"unused").load_payload(token.split(".", 1)[0].encode())
    except BadData:
        return ""
    named = payload.get("k") if isinstance(payload, dict) else None
    return named if isinstance(named, str) else ""


def token_hash(key: bytes, token: str) -> str:
    return hmac.new(key, b"keyless.magic-link-hash|" + token.encode(), hashlib.sha256).hexdigest()
