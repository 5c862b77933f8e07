"""PreSignUp: who may sign up, decided from the address alone. Pure logic, no AWS calls.

The rules (template parameters): allowed domains (empty = any), blocked domains, a blocklist of
disposable-email domains read from a data file the operator can replace, and whether `+` aliases are
accepted. Addresses are trimmed and lower-cased before any comparison, and must be plain ASCII: the
sign-in emails go only to such addresses (addresses.is_deliverable), and refusing everything else
also refuses Unicode look-alikes of allowed domains ("ex\u0430mple.com", with a Cyrillic a). An
internationalised domain is accepted in its ASCII (xn--) form, and configured that way or in Unicode.

A passwordless sign-up is confirmed at once (autoConfirmUser, the AUTO_CONFIRM_SIGN_UP setting: on
for a pool Keyless creates, off by default for an attached one), so the user can sign in straight
away; the address is verified by the first magic link or code that works, never here. Whoever signs
up first with an address keeps nothing: that first proof takes the account back (verify.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from keyless.core import addresses, errors, triggers
from keyless.core.events import TriggerEvent
from keyless.core.observability import count, logger
from keyless.core.settings import ConfigurationError
from keyless.core.settings.sign_up import AddressRuleSettings, SignUpSettings

# Cognito ignores the auto* flags for AdminCreateUser (the user confirms through the invitation).
AUTO_CONFIRMED_SOURCES = (triggers.SIGN_UP, triggers.EXTERNAL_PROVIDER)

BUNDLED_DISPOSABLE_DOMAINS = Path(__file__).resolve().parent / "data" / "disposable_domains.txt"


class SignUpRefused(errors.UserFacingError):
    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason  # for the log line and the metric only


def normalize_domain(raw: str) -> str:
    """A configured domain in the form addresses are compared in: lower-case ASCII (IDNA for Unicode)."""
    domain = raw.strip().lower().lstrip("@").rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ConfigurationError(f"{raw!r} is not a valid domain") from exc
    if not domain or any(not label or len(label) > 63 for label in domain.split(".")) or " " in domain:
        raise ConfigurationError(f"{raw!r} is not a valid domain")
    return domain


@functools.cache
def load_domain_file(path: str) -> frozenset[str]:
    """One domain a line; blank lines and lines starting with # are skipped. Read once per container."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"disposable domain list {path} cannot be read") from exc
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return frozenset(normalize_domain(line) for line in lines if line)


@dataclass(frozen=True)
class SignUpRules:
    allowed_domains: frozenset[str] = frozenset()  # exact domains; empty (and no suffixes) = any
    allowed_suffixes: tuple[str, ...] = ()  # from "*.example.com": any subdomain of example.com
    blocked_domains: frozenset[str] = frozenset()  # these and their subdomains
    disposable_domains: frozenset[str] = frozenset()  # these and their subdomains
    allow_plus_aliases: bool = True
    auto_confirm: bool = True  # confirm sign-ups at once (off: the pool's own confirmation applies)

    @classmethod
    def from_settings(cls, rules: AddressRuleSettings) -> SignUpRules:
        allowed, suffixes = set(), []
        for entry in rules.allowed_domains:
            if entry.startswith("*."):
                suffixes.append("." + normalize_domain(entry[2:]))
            else:
                allowed.add(normalize_domain(entry))
        disposable: frozenset[str] = frozenset()
        if rules.block_disposable:
            disposable = load_domain_file(rules.disposable_domains_file or str(BUNDLED_DISPOSABLE_DOMAINS))
        return cls(
            allowed_domains=frozenset(allowed),
            allowed_suffixes=tuple(suffixes),
            blocked_domains=frozenset(normalize_domain(d) for d in rules.blocked_domains),
            disposable_domains=disposable,
            allow_plus_aliases=rules.allow_plus_aliases,
            auto_confirm=isinstance(rules, SignUpSettings) and rules.auto_confirm,
        )


@functools.cache
def default_rules() -> SignUpRules:
    """PreSignUp's rules, read once per container."""
    return SignUpRules.from_settings(SignUpSettings.from_env())


@functools.cache
def address_rules() -> SignUpRules:
    """The address rules alone (CreateAuthChallenge applies them at every sign-in), read once per container."""
    return SignUpRules.from_settings(AddressRuleSettings.from_env())


def _listed(domain: str, listed: Iterable[str]) -> bool:
    """The domain or a parent of it is listed (mail.mailinator.com counts as mailinator.com; "ru" as every .ru)."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in listed for i in range(len(labels)))


def check_address(raw: str, rules: SignUpRules) -> str:
    """The address as compared (trimmed, lower-case), or SignUpRefused with a message for the user."""
    address = addresses.normalized(raw)
    if not address.isascii() or not addresses.is_deliverable(address):
        raise SignUpRefused(errors.INVALID_EMAIL, "invalid_address")
    local, _, domain = address.rpartition("@")
    allow_listed = rules.allowed_domains or rules.allowed_suffixes
    if allow_listed and domain not in rules.allowed_domains and not domain.endswith(rules.allowed_suffixes):
        raise SignUpRefused(errors.DOMAIN_NOT_ALLOWED, "domain_not_allowed")
    if _listed(domain, rules.blocked_domains):
        raise SignUpRefused(errors.DOMAIN_NOT_ALLOWED, "domain_blocked")
    if _listed(domain, rules.disposable_domains):
        raise SignUpRefused(errors.DISPOSABLE_EMAIL, "disposable_domain")
    if "+" in local and not rules.allow_plus_aliases:
        raise SignUpRefused(errors.PLUS_ALIAS, "plus_alias")
    return address


def decide(event: TriggerEvent, rules: SignUpRules) -> dict:
    """The PreSignUp response, or SignUpRefused. Every trigger source gets the same rules."""
    check_address(event.email, rules)
    return {
        "autoConfirmUser": rules.auto_confirm and event.trigger_source in AUTO_CONFIRMED_SOURCES,
        "autoVerifyEmail": False,  # the first working link or code verifies the address
        "autoVerifyPhone": False,
    }


def pre_sign_up(event: TriggerEvent) -> dict:
    """PreSignUp's response to this event (or SignUpRefused), its outcome counted."""
    try:
        response = decide(event, default_rules())
    except SignUpRefused as refused:
        count("SignUpRefused", reason=refused.reason)
        logger.info("sign-up refused", extra={"reason": refused.reason, "source": event.trigger_source})
        raise
    count("SignUpAccepted")
    return response
