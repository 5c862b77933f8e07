"""Every email sent on this machine, kept for the terminal, the /mailbox page and scripts.

moto's SES v2 keeps only one body part of a message (the HTML one when there are two), so the
mailbox does not read moto's store: it watches the SendEmail calls themselves through botocore's
event hooks on the session the functions' clients are built from, and records the request of
every call that succeeded. The functions' code and requests are not changed.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3

_CONTEXT_KEY = "keyless_mailbox_request"
SES_SOURCE = "ses"  # sent by a function through SES
COGNITO_SOURCE = "cognito"  # what Cognito itself emails (the sign-up confirmation code)


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    sender: str
    subject: str
    text: str
    html: str
    sent_at: float
    source: str = SES_SOURCE

    def as_json(self) -> dict:
        return {
            "to": list(self.to),
            "from": self.sender,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "sentAt": datetime.fromtimestamp(self.sent_at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "source": self.source,
        }

    def for_terminal(self) -> str:
        rule = "-" * 72
        body = self.text or self.html
        return "\n".join(
            [
                rule,
                f"EMAIL to {', '.join(self.to)}",
                f"From:    {self.sender}",
                f"Subject: {self.subject}",
                "",
                body.rstrip(),
                rule,
            ]
        )


def mail_from_sesv2_request(request: dict, sent_at: float) -> Mail:
    """The parts of an SES v2 SendEmail request (Simple content) a reader sees."""
    simple = request.get("Content", {}).get("Simple", {})
    body = simple.get("Body", {})
    destination = request.get("Destination", {})
    return Mail(
        to=tuple(destination.get("ToAddresses", [])) + tuple(destination.get("CcAddresses", [])),
        sender=request.get("FromEmailAddress", ""),
        subject=simple.get("Subject", {}).get("Data", ""),
        text=body.get("Text", {}).get("Data", ""),
        html=body.get("Html", {}).get("Data", ""),
        sent_at=sent_at,
    )


class Mailbox:
    def __init__(self, clock: Callable[[], float] = time.time, echo: Callable[[str], None] | None = None):
        self._clock = clock
        self._echo = echo
        self._mails: list[Mail] = []
        self._lock = threading.Lock()

    def add(self, mail: Mail) -> None:
        with self._lock:
            self._mails.append(mail)
        if self._echo is not None:
            self._echo(mail.for_terminal())

    def messages(self) -> list[Mail]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._mails))

    def watch(self, session: boto3.session.Session) -> boto3.session.Session:
        """Record every successful SES v2 SendEmail made by clients of this session."""
        events = session.events

        def remember(params, context, **_):
            context[_CONTEXT_KEY] = copy.deepcopy(params)

        def record(http_response, context, **_):
            request = context.get(_CONTEXT_KEY)
            if request is not None and http_response is not None and http_response.status_code < 300:
                self.add(mail_from_sesv2_request(request, self._clock()))

        events.register("before-parameter-build.sesv2.SendEmail", remember, unique_id="keyless-mailbox-remember")
        events.register("after-call.sesv2.SendEmail", record, unique_id="keyless-mailbox-record")
        return session
