"""The authenticator-app routes of the management API (all POST, behind the JWT authorizer):

  /authenticator-app/start     a fresh sign-in of a proved address (email_verified): a new secret,
                               pending until confirmed (it replaces a pending one; refused while one
                               is active): {secret, otpauthUri, qrCodeSvg}
  /authenticator-app/confirm   {code}, a proved address: the first code from the app makes it active
                               (a wrong code counts against the user's wrong-code budget, as at sign-in)
  /authenticator-app/remove    a fresh sign-in: the app goes, active or pending: {removed}
  /authenticator-app/status    {status: none | pending | active, confirmedAt?}

The owner is always the token's `sub`; nothing in a request names a user. The secret is sealed
(keyless.methods.authenticator_app) before it is stored; the start answer is the one place it is
shown, for the user to scan or type. The QR code is drawn by segno, loaded only by the start route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless.account.errors import bad_request, not_found
from keyless.account.http import Request, Response, signed_in
from keyless.account.passkeys import iso_time
from keyless.core.observability import count, logger
from keyless.methods import authenticator_app as app
from keyless.signin import pseudonyms
from keyless.store.authenticator_apps import ACTIVE, PENDING

if TYPE_CHECKING:
    from keyless.account.caller import Caller
    from keyless.core.settings.authenticator_apps import AuthenticatorAppSettings

ALREADY_SET_UP = "An authenticator app is already set up: remove it first"
NOTHING_TO_CONFIRM = "No authenticator app is being set up"
WRONG_CODE = "Wrong code"
CODE_SHAPE = "code must be the 6 digits the app shows"
CODES_LOCKED = "Too many wrong codes. Try again later"
QR_TITLE = "Authenticator app setup code"
QR_SCALE = 4  # pixels a module: a 41-module code (an otpauth URI's usual size) is about 180 px wide


def _settings(request: Request) -> AuthenticatorAppSettings:
    settings = request.runtime.authenticator_app_settings
    if not settings.enabled:
        raise not_found()  # the API serves another method (authenticator apps are off): these routes do not exist
    return settings


def start(caller: Caller | None, request: Request) -> Response:
    user = signed_in(caller)
    settings = _settings(request)
    user.require_fresh(settings, request.now)
    user.require_verified_address()
    runtime = request.runtime
    if runtime.account_authenticator_apps.read(user.sub).get("status") == ACTIVE:
        raise bad_request(ALREADY_SET_UP)
    secret = app.new_secret()
    sealed = app.seal(secret, user.sub, *runtime.account_authenticator_keys.current())
    if not runtime.account_authenticator_apps.begin(user.sub, sealed, request.now):
        raise bad_request(ALREADY_SET_UP)  # confirmed meanwhile
    uri = app.provisioning_uri(secret, user.email or user.username, settings.app_name)
    count("AuthenticatorAppStarted")
    logger.info("authenticator app setup begun", extra={"user": user.sub})
    return Response(200, {"secret": secret, "otpauthUri": uri, "qrCodeSvg": _qr_svg(uri)})


def _qr_svg(uri: str) -> str:
    """A standalone SVG document (namespace declared, no XML declaration): fit for an <img> as for markup."""
    import io

    import segno

    drawn = io.BytesIO()
    segno.make(uri, error="m").save(drawn, kind="svg", scale=QR_SCALE, xmldecl=False, svgns=True, nl=False, title=QR_TITLE)
    return drawn.getvalue().decode()


def confirm(caller: Caller | None, request: Request) -> Response:
    user = signed_in(caller)
    settings = _settings(request)
    user.require_signed_in_since_revocation()
    user.require_verified_address()
    code = request.json().get("code")
    code = app.normalize_answer(code) if isinstance(code, str) else None
    if code is None:
        raise bad_request(CODE_SHAPE)
    runtime = request.runtime
    found = runtime.account_authenticator_apps.read(user.sub).get("status")
    if found != PENDING:
        raise bad_request(ALREADY_SET_UP if found == ACTIVE else NOTHING_TO_CONFIRM)
    count_key = pseudonyms.key_id(runtime.account_pseudonym_key.current())
    check = app.CodeCheck(
        runtime.account_authenticator_apps,
        runtime.account_sign_in_store,
        runtime.account_authenticator_keys,
        count_key,
        settings.wrong_codes_budget,
    )
    checked = app.check_code(check, user.sub, code, request.now, PENDING)
    if checked.refused == "too_many_wrong_codes":
        raise bad_request(CODES_LOCKED)
    if checked.refused:
        raise bad_request(WRONG_CODE)
    if not runtime.account_authenticator_apps.activate(user.sub, str(checked.app["nonce"]), checked.step, request.now):
        raise bad_request(NOTHING_TO_CONFIRM)  # replaced or removed meanwhile
    count("AuthenticatorAppConfirmed")
    logger.info("authenticator app set up", extra={"user": user.sub})
    return Response(200, {"status": ACTIVE})


def remove(caller: Caller | None, request: Request) -> Response:
    user = signed_in(caller)
    settings = _settings(request)
    user.require_fresh(settings, request.now)
    removed = bool(request.runtime.account_authenticator_apps.remove(user.sub))
    if removed:
        count("AuthenticatorAppRemoved")
        logger.info("authenticator app removed", extra={"user": user.sub})
    return Response(200, {"removed": removed})


def status(caller: Caller | None, request: Request) -> Response:
    user = signed_in(caller)
    _settings(request)
    user.require_signed_in_since_revocation()
    found = request.runtime.account_authenticator_apps.read(user.sub)
    shown: dict[str, Any] = {"status": found.get("status", "none")}
    if found.get("confirmedAt"):
        shown["confirmedAt"] = iso_time(int(found["confirmedAt"]))
    return Response(200, shown)


ROUTES = {
    "POST /authenticator-app/start": start,
    "POST /authenticator-app/confirm": confirm,
    "POST /authenticator-app/remove": remove,
    "POST /authenticator-app/status": status,
}
