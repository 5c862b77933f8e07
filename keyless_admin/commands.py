"""The operator's commands on a user pool that runs Keyless: invite, sign-out, unlock, status,
remove-authenticator, remove-passkeys.

Each finds the user by email address and acts through the layer's own code: its stores (the only code
that writes the table), the link CreateAuthChallenge issues, the mailer and its templates, the Cognito
calls the triggers make. Each returns what it did as a dict with nothing secret in it: addresses
masked, no hash, link or code. The same functions run with an operator's AWS credentials
(keyless_admin.aws) and inside the local user pool's process (localpool.server).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from keyless import methods
from keyless.aws.directory import UserDirectory
from keyless.aws.mailer import MaybeSent
from keyless.core.addresses import is_deliverable, mask
from keyless.core.aws_errors import error_code
from keyless.methods import magic_link
from keyless.signin import pseudonyms
from keyless.signin.create import email_fields, proof_fields, reserved_fields, superseded
from keyless.signin.redirects import default_redirect
from keyless.store.profiles import ProfileStore
from keyless.store.sign_in import SECOND_STEP_CODES, WRONG_CODE_BUDGETS, Reserved, wrong_codes_counted

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_cognito_idp.type_defs import AttributeTypeTypeDef

    from keyless.aws.mailer import Mailer
    from keyless.aws.runtime import SignInRuntime

WELCOME = "welcome"  # the email template of an invitation (keyless/aws/email_templates/welcome.*)
MASKED_ID_CHARACTERS = 4  # of a credential id, in status: enough to tell a user's passkeys apart


class AdminError(Exception):
    """A command that cannot be done. `code` names why (the log line's result); the message says it in
    one line the operator can act on, with no address but a masked one."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class KeylessPool:
    """A user pool that runs Keyless, and what the commands act on it with."""

    pool_id: str
    client_id: str  # the app client a welcome link signs in at
    cognito: CognitoIdentityProviderClient
    runtime: SignInRuntime  # built with CreateAuthChallenge's settings: its table, key, sender, templates, limits


@dataclass(frozen=True)
class User:
    name: str  # Cognito's user name (the sub, in a pool whose users sign in with their address)
    attributes: Mapping[str, str]
    status: str
    enabled: bool
    created: datetime | None

    @property
    def sub(self) -> str:
        return self.attributes.get("sub", "")

    @property
    def address(self) -> str:
        return self.attributes.get("email", "")


# --- the commands ---------------------------------------------------------------------------------


def invite(pool: KeylessPool, email: str) -> dict[str, Any]:
    """Create the user without Cognito's own message, then email a welcome link through the sign-in
    emails' templates. The address is not marked verified: the link proves it when it is used (the
    sign-in's first proof, as for any new user). Nothing is created when no email could go."""
    address = _checked(email)
    runtime, settings = pool.runtime, pool.runtime.send_settings
    if not settings.any_browser_links:
        raise AdminError(
            "NoWelcomeLink",
            "this deployment offers no link that opens in any browser (SignInMethods, SameDeviceLinksOnly): "
            "nothing was created; create the user (AdminCreateUser) and let them sign in from the app",
        )
    now = runtime.now()
    suppression = runtime.suppressions.read(pseudonyms.suppression(runtime.pseudonym_key.current(), address))
    if int(suppression.get("expiresAt", 0)) > now:
        raise AdminError(
            "AddressSuppressed",
            f"{mask(address)} gets no email until {magic_link.iso_time(int(suppression['expiresAt']))} "
            f"(a {suppression.get('reason', 'bounce')} SES reported): nothing was created",
        )
    if _lookup(pool, address) is not None:
        raise AdminError("UserExists", f"a user with the address {mask(address)} already exists in {pool.pool_id}")
    mailer = _mailer(runtime)
    user = _create(pool, address)
    UserDirectory(pool.cognito).set_unusable_password(pool.pool_id, user.name)

    shown_as, key = mask(address), runtime.keys.current()  # the link is signed as a sign-in's is
    subject = magic_link.Subject(user.name, user.sub, pool.pool_id, pool.client_id)
    issued = magic_link.issue_link(key, subject, now, settings.link_lifetime_seconds, shown_as)
    fields = {"method": methods.MAGIC_LINK.name, **email_fields(address, shown_as, key, now, settings), **issued.fields}
    removed = superseded(fields)
    send_id = "invite-" + secrets.token_urlsafe(12)
    # No cooldown for an operator (a new user has no item anyway); the write is the one every email
    # makes, so the link is checked as any other and a newer email replaces it.
    outcome = runtime.store.reserve_send(user.sub, send_id, now, 0, fields, removed)
    if not isinstance(outcome, Reserved):
        raise AdminError("EmailNotSent", f"{shown_as} was created in {pool.pool_id}, but another email was being sent to them")
    page = default_redirect(settings.allowed_origins)
    try:
        mailer.send(WELCOME, address, issued.lifetime_seconds, link=f"{page}#{issued.secret}")
        delivered = "sent"
    except MaybeSent:
        delivered = "maybe sent (SES's answer was lost; the link works if it arrives)"
    except Exception as exc:
        runtime.store.release_send(user.sub, send_id, outcome.previous, reserved_fields(fields, removed))
        why = error_code(exc) or type(exc).__name__
        raise AdminError(
            "EmailNotSent",
            f"{shown_as} was created in {pool.pool_id}, but the welcome email was not sent ({why}): they can sign in at {page}",
        ) from None
    return {
        "pool": pool.pool_id,
        "invited": shown_as,
        "sub": user.sub,
        "email": delivered,
        "page": page,
        "linkExpiresAt": magic_link.iso_time(int(fields["linkExpiresAt"])),
    }


def sign_out(pool: KeylessPool, email: str) -> dict[str, Any]:
    """Every pending link and code stops working, then Cognito signs the user out everywhere (its
    refresh tokens and the access tokens from them). In that order: a proof accepted before the first
    step has its tokens revoked by the second."""
    user = find_user(pool, _checked(email))
    runtime = pool.runtime
    now = runtime.now()
    before = runtime.store.revoke_proofs(user.sub, proof_fields(), "revoked-" + secrets.token_urlsafe(12), now)
    pool.cognito.admin_user_global_sign_out(UserPoolId=pool.pool_id, Username=user.name)
    return {
        "pool": pool.pool_id,
        "signedOut": mask(user.address),
        "sub": user.sub,
        "pendingProofsRevoked": len(_pending(before, now)),
    }


def unlock(pool: KeylessPool, email: str) -> dict[str, Any]:
    """The user's wrong-code budgets (the second step's too) start again: they may ask for and answer
    codes at once."""
    user = find_user(pool, _checked(email))
    runtime, budget = pool.runtime, pool.runtime.send_settings.wrong_codes_budget
    key_id, now = pseudonyms.key_id(runtime.pseudonym_key.current()), runtime.now()
    before = runtime.store.clear_wrong_codes(user.sub)
    counted = [budget.recent(wrong_codes_counted(before, key_id, where), now) for where in WRONG_CODE_BUDGETS]
    return {
        "pool": pool.pool_id,
        "unlocked": mask(user.address),
        "sub": user.sub,
        "wrongCodesCleared": sum(map(len, counted)),
        "wasLocked": any(budget.retry_after(times, now) > 0 for times in counted),
    }


def remove_authenticator(pool: KeylessPool, email: str) -> dict[str, Any]:
    """The user's authenticator app goes (a lost phone): they sign in by email again, and may set up
    another. Only after the operator has checked who is asking (README, "Authenticator apps"): whoever
    gets an app removed weakens that account to its email."""
    user = find_user(pool, _checked(email))
    before = pool.runtime.authenticator_apps.remove(user.sub)
    return {
        "pool": pool.pool_id,
        "email": mask(user.address),
        "sub": user.sub,
        "authenticatorAppRemoved": bool(before),
        "wasActive": before.get("status") == "active",
    }


def remove_passkeys(pool: KeylessPool, email: str) -> dict[str, Any]:
    """Every passkey of the user goes (a lost or stolen device), and the management API refuses the
    tokens of every earlier sign-in, first: a token the device holds could register a new passkey.
    Only after the operator has checked who is asking (README, "Operator commands"): whoever gets the
    passkeys removed weakens that account to its email. `sign-out` ends the device's sessions too."""
    user = find_user(pool, _checked(email))
    runtime = pool.runtime
    runtime.store.refuse_earlier_tokens(user.sub, runtime.now())
    removed = runtime.passkeys.delete_all(user.sub)
    return {"pool": pool.pool_id, "email": mask(user.address), "sub": user.sub, "passkeysRemoved": removed}


def _passkeys(runtime: SignInRuntime, sub: str) -> list[dict[str, Any]]:
    """Each passkey's name and times, oldest first: never its key, nor more of its id than a glimpse."""
    return [
        {
            "name": passkey.get("friendlyName", ""),
            "credentialId": str(passkey.get("credentialId", ""))[:MASKED_ID_CHARACTERS] + "***",
            "created": _iso_epoch(passkey.get("createdAt")),
            "lastUsed": _iso_epoch(passkey.get("lastSignIn")),
        }
        for passkey in runtime.passkeys.of_user(sub)
    ]


def _authenticator_app(runtime: SignInRuntime, sub: str) -> dict[str, Any] | None:
    """Whether the user has an app, and since when: never its secret, nor its key."""
    found = runtime.authenticator_apps.read(sub)
    if not found:
        return None
    last_step = found.get("lastUsedStep")
    return {
        "status": found.get("status"),
        "created": _iso_epoch(found.get("createdAt")),
        "confirmed": _iso_epoch(found.get("confirmedAt")),
        "lastCodeAccepted": _iso_epoch(int(last_step) * 30) if isinstance(last_step, int) else None,
    }


def status(pool: KeylessPool, email: str) -> dict[str, Any]:
    """What Cognito and Keyless hold for the user, as far as it is no secret: the account, the newest
    email's pending proofs, the send limits and the wrong-code budget, a suppression, the profile, the
    authenticator app, the passkeys."""
    address = _checked(email)
    user = find_user(pool, address)
    runtime, settings = pool.runtime, pool.runtime.send_settings
    key, now = runtime.pseudonym_key.current(), runtime.now()  # what addresses and counts are keyed under
    item = runtime.store.read(user.sub)
    wrong = settings.wrong_codes_budget
    counted = wrong.recent(wrong_codes_counted(item, pseudonyms.key_id(key)), now)
    second_step = wrong.recent(wrong_codes_counted(item, pseudonyms.key_id(key), SECOND_STEP_CODES), now)
    mailbox = settings.mailbox_budget
    sends = mailbox.recent(list(runtime.store.read_mailbox(pseudonyms.mailbox(key, address)).get("sends", [])), now)
    suppression = runtime.suppressions.read(pseudonyms.suppression(key, address))
    profile = ProfileStore(runtime.dynamodb, settings.table_name).read(user.sub)
    passkeys = _passkeys(runtime, user.sub)
    return {
        "pool": pool.pool_id,
        "sub": user.sub,
        "user": {
            "userName": mask(user.name) if "@" in user.name else user.name,
            "email": mask(user.address),
            "emailVerified": user.attributes.get("email_verified") == "true",
            "status": user.status,
            "enabled": user.enabled,
            "created": _iso(user.created),
        },
        "lastEmail": _when(item, "sentAt", method=item.get("method"), sentTo=item.get("sentTo")),
        "pendingProofs": {name: magic_link.iso_time(until) for name, until in _pending(item, now).items()},
        "lastProof": _when(item, "provenAt", method=item.get("provenMethod")),
        "revokedAt": _iso_epoch(item.get("revokedAt")),
        "nextEmailInSeconds": max(0, int(item.get("sentAt", 0)) + settings.email_cooldown_seconds - now) if item else 0,
        "mailboxEmails": {"inWindow": len(sends), "burst": mailbox.limit, "windowSeconds": mailbox.window_seconds},
        "wrongCodes": {
            "counted": len(counted),
            "limit": wrong.limit,
            "windowSeconds": wrong.window_seconds,
            "lockedForSeconds": wrong.retry_after(counted, now),
            "secondStep": {"counted": len(second_step), "lockedForSeconds": wrong.retry_after(second_step, now)},
        },
        "suppressedUntil": _iso_epoch(suppression.get("expiresAt")) if int(suppression.get("expiresAt", 0)) > now else None,
        "suppressionReason": suppression.get("reason") if int(suppression.get("expiresAt", 0)) > now else None,
        "profile": {k: (mask(v) if k == "email" and isinstance(v, str) else v) for k, v in profile.items()} if profile else None,
        "authenticatorApp": _authenticator_app(runtime, user.sub),
        "passkeyCount": len(passkeys),
        "passkeys": passkeys,
    }


COMMANDS: dict[str, Callable[[KeylessPool, str], dict[str, Any]]] = {
    "invite": invite,
    "sign-out": sign_out,
    "unlock": unlock,
    "status": status,
    "remove-authenticator": remove_authenticator,
    "remove-passkeys": remove_passkeys,
}


def run(pool: KeylessPool, command: str, email: str) -> dict[str, Any]:
    """One command; AdminError for one that cannot be done, or that AWS refused (its error code)."""
    if command not in COMMANDS:
        raise AdminError("UnknownCommand", f"no command {command!r}: {', '.join(COMMANDS)}")
    try:
        return COMMANDS[command](pool, email)
    except ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if email.strip():  # AWS's messages may quote the name: the log line shows it masked
            message = message.replace(email.strip(), mask(email))
        raise AdminError(error_code(exc) or "ClientError", f"{exc.operation_name}: {message}") from None


def _mailer(runtime: SignInRuntime) -> Mailer:
    """The mailer, its templates read: before anything is created, so a folder that is not there
    creates nobody."""
    try:
        return runtime.mailer
    except OSError as exc:
        folder = runtime.send_settings.email_templates_dir
        raise AdminError(
            "TemplatesNotFound", f"the email templates in {folder} cannot be read ({exc.strerror}): pass --templates with a copy"
        ) from None


# --- finding the user -----------------------------------------------------------------------------


def _checked(email: str) -> str:
    """The address as given, trimmed, if it is one a sign-in email can go to."""
    address = email.strip()
    if not is_deliverable(address):
        raise AdminError("InvalidAddress", "not an email address a sign-in email can go to")
    return address


def find_user(pool: KeylessPool, address: str) -> User:
    """The user whose email is `address` (case ignored), or AdminError."""
    user = _lookup(pool, address)
    if user is None:
        raise AdminError("UserNotFound", f"no user with the address {mask(address)} in {pool.pool_id}")
    return user


def _lookup(pool: KeylessPool, address: str) -> User | None:
    """By user name or alias first (a pool whose users sign in with their address), then by the email
    attribute (a pool of plain user names, whose names may be anything, an address included)."""
    try:
        found = pool.cognito.admin_get_user(UserPoolId=pool.pool_id, Username=address)
    except ClientError as exc:
        if error_code(exc) != "UserNotFoundException":
            raise
    else:
        named = _user(found)
        if _same(named.address, address):
            return named
    # _checked addresses hold no quote or backslash, so the filter says exactly this.
    listed = pool.cognito.list_users(UserPoolId=pool.pool_id, Filter=f'email = "{address}"', Limit=2)["Users"]
    matching = [user for user in map(_user, listed) if _same(user.address, address)]
    if len(matching) > 1:
        raise AdminError("SeveralUsers", f"several users have the address {mask(address)} in {pool.pool_id}")
    return matching[0] if matching else None


def _create(pool: KeylessPool, address: str) -> User:
    """AdminCreateUser, sending nothing (MessageAction SUPPRESS); PreSignUp's rules apply."""
    attributes: list[AttributeTypeTypeDef] = [{"Name": "email", "Value": address}]
    try:
        created = pool.cognito.admin_create_user(
            UserPoolId=pool.pool_id, Username=address, UserAttributes=attributes, MessageAction="SUPPRESS"
        )["User"]
    except ClientError as exc:
        code, message = error_code(exc), str(exc.response.get("Error", {}).get("Message", ""))
        if code in ("UsernameExistsException", "AliasExistsException"):
            raise AdminError("UserExists", f"a user with the address {mask(address)} already exists in {pool.pool_id}") from None
        if code == "UserLambdaValidationException":
            raise AdminError(
                "SignUpRefused", f"{pool.pool_id} refused {mask(address)}: {message.replace(address, mask(address))}"
            ) from None
        raise
    return _user(created)


def _user(described: Mapping[str, Any]) -> User:
    """A user as AdminGetUser (UserAttributes), ListUsers or AdminCreateUser (Attributes) describe them."""
    listed = described.get("UserAttributes", described.get("Attributes", []))
    return User(
        described.get("Username", ""),
        {a["Name"]: a.get("Value", "") for a in listed},
        described.get("UserStatus", ""),
        bool(described.get("Enabled", True)),
        described.get("UserCreateDate"),
    )


def _same(stored: str, address: str) -> bool:
    return bool(stored) and pseudonyms.address_form(stored) == pseudonyms.address_form(address)


# --- reading the sign-in item ---------------------------------------------------------------------


def _pending(item: Mapping[str, Any], now: int) -> dict[str, int]:
    """The newest email's proofs that still work: method name -> until when."""
    pending = {name: method.logic().pending_until(dict(item), now) for name, method in methods.METHODS.items()}
    return {name: until for name, until in pending.items() if until}


def _when(item: Mapping[str, Any], field: str, **details: Any) -> dict[str, Any] | None:
    if field not in item:
        return None
    return {"at": _iso_epoch(item[field]), **{k: v for k, v in details.items() if v is not None}}


def _iso_epoch(value: object) -> str | None:
    return magic_link.iso_time(int(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else None
