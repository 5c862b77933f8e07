"""Where a magic link may point: an exact match of scheme, host and port against an allowlist.

The path and query are free (a single-page app routes on them); the fragment is ours, because it
carries the link's secret. Anything that parses ambiguously is refused rather than normalised.
"""

from __future__ import annotations

import string
from urllib.parse import urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_URI_LENGTH = 2048
_FORBIDDEN = set(string.whitespace) | {"\\"}


class RedirectNotAllowed(ValueError):
    pass


Origin = tuple[str, str, int]


def origin_of(uri: str) -> Origin:
    """(scheme, host, port) of an absolute http(s) URI; raises RedirectNotAllowed when it is not one."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise RedirectNotAllowed("empty or too long")
    if any(ch in _FORBIDDEN or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri) or not uri.isascii():
        raise RedirectNotAllowed("forbidden character")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise RedirectNotAllowed("unparseable") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise RedirectNotAllowed("scheme")
    if "@" in parts.netloc:
        raise RedirectNotAllowed("user info")
    host = (parts.hostname or "").lower()
    if not host or parts.netloc.endswith(":"):
        raise RedirectNotAllowed("missing host")
    if host.endswith("."):
        raise RedirectNotAllowed("trailing dot")
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def parse_allowlist(value: str) -> frozenset[Origin]:
    """Comma-separated origins such as "https://app.example.com,http://localhost:3000"."""
    origins = set()
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"allowed origin {item!r} must be scheme://host[:port] only")
        origins.add(origin_of(item))
    return frozenset(origins)


def check_redirect(uri: str, allowed: frozenset[Origin]) -> str:
    """The URI itself when its origin is allowed and it has no fragment; raises RedirectNotAllowed."""
    if origin_of(uri) not in allowed:
        raise RedirectNotAllowed("origin not in allowlist")
    if "#" in uri:
        raise RedirectNotAllowed("fragment")
    return uri
