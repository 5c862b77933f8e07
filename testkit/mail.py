"""Reading the sign-in emails a run sent, wherever they went, and SES's reports about them.

Three places hold them: moto's SES store, for a deployment driven in process (sent_emails, emails_to,
last_link, last_code); the served local pool's /mailbox, read over HTTP as a developer's script
would (mailbox); the local pool's own mailbox, read in process where HTTP would be in the way of a
measurement (newest_local_mail). link_in and code_in read a mailbox entry either way. ses_report is
what SES would publish about an email (moto's SES reports nothing): a sample of events/email_events/
about another address and time.
"""

from __future__ import annotations

import html
import json
import re
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localpool.deployment import REGION

if TYPE_CHECKING:
    from localpool.server import LocalPool, LocalPoolServer

LINK_IN_TEXT = re.compile(r"(https?://\S+#\S+)")
CODE_IN_TEXT = re.compile(r"^\s*(\d{6,8})\s*$", re.MULTILINE)
LINK_IN_HTML = re.compile(r'href="([^"]+)"')
CODE_IN_HTML = re.compile(r">(\d{6,8})<")


# --- moto's SES, for a deployment driven in process --------------------------------------------------


def sent_emails(region: str = REGION) -> list[Any]:
    """Every message moto's SES was asked to send in this region, oldest first (moto's SentMessage)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages)


def emails_to(address: str, region: str = REGION) -> list[Any]:
    return [m for m in sent_emails(region) if address in m.destinations.get("ToAddresses", [])]


def _newest_body(address: str, region: str) -> str:
    sent = emails_to(address, region)
    assert sent, f"no email to {address}"
    return str(sent[-1].body)


def last_link(address: str, region: str = REGION) -> str:
    """The sign-in link in the newest email to `address` (moto keeps the HTML part)."""
    found = LINK_IN_HTML.search(_newest_body(address, region))
    assert found, f"no link in the newest email to {address}"
    return html.unescape(found.group(1))


def last_code(address: str, region: str = REGION) -> str:
    """The one-time code in the newest email to `address`."""
    found = CODE_IN_HTML.search(_newest_body(address, region))
    assert found, f"no code in the newest email to {address}"
    return found.group(1)


# --- the local pool's mailbox ----------------------------------------------------------------------


def mailbox(server: LocalPoolServer) -> list[dict[str, Any]]:
    """The served pool's mailbox, newest first, as its /mailbox page gives it to scripts."""
    request = urllib.request.Request(f"{server.url}/mailbox", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def newest_local_mail(pool: LocalPool, to: str, source: str = "ses") -> dict[str, Any]:
    """The newest email to `to` in the pool's own mailbox, read in process, in /mailbox's shape.
    source: "ses" (sent by a function) or "cognito" (Cognito's own sign-up code)."""
    for mail in pool.mailbox.messages():  # newest first
        if to in mail.to and mail.source == source:
            return mail.as_json()
    raise LookupError(f"no email to {to}")


def link_in(mail: dict[str, Any]) -> str:
    """The (first) sign-in link of a mailbox entry."""
    found = LINK_IN_TEXT.search(mail["text"])
    assert found, f"no link in {mail['text']!r}"
    return found.group(1)


def code_in(mail: dict[str, Any]) -> str:
    """The one-time code of a mailbox entry (on a line of its own in the text part)."""
    found = CODE_IN_TEXT.search(mail["text"])
    assert found, f"no code in {mail['text']!r}"
    return found.group(1)


# --- answers ---------------------------------------------------------------------------------------


def wrong(code: str) -> str:
    """A code of the same length that is certainly not `code`."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


# --- SES's reports (bounces, complaints) -------------------------------------------------------------

EMAIL_EVENTS = Path(__file__).resolve().parent.parent / "events" / "email_events"


def ses_report(sample: str, address: str, reported_at: float) -> dict[str, Any]:
    """The SNS event of events/email_events/<sample>.json, its SES event now about an email to
    `address` that the ISP reported at `reported_at` (seconds since the epoch)."""
    event = json.loads((EMAIL_EVENTS / f"{sample}.json").read_text())
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    report = message["bounce"] if "bounce" in message else message["complaint"]
    report["timestamp"] = datetime.fromtimestamp(reported_at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for recipient in report.get("bouncedRecipients", []) + report.get("complainedRecipients", []):
        recipient["emailAddress"] = address
    message["mail"]["destination"] = [address]
    sns["Message"] = json.dumps(message)
    return event
