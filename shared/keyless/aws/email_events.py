"""SES's bounce and complaint events, read defensively, and what they leave: an address that
hard-bounced or complained gets no sign-in email for a while (EMAIL_SUPPRESSION_DAYS), so one bad
address cannot push the account towards SES's review thresholds (README, Email deliverability).

SES publishes the events of a configuration set to an SNS topic, which hands them to Lambda as
{"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "<the SES event, as JSON>"}}]}. Every
record is read before anything is written, so one malformed record refuses the whole event and
changes nothing; the error names what is wrong, never an address. What suppresses:
- a bounce whose bounceType is Permanent (SES: you will not be able to send to that address in the
  future); Transient bounces (SES stopped retrying a soft bounce) and Undetermined ones do not;
- a complaint, unless its complaintFeedbackType is not-spam (the reporter says it is no spam).
Other event types (an operator's own configuration set may route Delivery, Send, ...) are ignored.

Which address: the mail's destination when it had one (every sign-in email has one), since that is
the address CreateAuthChallenge checks; for a mail with several, each recipient the event names
(SES gives a DSN's Final-Recipient there, which can differ from the address mailed). The period runs
from when the ISP reported it (the event's own time, not when it arrives), so the same event
recorded again writes nothing (SNS delivers at least once).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from keyless.core.errors import MalformedEvent
from keyless.core.observability import count, logger
from keyless.signin import pseudonyms

if TYPE_CHECKING:
    from keyless.aws.signing_keys import PseudonymKey
    from keyless.store.suppressions import SuppressionStore

BOUNCE = "bounce"
COMPLAINT = "complaint"
MAX_RECORDS = 10  # SNS hands Lambda one record per invocation
MAX_MESSAGE = 262_144  # SNS's largest message, in bytes
MAX_ADDRESS = 320
MAX_RECIPIENTS = 100  # SES takes at most 50 recipients per email


@dataclass(frozen=True)
class Report:
    """One address an event says to stop emailing, why, and when the ISP reported it."""

    address: str
    reason: str
    reported_at: int


@dataclass(frozen=True)
class Reading:
    reports: tuple[Report, ...]
    ignored: int  # records that suppress nothing: transient bounces, not-spam reports, other events


class EmailEvents:
    def __init__(self, store: SuppressionStore, key: PseudonymKey, period_seconds: int, now: Callable[[], int]):
        self._store = store
        self._key = key
        self._period = period_seconds
        self._now = now

    def record(self, event: Any) -> dict[str, int]:
        """Suppress the addresses the event reports. Answers how many suppressions it started or
        extended, how many reports changed nothing (already as long: a redelivery; or older than
        the period), and how many records it ignored."""
        reading = read(event)
        suppressed = unchanged = 0
        if reading.reports:
            key, now = self._key.current(), self._now()
            for report in reading.reports:
                # A report dated in the future (a wrong clock, or a forged event) counts from now: no
                # report suppresses an address for longer than the period.
                reported_at = min(report.reported_at, now)
                until = reported_at + self._period
                if until > now and self._store.suppress(
                    pseudonyms.suppression(key, report.address), report.reason, reported_at, until
                ):
                    suppressed += 1
                    count("AddressesSuppressed", reason=report.reason)
                else:
                    unchanged += 1
        answer = {"suppressed": suppressed, "unchanged": unchanged, "ignored": reading.ignored}
        logger.info("email events recorded", extra=answer)
        return answer


def read(event: Any) -> Reading:
    """The reports of an SNS event of SES events; MalformedEvent for anything else."""
    records = _list(_field(event, "Records", "the event"), "Records", MAX_RECORDS)
    if not records:
        raise _malformed("Records is empty")
    reports: list[Report] = []
    ignored = 0
    for index, record in enumerate(records):
        found = _record(record, f"Records[{index}]")
        if found:
            reports.extend(found)
        else:
            ignored += 1
    return Reading(tuple(reports), ignored)


def _record(record: Any, where: str) -> tuple[Report, ...]:
    if _field(record, "EventSource", where) != "aws:sns":
        raise _malformed(f"{where}.EventSource is not aws:sns")
    text = _string(_field(_field(record, "Sns", where), "Message", f"{where}.Sns"), f"{where}.Sns.Message", MAX_MESSAGE)
    try:
        message = json.loads(text)
    except ValueError:
        raise _malformed(f"{where}.Sns.Message is not JSON") from None
    where = f"{where}.Sns.Message"
    # Event publishing names the type eventType; SES's identity notifications name it notificationType.
    kind = _field(message, "eventType", where, default=None)
    if kind is None:
        kind = _field(message, "notificationType", where, default=None)
    if kind is None:
        raise _malformed(f"{where} has no eventType")
    kind = _string(kind, f"{where}.eventType")
    if kind == "Bounce":
        bounce = _field(message, "bounce", where)
        reports = _reports(message, bounce, "bouncedRecipients", BOUNCE, where)
        bounce_type = _string(_field(bounce, "bounceType", f"{where}.bounce"), f"{where}.bounce.bounceType")
        return reports if bounce_type == "Permanent" else ()
    if kind == "Complaint":
        complaint = _field(message, "complaint", where)
        reports = _reports(message, complaint, "complainedRecipients", COMPLAINT, where)
        feedback = _field(complaint, "complaintFeedbackType", f"{where}.complaint", default=None)  # absent or null: none
        not_spam = feedback is not None and _string(feedback, f"{where}.complaint.complaintFeedbackType") == "not-spam"
        return () if not_spam else reports
    return ()


def _reports(
    message: Mapping[str, Any], report: Mapping[str, Any], recipients: str, reason: str, where: str
) -> tuple[Report, ...]:
    """One report per address: the address the mail went to when it went to one (that is the
    address CreateAuthChallenge checks), else each recipient the report names."""
    part = f"{where}.{reason}"  # the reasons are named as the message's fields that hold the reports
    reported_at = _time(_field(report, "timestamp", part), f"{part}.timestamp")
    named = _addresses(_field(report, recipients, part), f"{part}.{recipients}", "emailAddress")
    destination = _addresses(_field(_field(message, "mail", where), "destination", f"{where}.mail"), f"{where}.mail.destination")
    return tuple(Report(address, reason, reported_at) for address in (destination if len(destination) == 1 else named))


def _addresses(value: Any, where: str, field: str = "") -> tuple[str, ...]:
    """The addresses of a non-empty list: of strings, or of objects whose `field` is one."""
    entries = _list(value, where, MAX_RECIPIENTS)
    if not entries:
        raise _malformed(f"{where} is empty")
    return tuple(
        _address(_field(entry, field, f"{where}[{i}]") if field else entry, f"{where}[{i}]") for i, entry in enumerate(entries)
    )


# --- reading one value -----------------------------------------------------------------------------


def _malformed(detail: str) -> MalformedEvent:
    return MalformedEvent(detail, message=f"Not an SES bounce or complaint event: {detail}")


_MISSING = object()


def _field(value: Any, name: str, where: str, default: Any = _MISSING) -> Any:
    if not isinstance(value, Mapping):
        raise _malformed(f"{where} is not an object")
    if name in value:
        return value[name]
    if default is _MISSING:
        raise _malformed(f"{where} has no {name}")
    return default


def _string(value: Any, where: str, limit: int = 2048) -> str:
    if not isinstance(value, str):
        raise _malformed(f"{where} is not a string")
    if len(value) > limit:
        raise _malformed(f"{where} is too long")
    return value


def _list(value: Any, where: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise _malformed(f"{where} is not a list")
    if len(value) > limit:
        raise _malformed(f"{where} has more than {limit} entries")
    return value


def _address(value: Any, where: str) -> str:
    """A plain address from an address field (a display name, as in "Jane <jane@example.com>", dropped)."""
    _, address = parseaddr(_string(value, where, MAX_ADDRESS))
    if "@" not in address:
        raise _malformed(f"{where} is not an email address")
    return address


def _time(value: Any, where: str) -> int:
    """Seconds since the epoch of an ISO 8601 time (SES: YYYY-MM-DDThh:mm:ss.sZ; no zone is UTC)."""
    try:
        moment = datetime.fromisoformat(_string(value, where, 64))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    except (ValueError, OverflowError):
        raise _malformed(f"{where} is not an ISO 8601 time") from None
