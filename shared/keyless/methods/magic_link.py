"""The magic link: a token `<base64url JSON payload>.<signature>`, signed with itsdangerous, in a link
to a page the client chose (and, when that is not the first allowed page, to that page too).

The payload names the user twice: by user name `userName` (so the page a link opens can start a fresh
sign-in) and by the immutable `sub` `s` (which VerifyAuthChallengeResponse compares with the user
signing in: on a case-sensitive pool `alice` and `Alice` are two people). It names where it must be
redeemed: the user pool `p` (checked by VerifyAuthChallengeResponse) and the app client `c` that asked
for it (a page that opens a link takes its pool and client from here, never from its own address,
which whoever asked for the link chose). Then the expiry `exp` and issue time `iat` (epoch seconds), a random nonce `n`, the signing key's
name `k`, `m`, the address as the page that opens the link may show it ("Sign in as j***@e***.com":
the page redeems the link only on that click, so a mail scanner that opens it spends nothing), and
`d`, the tag of the device secret of the browser that asked (device_tag), where the page needs no click. It is
readable by the client, and only the signature makes it worth anything. The table stores an HMAC of
the whole token, never the token, so the table alone cannot mint a link.

Same device: the browser that asks may send the hash of a device secret it keeps (protocol
META_DEVICE_HASH); it is stored, keyed, with the link. With SAME_DEVICE_LINKS_ONLY, the link is then
accepted only with that secret (META_DEVICE_SECRET), checked in the same conditional write that spends it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from itsdangerous import BadData, Serializer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from keyless.core import protocol
from keyless.core.events import TriggerEvent
from keyless.methods import MAGIC_LINK
from keyless.signin import pseudonyms
from keyless.signin.proof import Issue, Issued, Verdict, accepted, complete_sign_in, rejected
from keyless.signin.pseudonyms import key_id

if TYPE_CHECKING:
    from keyless.aws.runtime import SignInRuntime
    from keyless.core.settings.sign_in import SignInSettings

NAME = MAGIC_LINK.name
FIELDS = ("linkHash", "linkExpiresAt", "linkUsedAt", "linkUsedBy", "linkDevice")

SALT = "keyless.magic-link.v1"
MAX_TOKEN_LENGTH = 1024
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")
_DEVICE_VALUE = re.compile(r"[A-Za-z0-9_\-]{43}")  # 32 bytes, base64url without padding


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


def issue_token(
    key: bytes, subject: Subject, expires_at: int, shown_as: str = "***", issued_at: int = 0, device_hash: str = ""
) -> str:
    payload: dict[str, Any] = {
        # userName, exp and iat: the names AWS's passwordless client library reads from a link
        # (amazon-cognito-passwordless-auth), so an app built on it works unchanged.
        "userName": subject.user_name,
        "s": subject.sub,
        "p": subject.pool_id,
        "c": subject.client_id,
        "exp": expires_at,
        "iat": issued_at,
        "n": secrets.token_urlsafe(12),
        "k": key_id(key),
        "m": shown_as,
    }
    if is_device_hash(device_hash):
        payload["d"] = device_tag(device_hash)
    return _serializer(key).dumps(payload)


def device_tag(device_hash: str) -> str:
    """Which of the device secrets a browser keeps this link was asked for with (the link's `d`): the
    page redeems it without a click only there. Derived from the hash, so it tells nothing of the
    secret, and nobody without the hash can make a link that carries another browser's tag."""
    digest = hashlib.sha256(b"keyless.device-tag|" + device_hash.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:16]


def device_hash_of(secret: str) -> str:
    """What a browser sends when it asks (protocol.META_DEVICE_HASH) for the device secret it keeps."""
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode("ascii")).digest()).rstrip(b"=").decode()


def is_device_hash(value: object) -> TypeGuard[str]:
    """A device hash, or a device secret: both are 32 bytes in base64url without padding."""
    return isinstance(value, str) and bool(_DEVICE_VALUE.fullmatch(value))


def device_binding(key: bytes, device_hash: object) -> str:
    """What the table keeps of a device hash (keyed); "" for anything that is not one."""
    if not is_device_hash(device_hash):
        return ""
    return hmac.new(key, b"keyless.link-device|" + device_hash.encode(), hashlib.sha256).hexdigest()


def device_proof(key: bytes, client_metadata: Mapping[str, str]) -> str:
    """The device binding the secret in this answer's ClientMetadata proves; "" without a well-formed one."""
    secret = client_metadata.get(protocol.META_DEVICE_SECRET, "")
    return device_binding(key, device_hash_of(secret)) if is_device_hash(secret) else ""


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
        names = [payload.get(field) for field in ("userName", "s", "p", "c")]
        strings = [name for name in names if isinstance(name, str)]
        expires_at = payload.get("exp")
        if len(strings) != len(names) or not isinstance(expires_at, int) or isinstance(expires_at, bool):
            break
        return LinkClaims(Subject(*strings), expires_at), key
    raise InvalidLink("bad signature or payload")


def recognizes(answer: str) -> bool:
    return len(answer) <= MAX_TOKEN_LENGTH and bool(_TOKEN_SHAPE.match(answer))


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


# --- the method -----------------------------------------------------------------------------------


def issue(request: Issue) -> Issued:
    """Every sign-in email carries a link while links are offered, codes' emails included: it is how an
    owner whose own requests someone else holds up signs in with the newest email."""
    event = request.event
    subject = Subject(event.user_name, "" if event.user_not_found else event.sub, event.user_pool_id, event.client_id)
    device_hash = event.client_metadata.get(protocol.META_DEVICE_HASH, "")
    return issue_link(request.key, subject, request.now, request.settings.link_lifetime_seconds, request.sent_to, device_hash)


def issue_link(key: bytes, subject: Subject, now: int, lifetime_seconds: int, shown_as: str, device_hash: str = "") -> Issued:
    """A link for `subject`, and what the table keeps of it; also the welcome link an operator's
    invitation carries (keyless_admin), which no sign-in asked for and no device is bound to."""
    expires_at = now + lifetime_seconds
    token = issue_token(key, subject, expires_at, shown_as, now, device_hash)
    device = device_binding(key, device_hash)
    return Issued(
        {"linkHash": token_hash(key, token), "linkExpiresAt": expires_at, **({"linkDevice": device} if device else {})},
        token,
        email={},
        lifetime_seconds=lifetime_seconds,
    )


EMAIL_KIND_WITH_CODE = "magic_link_code"  # a link, and a code for the window that asked


def email_kind(with_link: bool) -> str:
    return "magic_link"


def pending_until(item: dict[str, Any], now: int) -> int:
    """When the newest email's link expires, while it is unused and unexpired; else 0."""
    expires_at = int(item.get("linkExpiresAt", 0))
    return expires_at if item.get("linkHash") and "linkUsedAt" not in item and expires_at > now else 0


def public_parameters(item: dict[str, Any], flow: str, settings: SignInSettings, attempts_left: int) -> dict[str, str]:
    return {protocol.PARAM_EXPIRES_AT: iso_time(int(item.get("linkExpiresAt", 0)))}


def iso_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify(event: TriggerEvent, flow: str, runtime: SignInRuntime) -> Verdict:
    method = NAME
    if event.answer_too_long:
        return rejected(method, "too_long")
    try:
        claims, key = _read_link(event.answer, runtime)
    except InvalidLink:
        return rejected(method, "bad_link")
    subject = claims.subject
    if event.user_not_found or not hmac.compare_digest(subject.sub.encode(), event.sub.encode()):
        return rejected(method, "other_user")
    if subject.pool_id != event.user_pool_id or subject.client_id != event.client_id:
        return rejected(method, "other_pool_or_client")  # redeemed only where it was issued
    now = runtime.now()
    if claims.expires_at <= now:
        return rejected(method, "expired")
    # Opened in the browser that asked (its device secret), the link spends its email's code too;
    # opened anywhere else (perhaps by a mail scanner), only itself: the code still works in the window
    # that asked. With SAME_DEVICE_LINKS_ONLY, nowhere else at all.
    strict = runtime.settings.same_device_links_only
    device = device_proof(key, event.client_metadata)
    if strict and not device:
        return rejected(method, "other_device")
    user = event.sub
    recipient = pseudonyms.recipient(key, event.email)
    link_hash = token_hash(key, event.answer)
    outcome = runtime.store.consume_link(user, link_hash, recipient, flow, now, method, device, spend_code=bool(device))
    reason = "" if outcome.accepted else _why_link_refused(outcome.item, recipient, now, device)
    if reason == "other_device" and not strict:  # this browser's secret is an older request's
        outcome = runtime.store.consume_link(user, link_hash, recipient, flow, now, method, spend_code=False)
        reason = "" if outcome.accepted else _why_link_refused(outcome.item, recipient, now, "")
    if reason:
        return rejected(method, reason)
    complete_sign_in(event, runtime, user, flow, method)
    return accepted(method)


def _read_link(answer: str, runtime: SignInRuntime) -> tuple[LinkClaims, bytes]:
    """A link signed by a key this container does not hold yet (another container's, after a
    rotation) is read again with the keys as they are now."""
    try:
        return read(answer, runtime.keys.candidates())
    except InvalidLink:
        named = signing_key_id(answer)
        if not named or named in {pseudonyms.key_id(key) for key in runtime.keys.candidates()} or not runtime.keys.refresh():
            raise
        return read(answer, runtime.keys.candidates())


def _why_link_refused(item: dict[str, Any], recipient: str, now: int, device: str) -> str:
    if not item.get("linkHash"):
        return "superseded"
    if item.get("recipient") != recipient:
        return "address_changed"  # or superseded by an email to another address
    if int(item.get("linkExpiresAt", 0)) <= now:
        return "expired"
    if device and item.get("linkDevice") != device:
        return "other_device"
    return "used_or_superseded"
