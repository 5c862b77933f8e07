"""Where a magic link may point: an allowlist of origins and origin-plus-path prefixes.

An allowlist entry (ALLOWED_REDIRECT_ORIGINS, comma-separated) is either
- an origin, `https://app.example.com[:port]` (a trailing "/" changes nothing): any path on it; or
- an origin and a path, `https://app.example.com/auth/callback`: that path and the paths below it on
  a segment boundary (`/auth/callback`, `/auth/callback/`, `/auth/callback/x`), never
  `/auth/callbackx` or `/auth/other`. A trailing "/" on the entry changes nothing.

A redirect matches an entry when scheme, host (lower-cased) and port (default ports made explicit)
are equal and, for a path entry, its path is the entry's path or starts with it followed by "/",
compared case-sensitively and as written (`/auth/%63allback` is not `/auth/callback`). The query is
free. The fragment is ours, because it carries the link's secret.

Refused, in the redirect and in an entry alike, rather than normalised:
- any character outside RFC 3986 (unreserved, reserved, and "%" followed by two hex digits): no
  whitespace, controls, non-ASCII, backslash, quotes, `<>^`{|}`, no "%" without two hex digits
  ("[" and "]" are reserved characters, so they pass this check, but a host has them only around
  an IPv6 address);
- user info (`https://evil@app.example.com`), a missing host, an empty port, port 0 or above 65535, a host
  that is not a DNS name of letters, digits and hyphens (a trailing dot, empty labels, "_" or "%"
  included) nor an IPv4 address nor a bracketed IPv6 address;
- dot segments (`.`, `..`, and their escapes `%2e`, `.%2E`, ...) anywhere in the path: a browser
  resolves `/auth/callback/../admin` to `/admin`, outside the prefix; escaped slashes and backslashes
  (`%2f`, `%5c`) in the path, which servers may decode into separators; a path starting with "//";
- schemes other than http and https; plain http unless the host is localhost, 127.0.0.1 or [::1]
  (the link's secret in the fragment would be readable by whoever can change an http page), and an
  http redirect matches only an http entry;
- in an entry only: a query or fragment (even empty, "?" or "#").

Entries keep the order given: `default_redirect` is the first one, as a URI check_redirect admits.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple

DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_URI_LENGTH = 2048
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})  # the only hosts plain http may use

# RFC 3986: unreserved / reserved / pct-encoded, nothing else.
_RFC_3986 = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")
# RFC 3986 appendix B, for absolute URIs with an authority ("//" is required).
_ABSOLUTE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?"
)
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]]*)(?::(?P<port>.*))?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[0-9]{1,5}")
_DOT_SEGMENT = re.compile(r"(?:\.|%2e){1,2}", re.IGNORECASE)
_ENCODED_SEPARATOR = re.compile(r"%(?:2f|5c)", re.IGNORECASE)


class RedirectNotAllowed(ValueError):
    pass


Origin = tuple[str, str, int]


class AllowedRedirect(NamedTuple):
    """One allowlist entry. path: "" for any path, else a prefix without a trailing "/"."""

    scheme: str
    host: str
    port: int
    path: str = ""


class _Parts(NamedTuple):
    scheme: str
    host: str
    port: int
    path: str
    query: str | None
    fragment: str | None


def _parse(uri: str) -> _Parts:
    """The parts of an absolute http(s) URI that passes every rule of the module docstring except
    those on the query and fragment; raises RedirectNotAllowed with the rule it breaks."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise RedirectNotAllowed("empty or too long")
    if not uri.isascii() or _RFC_3986.fullmatch(uri) is None:
        raise RedirectNotAllowed("character outside RFC 3986")
    parts = _ABSOLUTE.fullmatch(uri)
    if parts is None:
        raise RedirectNotAllowed("not an absolute URI")
    scheme = parts["scheme"].lower()
    if scheme not in DEFAULT_PORTS:
        raise RedirectNotAllowed("scheme")
    host, port = _host_and_port(parts["authority"], scheme)
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise RedirectNotAllowed("http is only for localhost, 127.0.0.1 and [::1]")
    path = parts["path"]
    _check_path(path)
    return _Parts(scheme, host, port, path, parts["query"], parts["fragment"])


def _host_and_port(authority: str, scheme: str) -> tuple[str, int]:
    if "@" in authority:
        raise RedirectNotAllowed("user info")
    found = _HOST_PORT.fullmatch(authority)
    if found is None:
        raise RedirectNotAllowed("malformed host")
    host, port = found["host"].lower(), found["port"]
    if not host:
        raise RedirectNotAllowed("missing host")
    if host.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise RedirectNotAllowed("malformed IPv6 address") from None
    elif host.endswith("."):
        raise RedirectNotAllowed("trailing dot")
    elif len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise RedirectNotAllowed("malformed host")
    if port is None:
        return host, DEFAULT_PORTS[scheme]
    if _PORT.fullmatch(port) is None or not 0 < int(port) <= 65535:
        raise RedirectNotAllowed("port")
    return host, int(port)


def _check_path(path: str) -> None:
    if path.startswith("//"):
        raise RedirectNotAllowed("path starts with //")
    if _ENCODED_SEPARATOR.search(path):
        raise RedirectNotAllowed("escaped slash or backslash in the path")
    if any(_DOT_SEGMENT.fullmatch(segment) for segment in path.split("/")):
        raise RedirectNotAllowed("dot segment")


def origin_of(uri: str) -> Origin:
    """(scheme, host, port) of an absolute http(s) URI; raises RedirectNotAllowed when it is not one."""
    parts = _parse(uri)
    return parts.scheme, parts.host, parts.port


def parse_allowlist(value: str) -> tuple[AllowedRedirect, ...]:
    """Comma-separated entries such as "https://app.example.com/auth/callback,http://localhost:3000",
    in the order given, repeats dropped. Raises ValueError naming the first bad entry (settings
    reports it as ALLOWED_REDIRECT_ORIGINS)."""
    entries: dict[AllowedRedirect, None] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            parts = _parse(item)
        except RedirectNotAllowed as exc:
            raise ValueError(f"allowed redirect {item!r} is refused: {exc}") from None
        if parts.query is not None or parts.fragment is not None:
            raise ValueError(f"allowed redirect {item!r} must be scheme://host[:port][/path], without a query or fragment")
        entries.setdefault(AllowedRedirect(parts.scheme, parts.host, parts.port, parts.path.rstrip("/")))
    return tuple(entries)


def _matches(entry: AllowedRedirect, parts: _Parts) -> bool:
    if (entry.scheme, entry.host, entry.port) != (parts.scheme, parts.host, parts.port):
        return False
    return not entry.path or parts.path == entry.path or parts.path.startswith(entry.path + "/")


def check_redirect(uri: str, allowed: Iterable[AllowedRedirect]) -> str:
    """The URI itself, unchanged, when an allowlist entry admits it; raises RedirectNotAllowed."""
    parts = _parse(uri)
    if parts.fragment is not None:
        raise RedirectNotAllowed("fragment")
    if not any(_matches(entry, parts) for entry in allowed):
        raise RedirectNotAllowed("not in allowlist")
    return uri


def default_redirect(allowed: Iterable[AllowedRedirect]) -> str:
    """The first entry as a URI (its path, or "/"), which check_redirect admits; "" when there is none."""
    for entry in allowed:
        port = "" if entry.port == DEFAULT_PORTS[entry.scheme] else f":{entry.port}"
        return f"{entry.scheme}://{entry.host}{port}{entry.path or '/'}"
    return ""
