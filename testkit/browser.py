"""The headless browser the demo-page tests drive: Debian's Chromium, as playwright launches it here
(playwright's own download does not work on these machines; .ci/run installs the package), its
virtual authenticators for passkeys, and pages served from an origin of their own."""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# --- the demo page (localpool/static) ------------------------------------------------------------------


def claim_rows(page: Page, table: str) -> dict[str, str]:
    """A claims table of the signed-in page: claim -> value as shown."""
    rows = page.locator(f"#{table} tbody tr")
    return {
        rows.nth(i).locator("td").nth(0).inner_text().split()[0]: rows.nth(i).locator("td").nth(1).inner_text()
        for i in range(rows.count())
    }


# --- passkeys: Chrome's virtual authenticators (DevTools Protocol, WebAuthn domain) --------------------

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


class VirtualAuthenticator:
    """A platform authenticator (user verification on, discoverable credentials) for one page, driven
    through playwright's CDP session: what navigator.credentials uses on that page from then on."""

    def __init__(self, page: Page) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        self.id = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        """Its credentials as CDP gives them (credentialId, privateKey, userHandle base64; rpId; signCount)."""
        return list(self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"])

    def add(self, credential: dict[str, Any], **changes: Any) -> None:
        """Copy a credential into this authenticator (a clone of another device's), changed as given (signCount=...)."""
        copied = {
            k: credential[k] for k in ("credentialId", "isResidentCredential", "rpId", "privateKey", "userHandle", "signCount")
        }
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": {**copied, **changes}})


class StaticSite:
    """Pages on 127.0.0.1 on a port of their own (another origin than the pool's): path -> (content type,
    bytes), or a function of the path for a whole folder. Serves GET only."""

    def __init__(self, pages: Callable[[str], tuple[str, bytes] | None]) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = site.pages(urlsplit(self.path).path)
                status, (content_type, body) = (200, found) if found else (404, ("text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.pages = pages
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def url(self, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
