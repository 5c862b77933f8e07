"""VerifyAuthChallengeResponse: is this answer the proof this sign-in's step asked for?

The step (recorded by CreateAuthChallenge in privateChallengeParameters, which the client never
sees) chooses the method whose module checks the answer; an answer of the shape of a method whose
proof every email carries (the link) goes to that method's module in any email's round. In round 2
of a fresh sign-in a magic link may be answered straight away (alreadyHaveMagicLink), and a method
that sends no email (the passkey) answers it with its proof; any other answer to round 1 is a
request for an email, not an answer. What follows an accepted proof is in keyless.signin.proof.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyless import methods
from keyless.core import protocol
from keyless.core.errors import MalformedEvent
from keyless.core.events import TriggerEvent
from keyless.core.observability import count, logger
from keyless.signin.proof import Verdict, rejected

if TYPE_CHECKING:
    from keyless.aws.runtime import SignInRuntime


def verify_auth_challenge(event: TriggerEvent, runtime: SignInRuntime) -> dict:
    """VerifyAuthChallengeResponse's response to this event; a refused answer is counted and logged."""
    verdict = verify_answer(event, runtime)
    if not verdict.correct and verdict.reason != "request":
        count("AnswerRejected", method=verdict.method, reason=verdict.reason)
        logger.info("answer rejected", extra={"method": verdict.method, "reason": verdict.reason})
    return {"answerCorrect": verdict.correct}


def verify_answer(event: TriggerEvent, runtime: SignInRuntime) -> Verdict:
    step = event.private_parameters.get(protocol.PRIVATE_STEP)
    flow = event.private_parameters.get(protocol.PRIVATE_FLOW, "")
    if step not in protocol.STEPS or not flow:
        raise MalformedEvent("privateChallengeParameters are not ours")
    if step == protocol.CHOOSE_METHOD:
        chosen = methods.METHODS.get(event.client_metadata.get(protocol.META_METHOD, ""))
        if chosen is not None and chosen.answers_round_one:
            return chosen.logic().verify(event, flow, runtime)  # a passkey's assertion answers round 1
        if event.client_metadata.get(protocol.META_ALREADY_HAVE_LINK) != protocol.YES:
            return rejected("", "request")  # a request for an email, not an answer: Define goes on
        step = methods.MAGIC_LINK.name
    return _answered(methods.METHODS[step], event.answer).logic().verify(event, flow, runtime)


def _answered(asked: methods.Method, answer: str) -> methods.Method:
    """The method whose answer this is: the round's own, unless it has the shape of one every email carries."""
    if asked.logic().recognizes(answer):
        return asked
    carried = (m for m in methods.METHODS.values() if m.in_every_email and m is not asked and m.logic().recognizes(answer))
    return next(carried, asked)
