"""How a user appears in logs, in the table and in emails, without exposing the address.

Which addresses get an email (`is_deliverable`, checked by PreSignUp and by the mailer before every
send): one plain address that SES and the mail systems behind it deliver as written, never one they
would decode, reroute or read as something else. Accepted, and nothing more:

- `local@domain`, exactly one "@", 7-bit ASCII only, at most 254 characters (RFC 5321's path limit).
- The local part is a dot-atom (RFC 5322) of 1-64 characters: letters, digits and
  ``#$&'*+-/=?^_`{|}~``, in runs separated by single dots (no leading, trailing or doubled dot).
  Refused although RFC 5322 allows them: quoted strings (`"a b"@x.com`) and comments (`a(c)@x.com`),
  which mail software strips or rewrites; RFC 2047 encoded words (any "=?" or "?="), which decode
  into another address (`=?utf-8?b?...?=@x.com`); "%" and "!", the percent hack and UUCP bang paths
  some mail relays still follow (`victim%evil.com@corp.com` would be mail for corp.com delivered to
  evil.com, a way round SignUpAllowedDomains).
- The domain is at least two labels of 1-63 letters, digits and hyphens, no label starting or ending
  with a hyphen, at most 253 characters, no trailing dot (`x.com.` would compare unequal to `x.com`
  in the allow- and blocklists); the top-level label has 2 or more characters and is not all digits.
  So no IP literals (`a@[127.0.0.1]`), no bare IP addresses or single labels (`a@localhost`), no
  empty labels (`a@.corp.com` is not a subdomain of corp.com). An internationalised domain is
  accepted in its ASCII (xn--) form only; Unicode dots such as "。" are non-ASCII and refused.
- No whitespace, control characters (CR, LF, NUL, ...), display names, angle brackets or a second
  address, so nothing can add a header or a recipient.

Case is left alone here (PreSignUp lower-cases before checking; Cognito compares user names
case-insensitively).
"""

from __future__ import annotations

import re

MAX_ADDRESS_LENGTH = 254  # RFC 5321: a path is at most 256 octets, angle brackets included
MAX_LOCAL_LENGTH = 64
MAX_DOMAIN_LENGTH = 253
_ATEXT = r"[A-Za-z0-9#$&'*+\-/=?^_`{|}~]"  # RFC 5322 atext without "!" and "%"
_LOCAL_PART = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_ENCODED_WORD_MARKS = ("=?", "?=")


def normalized(user_name: str) -> str:
    """Cognito user names are case-insensitive by default; the same person must hit the same limit."""
    return user_name.strip().lower()


def is_deliverable(address: str) -> bool:
    """A plain single address mail software delivers as written (the rules: this module's docstring)."""
    if not isinstance(address, str) or not address.isascii() or len(address) > MAX_ADDRESS_LENGTH:
        return False
    local, at, domain = address.rpartition("@")
    return bool(at) and _is_plain_local_part(local) and _is_host_name(domain)


def _is_plain_local_part(local: str) -> bool:
    """A dot-atom of at most 64 characters that no mail software decodes (no encoded word)."""
    return (
        len(local) <= MAX_LOCAL_LENGTH
        and _LOCAL_PART.fullmatch(local) is not None
        and not any(mark in local for mark in _ENCODED_WORD_MARKS)
    )


def _is_host_name(domain: str) -> bool:
    """Two or more LDH labels, no empty one (so no leading, trailing or doubled dot), and a top-level
    label of 2+ characters that is not all digits (which would make the whole an IP address)."""
    labels = domain.split(".")
    if len(domain) > MAX_DOMAIN_LENGTH or len(labels) < 2:
        return False
    if not all(_LABEL.fullmatch(label) for label in labels):
        return False
    top = labels[-1]
    return len(top) >= 2 and not top.isdigit()


def mask(address: str) -> str:
    """j***@e***.com: enough for the user to recognise the address, too little to harvest it."""
    local, at, domain = normalized(address).rpartition("@")
    if not at or not local or not domain:
        return "***"
    name, dot, tld = domain.rpartition(".")
    masked_domain = f"{name[:1]}***.{tld}" if dot and name else "***"
    return f"{local[:1]}***@{masked_domain}"
