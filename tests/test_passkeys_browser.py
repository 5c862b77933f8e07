"""Passkeys in headless Chromium against the served local pool (Passkeys=Enabled, as `make dev` runs
it), each page with a virtual authenticator of Chrome's DevTools Protocol (testkit.browser):

- the demo page: register, sign in (the token says passkey), list, rename, remove, sign in after the
  removal fails, usernameless sign-in; and the attacks: a cloned authenticator (its counter behind the
  original's), another user's credential answering for someone else, the same page served from an
  origin Keyless does not allow (the browser signs for it; Keyless refuses);
- AWS's npm client (amazon-cognito-passwordless-auth 0.17.0, its dist/client files served to a page with
  an import map) unchanged: fido2CreateCredential, fido2ListCredentials, fido2UpdateCredential,
  fido2DeleteCredential, authenticateWithFido2 with a user name and without.

One browser, one pool and two other sites for the module: the npm client's page (an allowed origin)
and "elsewhere" (the demo page, proxied from the pool, on an origin the pool's Cognito endpoint lets in
but Keyless does not allow for passkeys). Browsers refuse passkeys on an IP address: every page is on
localhost, the relying party the local pool chooses."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from moto import mock_aws
from playwright.sync_api import expect

from testkit.browser import StaticSite, VirtualAuthenticator, claim_rows
from testkit.clients import signed_in_with_code
from testkit.clock import Clock
from testkit.deployment import served_pool
from testkit.mail import code_in, newest_local_mail

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
NPM_CLIENT = ROOT / "clients" / "aws-passwordless" / "node_modules" / "amazon-cognito-passwordless-auth" / "dist" / "client"
NPM_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>npm client</title>
<script type="importmap">{"imports": {"amazon-cognito-passwordless-auth": "/npm/index.js", "amazon-cognito-passwordless-auth/": "/npm/"}}</script>
<script type="module">
import { Passwordless } from "amazon-cognito-passwordless-auth";
import * as fido2 from "amazon-cognito-passwordless-auth/fido2.js";
import { storeTokens } from "amazon-cognito-passwordless-auth/storage.js";
window.npm = { Passwordless, storeTokens, ...fido2 };
document.title = "ready";
</script></head><body>An app on AWS's passwordless client</body></html>"""


def npm_pages(path: str) -> tuple[str, bytes] | None:
    """The npm client's page, and its published dist/client files (read from node_modules, never copied)."""
    if path == "/":
        return "text/html; charset=utf-8", NPM_PAGE
    name = path.removeprefix("/npm/")
    found = NPM_CLIENT / name
    if path.startswith("/npm/") and re.fullmatch(r"[a-z0-9-]+\.js", name) and found.is_file():
        return "text/javascript; charset=utf-8", found.read_bytes()
    return None


@pytest.fixture(scope="module")
def sites():
    npm, elsewhere = StaticSite(npm_pages), StaticSite(lambda path: None)
    yield npm, elsewhere
    npm.close()
    elsewhere.close()


@pytest.fixture(scope="module")
def server(pool_state_dir, sites):
    """The pool as `make dev` runs it (Passkeys=Enabled), with the npm client's page among its allowed
    origins; the elsewhere site may call its Cognito endpoint (--cors-origin) but is no passkey origin."""
    npm, elsewhere = sites
    parameters = {"Passkeys": "Enabled", "AllowedRedirectOrigins": npm.url()}
    options = {"parameters": parameters, "clock": Clock(start=time.time()), "cors_origins": [npm.url(), elsewhere.url()]}
    with mock_aws(), served_pool(pool_state_dir, **options) as served:

        def proxied(path: str) -> tuple[str, bytes] | None:
            try:
                with urllib.request.urlopen(served.url + path) as answer:
                    return answer.headers["Content-Type"], answer.read()
            except urllib.error.HTTPError:
                return None

        elsewhere.pages = proxied
        yield served


@pytest.fixture
def demo(server, contexts):
    """open(origin=None) -> (page, authenticator): the demo page at http://localhost:<pool port>/ (or
    the origin given) in a new browser with a virtual authenticator of its own."""

    def open_page(origin: str | None = None):
        page = contexts().new_page()
        authenticator = VirtualAuthenticator(page)
        page.goto((origin or local(server)) + "/")
        page.wait_for_selector("#start:not([hidden])")
        return page, authenticator

    return open_page


def local(server) -> str:
    return server.url.replace("127.0.0.1", "localhost")


def signed_up_and_in(page, server, email: str) -> None:
    """Create an account on the page and sign in with the emailed code (which verifies the address)."""
    page.fill("#email", email)
    page.click("#sign-up")
    page.wait_for_selector("#message.ok")
    page.click("#ask-code")
    page.wait_for_selector("#code:not([hidden])")
    page.fill("#code-input", code_in(newest_local_mail(server.pool, email)))
    page.click("#submit-code")
    page.wait_for_selector("#signed-in:not([hidden])")


def add_passkey(page, name: str) -> None:
    """Add a passkey on the signed-in page; its message comes once the list shows it."""
    page.fill("#passkey-name", name)
    page.click("#add-passkey")
    expect(page.locator("#message.ok")).to_have_text("Passkey added: next time, sign in with it.")


def passkey_names(page) -> list[str]:
    return page.locator("#passkey-list .passkey-name").all_inner_texts()


def sign_out(page) -> None:
    page.click("#sign-out")
    page.wait_for_selector("#start:not([hidden])")


def passkey_sign_in(page, email: str = "") -> bool:
    """Sign in with a passkey on the page (the email typed, or none): whether it signed in."""
    page.fill("#email", email)
    page.click("#passkey-sign-in")  # hides any earlier message at once
    page.wait_for_function("() => !document.getElementById('signed-in').hidden || !document.getElementById('message').hidden")
    return page.locator("#signed-in").is_visible()


def rejections(log_lines) -> list[str]:
    """The reasons VerifyAuthChallengeResponse logged for the answers it refused."""
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines() if '"answer rejected"' in line]
    return [line["reason"] for line in lines]


NONE_USED = "No passkey was used: the prompt was closed or timed out, or this device holds no passkey for this account."
REFUSED = "This passkey was not accepted: it may have been removed, or be for another account. Sign in with an email link or code instead."


def test_a_passkey_added_on_the_page_signs_in_then_is_renamed_and_removed(server, demo, log_lines):
    page, authenticator = demo()
    email = "pk-page@example.com"
    signed_up_and_in(page, server, email)
    assert page.locator("#passkeys").is_visible()
    page.wait_for_selector("#passkeys-empty:not([hidden])")  # the list, loaded: none yet
    add_passkey(page, "  Laptop ")
    assert passkey_names(page) == ["Laptop"]
    (credential,) = authenticator.credentials()
    assert credential["rpId"] == "localhost" and credential["isResidentCredential"] is True
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#passkeys").screenshot(path=str(ARTIFACTS / "demo-passkeys.png"))

    sign_out(page)
    mails = len(server.pool.mailbox.messages())
    assert passkey_sign_in(page, email)
    id_claims = claim_rows(page, "id-claims")
    assert id_claims["sign_in_method"] == "passkey" and id_claims["email"] == email
    assert len(server.pool.mailbox.messages()) == mails  # no email
    expect(page.locator("#passkey-list .hint")).to_contain_text("last used")

    page.click("#passkey-list button[aria-label='Rename Laptop']")
    page.fill("#passkey-list input", "Work laptop")
    page.click("#passkey-list button[type=submit]")
    expect(page.locator("#message.ok")).to_have_text("Passkey renamed.")
    assert passkey_names(page) == ["Work laptop"]

    page.click("#passkey-list button[aria-label='Remove Work laptop']")
    expect(page.locator("#message.ok")).to_have_text('Passkey "Work laptop" removed: it no longer signs in.')
    assert passkey_names(page) == [] and page.locator("#passkeys-empty").is_visible()

    sign_out(page)
    # With the email: Keyless no longer offers it, so the browser finds no passkey to use.
    assert not passkey_sign_in(page, email)
    assert page.inner_text("#message") == NONE_USED
    # Without: the authenticator still holds it and answers; Keyless refuses it.
    assert not passkey_sign_in(page)
    assert page.inner_text("#message") == REFUSED
    assert rejections(log_lines) == ["unknown_credential"]


def test_usernameless_sign_in_on_the_page(server, demo):
    page, _ = demo()
    email = "pk-usernameless@example.com"
    signed_up_and_in(page, server, email)
    add_passkey(page, "Phone")
    sign_out(page)
    assert passkey_sign_in(page)  # no email typed: the passkey names its user
    id_claims = claim_rows(page, "id-claims")
    assert id_claims["email"] == email and id_claims["sign_in_method"] == "passkey"


def test_a_cloned_authenticator_whose_counter_is_behind_is_refused(server, demo, log_lines):
    page, original = demo()
    email = "pk-cloned@example.com"
    signed_up_and_in(page, server, email)
    add_passkey(page, "Security key")
    (registered,) = original.credentials()
    for _ in range(2):  # the original is used: its counter, and Keyless's record of it, move on
        sign_out(page)
        assert passkey_sign_in(page, email)
    assert original.credentials()[0]["signCount"] == registered["signCount"] + 2

    clone_page, clone = demo()
    clone.add(registered)  # copied when it was registered: one use behind the original now
    assert not passkey_sign_in(clone_page, email)
    assert clone_page.inner_text("#message") == REFUSED
    assert rejections(log_lines) == ["sign_count"]

    sign_out(page)
    assert passkey_sign_in(page, email)  # the original still works: the refusal recorded nothing


# Bob's credential, from an authenticator that holds it, answering Mallory's sign-in: the page's own
# web kit, with the browser asked for any passkey of the site (as an attacker's script would).
ANSWER_FOR = """async ({ email, withHandle }) => {
  const { Keyless } = await import("/static/keyless.js");
  const config = await (await fetch("/local-pool.json")).json();
  const kit = new Keyless({ endpoint: config.endpoint, clientId: config.clientId });
  const round = await kit.call("InitiateAuth", { ClientId: config.clientId, AuthFlow: "CUSTOM_AUTH", AuthParameters: { USERNAME: email } });
  const options = JSON.parse(round.ChallengeParameters.fido2options);
  const bytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - (text.length % 4)) % 4)), (c) => c.charCodeAt(0));
  const text = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/[+]/g, "-").replace(/[/]/g, "_").replace(/=+$/, "");
  const credential = await navigator.credentials.get({ publicKey: { challenge: bytes(options.challenge), rpId: options.relyingPartyId, allowCredentials: [], userVerification: "required" } });
  const { response } = credential;
  const answer = {
    credentialIdB64: text(credential.rawId), authenticatorDataB64: text(response.authenticatorData),
    clientDataJSON_B64: text(response.clientDataJSON), signatureB64: text(response.signature),
    userHandleB64: withHandle ? text(response.userHandle) : null,
  };
  try {
    const result = await kit.call("RespondToAuthChallenge", {
      ClientId: config.clientId, ChallengeName: "CUSTOM_CHALLENGE", Session: round.Session,
      ChallengeResponses: { USERNAME: round.ChallengeParameters.USERNAME, ANSWER: JSON.stringify(answer) },
      ClientMetadata: { signInMethod: "FIDO2" },
    });
    return result.AuthenticationResult ? "signed in" : "another round";
  } catch (error) {
    return `${error.type}: ${error.message}`;
  }
}"""


def test_another_users_passkey_cannot_sign_in_someone_else(server, demo, log_lines):
    bob_page, bob_authenticator = demo()
    signed_up_and_in(bob_page, server, "pk-bob@example.com")
    add_passkey(bob_page, "Bob's laptop")
    mallory_page, mallory_authenticator = demo()
    signed_up_and_in(mallory_page, server, "pk-mallory@example.com")
    add_passkey(mallory_page, "Mallory's laptop")
    sign_out(mallory_page)

    # Mallory's browser holds Bob's passkey only (copied), and answers Mallory's sign-in with it.
    (bobs,) = bob_authenticator.credentials()
    (mallorys,) = mallory_authenticator.credentials()
    mallory_authenticator.cdp.send(
        "WebAuthn.removeCredential", {"authenticatorId": mallory_authenticator.id, "credentialId": mallorys["credentialId"]}
    )
    mallory_authenticator.add(bobs)
    for with_handle in (True, False):
        outcome = mallory_page.evaluate(ANSWER_FOR, {"email": "pk-mallory@example.com", "withHandle": with_handle})
        assert outcome == "NotAuthorizedException: Incorrect username or password."
    # Looked up under Mallory's sub (the same read for every user, before the handle is compared): not hers.
    assert rejections(log_lines) == ["unknown_credential", "unknown_credential"]
    sign_out(bob_page)
    assert passkey_sign_in(bob_page)  # Bob's own sign-in with it is untouched
    assert claim_rows(bob_page, "id-claims")["email"] == "pk-bob@example.com"


def test_the_page_served_from_an_origin_keyless_does_not_allow_is_refused(server, demo, sites, log_lines):
    """The browser signs for the page's origin (http://localhost:<another port>: the relying party
    localhost suits it), the pool's endpoint lets the page in (--cors-origin): Keyless's own origin
    check refuses the answer."""
    _, elsewhere = sites
    page, authenticator = demo()
    email = "pk-origin@example.com"
    signed_up_and_in(page, server, email)
    add_passkey(page, "Laptop")
    (credential,) = authenticator.credentials()

    other_page, other = demo(elsewhere.url())
    other.add(credential)
    assert not passkey_sign_in(other_page, email)
    assert other_page.inner_text("#message") == REFUSED
    assert rejections(log_lines) == ["wrong_origin"]
    sign_out(page)
    assert passkey_sign_in(page, email)  # on its own origin the same passkey signs in


def test_the_page_on_127_0_0_1_sends_passkey_users_to_localhost(server, contexts):
    page = contexts().new_page()
    page.goto(server.url + "/")
    page.wait_for_selector("#start:not([hidden])")
    assert not page.locator("#passkey-start").is_visible()
    assert page.locator("#passkey-elsewhere-link").get_attribute("href") == local(server) + "/"


def test_a_deployed_pools_management_api_is_named_in_the_address(server, contexts):
    """?region=&clientId=&managementApiUrl=: the page offers passkeys against a deployed pool's API
    (https only); nothing is called until the person acts."""
    page = contexts().new_page()
    query = f"?region=us-east-1&clientId={server.pool.client_id}"
    page.goto(f"{local(server)}/{query}&managementApiUrl=https://abc123.execute-api.us-east-1.amazonaws.com")
    page.wait_for_selector("#start:not([hidden])")
    assert page.locator("#passkey-start").is_visible()
    page.goto(f"{local(server)}/{query}&managementApiUrl=http://evil.example.com")
    expect(page.locator("#message")).to_have_text("managementApiUrl is the stack's ManagementApiUrl output (https://...).")
    assert not page.locator("#passkey-start").is_visible()


# --- AWS's npm client, unchanged ------------------------------------------------------------------------


@pytest.fixture
def npm_page(server, sites, contexts):
    """The npm client's page (an allowed origin) with a virtual authenticator, configured for the pool."""
    npm, _ = sites
    page = contexts().new_page()
    authenticator = VirtualAuthenticator(page)
    page.goto(npm.url() + "/")
    page.wait_for_function("document.title === 'ready'")
    config = {
        "clientId": server.pool.client_id,
        "userPoolId": server.pool.pool_id,
        "cognitoIdpEndpoint": server.url + "/",
        "fido2": {"baseUrl": server.pool.management_api_url, "rp": {"id": "localhost", "name": "Keyless"}},
    }
    page.evaluate("config => window.npm.Passwordless.configure(config)", config)
    return page, authenticator


def npm_signed_in(page, server, email: str) -> None:
    """The app's user signed in (tokens from an emailed code, stored where the npm client keeps them)."""
    tokens = signed_in_with_code(server, email)
    page.evaluate(
        """t => window.npm.storeTokens({ idToken: t.IdToken, accessToken: t.AccessToken, refreshToken: t.RefreshToken,
             expireAt: new Date(Date.now() + 3600000) })""",
        tokens,
    )


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_npm_clients_passkey_management_works_against_keyless(server, npm_page):
    page, authenticator = npm_page
    npm_signed_in(page, server, "npm-manage@example.com")
    created = page.evaluate(
        """async () => {
          const made = await window.npm.fido2CreateCredential({ friendlyName: "npm laptop" });
          return { ...made, createdAt: made.createdAt.toISOString() };
        }"""
    )
    (credential,) = authenticator.credentials()
    assert created["friendlyName"] == "npm laptop"
    assert created["credentialId"] == credential["credentialId"].replace("+", "-").replace("/", "_").rstrip("=")

    listed = page.evaluate(
        "async () => (await window.npm.fido2ListCredentials()).authenticators.map(a => [a.credentialId, a.friendlyName, a.createdAt instanceof Date])"
    )
    assert listed == [[created["credentialId"], "npm laptop", True]]
    page.evaluate(
        "id => window.npm.fido2UpdateCredential({ credentialId: id, friendlyName: 'renamed by npm' })", created["credentialId"]
    )
    assert page.evaluate("async () => (await window.npm.fido2ListCredentials()).authenticators.map(a => a.friendlyName)") == [
        "renamed by npm"
    ]
    status = page.evaluate(
        "async id => (await window.npm.fido2DeleteCredential({ credentialId: id })).status", created["credentialId"]
    )
    assert status == 204
    assert page.evaluate("async () => (await window.npm.fido2ListCredentials()).authenticators") == []


def test_the_npm_clients_passkey_sign_in_works_against_keyless_with_a_user_name_and_without(server, npm_page):
    page, _ = npm_page
    email = "npm-sign-in@example.com"
    npm_signed_in(page, server, email)
    page.evaluate("() => window.npm.fido2CreateCredential({ friendlyName: 'npm key' })")
    for username in (email, None):
        tokens = page.evaluate(
            """async username => {
              const statuses = [];
              const tokens = await window.npm.authenticateWithFido2({ username: username ?? undefined, statusCb: s => statuses.push(s) }).signedIn;
              return { idToken: tokens.idToken, statuses };
            }""",
            username,
        )
        assert tokens["statuses"] == ["STARTING_SIGN_IN_WITH_FIDO2", "COMPLETING_SIGN_IN_WITH_FIDO2", "SIGNED_IN_WITH_FIDO2"]
        signed = claims(tokens["idToken"])
        assert signed["email"] == email and signed["sign_in_method"] == "passkey", username
