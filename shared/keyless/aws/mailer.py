"""Sign-in emails through SES v2: plain text and HTML from templates an operator can replace.

Templates are `string.Template` files named <kind>.subject.txt, <kind>.txt and <kind>.html in
EMAIL_TEMPLATES_DIR (default: email_templates/ beside this file), with the placeholders $app_name,
$link and/or $code, $expires_in_minutes (and in magic_link_code $code_expires_in_minutes) and $fallback. The kinds: magic_link (a link), magic_link_code
(a link, and a code for the window that asked; a replaced folder without it uses email_otp's), email_otp (a
code and a link, so an owner whose own requests are rate-limited by someone else's can still use the
newest email), email_otp_only (a code, when links are not offered), welcome (an operator's invitation
with a link, keyless_admin; a replaced folder without it uses magic_link's). $fallback is the `fallback` part
(with $default_link) when the link opens a page other than the first allowed one, else empty:
whoever asked for an email chose its page, so every email also opens the one page the operator
named first. Values are HTML-escaped in the HTML part, and the subject is one line, so no value can
add a header or markup.
"""

from __future__ import annotations

import html
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

from keyless.core.addresses import is_deliverable

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

DEFAULT_TEMPLATES = Path(__file__).with_name("email_templates")
KINDS = ("magic_link", "magic_link_code", "email_otp", "email_otp_only", "welcome")
# Kinds added since operators began replacing the folder: without their files, this kind's are used.
STAND_INS = {"magic_link_code": "email_otp", "welcome": "magic_link"}
FALLBACK = "fallback"  # optional in a replaced folder: without it, emails carry no second link


class UndeliverableAddress(ValueError):
    pass


class MaybeSent(RuntimeError):
    """SES may have taken the email (the request went out; its answer did not come back): treat it
    as sent, so the link in it works and the limits count it."""


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


class Templates:
    def __init__(self, folder: Path = DEFAULT_TEMPLATES):
        self._templates = {
            (kind, part): Template((folder / f"{_kind_in(folder, kind)}.{part}").read_text(encoding="utf-8"))
            for kind in KINDS
            for part in ("subject.txt", "txt", "html")
        }
        for part in ("txt", "html"):
            path = folder / f"{FALLBACK}.{part}"
            self._templates[(FALLBACK, part)] = Template(path.read_text(encoding="utf-8") if path.exists() else "")

    def render(self, kind: str, default_link: str = "", **values: str) -> Email:
        escaped = {k: html.escape(v) for k, v in values.items()}
        fallback_text = fallback_html = ""
        if default_link:
            fallback_text = self._templates[(FALLBACK, "txt")].substitute(values, default_link=default_link)
            fallback_html = self._templates[(FALLBACK, "html")].substitute(escaped, default_link=html.escape(default_link))
        subject = " ".join(self._templates[(kind, "subject.txt")].substitute(values, fallback="").split())
        return Email(
            subject=subject,
            text=self._templates[(kind, "txt")].substitute(values, fallback=fallback_text),
            html=self._templates[(kind, "html")].substitute(escaped, fallback=fallback_html),  # already escaped
        )


def _kind_in(folder: Path, kind: str) -> str:
    stand_in = STAND_INS.get(kind)
    complete = all((folder / f"{kind}.{part}").exists() for part in ("subject.txt", "txt", "html"))
    return stand_in if stand_in and not complete else kind


class SendTimings:
    """Recent send durations, so a sign-in for an unknown address can take as long as a real send.

    A container's first send is not recorded: it opens the connection to SES, which happens once per
    container for real sends but would be replayed again and again for unknown addresses, making
    their slow tail longer than real sends' (a timing tell).
    """

    def __init__(self, size: int = 64, default_seconds: float = 0.08):
        self._recent: deque[float] = deque(maxlen=size)
        self._default = default_seconds
        self._sends = 0

    def record(self, seconds: float) -> None:
        self._sends += 1
        if self._sends > 1:
            self._recent.append(seconds)

    def imitate(self, sleep: Callable[[float], None] = time.sleep) -> None:
        if self._recent:
            sleep(secrets.choice(tuple(self._recent)))
        else:  # a fresh container: spread around a typical SES call
            sleep(self._default * (0.75 + secrets.randbelow(501) / 1000))


class Mailer:
    def __init__(
        self, client: SESV2Client, sender: str, app_name: str, configuration_set: str = "", templates: Templates | None = None
    ):
        self._client = client
        self._sender = sender
        self._app_name = app_name
        self._configuration_set = configuration_set
        self._templates = templates or Templates()
        self.timings = SendTimings()

    def send(self, kind: str, to: str, expires_in_seconds: int, default_link: str = "", **values: str) -> None:
        """One sign-in email of this kind (a template set), with its placeholders' values."""
        email = self._templates.render(kind, default_link, **values, **self._common(expires_in_seconds))
        self._send(to, email)

    def imitate_send(self) -> None:
        self.timings.imitate()

    def _common(self, expires_in_seconds: int) -> dict[str, str]:
        return {"app_name": self._app_name, "expires_in_minutes": str(max(1, expires_in_seconds // 60))}

    def _send(self, to: str, email: Email) -> None:
        if not is_deliverable(to):
            raise UndeliverableAddress("recipient is not a single plain address")
        started = time.perf_counter()
        request: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                }
            },
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            self._client.send_email(**request)
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            raise MaybeSent("the email may have been sent") from exc
        self.timings.record(time.perf_counter() - started)
